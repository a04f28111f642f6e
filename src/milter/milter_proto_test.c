/* SPDX-License-Identifier: ISC */
/* Unit tests for milter/milter_proto and milter/milter_edit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "milter/milter_edit.h"
#include "milter/milter_proto.h"

static void
test_encode_frames(void **state)
{
	struct buf b;
	const char *names[] = { "j", "{daemon_name}" };
	const char *values[] = { "mx.test", "mx" };
	const char *args[] = { "<a@b.test>", "SIZE=10" };
	uint8_t cmd;
	const uint8_t *data;
	size_t dlen, used;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(milter_enc_optneg(&b, 6, 0x1ff, 0x400), 0);
	assert_int_equal(b.len, 4 + 1 + 12);
	assert_memory_equal(b.data, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\0\x04\0",
	    17);
	buf_reset(&b);
	assert_int_equal(milter_enc_macro(&b, 'C', names, values, 2), 0);
	assert_memory_equal(b.data, "\0\0\0\x1d" "DCj\0mx.test\0{daemon_name}\0mx\0",
	    4 + 0x1d);
	buf_reset(&b);
	assert_int_equal(milter_enc_connect(&b, "h.test", '4', 2525,
	    "192.0.2.1"), 0);
	assert_memory_equal(b.data, "\0\0\0\x15" "Ch.test\0" "4\x09\xdd"
	    "192.0.2.1\0", 25);
	buf_reset(&b);
	assert_int_equal(milter_enc_args(&b, MILTER_CMD_MAIL, args, 2), 0);
	assert_memory_equal(b.data, "\0\0\0\x14M<a@b.test>\0SIZE=10\0", 24);
	buf_reset(&b);
	assert_int_equal(milter_enc_header(&b, "Subject", 7, "hi", 2), 0);
	assert_int_equal(milter_enc_simple(&b, MILTER_CMD_EOH), 0);
	assert_int_equal(milter_frame_next(b.data, b.len, &cmd, &data, &dlen,
	    &used), MILTER_FRAME_OK);
	assert_int_equal(cmd, 'L');
	assert_int_equal(dlen, 11);
	assert_memory_equal(data, "Subject\0hi\0", 11);
	assert_int_equal(milter_frame_next(b.data + used, b.len - used, &cmd,
	    &data, &dlen, &used), MILTER_FRAME_OK);
	assert_int_equal(cmd, 'N');
	assert_int_equal(dlen, 0);
	/* The packet bound holds for what we send too; b is unchanged. */
	buf_reset(&b);
	static uint8_t big[LIMIT_MILTER_PACKET];
	assert_int_equal(milter_enc_body(&b, big, sizeof(big)), -1);
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

