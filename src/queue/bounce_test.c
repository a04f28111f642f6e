/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for queue/bounce.c: a sample message is committed to a spool
 * in a temporary data_dir, bounce_enqueue() writes its DSN, and the test
 * reads the DSN back and takes its MIME structure apart: the boundary,
 * the three parts and their types, the per-message and per-recipient
 * fields, NOTIFY and null-sender rules, RET=HDRS/FULL and the size rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "queue/bounce.h"
#include "queue/envelope.h"
#include "queue/spool.h"

struct bt_ctx {
	char		 dir[64];
	struct conf	 conf;
	char		 qid[IDS_QID_LEN + 1];
};

/* The DSN read back and split into parts. */
struct bt_dsn {
	char		*raw;		/* whole file, NUL-terminated */
	size_t		 len;
	struct envelope	 env;
	char		*part[4];	/* headers+body of parts 1..3 (copies) */
	size_t		 nparts;
	bool		 closed;	/* the close delimiter was seen */
};

static int
bt_setup(void **state)
{
	struct bt_ctx *c = xcalloc(1, sizeof(*c));
	char err[256];

	snprintf(c->dir, sizeof(c->dir), "/tmp/bounce_test.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	assert_int_equal(spool_init(c->dir, err, sizeof(err)), 0);
	c->conf.hostname = "mx.example.org";
	c->conf.data_dir = c->dir;
	c->conf.max_message_size = 10 * 1024 * 1024;
	*state = c;
	return 0;
}

static int
bt_teardown(void **state)
{
	struct bt_ctx *c = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
	free(c);
	return 0;
}

/* Commit `msg` with env (recipients already added) under a new id. */
static void
bt_commit(struct bt_ctx *c, struct envelope *env, const char *msg,
    size_t len)
{
	struct spool_msg *m;

	ids_qid_new(c->qid);
	memcpy(env->id, c->qid, sizeof(env->id));
	env->created = 1700000000;
	m = spool_msg_new(c->dir, c->qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, msg, len), 0);
	assert_int_equal(spool_msg_commit(m, env), 0);
}

static void
bt_fail(struct envelope *env, size_t i, const char *reply)
{
	env->rcpts[i].state = ENVELOPE_RCPT_FAILED;
	free(env->rcpts[i].last_reply);
	env->rcpts[i].last_reply = xstrdup(reply);
}

/* A standard original: sender alice, three recipients. */
static void
bt_sample(struct envelope *env)
{
	envelope_init(env);
	env->mail_from = xstrdup("alice@example.org");
	env->prepend = xstrdup("Received: from client by mx.example.org; "
	    "Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	envelope_add_rcpt(env, "bob@remote.example", "bob@remote.example",
	    "rfc822;Bob+2Btag@remote.example", 0);
	envelope_add_rcpt(env, "carol@remote.example", "carol@remote.example",
	    NULL, ENVELOPE_NOTIFY_FAILURE | ENVELOPE_NOTIFY_DELAY);
	envelope_add_rcpt(env, "dave@remote.example", "dave@remote.example",
	    NULL, ENVELOPE_NOTIFY_NEVER);
	bt_fail(env, 0, "host mx1.remote.example[192.0.2.1] said: 550 5.1.1 "
	    "<bob@remote.example>: Recipient address rejected: User unknown");
	bt_fail(env, 1, "expired after 7 attempts; last reply: 451 try later");
	bt_fail(env, 2, "550 5.1.1 nope");
}

static const char bt_msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@remote.example\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "Body line one.\r\n"
    "Body line two.\r\n";

static void
bt_find_cb(const char *qid, void *arg)
{
	char (*ids)[IDS_QID_LEN + 1] = arg;

	for (int i = 0; i < 8; i++)
		if (ids[i][0] == '\0') {
			memcpy(ids[i], qid, IDS_QID_LEN + 1);
			return;
		}
}

