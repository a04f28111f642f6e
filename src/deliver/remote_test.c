/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the remote delivery method (delivery.h) against a
 * scripted SMTP server on loopback (a thread with blocking sockets).
 * Recipients use domain literals ([127.0.0.1]) so no DNS is involved; MX
 * routing, relayhost and TLS are covered by tests/outbound against real
 * servers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/xmalloc.h"
#include "deliver/remote.h"
#include "queue/envelope.h"

/* --- a scripted server: 550 for recipients containing "bad" ----------- */

struct rt_server {
	int		 lfd;
	unsigned	 port;
	pthread_t	 th;
	int		 sessions;	/* connections served */
	int		 messages;	/* DATA transactions completed */
	int		 rcpts_in_last;	/* RCPT commands of the last message */
	char		 data[8192];	/* DATA lines of every message */
	/* stall: the first message's final dot gets no reply; the session
	 * waits for the client to close it (stalled is set once the dot is
	 * in, stall_eof once the client has closed). */
	bool		 stall;
	atomic_int	 stalled, stall_eof;
};

static int
rt_readline(int fd, char *line, size_t max)
{
	size_t n = 0;
	char c;

	while (n + 1 < max) {
		if (read(fd, &c, 1) != 1)
			return -1;
		line[n++] = c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return 0;
}

static void
rt_say(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	(void)n;
}

static void
rt_session(struct rt_server *sv, int fd)
{
	char line[1024];
	int rcpts = 0;

	rt_say(fd, "220 rt ESMTP\r\n");
	while (rt_readline(fd, line, sizeof(line)) == 0) {
		if (strncasecmp(line, "EHLO", 4) == 0)
			rt_say(fd, "250-rt\r\n250 8BITMIME\r\n");
		else if (strncasecmp(line, "MAIL", 4) == 0) {
			rcpts = 0;
			rt_say(fd, "250 2.1.0 ok\r\n");
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			rcpts++;
			rt_say(fd, strstr(line, "bad") ?
			    "550 5.1.1 no such user\r\n" : "250 2.1.5 ok\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			rt_say(fd, "354 go\r\n");
			while (rt_readline(fd, line, sizeof(line)) == 0 &&
			    strcmp(line, ".\r\n") != 0) {
				size_t l = strlen(sv->data);
				snprintf(sv->data + l, sizeof(sv->data) - l,
				    "%s", line);
			}
			if (sv->stall && !atomic_load(&sv->stalled)) {
				atomic_store(&sv->stalled, 1);
				while (read(fd, line, sizeof(line)) > 0)
					;
				atomic_store(&sv->stall_eof, 1);
				break;
			}
			sv->messages++;
			sv->rcpts_in_last = rcpts;
			rt_say(fd, "250 2.0.0 queued\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			rt_say(fd, "221 bye\r\n");
			break;
		} else
			rt_say(fd, "250 ok\r\n");
	}
	close(fd);
}

static void *
rt_server_main(void *arg)
{
	struct rt_server *sv = arg;
	int fd;

	while ((fd = accept(sv->lfd, NULL, NULL)) != -1) {
		sv->sessions++;
		rt_session(sv, fd);
	}
	return NULL;
}

static void
rt_server_start(struct rt_server *sv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(sv, 0, sizeof(*sv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->lfd >= 0);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(listen(sv->lfd, 8), 0);
	getsockname(sv->lfd, (struct sockaddr *)&sin, &len);
	sv->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&sv->th, NULL, rt_server_main, sv), 0);
}

static void
rt_server_stop(struct rt_server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);
	close(sv->lfd);
	pthread_join(sv->th, NULL);
}

/* --- the engine under test ----------------------------------------------- */

struct rt_result {
	int			 ncalls[8];
	enum delivery_status	 status[8];
	char			 reply[8][LIMIT_REPLY_LINE + 1];
	char			 relay[8][LIMIT_DOMAIN + 64];
	int			 done;
	struct event_base	*base;
};

static void
rt_rcpt_cb(size_t i, const struct delivery_result *res, void *arg)
{
	struct rt_result *r = arg;

	assert_true(i < 8);
	assert_non_null(res->attempt);
	r->ncalls[i]++;
	r->status[i] = res->status;
	snprintf(r->reply[i], sizeof(r->reply[i]), "%s", res->reply);
	snprintf(r->relay[i], sizeof(r->relay[i]), "%s",
	    res->attempt->relay);
}

static void
rt_done_cb(void *arg)
{
	struct rt_result *r = arg;

	r->done++;
	event_base_loopexit(r->base, NULL);
}

/* An instance of the method on base for c. */
static struct delivery_method *
rt_method(struct event_base *base, const struct conf *c)
{
	const struct delivery_setup setup = { .base = base, .conf = c };
	struct delivery_method *m;
	char err[256];

	m = remote_delivery_ops.new(&setup, err, sizeof(err));
	assert_non_null(m);
	return m;
}

/* The engine keeps its store (MTA-STS cache, TLS results) in data_dir. */
static char rt_dir[] = "/tmp/sealmail-remote-test-XXXXXX";

static int
rt_setup(void **state)
{
	(void)state;
	return mkdtemp(rt_dir) == NULL ? -1 : 0;
}

static int
rt_teardown(void **state)
{
	char path[sizeof(rt_dir) + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/sealmail.db", rt_dir);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/sealmail.db-journal", rt_dir);
	(void)unlink(path);	/* it persists (db_open) */
	return rmdir(rt_dir);
}

static void
rt_conf(struct conf *c, unsigned port)
{
	memset(c, 0, sizeof(*c));
	c->hostname = "client.example.test";
	c->data_dir = rt_dir;
	c->mx_port = port;
	c->dns_resolver = "127.0.0.1@1";
	c->max_hops = 100;
}

/* The envelope's ARC set in rt_run_msg (NULL: none). */
static const char *rt_arc;

/* Run one job of the given recipients to completion: the message is
 * head (or a plain one), origs the RCPT TO addresses the recipients were
 * expanded from (NULL: not expanded). */
static void
rt_run_msg(struct conf *c, const char *const *rcpts,
    const char *const *origs, size_t n, const char *head,
    struct rt_result *r)
{
	struct event_base *base = event_base_new();
	struct envelope env;
	size_t idx[8];
	struct delivery_method *rd;
	FILE *fp = tmpfile();
	const struct timeval limit = { 20, 0 };

	assert_non_null(fp);
	fputs(head ? head : "Subject: t\r\n", fp);
	fputs("\r\n.leading dot\r\nbody\r\n", fp);
	fflush(fp);
	envelope_init(&env);
	ids_qid_new(env.id);
	env.mail_from = xstrdup("sender@example.test");
	env.arc = rt_arc ? xstrdup(rt_arc) : NULL;
	env.size = (size_t)ftell(fp);
	for (size_t i = 0; i < n; i++) {
		envelope_add_rcpt(&env, rcpts[i], origs ? origs[i] : rcpts[i],
		    NULL, 0);
		idx[i] = i;
	}
	memset(r, 0, sizeof(*r));
	r->base = base;
	rd = rt_method(base, c);
	struct delivery_job job = {
		.env = &env, .msg_fd = fileno(fp), .rcpts = idx, .nrcpts = n,
		.rcpt = rt_rcpt_cb, .end = rt_done_cb, .arg = r,
	};
	assert_non_null(remote_delivery_ops.start(rd, &job));
	assert_int_equal(r->done, 0);	/* never from inside the call */
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(r->done, 1);
	remote_delivery_ops.free(rd);
	envelope_clear(&env);
	fclose(fp);
	event_base_free(base);
}

static void
rt_run(struct conf *c, const char *const *rcpts, size_t n,
    struct rt_result *r)
{
	rt_run_msg(c, rcpts, NULL, n, NULL, r);
}

/*
 * Forwarding for aliases: each alias's recipients get a copy naming the
 * alias in Delivered-To; a recipient whose alias the message already
 * names is refused (554 5.4.6) without being sent: the message has been
 * here before for it (a loop).
 */
static void
test_alias_delivered_to_and_loop(void **state)
{
	static const char *const rcpts[] = {
		"a@[127.0.0.1]", "b@[127.0.0.1]", "c@[127.0.0.1]",
		"d@[127.0.0.1]",
	};
	static const char *const origs[] = {
		"list@example.test", "Loop@Example.test", "c@[127.0.0.1]",
		"list@example.test",
	};
	struct rt_server sv;
	struct rt_result r;
	struct conf c;

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	rt_run_msg(&c, rcpts, origs, 4, "Received: from x by y; "
	    "Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	    "Delivered-To: loop@example.test\r\nSubject: t\r\n", &r);
	rt_server_stop(&sv);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(r.ncalls[i], 1);
	assert_int_equal(r.status[0], DELIVERY_OK);
	assert_int_equal(r.status[1], DELIVERY_PERMFAIL);
	assert_string_equal(r.relay[1], "none");
	assert_non_null(strstr(r.reply[1], "554 5.4.6"));
	assert_non_null(strstr(r.reply[1], "Loop@Example.test"));
	assert_int_equal(r.status[2], DELIVERY_OK);
	assert_int_equal(r.status[3], DELIVERY_OK);
	/* Two transactions: the alias's (a, d) and the plain one (c). */
	assert_int_equal(sv.messages, 2);
	const char *dt = strstr(sv.data, "Delivered-To: list@example.test\r\n");
	assert_non_null(dt);
	assert_null(strstr(dt + 1, "Delivered-To: list@example.test"));
	assert_null(strstr(sv.data, "Delivered-To: c@"));
}

/* The envelope's ARC set goes on the copies forwarded for an alias, on
 * top, and on no other. */
static void
test_arc_on_forwarded_copies_only(void **state)
{
	static const char *const rcpts[] = { "a@[127.0.0.1]", "c@[127.0.0.1]" };
	static const char *const origs[] = { "list@example.test",
	    "c@[127.0.0.1]" };
	static const char set[] = "ARC-Seal: i=1; cv=none; b=x\r\n"
	    "ARC-Message-Signature: i=1; b=y\r\n"
	    "ARC-Authentication-Results: i=1; mx; spf=pass\r\n";
	struct rt_server sv;
	struct rt_result r;
	struct conf c;
	const char *at;

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	rt_arc = set;
	rt_run_msg(&c, rcpts, origs, 2, NULL, &r);
	rt_arc = NULL;
	rt_server_stop(&sv);
	assert_int_equal(r.status[0], DELIVERY_OK);
	assert_int_equal(r.status[1], DELIVERY_OK);
	assert_int_equal(sv.messages, 2);
	at = strstr(sv.data, set);
	assert_non_null(at);
	assert_memory_equal(at + strlen(set), "Delivered-To: list@example.test"
	    "\r\n", 33);
	assert_null(strstr(at + 1, "ARC-Seal"));
}

/* Past max_hops every recipient is refused (554 5.4.6) unsent. */
static void
test_too_many_hops_refused(void **state)
{
	static const char *const rcpts[] = { "a@[127.0.0.1]", "b@[127.0.0.1]" };
	struct rt_server sv;
	struct rt_result r;
	struct conf c;

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	c.max_hops = 2;
	rt_run_msg(&c, rcpts, NULL, 2, "Received: 1\r\nReceived: 2\r\n"
	    "Received: 3\r\nSubject: t\r\n", &r);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(r.status[i], DELIVERY_PERMFAIL);
		assert_non_null(strstr(r.reply[i], "554 5.4.6"));
	}
	/* At the limit it goes. */
	rt_run_msg(&c, rcpts, NULL, 2, "Received: 1\r\nReceived: 2\r\n"
	    "Subject: t\r\n", &r);
	rt_server_stop(&sv);
	assert_int_equal(r.status[0], DELIVERY_OK);
	assert_int_equal(sv.messages, 1);
}

static void
test_per_recipient_results(void **state)
{
	static const char *const rcpts[] = {
		"good1@[127.0.0.1]", "bad@[127.0.0.1]", "good2@[127.0.0.1]",
	};
	struct rt_server sv;
	struct rt_result r;
	struct conf c;
	char relay[64];

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	rt_run(&c, rcpts, 3, &r);
	rt_server_stop(&sv);
	snprintf(relay, sizeof(relay), "127.0.0.1[127.0.0.1]:%u", sv.port);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r.ncalls[i], 1);
		assert_string_equal(r.relay[i], relay);
	}
	assert_int_equal(r.status[0], DELIVERY_OK);
	assert_int_equal(r.status[1], DELIVERY_PERMFAIL);
	assert_int_equal(r.status[2], DELIVERY_OK);
	assert_non_null(strstr(r.reply[1], "said: 550 5.1.1 no such user"));
	assert_non_null(strstr(r.reply[0], "250 2.0.0 queued"));
	/* One domain: one connection, one transaction with 3 RCPTs. */
	assert_int_equal(sv.sessions, 1);
	assert_int_equal(sv.messages, 1);
	assert_int_equal(sv.rcpts_in_last, 3);
}