static void
test_frame_bounds(void **state)
{
	uint8_t cmd;
	const uint8_t *data;
	size_t dlen, used;

	(void)state;
	assert_int_equal(milter_frame_next((const uint8_t *)"\0\0", 2, &cmd,
	    &data, &dlen, &used), MILTER_FRAME_MORE);
	assert_int_equal(milter_frame_next((const uint8_t *)"\0\0\0\0", 4, &cmd,
	    &data, &dlen, &used), MILTER_FRAME_BAD);
	/* Too long is refused before the rest arrives. */
	assert_int_equal(milter_frame_next((const uint8_t *)"\xff\xff\xff\xff",
	    4, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
	assert_int_equal(milter_frame_next((const uint8_t *)"\0\x10\0\x02", 4,
	    &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
	assert_int_equal(milter_frame_next((const uint8_t *)"\0\0\0\x03hx", 6,
	    &cmd, &data, &dlen, &used), MILTER_FRAME_MORE);
	assert_int_equal(milter_frame_next((const uint8_t *)"\0\0\0\x01" "c", 5,
	    &cmd, &data, &dlen, &used), MILTER_FRAME_OK);
	assert_int_equal(cmd, 'c');
	assert_int_equal(used, 5);
}

static enum milter_parse
parse(char cmd, const char *data, size_t len, struct milter_reply *r)
{
	return milter_reply_parse((uint8_t)cmd, (const uint8_t *)data, len, r);
}

static void
test_replies(void **state)
{
	struct milter_reply r;

	(void)state;
	assert_int_equal(parse('c', "", 0, &r), MILTER_PARSE_OK);
	assert_int_equal(r.kind, MILTER_R_CONTINUE);
	assert_int_equal(parse('a', "x", 1, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('p', "", 0, &r), MILTER_PARSE_OK);
	assert_int_equal(parse('Z', "", 0, &r), MILTER_PARSE_UNKNOWN);
	assert_int_equal(parse('h', "X-Spam\0yes\0", 11, &r), MILTER_PARSE_OK);
	assert_int_equal(r.name_len, 6);
	assert_string_equal(r.value, "yes");
	assert_int_equal(parse('h', "X-Spam\0yes", 10, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('h', "X Spam\0yes\0", 11, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('h', "X-Spam\0yes\0z", 12, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('h', "\0yes\0", 5, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('i', "\0\0\0\x02" "A\0b\0", 8, &r),
	    MILTER_PARSE_OK);
	assert_int_equal(r.index, 2);
	assert_int_equal(parse('m', "\0\0\0", 3, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('e', "<x@y>\0SIZE=1\0", 13, &r), MILTER_PARSE_OK);
	assert_string_equal(r.name, "<x@y>");
	assert_string_equal(r.value, "SIZE=1");
	assert_int_equal(parse('e', "<x@y>\0", 6, &r), MILTER_PARSE_OK);
	assert_null(r.value);
	assert_int_equal(parse('+', "<x@y>\0more\0", 11, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('y', "550 5.7.1 no\0", 13, &r), MILTER_PARSE_OK);
	assert_int_equal(parse('y', "550 5.7.1 no", 12, &r), MILTER_PARSE_BAD);
	assert_int_equal(parse('q', "spam\0", 5, &r), MILTER_PARSE_OK);
	assert_int_equal(parse('b', "abc", 3, &r), MILTER_PARSE_OK);
	assert_int_equal(r.body_len, 3);
	assert_int_equal(parse('O', "\0\0\0\x06\0\0\0\x01\0\0\0\0", 11, &r),
	    MILTER_PARSE_BAD);
	assert_int_equal(parse('O', "\0\0\0\x06\0\0\0\x01\0\0\x04\0xx", 14, &r),
	    MILTER_PARSE_OK);
	assert_int_equal(r.protocol, MILTER_P_SKIP);
}

static void
test_negotiate(void **state)
{
	struct milter_reply r = { .kind = MILTER_R_OPTNEG, .version = 6,
	    .actions = MILTER_ACT_ADDHDRS, .protocol = MILTER_P_NR_HDR };
	struct milter_neg n;

	(void)state;
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), 0);
	assert_int_equal(n.version, 6);
	assert_int_equal(n.actions, MILTER_ACT_ADDHDRS);
	r.protocol = MILTER_P_RCPT_REJ;	/* not offered */
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), -1);
	r.protocol = 0;
	r.actions = 0x200;		/* unknown action */
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), -1);
	r.actions = 0;
	r.version = 1;
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), -1);
	r.version = 9;			/* newer: we speak 6 */
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), 0);
	assert_int_equal(n.version, 6);
}

/* SETSYMLIST lists in the OPTNEG answer: taken with the action,
 * ignored without it, refused when malformed. */
static void
test_symlist(void **state)
{
	static const uint8_t ok[] = { 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0, 0,
	    0, 0, 0, 3, '{', 'r', 'c', 'p', 't', '_', 'a', 'd', 'd', 'r', '}',
	    0, 0, 0, 0, 0, 'j', ' ', '_', 0 };
	static const uint8_t bad_stage[] = { 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0,
	    0, 0, 0, 0, 9, 'j', 0 };
	static const uint8_t no_nul[] = { 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0, 0,
	    0, 0, 0, 1, 'j' };
	uint8_t noact[sizeof(ok)];
	struct milter_reply r;
	struct milter_neg n;

	(void)state;
	assert_int_equal(milter_reply_parse('O', ok, sizeof(ok), &r),
	    MILTER_PARSE_OK);
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), 0);
	assert_true(n.has_symlist[MILTER_SYM_ENVRCPT]);
	assert_string_equal(n.symlist[MILTER_SYM_ENVRCPT], "{rcpt_addr}");
	assert_string_equal(n.symlist[MILTER_SYM_CONNECT], "j _");
	assert_false(n.has_symlist[MILTER_SYM_HELO]);
	memcpy(noact, ok, sizeof(ok));
	noact[6] = 0;	/* SETSYMLIST not asked for: lists ignored */
	assert_int_equal(milter_reply_parse('O', noact, sizeof(noact), &r),
	    MILTER_PARSE_OK);
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), 0);
	assert_false(n.has_symlist[MILTER_SYM_ENVRCPT]);
	assert_int_equal(milter_reply_parse('O', bad_stage, sizeof(bad_stage),
	    &r), MILTER_PARSE_OK);
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), -1);
	assert_int_equal(milter_reply_parse('O', no_nul, sizeof(no_nul), &r),
	    MILTER_PARSE_OK);
	assert_int_equal(milter_negotiate(&r, MILTER_OFFER_ACTIONS,
	    MILTER_OFFER_PROTOCOL, &n), -1);
}

static const char *
san(const char *t)
{
	static char out[MILTER_REPLY_MAX];

	if (milter_reply_sanitize(t, strlen(t), out, sizeof(out)) == -1)
		return "error";
	return out;
}

static size_t
count_lines(const char *t)
{
	size_t n = 1;

	for (; (t = strstr(t, "\r\n")) != NULL; t += 2)
		n++;
	return n;
}