/* The queue ids other than the original's: at most one expected. */
static int
bt_new_ids(struct bt_ctx *c, char *out)
{
	char ids[8][IDS_QID_LEN + 1];
	int n = 0;

	memset(ids, 0, sizeof(ids));
	assert_true(spool_list(c->dir, bt_find_cb, ids) >= 0);
	for (int i = 0; i < 8 && ids[i][0]; i++)
		if (strcmp(ids[i], c->qid) != 0) {
			memcpy(out, ids[i], IDS_QID_LEN + 1);
			n++;
		}
	return n;
}

static char *
bt_read_file(const char *path, size_t *len)
{
	struct stat sb;
	char *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	p = xmalloc((size_t)sb.st_size + 1);
	assert_int_equal(read(fd, p, (size_t)sb.st_size), sb.st_size);
	p[sb.st_size] = '\0';
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

/* Every LF is part of a CRLF, and no CR stands alone. */
static void
bt_assert_crlf(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n')
			assert_true(i > 0 && p[i - 1] == '\r');
		if (p[i] == '\r')
			assert_true(i + 1 < len && p[i + 1] == '\n');
	}
}

/* The boundary parameter of the top Content-Type. */
static void
bt_boundary(const char *raw, char *out, size_t outlen)
{
	const char *p = strstr(raw, "boundary=\"");
	const char *q;

	assert_non_null(p);
	p += strlen("boundary=\"");
	q = strchr(p, '"');
	assert_non_null(q);
	assert_true((size_t)(q - p) < outlen);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	/* RFC 2046 §5.1.1: 1..70 characters. */
	assert_true(strlen(out) >= 1 && strlen(out) <= 70);
}

/* Split the multipart body on CRLF--boundary (RFC 2046 §5.1.1). */
static void
bt_split(struct bt_dsn *d)
{
	char b[128], delim[140];
	const char *p, *next, *end = d->raw + d->len;

	bt_boundary(d->raw, b, sizeof(b));
	snprintf(delim, sizeof(delim), "\r\n--%s", b);
	p = strstr(d->raw, delim);
	assert_non_null(p);
	while (p && p < end) {
		p += strlen(delim);
		if (strncmp(p, "--", 2) == 0) {
			d->closed = true;
			assert_string_equal(p, "--\r\n");
			break;
		}
		assert_true(strncmp(p, "\r\n", 2) == 0);
		p += 2;
		next = strstr(p, delim);
		assert_non_null(next);
		assert_true(d->nparts < 4);
		d->part[d->nparts++] = xstrndup(p, (size_t)(next - p));
		p = next;
	}
}

static void
bt_load(struct bt_ctx *c, struct bt_dsn *d)
{
	char qid[IDS_QID_LEN + 1], path[256], err[256];

	memset(d, 0, sizeof(*d));
	assert_int_equal(bt_new_ids(c, qid), 1);
	snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", c->dir, qid);
	d->raw = bt_read_file(path, &d->len);
	envelope_init(&d->env);
	assert_int_equal(spool_env_load(c->dir, qid, &d->env, err,
	    sizeof(err)), 0);
	/* The committed envelope follows the message in the file. */
	assert_true(d->env.size <= d->len);
	d->len = d->env.size;
	d->raw[d->len] = '\0';
	bt_assert_crlf(d->raw, d->len);
	bt_split(d);
}

static void
bt_dsn_clear(struct bt_dsn *d)
{
	for (size_t i = 0; i < d->nparts; i++)
		free(d->part[i]);
	free(d->raw);
	envelope_clear(&d->env);
}

/* Remove the DSN so the next bounce in the same test can be found. */
static void
bt_drop_new(struct bt_ctx *c)
{
	char qid[IDS_QID_LEN + 1];

	while (bt_new_ids(c, qid) > 0)
		assert_int_equal(spool_remove(c->dir, qid), 0);
}

