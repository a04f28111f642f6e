/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for account/dovecot_client against a fake auth server that the
 * test drives on the client's own event loop: the handshake, answers by
 * id in any order, CONT, the bound on outstanding requests, the timeout,
 * a broken connection (in-flight requests fail as temporary) and the
 * reconnect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "account/dovecot_client.h"

#define HANDSHAKE "VERSION\t1\t2\nSPID\t1\nMECH\tLOGIN\tplaintext\n" \
	"MECH\tPLAIN\tplaintext\nCUID\t7\nCOOKIE\tabc\nDONE\n"

struct fake {
	char			 dir[64];
	char			 path[96];
	int			 lfd;	/* listening */
	int			 cfd;	/* the client's connection, -1: none */
	struct event_base	*base;
	struct dovecot_client	*dc;
	char			 in[65536];	/* what the client sent */
	size_t			 inlen;
};

struct answer {
	int			 calls;
	enum dovecot_client_result r;
	char			 user[256];
};

static void
answer_cb(void *arg, enum dovecot_client_result r, const char *user)
{
	struct answer *a = arg;

	a->calls++;
	a->r = r;
	snprintf(a->user, sizeof(a->user), "%s", user ? user : "(null)");
}

/* Run the loop for about ms milliseconds. */
static void
pump(struct fake *f, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 +
	    (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/* Accept the client's connection (waiting up to 3 s of loop time). */
static void
fake_accept(struct fake *f)
{
	for (int i = 0; i < 300 && f->cfd == -1; i++) {
		f->cfd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
		if (f->cfd == -1)
			pump(f, 10);
	}
	assert_true(f->cfd != -1);
	f->inlen = 0;
}

/* Read what the client sent so far into f->in. */
static void
fake_read(struct fake *f)
{
	ssize_t n;

	pump(f, 20);
	while ((n = read(f->cfd, f->in + f->inlen,
	    sizeof(f->in) - 1 - f->inlen)) > 0)
		f->inlen += (size_t)n;
	f->in[f->inlen] = '\0';
}

static void
fake_send(struct fake *f, const char *s)
{
	assert_int_equal(write(f->cfd, s, strlen(s)), (ssize_t)strlen(s));
	pump(f, 30);
}

/* Accept, check the client's handshake, send ours. */
static void
fake_handshake(struct fake *f)
{
	fake_accept(f);
	fake_read(f);
	assert_non_null(strstr(f->in, "VERSION\t1\t"));
	assert_non_null(strstr(f->in, "\nCPID\t"));
	f->inlen = 0;
	fake_send(f, HANDSHAKE);
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(f->dir, sizeof(f->dir), "/tmp/dvclient-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/auth-client", f->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (f->lfd == -1 || bind(f->lfd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 || listen(f->lfd, 8) == -1)
		return -1;
	f->cfd = -1;
	f->base = event_base_new();
	f->dc = dovecot_client_new(f->base, f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	dovecot_client_free(f->dc);
	event_base_free(f->base);
	if (f->cfd != -1)
		close(f->cfd);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The id of the AUTH line for base64 resp in f->in, 0 if none. */
static uint32_t
sent_id(struct fake *f, const char *resp)
{
	char needle[128];
	const char *p, *line;

	snprintf(needle, sizeof(needle), "resp=%s\n", resp);
	if ((p = strstr(f->in, needle)) == NULL)
		return 0;
	for (line = p; line > f->in && line[-1] != '\n'; line--)
		;
	assert_memory_equal(line, "AUTH\t", 5);
	return (uint32_t)strtoul(line + 5, NULL, 10);
}

static void
test_multiplexed_answers(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	char line[128];

	fake_handshake(f);
	uint32_t ia = dovecot_client_auth(f->dc, "a", "pa", "127.0.0.1",
	    "192.0.2.1", answer_cb, &a);
	uint32_t ib = dovecot_client_auth(f->dc, "b", "pb", NULL, NULL,
	    answer_cb, &b);
	uint32_t ic = dovecot_client_auth(f->dc, "c", "pc", NULL, NULL,
	    answer_cb, &c);
	assert_true(ia != 0 && ib != 0 && ic != 0);
	assert_true(ia != ib && ib != ic && ia != ic);
	/* Never answered from inside the call. */
	assert_int_equal(a.calls + b.calls + c.calls, 0);
	fake_read(f);
	assert_non_null(strstr(f->in, "\tservice=smtp\tnologin\tlip=127.0.0.1"
	    "\trip=192.0.2.1\tsecured\t"));
	assert_int_equal(sent_id(f, "AGEAcGE="), ia);	/* \0a\0pa */
	assert_int_equal(sent_id(f, "AGIAcGI="), ib);
	assert_int_equal(sent_id(f, "AGMAcGM="), ic);
	/* Answers in another order, one of them for an unknown id. */
	snprintf(line, sizeof(line), "FAIL\t%u\tuser=b\nOK\t999\n"
	    "FAIL\t%u\ttemp\nOK\t%u\tuser=A@example.org\n", ib, ic, ia);
	fake_send(f, line);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.r, DOVECOT_CLIENT_OK);
	assert_string_equal(a.user, "A@example.org");
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.r, DOVECOT_CLIENT_FAIL);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.r, DOVECOT_CLIENT_TEMP);
	/* OK without user=: the caller keeps its login. */
	ia = dovecot_client_auth(f->dc, "a", "pa", NULL, NULL, answer_cb, &a);
	snprintf(line, sizeof(line), "OK\t%u\n", ia);
	fake_send(f, line);
	assert_int_equal(a.calls, 2);
	assert_string_equal(a.user, "(null)");
}

static void
test_cont_cancel_and_bound(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 }, many[DOVECOT_CLIENT_MAX_REQS + 1];
	uint32_t ids[DOVECOT_CLIENT_MAX_REQS + 1];
	char line[64];

	memset(many, 0, sizeof(many));
	/* Asked before the handshake: queued, sent after DONE. */
	uint32_t id = dovecot_client_auth(f->dc, "a", "pa", NULL, NULL,
	    answer_cb, &a);
	assert_true(id != 0);
	fake_accept(f);
	fake_read(f);
	assert_null(strstr(f->in, "AUTH\t"));
	f->inlen = 0;
	fake_send(f, HANDSHAKE);
	fake_read(f);
	assert_int_equal(sent_id(f, "AGEAcGE="), id);
	/* A challenge to PLAIN: temporary, and the server is told. */
	snprintf(line, sizeof(line), "CONT\t%u\t\n", id);
	fake_send(f, line);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.r, DOVECOT_CLIENT_TEMP);
	f->inlen = 0;
	fake_read(f);
	snprintf(line, sizeof(line), "CANCEL\t%u\n", id);
	assert_non_null(strstr(f->in, line));

	for (int i = 0; i < DOVECOT_CLIENT_MAX_REQS; i++) {
		ids[i] = dovecot_client_auth(f->dc, "u", "p", NULL, NULL,
		    answer_cb, &many[i]);
		assert_true(ids[i] != 0);
	}
	assert_int_equal(dovecot_client_auth(f->dc, "u", "p", NULL, NULL,
	    answer_cb, &many[DOVECOT_CLIENT_MAX_REQS]), 0);
	/* A cancelled request never answers, and frees its place. */
	dovecot_client_cancel(f->dc, ids[0]);
	dovecot_client_cancel(f->dc, ids[0]);
	snprintf(line, sizeof(line), "OK\t%u\n", ids[0]);
	fake_send(f, line);
	assert_int_equal(many[0].calls, 0);
	ids[DOVECOT_CLIENT_MAX_REQS] = dovecot_client_auth(f->dc, "u", "p",
	    NULL, NULL, answer_cb, &many[DOVECOT_CLIENT_MAX_REQS]);
	assert_true(ids[DOVECOT_CLIENT_MAX_REQS] != 0);
}

static void
test_timeout(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 }, b = { 0 };
	char line[64];

	fake_handshake(f);
	dovecot_client_set_timeout(f->dc, 100);
	uint32_t id = dovecot_client_auth(f->dc, "a", "pa", NULL, NULL,
	    answer_cb, &a);
	pump(f, 300);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.r, DOVECOT_CLIENT_TEMP);
	fake_read(f);
	snprintf(line, sizeof(line), "CANCEL\t%u\n", id);
	assert_non_null(strstr(f->in, line));
	/* A late answer is ignored; the connection still serves. */
	snprintf(line, sizeof(line), "OK\t%u\n", id);
	fake_send(f, line);
	assert_int_equal(a.calls, 1);
	id = dovecot_client_auth(f->dc, "b", "pb", NULL, NULL, answer_cb, &b);
	snprintf(line, sizeof(line), "FAIL\t%u\n", id);
	fake_send(f, line);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.r, DOVECOT_CLIENT_FAIL);
}