static void
test_connection_refused_defers(void **state)
{
	static const char *const rcpts[] = { "x@[127.0.0.1]", "y@[127.0.0.1]" };
	struct rt_server sv;
	struct rt_result r;
	struct conf c;

	(void)state;
	/* A port that was just free and is closed again. */
	rt_server_start(&sv);
	rt_server_stop(&sv);
	rt_conf(&c, sv.port);
	rt_run(&c, rcpts, 2, &r);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(r.ncalls[i], 1);
		assert_int_equal(r.status[i], DELIVERY_TEMPFAIL);
		assert_non_null(strstr(r.reply[i], "4.4."));
	}
}

static void
test_bad_literal_fails(void **state)
{
	static const char *const rcpts[] = { "x@[not-an-ip]" };
	struct rt_result r;
	struct conf c;

	(void)state;
	rt_conf(&c, 25);
	rt_run(&c, rcpts, 1, &r);
	assert_int_equal(r.status[0], DELIVERY_PERMFAIL);
	assert_string_equal(r.relay[0], "none");
}

/* --- several jobs on one engine ------------------------------------------ */

struct rt_multi {
	int			 done, want;
	struct event_base	*base;
};

struct rt_mjob {
	struct envelope		 env;
	FILE			*fp;
	size_t			 idx;
	enum delivery_status	 status;
	char			 reply[LIMIT_REPLY_LINE + 1];
	int			 ncalls;
	struct rt_multi		*m;
};