/* The per-recipient block (of part 2) whose Final-Recipient is addr. */
static const char *
bt_rcpt_block(const char *report, const char *addr, char *out,
    size_t outlen)
{
	char key[256];
	const char *p, *start, *end;

	snprintf(key, sizeof(key), "Final-Recipient: rfc822; %s\r\n", addr);
	if ((p = strstr(report, key)) == NULL)
		return NULL;
	/* Blocks are separated by an empty line. */
	start = p;
	while (start > report && strncmp(start - 4, "\r\n\r\n", 4) != 0)
		start--;
	end = strstr(p, "\r\n\r\n");
	if (end == NULL)
		end = p + strlen(p);
	snprintf(out, outlen, "%.*s\r\n", (int)(end - start), start);
	return out;
}

/* --- tests ------------------------------------------------------------- */

static void
test_structure(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0, 1, 2 };
	char err[256], blk[4096];

	bt_sample(&env);
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 3, err,
	    sizeof(err)), 0);
	bt_load(c, &d);

	/* Top header. */
	assert_non_null(strstr(d.raw, "From: Mail Delivery System "
	    "<MAILER-DAEMON@mx.example.org>\r\n"));
	assert_non_null(strstr(d.raw, "To: <alice@example.org>\r\n"));
	assert_non_null(strstr(d.raw, "Subject: Undelivered Mail Returned to "
	    "Sender\r\n"));
	assert_non_null(strstr(d.raw, "\r\nDate: "));
	assert_non_null(strstr(d.raw, "\r\nMessage-ID: <"));
	assert_non_null(strstr(d.raw, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(d.raw, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(d.raw, "Content-Type: multipart/report; "
	    "report-type=delivery-status;"));
	assert_true(d.closed);
	assert_int_equal(d.nparts, 3);

	/* Part 1: text naming the failed recipients, not dave (NEVER). */
	assert_non_null(strstr(d.part[0], "Content-Type: text/plain"));
	assert_non_null(strstr(d.part[0], "<bob@remote.example>"));
	assert_non_null(strstr(d.part[0], "User unknown"));
	assert_non_null(strstr(d.part[0], "<carol@remote.example>"));
	assert_null(strstr(d.part[0], "dave@"));

	/* Part 2: the machine-readable report. */
	assert_non_null(strstr(d.part[1], "Content-Type: message/"
	    "delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n"));
	assert_non_null(strstr(d.part[1], "Arrival-Date: Tue, 14 Nov 2023 "
	    "22:13:20 +0000\r\n"));
	assert_null(strstr(d.part[1], "Original-Envelope-Id"));
	assert_null(strstr(d.part[1], "dave@"));

	assert_non_null(bt_rcpt_block(d.part[1], "bob@remote.example", blk,
	    sizeof(blk)));
	assert_non_null(strstr(blk, "Original-Recipient: rfc822; "
	    "Bob+tag@remote.example\r\n"));
	assert_non_null(strstr(blk, "Action: failed\r\n"));
	assert_non_null(strstr(blk, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(blk, "Remote-MTA: dns; mx1.remote.example\r\n"));
	assert_non_null(strstr(blk, "Diagnostic-Code: smtp; 550 5.1.1"));
	assert_non_null(strstr(blk, "Last-Attempt-Date: "));

	assert_non_null(bt_rcpt_block(d.part[1], "carol@remote.example", blk,
	    sizeof(blk)));
	assert_null(strstr(blk, "Original-Recipient"));
	assert_null(strstr(blk, "Remote-MTA"));
	assert_non_null(strstr(blk, "Status: 4.0.0\r\n"));
	assert_non_null(strstr(blk, "Diagnostic-Code: smtp; 451 try later"));

	/* Part 3: a small message comes back whole by default. */
	assert_non_null(strstr(d.part[2], "Content-Type: message/rfc822\r\n"));
	assert_null(strstr(d.part[2], "Content-Transfer-Encoding"));
	assert_non_null(strstr(d.part[2], "\r\n\r\nReceived: from client"));
	assert_non_null(strstr(d.part[2], "Subject: hello\r\n"));
	assert_non_null(strstr(d.part[2], "Body line two.\r\n"));

	/* The DSN's envelope: null sender to the original sender. */
	assert_string_equal(d.env.mail_from, "");
	assert_int_equal(d.env.nrcpts, 1);
	assert_string_equal(d.env.rcpts[0].address, "alice@example.org");
	assert_int_equal(d.env.rcpts[0].state, ENVELOPE_RCPT_PENDING);
	assert_int_equal(d.env.body, ENVELOPE_BODY_7BIT);
	assert_int_equal(d.env.size, d.len);
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

static void
test_null_sender(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	size_t failed[] = { 0, 1 };
	char err[256], qid[IDS_QID_LEN + 1];

	bt_sample(&env);
	free(env.mail_from);
	env.mail_from = xstrdup("");
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 2, err,
	    sizeof(err)), 0);
	assert_int_equal(bt_new_ids(c, qid), 0);
	envelope_clear(&env);
}

static void
test_notify(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t only_never[] = { 2 };
	size_t all[] = { 0, 1, 2, 3 };
	char err[256], qid[IDS_QID_LEN + 1];

	bt_sample(&env);
	/* NOTIFY=SUCCESS,DELAY: no failure report wanted. */
	envelope_add_rcpt(&env, "erin@remote.example", "erin@remote.example",
	    NULL, ENVELOPE_NOTIFY_SUCCESS | ENVELOPE_NOTIFY_DELAY);
	bt_fail(&env, 3, "550 5.7.1 no");
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, only_never, 1, err,
	    sizeof(err)), 0);
	assert_int_equal(bt_new_ids(c, qid), 0);

	/* A delivered recipient listed by mistake is skipped too. */
	env.rcpts[1].state = ENVELOPE_RCPT_DELIVERED;
	assert_int_equal(bounce_enqueue(&c->conf, &env, all, 4, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(strstr(d.part[1], "bob@remote.example"));
	assert_null(strstr(d.part[1], "carol@"));
	assert_null(strstr(d.part[1], "dave@"));
	assert_null(strstr(d.part[1], "erin@"));
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

static void
test_ret_hdrs_full(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0 };
	char err[256];

	bt_sample(&env);
	env.ret = ENVELOPE_RET_HDRS;
	free(env.envid);
	env.envid = xstrdup("QQ+2B314");
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(strstr(d.part[1], "Original-Envelope-Id: QQ+314\r\n"));
	assert_non_null(strstr(d.part[2],
	    "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(d.part[2], "Subject: hello\r\n"));
	assert_null(strstr(d.part[2], "Body line"));
	bt_dsn_clear(&d);
	bt_drop_new(c);

	env.ret = ENVELOPE_RET_FULL;
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(strstr(d.part[2], "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(d.part[2], "Body line one.\r\n"));
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

/* RFC 8689 §5: a REQUIRETLS message comes back as headers only even with
 * RET=FULL, whatever the failure, and the DSN itself requires TLS; the
 * REQUIRETLS status codes reach Status and Diagnostic-Code. */
static void
test_requiretls(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0, 1, 2 };
	char err[256], blk[1024];

	bt_sample(&env);
	env.ret = ENVELOPE_RET_FULL;
	env.requiretls = true;
	env.rcpts[2].notify = 0;
	bt_fail(&env, 1, "5.7.30 REQUIRETLS support required: the server "
	    "does not offer REQUIRETLS after STARTTLS (requiretls, "
	    "mx1.remote.example[192.0.2.1])");
	bt_fail(&env, 2, "5.7.10 Encryption needed: the message requires TLS "
	    "(REQUIRETLS) and the session is not encrypted (requiretls, "
	    "mx2.remote.example[192.0.2.2])");
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 3, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_true(d.env.requiretls);
	assert_string_equal(d.env.mail_from, "");
	assert_int_equal(d.nparts, 3);
	assert_non_null(strstr(d.part[0], "header of your message only"));
	assert_non_null(strstr(d.part[2],
	    "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(d.part[2], "Subject: hello\r\n"));
	assert_non_null(strstr(d.part[2], "Received: from client"));
	assert_null(strstr(d.raw, "Body line"));
	assert_non_null(bt_rcpt_block(d.part[1], "bob@remote.example", blk,
	    sizeof(blk)));
	assert_non_null(strstr(blk, "Status: 5.1.1\r\n"));
	assert_non_null(bt_rcpt_block(d.part[1], "carol@remote.example", blk,
	    sizeof(blk)));
	assert_non_null(strstr(blk, "Status: 5.7.30\r\n"));
	assert_non_null(strstr(blk, "Diagnostic-Code: x-sealmail; 5.7.30 "
	    "REQUIRETLS support required"));
	assert_non_null(bt_rcpt_block(d.part[1], "dave@remote.example", blk,
	    sizeof(blk)));
	assert_non_null(strstr(blk, "Status: 5.7.10\r\n"));
	assert_non_null(strstr(blk, "Diagnostic-Code: x-sealmail; 5.7.10 "
	    "Encryption needed"));
	bt_dsn_clear(&d);
	bt_drop_new(c);

	/* The same message without REQUIRETLS: RET=FULL is honoured and
	 * the DSN is an ordinary one. */
	env.requiretls = false;
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 3, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_false(d.env.requiretls);
	assert_non_null(strstr(d.part[2], "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(d.part[2], "Body line one.\r\n"));
	assert_null(strstr(d.part[0], "header of your message only"));
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

/* A message over BOUNCE_FULL_MAX returns headers only unless RET=FULL;
 * with RET=FULL but over max_message_size, headers only as well. */
static void
test_large(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0 }, len = BOUNCE_FULL_MAX + 4096, hl;
	char err[256];
	char *msg = xmalloc(len + 1);

	hl = strlen(bt_msg);
	memcpy(msg, bt_msg, hl);
	for (size_t i = hl; i < len; i++)
		msg[i] = (i - hl) % 64 == 63 ? '\n' : 'x';	/* bare LF */
	bt_sample(&env);
	bt_commit(c, &env, msg, len);
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(strstr(d.part[2], "text/rfc822-headers"));
	assert_true(d.len < 16384);
	bt_dsn_clear(&d);
	bt_drop_new(c);

	env.ret = ENVELOPE_RET_FULL;
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);		/* checks CRLF: bare LFs were converted */
	assert_non_null(strstr(d.part[2], "message/rfc822"));
	assert_true(d.len > len);
	bt_dsn_clear(&d);
	bt_drop_new(c);

	c->conf.max_message_size = len;
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(strstr(d.part[2], "text/rfc822-headers"));
	bt_dsn_clear(&d);
	envelope_clear(&env);
	free(msg);
}

/* 8-bit content is declared; a hostile reply cannot break the report. */
static void
test_8bit_and_injection(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0 };
	char err[256], blk[4096];
	const char *m8 = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";

	bt_sample(&env);
	env.body = ENVELOPE_BODY_8BITMIME;
	bt_fail(&env, 0, "550 5.1.1 bad\r\nX-Injected: yes\r\n\r\n--x");
	bt_commit(c, &env, m8, strlen(m8));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_int_equal(d.nparts, 3);
	assert_null(strstr(d.raw, "\r\nX-Injected"));
	assert_non_null(bt_rcpt_block(d.part[1], "bob@remote.example", blk,
	    sizeof(blk)));
	assert_non_null(strstr(blk, "Diagnostic-Code: smtp; 550 5.1.1 bad??"
	    "X-Injected: yes??" "??" "--x\r\n"));
	assert_non_null(strstr(d.part[2], "Content-Transfer-Encoding: 8bit"));
	assert_int_equal(d.env.body, ENVELOPE_BODY_8BITMIME);
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

/* Long replies are folded and unfold to the original text. */
static void
test_fold(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	struct bt_dsn d;
	size_t failed[] = { 0 };
	char err[256], reply[400], blk[4096];
	const char *p;

	snprintf(reply, sizeof(reply), "550 5.7.1 %s", "word word word word "
	    "word word word word word word word word word word word word word "
	    "word word word word word word word word word word word end");
	bt_sample(&env);
	bt_fail(&env, 0, reply);
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), 0);
	bt_load(c, &d);
	assert_non_null(bt_rcpt_block(d.part[1], "bob@remote.example", blk,
	    sizeof(blk)));
	p = strstr(blk, "Diagnostic-Code: ");
	assert_non_null(p);
	/* Each physical line is short; unfolding gives the reply back. */
	{
		char unf[1024];
		size_t o = 0;
		const char *e = strstr(p, "\r\nLast-Attempt-Date");

		assert_non_null(e);
		for (const char *q = p, *l = p; q < e; q++) {
			if (q[0] == '\r' && q[1] == '\n') {
				assert_true(q - l <= 80);
				l = q + 2;
				q++;
				continue;
			}
			unf[o++] = *q;
		}
		unf[o] = '\0';
		assert_true(strstr(unf, reply) != NULL);
	}
	bt_dsn_clear(&d);
	envelope_clear(&env);
}

static void
test_status(void **state)
{
	static const struct {
		const char *reply, *status;
	} cases[] = {
		{ "550 5.1.1 no such user", "5.1.1" },
		{ "550 no such user", "5.0.0" },
		{ "554-5.7.1 multi", "5.0.0" },
		{ "550 4.1.1 class mismatch", "5.1.1" },
		{ "452 4.2.2 full", "4.2.2" },
		{ "5.1.10 null MX", "5.1.10" },
		{ "5.1.1000 bad", "5.0.0" },
		{ "host a.example[192.0.2.1] said: 552 5.3.4 too big",
		    "5.3.4" },
		{ "host [192.0.2.1] said: 550 5.1.2 x", "5.1.2" },
		{ "host a.example[2001:db8::1] said: 550 5.1.3 x", "5.1.3" },
		{ "host a.example[bad said: 550 5.1.3 x", "5.0.0" },
		{ "5.4.4 no route (connect, mx.example[192.0.2.1])", "5.4.4" },
		{ "expired after 3 attempts; last reply: 421 4.4.2 gone",
		    "4.4.2" },
		{ "expired after 3 attempts; last reply: connection refused",
		    "4.4.7" },
		{ "expired after 3 attempts; last reply: host b.example said: "
		    "451 try again", "4.0.0" },
		{ "250 2.0.0 ok", "5.0.0" },
		{ "mailbox unavailable", "5.0.0" },
		{ "", "5.0.0" },
		{ NULL, "5.0.0" },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bounce_status(cases[i].reply, out, sizeof(out));
		if (strcmp(out, cases[i].status) != 0)
			fail_msg("%s: got %s, want %s", cases[i].reply ?
			    cases[i].reply : "(null)", out, cases[i].status);
	}
}

/* The original cannot be read: -1 with a reason, nothing queued. */
static void
test_missing_original(void **state)
{
	struct bt_ctx *c = *state;
	struct envelope env;
	size_t failed[] = { 0 };
	char err[256] = "", qid[IDS_QID_LEN + 1], path[256];

	bt_sample(&env);
	bt_commit(c, &env, bt_msg, strlen(bt_msg));
	snprintf(path, sizeof(path), "%s/spool/queue/%s.msg", c->dir, c->qid);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bounce_enqueue(&c->conf, &env, failed, 1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open message"));
	assert_int_equal(bt_new_ids(c, qid), 0);
	envelope_clear(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_structure, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_null_sender, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_notify, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_requiretls, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_ret_hdrs_full, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_large, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_8bit_and_injection,
		    bt_setup, bt_teardown),
		cmocka_unit_test_setup_teardown(test_fold, bt_setup,
		    bt_teardown),
		cmocka_unit_test_setup_teardown(test_missing_original,
		    bt_setup, bt_teardown),
		cmocka_unit_test(test_status),
	};

	log_init("bounce_test", false, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
