/* SPDX-License-Identifier: ISC */
/* Unit tests for LMTP delivery against a scripted LMTP server on a unix
 * socket (a thread): the bytes the server receives in DATA (CRLF line
 * ends and dot-stuffing, also after a bare CR or bare LF), and per
 * recipient results. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "deliver/lmtp.h"

enum lsrv_mode {
	LSRV_OK,
	LSRV_STALL,	/* takes DATA, never answers it */
	LSRV_TRICKLE,	/* sends its greeting a byte at a time, slowly */
	LSRV_DATA_2XX,	/* answers DATA with 250 instead of 354 */
};

/* The scripted server: one connection, LHLO, then transactions. */
struct lsrv {
	char		 dir[64];
	char		 path[PATH_MAX];
	int		 lfd;
	enum lsrv_mode	 mode;
	int		 quit;		/* write end: wakes a stalled server */
	int		 quit_r;
	pthread_t	 th;
	char		 data[8192];	/* DATA bytes of the last copy, up to
					 * and including the final dot */
	size_t		 datalen;
	int		 ncopies;
};

/* Read one line (with its LF) into line; its length or 0 at EOF. */
static size_t
lsrv_line(int fd, char *line, size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		if (read(fd, line + n, 1) != 1)
			break;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return n;
}

static void
lsrv_say(int fd, const char *s)
{
	ssize_t n = send(fd, s, strlen(s), MSG_NOSIGNAL);

	(void)n;
}

static void *
lsrv_main(void *arg)
{
	struct lsrv *s = arg;
	char line[2048];
	int fd = accept(s->lfd, NULL, NULL);

	if (fd == -1)
		return NULL;
	if (s->mode == LSRV_TRICKLE) {
		/* 250 ms a byte: a reply that would take seconds. */
		for (const char *p = "220 slow LMTP\r\n"; *p != '\0'; p++) {
			if (send(fd, p, 1, MSG_NOSIGNAL) != 1)
				break;
			usleep(250 * 1000);
		}
	} else
		lsrv_say(fd, "220 test LMTP\r\n");
	while (lsrv_line(fd, line, sizeof(line)) > 0) {
		if (strncmp(line, "LHLO", 4) == 0)
			lsrv_say(fd, "250-test\r\n250-8BITMIME\r\n"
			    "250 PIPELINING\r\n");
		else if (strncmp(line, "MAIL", 4) == 0 ||
		    strncmp(line, "RCPT", 4) == 0 ||
		    strncmp(line, "RSET", 4) == 0)
			lsrv_say(fd, "250 2.0.0 ok\r\n");
		else if (strncmp(line, "QUIT", 4) == 0) {
			lsrv_say(fd, "221 bye\r\n");
			break;
		} else if (strncmp(line, "DATA", 4) == 0 &&
		    s->mode == LSRV_DATA_2XX) {
			lsrv_say(fd, "250 2.0.0 sure\r\n");
		} else if (strncmp(line, "DATA", 4) == 0) {
			lsrv_say(fd, "354 go\r\n");
			s->datalen = 0;
			/* Byte by byte up to CRLF.CRLF: what a server that
			 * takes only CRLF as a line end sees. */
			while (s->datalen < sizeof(s->data) &&
			    read(fd, s->data + s->datalen, 1) == 1) {
				s->datalen++;
				if (s->datalen >= 5 && memcmp(s->data +
				    s->datalen - 5, "\r\n.\r\n", 5) == 0)
					break;
			}
			s->ncopies++;
			if (s->mode == LSRV_STALL) {
				char c;

				/* Until the test ends. */
				if (read(s->quit_r, &c, 1) < 0)
					break;
				break;
			}
			lsrv_say(fd, "250 2.0.0 stored\r\n");
		} else
			lsrv_say(fd, "500 what\r\n");
	}
	close(fd);
	return NULL;
}