static void
test_sanitize(void **state)
{
	char longt[2000];

	(void)state;
	assert_string_equal(san("554 5.7.1 Gtube pattern"),
	    "554 5.7.1 Gtube pattern");
	assert_string_equal(san("451 4.7.1 Try later"), "451 4.7.1 Try later");
	assert_string_equal(san("550 Go away"), "550 5.7.1 Go away");
	/* An enhanced code of another class is text (smtpc_reply). */
	assert_string_equal(san("550 4.7.1 mixed"), "550 5.7.1 4.7.1 mixed");
	assert_string_equal(san("550"), "550 5.7.1");
	/* Multi-line: each line re-coded, joined with CRLF. */
	assert_string_equal(san("550-5.7.1 first\r\n550 5.7.1 second"),
	    "550-5.7.1 first\r\n550 5.7.1 second");
	assert_string_equal(san("550 5.7.1 a\r\n550 b\r\n"),
	    "550-5.7.1 a\r\n550 5.7.1 b");
	assert_string_equal(san("451-4.7.1 a\n451 4.7.2 b"),
	    "451-4.7.1 a\r\n451 4.7.2 b");
	/* Every line has the first one's code. */
	assert_string_equal(san("550-5.7.1 a\r\n450 4.7.1 b"), "error");
	assert_string_equal(san("550-5.7.1 a\r\nsmuggled"), "error");
	/* At most MILTER_REPLY_LINES lines. */
	assert_int_equal(count_lines(san("550-a\r\n550-b\r\n550-c\r\n"
	    "550-d\r\n550-e\r\n550-f\r\n550-g\r\n550-h\r\n550-i\r\n"
	    "550 j")), MILTER_REPLY_LINES);
	assert_true(strstr(san("550-a\r\n550-b\r\n550-c\r\n550-d\r\n"
	    "550-e\r\n550-f\r\n550-g\r\n550-h\r\n550 i"),
	    "\r\n550 5.7.1 h") != NULL);
	assert_string_equal(san("550 5.7.1 a\x01\x7f" "b"), "550 5.7.1 a??b");
	assert_string_equal(san("250 ok"), "error");
	assert_string_equal(san("354 go"), "error");
	assert_string_equal(san("5x0 bad"), "error");
	assert_string_equal(san("55"), "error");
	assert_string_equal(san("550x"), "error");
	memset(longt, 'a', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	memcpy(longt, "550 5.1.1 ", 10);
	assert_true(strlen(san(longt)) < LIMIT_REPLY_LINE - 2);
}

static void
test_edit(void **state)
{
	struct buf h;
	const char *sec = "From: a@b.test\r\nSubject: one\r\n two\r\n"
	    "X-A: 1\r\nx-a: 2\r\n";

	(void)state;
	buf_init(&h, 4096);
	buf_append_str(&h, sec);
	assert_int_equal(milter_edit_add(&h, "X-Spam", 6, "no", 2), 0);
	assert_string_equal(buf_cstr(&h), "From: a@b.test\r\nSubject: one\r\n"
	    " two\r\nX-A: 1\r\nx-a: 2\r\nX-Spam: no\r\n");
	assert_int_equal(milter_edit_insert(&h, 0, "DKIM-Signature", 14,
	    "v=1;\r\n\tb=x", 10), 0);
	assert_int_equal(milter_edit_insert(&h, 3, "X-Mid", 5, "m", 1), 0);
	assert_string_equal(buf_cstr(&h), "DKIM-Signature: v=1;\r\n\tb=x\r\n"
	    "From: a@b.test\r\nSubject: one\r\n two\r\nX-Mid: m\r\nX-A: 1\r\n"
	    "x-a: 2\r\nX-Spam: no\r\n");
	/* The second X-A (any case); then delete the folded Subject. */
	assert_int_equal(milter_edit_change(&h, 2, "X-A", 3, "two", 3), 0);
	assert_int_equal(milter_edit_change(&h, 1, "subject", 7, "", 0), 0);
	assert_int_equal(milter_edit_change(&h, 5, "X-None", 6, "", 0), 0);
	assert_int_equal(milter_edit_change(&h, 1, "X-New", 5, "n", 1), 0);
	assert_string_equal(buf_cstr(&h), "DKIM-Signature: v=1;\r\n\tb=x\r\n"
	    "From: a@b.test\r\nX-Mid: m\r\nX-A: 1\r\nX-A: two\r\n"
	    "X-Spam: no\r\n" "X-New: n\r\n");
	buf_clear(&h);
}

/* What a milter writes cannot end the section or start a field. */
static void
test_edit_injection(void **state)
{
	struct buf h;

	(void)state;
	buf_init(&h, 100);
	assert_int_equal(milter_edit_add(&h, "X-A", 3,
	    "a\r\n\r\nBcc: x@evil.test\nTo: y\r\n \r\nz\x01", 34), 0);
	assert_string_equal(buf_cstr(&h), "X-A: a\r\n\tBcc: x@evil.test\r\n\tTo: y"
	    "\r\n\tz\r\n");
	assert_int_equal(milter_edit_add(&h, "Bad:Name", 8, "v", 1), -1);
	assert_int_equal(milter_edit_add(&h, "", 0, "v", 1), -1);
	/* The bound: h unchanged. */
	char big[200];
	memset(big, 'v', sizeof(big));
	size_t before = h.len;
	assert_int_equal(milter_edit_add(&h, "X-B", 3, big, sizeof(big)), -1);
	assert_int_equal(h.len, before);
	buf_clear(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_frames),
		cmocka_unit_test(test_frame_bounds),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_symlist),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_edit_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
