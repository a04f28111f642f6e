/* SPDX-License-Identifier: ISC */
/* Unit tests for the SMTP reply parser and EHLO capability reader:
 * single and multi-line replies, enhanced codes, bounds and malformed
 * lines, and a table of EHLO keyword cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "smtpc/smtpc_reply.h"

/* Parse a whole NUL-terminated text; returns the result. */
static enum smtpc_reply_result
rpt_parse(struct smtpc_reply *r, const char *text, size_t *used)
{
	smtpc_reply_init(r);
	return smtpc_reply_parse(r, text, strlen(text), used);
}

static void
test_single_line(void **state)
{
	struct smtpc_reply r;
	size_t used;

	(void)state;
	assert_int_equal(rpt_parse(&r, "250 2.1.0 Ok sender\r\nextra", &used),
	    SMTPC_REPLY_DONE);
	assert_int_equal(used, 21);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enhanced, "2.1.0");
	assert_string_equal(buf_cstr(&r.text), "Ok sender");
	assert_int_equal(smtpc_reply_class(&r), 2);
	smtpc_reply_clear(&r);
}

static void
test_multi_line(void **state)
{
	struct smtpc_reply r;
	size_t used;

	(void)state;
	assert_int_equal(rpt_parse(&r, "550-5.1.1 no such\r\n550-5.1.1 user"
	    "\r\n550 5.1.1 here\r\n", &used), SMTPC_REPLY_DONE);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enhanced, "5.1.1");
	assert_string_equal(buf_cstr(&r.text), "no such\nuser\nhere");
	assert_int_equal(r.nlines, 3);
	/* Pushing after DONE starts a new reply. */
	assert_int_equal(smtpc_reply_push(&r, "221 bye", 7), SMTPC_REPLY_DONE);
	assert_int_equal(r.code, 221);
	assert_string_equal(r.enhanced, "");
	assert_string_equal(buf_cstr(&r.text), "bye");
	smtpc_reply_clear(&r);
}

static void
test_enhanced_rules(void **state)
{
	static const struct {
		const char *line, *enh, *text;
	} cases[] = {
		{ "250 2.0.0", "2.0.0", "" },
		{ "451 4.7.1 greylisted", "4.7.1", "greylisted" },
		{ "550 4.1.1 class mismatch", "", "4.1.1 class mismatch" },
		{ "250 2.0.0x", "", "2.0.0x" },
		{ "250 2.1234.0 long", "", "2.1234.0 long" },
		{ "250 2.123.456 ok", "2.123.456", "ok" },
		{ "250 3.0.0 bad class", "", "3.0.0 bad class" },
		{ "250", "", "" },
		{ "250 ", "", "" },
	};
	struct smtpc_reply r;
	size_t i;

	(void)state;
	smtpc_reply_init(&r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(smtpc_reply_push(&r, cases[i].line,
		    strlen(cases[i].line)), SMTPC_REPLY_DONE);
		assert_string_equal(r.enhanced, cases[i].enh);
		assert_string_equal(buf_cstr(&r.text), cases[i].text);
	}
	smtpc_reply_clear(&r);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		enum smtpc_reply_result res;
	} cases[] = {
		{ "25 short\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "2500 x\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "650 x\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "190 x\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "260 x\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "250_x\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "abc\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "\r\n", SMTPC_REPLY_ERR_SYNTAX },
		{ "250-a\r\n251 b\r\n", SMTPC_REPLY_ERR_MISMATCH },
		{ "250-a\r\n250-b", SMTPC_REPLY_MORE },
	};
	struct smtpc_reply r;
	size_t i, used;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(rpt_parse(&r, cases[i].text, &used),
		    cases[i].res);
		smtpc_reply_clear(&r);
	}
}