static void
test_break_and_reconnect(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	char line[64];

	fake_handshake(f);
	assert_true(dovecot_client_auth(f->dc, "a", "pa", NULL, NULL,
	    answer_cb, &a) != 0);
	assert_true(dovecot_client_auth(f->dc, "b", "pb", NULL, NULL,
	    answer_cb, &b) != 0);
	close(f->cfd);
	f->cfd = -1;
	pump(f, 50);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.r, DOVECOT_CLIENT_TEMP);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.r, DOVECOT_CLIENT_TEMP);
	/* Down: refused at once until the reconnect (after 1 s). */
	assert_int_equal(dovecot_client_auth(f->dc, "c", "pc", NULL, NULL,
	    answer_cb, &c), 0);
	fake_handshake(f);
	uint32_t id = dovecot_client_auth(f->dc, "c", "pc", NULL, NULL,
	    answer_cb, &c);
	assert_true(id != 0);
	snprintf(line, sizeof(line), "OK\t%u\tuser=c\n", id);
	fake_send(f, line);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.r, DOVECOT_CLIENT_OK);
	assert_string_equal(c.user, "c");
}

static void
test_bad_server(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 }, b = { 0 };
	char *big = malloc(20000);

	/* A server without PLAIN is no use: dropped. */
	fake_accept(f);
	fake_read(f);
	fake_send(f, "VERSION\t1\t2\nMECH\tLOGIN\nDONE\n");
	assert_int_equal(dovecot_client_auth(f->dc, "a", "pa", NULL, NULL,
	    answer_cb, &a), 0);
	close(f->cfd);
	f->cfd = -1;
	/* A line longer than the protocol's bound drops the connection
	 * before it is complete; the request in flight fails. */
	fake_handshake(f);
	assert_true(dovecot_client_auth(f->dc, "b", "pb", NULL, NULL,
	    answer_cb, &b) != 0);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	assert_int_equal(write(f->cfd, big, 19999), 19999);
	pump(f, 50);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.r, DOVECOT_CLIENT_TEMP);
	free(big);
}