static void
rt_mrcpt_cb(size_t i, const struct delivery_result *res, void *arg)
{
	struct rt_mjob *j = arg;

	assert_int_equal(i, 0);
	j->ncalls++;
	j->status = res->status;
	snprintf(j->reply, sizeof(j->reply), "%s", res->reply);
}

static void
rt_mdone_cb(void *arg)
{
	struct rt_mjob *j = arg;

	if (++j->m->done == j->m->want)
		event_base_loopexit(j->m->base, NULL);
}

/* A message file and an envelope for a job of one recipient. */
static void
rt_mjob_init(struct rt_mjob *j, struct rt_multi *m, const char *rcpt)
{
	memset(j, 0, sizeof(*j));
	j->m = m;
	j->fp = tmpfile();
	assert_non_null(j->fp);
	fputs("Subject: t\r\n\r\nbody\r\n", j->fp);
	fflush(j->fp);
	envelope_init(&j->env);
	ids_qid_new(j->env.id);
	j->env.mail_from = xstrdup("sender@example.test");
	j->env.size = (size_t)ftell(j->fp);
	envelope_add_rcpt(&j->env, rcpt, rcpt, NULL, 0);
}

static struct delivery *
rt_mjob_start(struct delivery_method *rd, struct rt_mjob *j,
    delivery_rcpt_cb *rcpt)
{
	struct delivery_job job = {
		.env = &j->env, .msg_fd = fileno(j->fp), .rcpts = &j->idx,
		.nrcpts = 1, .rcpt = rcpt, .end = rt_mdone_cb, .arg = j,
	};
	struct delivery *d = remote_delivery_ops.start(rd, &job);

	assert_non_null(d);
	return d;
}