static void
test_bounds(void **state)
{
	char line[LIMIT_REPLY_LINE + 10];
	struct smtpc_reply r;
	size_t i;

	(void)state;
	smtpc_reply_init(&r);
	/* Longest accepted line: 510 octets + CRLF. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	assert_int_equal(smtpc_reply_push(&r, line, LIMIT_REPLY_LINE - 2),
	    SMTPC_REPLY_DONE);
	assert_int_equal(smtpc_reply_push(&r, line, LIMIT_REPLY_LINE - 1),
	    SMTPC_REPLY_ERR_TOO_LONG);
	smtpc_reply_reset(&r);
	for (i = 0; i < SMTPC_REPLY_MAX_LINES - 1; i++)
		assert_int_equal(smtpc_reply_push(&r, "250-x", 5),
		    SMTPC_REPLY_MORE);
	assert_int_equal(smtpc_reply_push(&r, "250 x", 5), SMTPC_REPLY_DONE);
	smtpc_reply_reset(&r);
	for (i = 0; i < SMTPC_REPLY_MAX_LINES; i++)
		assert_int_equal(smtpc_reply_push(&r, "250-x", 5),
		    SMTPC_REPLY_MORE);
	assert_int_equal(smtpc_reply_push(&r, "250 x", 5),
	    SMTPC_REPLY_ERR_TOO_MANY);
	smtpc_reply_clear(&r);
	/* An unterminated line longer than the limit is refused early. */
	smtpc_reply_init(&r);
	memset(line, 'y', sizeof(line));
	memcpy(line, "250 ", 4);
	assert_int_equal(smtpc_reply_parse(&r, line, sizeof(line), &i),
	    SMTPC_REPLY_ERR_TOO_LONG);
	smtpc_reply_clear(&r);
}

static void
test_ehlo_caps(void **state)
{
	struct smtpc_reply r;
	struct smtpc_caps c;
	size_t used;

	(void)state;
	assert_int_equal(rpt_parse(&r, "250-mx.example.org Hello SIZE\r\n"
	    "250-pipelining\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
	    "250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN X-FOO\r\n"
	    "250-AUTH=CRAM-MD5\r\n250-CHUNKING\r\n250-DSN\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-XCLIENT NAME\r\n"
	    "250 REQUIRETLS\r\n", &used), SMTPC_REPLY_DONE);
	assert_int_equal(smtpc_caps_from_reply(&r, &c), 0);
	assert_true(c.pipelining && c.size && c.eightbitmime && c.smtputf8 &&
	    c.starttls && c.chunking && c.dsn && c.enhancedstatuscodes &&
	    c.requiretls);
	assert_int_equal(c.size_max, 52428800);
	assert_int_equal(c.auth, SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN |
	    SMTPC_AUTH_OTHER | SMTPC_AUTH_CRAM_MD5);
	smtpc_reply_clear(&r);

	/* The greeting line is not a keyword; odd SIZE values mean 0. */
	assert_int_equal(rpt_parse(&r, "250-STARTTLS\r\n250-SIZE\r\n"
	    "250 SIZE 99999999999999999999999\r\n", &used), SMTPC_REPLY_DONE);
	assert_int_equal(smtpc_caps_from_reply(&r, &c), 0);
	assert_false(c.starttls);
	assert_true(c.size);
	assert_int_equal(c.size_max, 0);
	smtpc_reply_clear(&r);

	/* Only the greeting line: no extensions. Non-2xx: error. */
	assert_int_equal(rpt_parse(&r, "250 mx\r\n", &used), SMTPC_REPLY_DONE);
	assert_int_equal(smtpc_caps_from_reply(&r, &c), 0);
	assert_false(c.pipelining || c.starttls || c.size || c.auth);
	smtpc_reply_clear(&r);
	assert_int_equal(rpt_parse(&r, "502 5.5.1 no\r\n", &used),
	    SMTPC_REPLY_DONE);
	assert_int_equal(smtpc_caps_from_reply(&r, &c), -1);
	smtpc_reply_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_enhanced_rules),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_ehlo_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
