/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for LMTP delivery (deliver/lmtp.c on the smtpc engine
 * in LMTP mode: greeting, LHLO capabilities, MAIL, RCPT, DATA and the
 * per-recipient replies after the final dot). The input is everything a
 * hostile LMTP server sends: the target accepts the client's connection on
 * a unix socket, writes the input and closes its sending side, and the
 * job (three recipients, one of them unusable) runs on an event loop to
 * its end. Invariants:
 *  - nothing is reported from within start(); every recipient gets
 *    exactly one result, then the end callback runs once;
 *  - a result's reply starts with a code whose class is its status
 *    (2 delivered, 4 deferred, 5 failed: no 1xx or 3xx reply, and no
 *    server's text, may pass for a delivery) and fits LIMIT_REPLY_LINE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "deliver/lmtp.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *fz_base;
static int fz_lfd = -1;
static char fz_target[128];
static int fz_msg = -1;
static const char fz_body[] = "Subject: x\n\n.a\r.b\nc";

struct fz_state {
	int	reported[3];
	int	ended;
	bool	started;
};

static void
fz_rcpt(size_t i, const struct delivery_result *res, void *arg)
{
	struct fz_state *st = arg;
	size_t n = strnlen(res->reply, sizeof(res->reply));

	CHECK(st->started);
	CHECK(i < 3);
	st->reported[i]++;
	CHECK(n <= LIMIT_REPLY_LINE);
	CHECK(n >= 3);
	switch (res->status) {
	case DELIVERY_OK:
		CHECK(res->reply[0] == '2');
		break;
	case DELIVERY_TEMPFAIL:
		CHECK(res->reply[0] == '4');
		break;
	case DELIVERY_PERMFAIL:
		CHECK(res->reply[0] == '5');
		break;
	}
}

static void
fz_end(void *arg)
{
	struct fz_state *st = arg;

	st->ended++;
	event_base_loopbreak(fz_base);
}

static void
fz_init(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/fuzz_lmtp.XXXXXX";

	log_init("fuzz", true, false);	/* syslog: no stderr per event */
	fz_base = event_base_new();
	CHECK(fz_base != NULL && mkdtemp(dir) != NULL);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
	snprintf(fz_target, sizeof(fz_target), "unix:%s", sun.sun_path);
	fz_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fz_lfd != -1);
	CHECK(bind(fz_lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(fz_lfd, 16) == 0);
	fz_msg = memfd_create("fuzz_lmtp", MFD_CLOEXEC);
	CHECK(fz_msg != -1);
	CHECK(write(fz_msg, fz_body, sizeof(fz_body) - 1) ==
	    (ssize_t)(sizeof(fz_body) - 1));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t idx[] = { 0, 1, 2 };
	struct fz_state st = { 0 };
	struct envelope env;
	char err[160];
	int sfd;

	if (fz_base == NULL)
		fz_init();
	if (size > 32 * 1024)
		size = 32 * 1024;
	envelope_init(&env);
	env.size = sizeof(fz_body) - 1;
	env.mail_from = strdup("s@example.com");
	env.smtputf8 = size > 0 && (data[0] & 1);
	env.body = size > 0 && (data[0] & 2) ? ENVELOPE_BODY_8BITMIME :
	    ENVELOPE_BODY_7BIT;
	envelope_add_rcpt(&env, "a@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "b\r\nRSET@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "c@example.org", NULL, NULL, 0);

	const struct delivery_setup setup = {
		.base = fz_base, .hostname = "fuzz.example.org",
		.target = fz_target, .timeout = 2,
	};
	const struct delivery_job job = {
		.env = &env, .msg_fd = fz_msg, .rcpts = idx, .nrcpts = 3,
		.rcpt = fz_rcpt, .end = fz_end, .arg = &st,
	};
	struct delivery_method *m = lmtp_delivery_ops.new(&setup, err,
	    sizeof(err));
	CHECK(m != NULL);
	CHECK(lmtp_delivery_ops.start(m, &job) != NULL);
	st.started = true;
	/* The connect happens on the loop's first turn. */
	event_base_loop(fz_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	sfd = accept4(fz_lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(sfd != -1);
	/* The input at once, then end of input: the client never waits
	 * for a timer (a 32 KiB reply fits the socket's buffer). */
	if (size > 0)
		CHECK(send(sfd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
	shutdown(sfd, SHUT_WR);
	event_base_dispatch(fz_base);
	CHECK(st.ended == 1);
	for (size_t i = 0; i < 3; i++)
		CHECK(st.reported[i] == 1);
	lmtp_delivery_ops.free(m);
	close(sfd);
	envelope_clear(&env);
	return 0;
}