static void
rt_mjob_clear(struct rt_mjob *j)
{
	envelope_clear(&j->env);
	fclose(j->fp);
}

/*
 * RFC 8689: a REQUIRETLS message that no host can take (here: a server
 * without STARTTLS) is refused 5.7.10, but that says nothing about the
 * plain messages waiting for the same destination: they are delivered.
 * Four REQUIRETLS jobs take the destination's four connections, so the
 * plain one waits while the first of them fails.
 */
static void
test_requiretls_failure_spares_plain_units(void **state)
{
	enum { NJ = REMOTE_DEST_CONN_MAX + 1 };
	struct rt_mjob jobs[NJ];
	struct rt_multi m = { 0, NJ, NULL };
	struct rt_server sv;
	struct delivery_method *rd;
	struct conf c;
	const struct timeval limit = { 20, 0 };

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	m.base = event_base_new();
	rd = rt_method(m.base, &c);
	for (size_t k = 0; k < NJ; k++) {
		rt_mjob_init(&jobs[k], &m, "x@[127.0.0.1]");
		jobs[k].env.requiretls = k + 1 < NJ;	/* the last: plain */
		(void)rt_mjob_start(rd, &jobs[k], rt_mrcpt_cb);
	}
	event_base_loopexit(m.base, &limit);
	event_base_dispatch(m.base);
	assert_int_equal(m.done, NJ);
	remote_delivery_ops.free(rd);
	/* The last session's socket is closed by libevent's finalizers. */
	(void)event_base_loop(m.base, EVLOOP_NONBLOCK);
	rt_server_stop(&sv);
	for (size_t k = 0; k < NJ; k++) {
		struct rt_mjob *j = &jobs[k];

		assert_int_equal(j->ncalls, 1);
		if (j->env.requiretls) {
			assert_int_equal(j->status, DELIVERY_PERMFAIL);
			assert_non_null(strstr(j->reply, "5.7.10"));
		} else {
			assert_int_equal(j->status, DELIVERY_OK);
			assert_non_null(strstr(j->reply, "250 2.0.0 queued"));
		}
		rt_mjob_clear(j);
	}
	assert_int_equal(sv.messages, 1);
	event_base_free(m.base);
}