/* Credentials dovecot_proto cannot put in an AUTH line (empty, longer
 * than a SASL field): refused with 0 and no callback, as the header
 * promises, and the client still works. */
static void
test_unsendable_credentials(void **state)
{
	struct fake *f = *state;
	struct answer a = { 0 };
	char big[400];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_accept(f);
	fake_read(f);
	f->inlen = 0;
	fake_send(f, HANDSHAKE);
	assert_int_equal(dovecot_client_auth(f->dc, "u", "", NULL, NULL,
	    answer_cb, &a), 0);
	assert_int_equal(dovecot_client_auth(f->dc, big, "p", NULL, NULL,
	    answer_cb, &a), 0);
	assert_int_equal(dovecot_client_auth(f->dc, "u", big, NULL, NULL,
	    answer_cb, &a), 0);
	pump(f, 50);
	assert_int_equal(a.calls, 0);
	assert_true(dovecot_client_auth(f->dc, "u", "p", NULL, NULL,
	    answer_cb, &a) != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_multiplexed_answers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cont_cancel_and_bound,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_break_and_reconnect,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_server, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unsendable_credentials,
		    setup, teardown),
	};

	/* As in the daemon (master.c): a write to a closed peer is an
	 * error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("dovecot_client", tests, NULL,
	    NULL);
}