static int
lsrv_setup(void **state)
{
	struct lsrv *s = calloc(1, sizeof(*s));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(s->dir, sizeof(s->dir), "/tmp/sealmail-lmtp-test.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(s->path, sizeof(s->path), "%s/lmtp", s->dir);
	if (strlen(s->path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s->lfd == -1 || bind(s->lfd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 || listen(s->lfd, 4) == -1)
		return -1;
	int pfd[2];
	if (pipe(pfd) == -1)
		return -1;
	s->quit_r = pfd[0];
	s->quit = pfd[1];
	*state = s;
	return 0;
}

static void
lsrv_run(struct lsrv *s, enum lsrv_mode mode)
{
	s->mode = mode;
	assert_int_equal(pthread_create(&s->th, NULL, lsrv_main, s), 0);
}

static int
lsrv_teardown(void **state)
{
	struct lsrv *s = *state;
	char msg[PATH_MAX + 8];

	shutdown(s->lfd, SHUT_RDWR);
	close(s->quit);
	pthread_join(s->th, NULL);
	close(s->quit_r);
	close(s->lfd);
	unlink(s->path);
	snprintf(msg, sizeof(msg), "%s/msg", s->dir);
	unlink(msg);
	rmdir(s->dir);
	free(s);
	return 0;
}

/* A spool file holding p; its fd. */
static int
lsrv_message(struct lsrv *s, const char *p, size_t n)
{
	char path[PATH_MAX + 8];
	int fd;

	snprintf(path, sizeof(path), "%s/msg", s->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	return fd;
}

struct lt_done {
	int			n;
	bool			ended;
	enum delivery_status	st[4];
	char			reply[4][LIMIT_REPLY_LINE + 1];
	struct event_base	*base;
	int			ticks;		/* of a 100 ms timer */
};

static void
lt_rcpt_cb(size_t i, const struct delivery_result *res, void *arg)
{
	struct lt_done *d = arg;

	d->n++;
	d->st[i] = res->status;
	snprintf(d->reply[i], sizeof(d->reply[i]), "%s", res->reply);
}

static void
lt_end_cb(void *arg)
{
	struct lt_done *d = arg;

	d->ended = true;
	event_base_loopbreak(d->base);
}

static void
lt_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lt_done *d = arg;

	(void)fd;
	(void)what;
	d->ticks++;
}

/* Deliver env's recipients 0..n-1 over LMTP to s on a loop of its own,
 * with a 100 ms timer on the same loop counting its turns; the seconds
 * it took. */
static double
lt_deliver(struct lsrv *s, const struct envelope *env, int fd, size_t n,
    unsigned timeout, struct lt_done *d)
{
	static const size_t idx[] = { 0, 1, 2, 3 };
	const struct timeval tenth = { 0, 100 * 1000 };
	char target[PATH_MAX + 8], err[160];
	struct timespec t0, t1;

	d->base = event_base_new();
	assert_non_null(d->base);
	snprintf(target, sizeof(target), "unix:%s", s->path);
	const struct delivery_setup setup = {
		.base = d->base, .hostname = "mx.example.org",
		.target = target, .timeout = timeout,
	};
	const struct delivery_job job = {
		.env = env, .msg_fd = fd, .rcpts = idx, .nrcpts = n,
		.rcpt = lt_rcpt_cb, .end = lt_end_cb, .arg = d,
	};
	struct event *tick = event_new(d->base, -1, EV_PERSIST, lt_tick_cb,
	    d);
	event_add(tick, &tenth);
	struct delivery_method *m = lmtp_delivery_ops.new(&setup, err,
	    sizeof(err));
	assert_non_null(m);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_non_null(lmtp_delivery_ops.start(m, &job));
	/* Nothing is reported from within start(). */
	assert_int_equal(d->n, 0);
	event_base_dispatch(d->base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(d->ended);
	lmtp_delivery_ops.free(m);
	event_free(tick);
	event_base_free(d->base);
	return (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/*
 * A bare CR is a line end on the LMTP hop as everywhere else (STYLE.md
 * §7): it goes out as CRLF, and a '.' that follows it starts a line and
 * is doubled. Sent as a bare CR and an undoubled '.', a server that reads
 * "\r." as part of a line stores one thing while one that ends lines at
 * CR stores another (the smuggling shape), and "\r.\r\n" can pass for the
 * end of data.
 */
static void
test_bare_cr_and_lf_stuffed(void **state)
{
	static const char msg[] = "Subject: t\n\nline1\r.evil\r\n.\rz\n.\nend";
	static const char want[] = "Delivered-To: a@example.org\r\n"
	    "X-Pre: 1\r\n"
	    "Subject: t\r\n\r\nline1\r\n..evil\r\n..\r\nz\r\n..\r\nend\r\n"
	    ".\r\n";
	struct lsrv *s = *state;
	struct envelope env;
	struct lt_done d = { 0 };
	int fd = lsrv_message(s, msg, sizeof(msg) - 1);

	envelope_init(&env);
	env.size = sizeof(msg) - 1;
	env.mail_from = strdup("s@example.com");
	env.prepend = strdup("X-Pre: 1\r\n");
	envelope_add_rcpt(&env, "a@example.org", NULL, NULL, 0);
	lsrv_run(s, LSRV_OK);
	lt_deliver(s, &env, fd, 1, 5, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.st[0], DELIVERY_OK);
	assert_int_equal(s->ncopies, 1);
	s->data[s->datalen] = '\0';
	assert_string_equal(s->data, want);
	envelope_clear(&env);
	close(fd);
}

/* One transaction per recipient, each copy with its own Delivered-To;
 * a recipient that cannot be put on a command line is refused here. */
static void
test_per_recipient(void **state)
{
	struct lsrv *s = *state;
	struct envelope env;
	struct lt_done d = { 0 };
	int fd = lsrv_message(s, "hi\n", 3);

	envelope_init(&env);
	env.size = 3;
	env.mail_from = strdup("");
	envelope_add_rcpt(&env, "a@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "b\r\nRSET@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "c@example.org", NULL, NULL, 0);
	lsrv_run(s, LSRV_OK);
	lt_deliver(s, &env, fd, 3, 5, &d);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.st[0], DELIVERY_OK);
	assert_string_equal(d.reply[0], "250 2.0.0 stored");
	assert_int_equal(d.st[1], DELIVERY_PERMFAIL);
	assert_int_equal(d.st[2], DELIVERY_OK);
	assert_int_equal(s->ncopies, 2);
	s->data[s->datalen] = '\0';
	assert_string_equal(s->data, "Delivered-To: c@example.org\r\n"
	    "hi\r\n.\r\n");
	envelope_clear(&env);
	close(fd);
}

/* "hi" from s@example.com to a@example.org, to a server in mode; the
 * seconds it took. */
static double
lt_one(struct lsrv *s, enum lsrv_mode mode, unsigned timeout,
    struct lt_done *d)
{
	struct envelope env;
	int fd = lsrv_message(s, "hi\n", 3);
	double took;

	envelope_init(&env);
	env.size = 3;
	env.mail_from = strdup("s@example.com");
	envelope_add_rcpt(&env, "a@example.org", NULL, NULL, 0);
	lsrv_run(s, mode);
	took = lt_deliver(s, &env, fd, 1, timeout, d);
	envelope_clear(&env);
	close(fd);
	return took;
}

/*
 * A server that takes the message and never answers: the recipient is
 * deferred after the timeout (1 s here), and the loop kept turning
 * meanwhile (the timer beside it ran): a stalled store holds one job,
 * never the queue runner.
 */
static void
test_stall_times_out_loop_free(void **state)
{
	struct lt_done d = { 0 };
	double took = lt_one(*state, LSRV_STALL, 1, &d);

	assert_int_equal(d.n, 1);
	assert_int_equal(d.st[0], DELIVERY_TEMPFAIL);
	assert_non_null(strstr(d.reply[0], "timeout"));
	assert_true(took >= 0.9 && took < 3.0);
	assert_true(d.ticks >= 7);
}

/* A greeting trickled a byte every 250 ms would take 3.5 s: the 1 s
 * bound is per reply, not per byte, so it ends after about 1 s, and the
 * recipient is deferred (never bounced for the server's slowness). */
static void
test_trickle_bounded(void **state)
{
	struct lsrv *s = *state;
	struct lt_done d = { 0 };
	double took = lt_one(s, LSRV_TRICKLE, 1, &d);

	assert_int_equal(d.n, 1);
	assert_int_equal(d.st[0], DELIVERY_TEMPFAIL);
	assert_true(took < 2.5);
	assert_int_equal(s->ncopies, 0);
}

/* A reply out of place (250 to DATA: nothing was sent) defers the
 * recipient, and the reply text leads with a 4xx code, never a 2xx one
 * beside a deferral (found by fuzz_lmtp_session). */
static void
test_data_2xx_deferred(void **state)
{
	struct lsrv *s = *state;
	struct lt_done d = { 0 };

	(void)lt_one(s, LSRV_DATA_2XX, 5, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.st[0], DELIVERY_TEMPFAIL);
	assert_int_equal(d.reply[0][0], '4');
	assert_non_null(strstr(d.reply[0], "unexpected reply 250"));
	assert_int_equal(s->ncopies, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bare_cr_and_lf_stuffed,
		    lsrv_setup, lsrv_teardown),
		cmocka_unit_test_setup_teardown(test_per_recipient,
		    lsrv_setup, lsrv_teardown),
		cmocka_unit_test_setup_teardown(test_stall_times_out_loop_free,
		    lsrv_setup, lsrv_teardown),
		cmocka_unit_test_setup_teardown(test_trickle_bounded,
		    lsrv_setup, lsrv_teardown),
		cmocka_unit_test_setup_teardown(test_data_2xx_deferred,
		    lsrv_setup, lsrv_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