/* --- stop and cancel --------------------------------------------------- */

/* A job stopped before anything was begun ends from the loop (never
 * inside stop()) with no result: the server never hears of it. */
static void
test_stop_before_start_reports_nothing(void **state)
{
	struct rt_multi m = { 0, 1, NULL };
	struct rt_server sv;
	struct rt_mjob j;
	struct delivery_method *rd;
	struct conf c;
	const struct timeval limit = { 20, 0 };

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	m.base = event_base_new();
	rd = rt_method(m.base, &c);
	rt_mjob_init(&j, &m, "x@[127.0.0.1]");
	remote_delivery_ops.stop(rt_mjob_start(rd, &j, rt_mrcpt_cb));
	assert_int_equal(m.done, 0);
	event_base_loopexit(m.base, &limit);
	event_base_dispatch(m.base);
	assert_int_equal(m.done, 1);
	assert_int_equal(j.ncalls, 0);
	remote_delivery_ops.free(rd);
	rt_server_stop(&sv);
	assert_int_equal(sv.sessions, 0);
	rt_mjob_clear(&j);
	event_base_free(m.base);
}

/* The job test_stop_spares_units_under_way stops (a recipient callback
 * of another job stops it), and its results per recipient. */
static struct delivery *rt_stop_target;
static int rt_two_calls[2];
static enum delivery_status rt_two_status[2];

static void
rt_stopping_rcpt_cb(size_t i, const struct delivery_result *res, void *arg)
{
	rt_mrcpt_cb(i, res, arg);
	if (rt_stop_target != NULL) {
		remote_delivery_ops.stop(rt_stop_target);
		rt_stop_target = NULL;
	}
}

static void
rt_two_rcpt_cb(size_t i, const struct delivery_result *res, void *arg)
{
	(void)arg;
	assert_true(i < 2);
	rt_two_calls[i]++;
	rt_two_status[i] = res->status;
}

/*
 * Stop lets what is under way finish and begins nothing new. The last job
 * has a unit for [127.0.0.3] (its own destination: a connection at once,
 * refused) and one for [127.0.0.1], which waits behind four jobs holding
 * that destination's four connections. The first of them to be settled
 * stops it, before its connection could take the waiting unit: that one
 * is never sent nor reported; the refused one is reported.
 */
static void
test_stop_spares_units_under_way(void **state)
{
	enum { NJ = REMOTE_DEST_CONN_MAX + 1 };
	struct rt_mjob jobs[NJ];
	struct rt_mjob *last = &jobs[NJ - 1];
	struct rt_multi m = { 0, NJ, NULL };
	struct rt_server sv;
	struct delivery_method *rd;
	struct conf c;
	size_t two[2] = { 0, 1 };
	const struct timeval limit = { 20, 0 };

	(void)state;
	rt_server_start(&sv);
	rt_conf(&c, sv.port);
	m.base = event_base_new();
	rd = rt_method(m.base, &c);
	for (size_t k = 0; k + 1 < NJ; k++) {
		rt_mjob_init(&jobs[k], &m, "x@[127.0.0.1]");
		(void)rt_mjob_start(rd, &jobs[k], rt_stopping_rcpt_cb);
	}
	rt_mjob_init(last, &m, "y@[127.0.0.3]");
	envelope_add_rcpt(&last->env, "z@[127.0.0.1]", "z@[127.0.0.1]", NULL,
	    0);
	struct delivery_job job = {
		.env = &last->env, .msg_fd = fileno(last->fp), .rcpts = two,
		.nrcpts = 2, .rcpt = rt_two_rcpt_cb, .end = rt_mdone_cb,
		.arg = last,
	};
	rt_stop_target = remote_delivery_ops.start(rd, &job);
	assert_non_null(rt_stop_target);
	event_base_loopexit(m.base, &limit);
	event_base_dispatch(m.base);
	assert_int_equal(m.done, NJ);
	remote_delivery_ops.free(rd);
	(void)event_base_loop(m.base, EVLOOP_NONBLOCK);
	rt_server_stop(&sv);
	assert_null(rt_stop_target);
	for (size_t k = 0; k + 1 < NJ; k++) {
		assert_int_equal(jobs[k].ncalls, 1);
		assert_int_equal(jobs[k].status, DELIVERY_OK);
		rt_mjob_clear(&jobs[k]);
	}
	assert_int_equal(rt_two_calls[0], 1);
	assert_int_equal(rt_two_status[0], DELIVERY_TEMPFAIL);
	assert_int_equal(rt_two_calls[1], 0);
	assert_int_equal(sv.messages, NJ - 1);
	rt_mjob_clear(last);
	event_base_free(m.base);
}

/* test_cancel_mid_transaction's state: the job to cancel once the server
 * holds its message, and the method to start the next job on. */
struct rt_cancel {
	struct rt_server	*sv;
	struct delivery_method	*rd;
	struct delivery		*d;
	struct rt_mjob		*next;
	struct event		*poll;
};

static void
rt_cancel_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_cancel *cx = arg;
	const struct timeval tick = { 0, 10000 };

	(void)fd;
	(void)what;
	if (!atomic_load(&cx->sv->stalled)) {
		evtimer_add(cx->poll, &tick);
		return;
	}
	remote_delivery_ops.cancel(cx->d);
	(void)rt_mjob_start(cx->rd, cx->next, rt_mrcpt_cb);
}

/*
 * Cancel while the job's message is on the wire (the server has its final
 * dot and has not answered): no callback for that job, ever; the
 * connection is closed (the server sees it go, and only then serves the
 * next session, that of a job started after the cancel, which is
 * delivered).
 */
static void
test_cancel_mid_transaction(void **state)
{
	struct rt_multi m = { 0, 2, NULL };
	struct rt_mjob first, second;
	struct rt_server sv;
	struct rt_cancel cx;
	struct conf c;
	const struct timeval limit = { 20, 0 }, tick = { 0, 10000 };

	(void)state;
	rt_server_start(&sv);
	sv.stall = true;
	rt_conf(&c, sv.port);
	m.base = event_base_new();
	cx.sv = &sv;
	cx.rd = rt_method(m.base, &c);
	rt_mjob_init(&first, &m, "x@[127.0.0.1]");
	rt_mjob_init(&second, &m, "y@[127.0.0.1]");
	m.want = 1;		/* the second job's end */
	cx.next = &second;
	cx.d = rt_mjob_start(cx.rd, &first, rt_mrcpt_cb);
	cx.poll = evtimer_new(m.base, rt_cancel_poll_cb, &cx);
	evtimer_add(cx.poll, &tick);
	event_base_loopexit(m.base, &limit);
	event_base_dispatch(m.base);
	assert_int_equal(first.ncalls, 0);
	assert_int_equal(second.ncalls, 1);
	assert_int_equal(second.status, DELIVERY_OK);
	assert_int_equal(m.done, 1);
	assert_true(atomic_load(&sv.stall_eof));
	remote_delivery_ops.free(cx.rd);
	(void)event_base_loop(m.base, EVLOOP_NONBLOCK);
	rt_server_stop(&sv);
	assert_int_equal(sv.sessions, 2);
	assert_int_equal(sv.messages, 1);
	event_free(cx.poll);
	rt_mjob_clear(&first);
	rt_mjob_clear(&second);
	event_base_free(m.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_recipient_results),
		cmocka_unit_test(test_connection_refused_defers),
		cmocka_unit_test(test_bad_literal_fails),
		cmocka_unit_test(test_alias_delivered_to_and_loop),
		cmocka_unit_test(test_arc_on_forwarded_copies_only),
		cmocka_unit_test(test_too_many_hops_refused),
		cmocka_unit_test(test_requiretls_failure_spares_plain_units),
		cmocka_unit_test(test_stop_before_start_reports_nothing),
		cmocka_unit_test(test_stop_spares_units_under_way),
		cmocka_unit_test(test_cancel_mid_transaction),
	};

	return cmocka_run_group_tests(tests, rt_setup, rt_teardown);
}
