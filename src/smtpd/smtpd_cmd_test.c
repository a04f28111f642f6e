/* SPDX-License-Identifier: ISC */
/* Unit tests for smtpd/smtpd_cmd: verbs, MAIL/RCPT/BDAT arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtpd/smtpd_cmd.h"

static enum smtpd_cmd_result
cmd(const char *line, struct smtpd_cmd *c)
{
	return smtpd_cmd_parse(line, strlen(line), c);
}

static void
test_smtpd_cmd_verbs(void **state)
{
	static const struct {
		const char	*line;
		enum smtpd_verb	 verb;
		const char	*arg;
	} ok[] = {
		{ "HELO x.example", SMTPD_VERB_HELO, "x.example" },
		{ "ehlo x.example", SMTPD_VERB_EHLO, "x.example" },
		{ "EhLo [192.0.2.1]  ", SMTPD_VERB_EHLO, "[192.0.2.1]" },
		{ "MAIL FROM:<a@b>", SMTPD_VERB_MAIL, "FROM:<a@b>" },
		{ "rcpt TO:<a@b> NOTIFY=NEVER", SMTPD_VERB_RCPT,
		  "TO:<a@b> NOTIFY=NEVER" },
		{ "DATA", SMTPD_VERB_DATA, "" },
		{ "data ", SMTPD_VERB_DATA, "" },
		{ "BDAT 100 LAST", SMTPD_VERB_BDAT, "100 LAST" },
		{ "RSET", SMTPD_VERB_RSET, "" },
		{ "NOOP", SMTPD_VERB_NOOP, "" },
		{ "NOOP hello there", SMTPD_VERB_NOOP, "hello there" },
		{ "QUIT", SMTPD_VERB_QUIT, "" },
		{ "VRFY root", SMTPD_VERB_VRFY, "root" },
		{ "EXPN list", SMTPD_VERB_EXPN, "list" },
		{ "HELP", SMTPD_VERB_HELP, "" },
		{ "HELP MAIL", SMTPD_VERB_HELP, "MAIL" },
		{ "StartTLS", SMTPD_VERB_STARTTLS, "" },
		{ "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", SMTPD_VERB_AUTH,
		  "PLAIN dGVzdAB0ZXN0AHRlc3Q=" },
		{ "MAIL  FROM:<a@b>", SMTPD_VERB_MAIL, " FROM:<a@b>" },
	};
	struct smtpd_cmd c;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (cmd(ok[i].line, &c) != SMTPD_CMD_OK)
			fail_msg("\"%s\" rejected", ok[i].line);
		assert_int_equal(c.verb, ok[i].verb);
		assert_int_equal(c.arglen, strlen(ok[i].arg));
		assert_memory_equal(c.arg, ok[i].arg, c.arglen);
		/* The argument points into the line. */
		if (c.arglen)
			assert_true(c.arg > ok[i].line &&
			    c.arg + c.arglen <=
			    ok[i].line + strlen(ok[i].line));
	}
}

static void
test_smtpd_cmd_verb_errors(void **state)
{
	struct smtpd_cmd c;

	(void)state;
	assert_int_equal(cmd("", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(cmd("FOO", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(cmd("MAILX FROM:<>", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(cmd(" MAIL FROM:<>", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(cmd("MAIL\tFROM:<>", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(cmd("GET / HTTP/1.0", &c), SMTPD_CMD_ERR_UNKNOWN);
	assert_int_equal(c.verb, SMTPD_VERB_UNKNOWN);
	/* Framing bytes inside a line. */
	assert_int_equal(smtpd_cmd_parse("NOOP\0x", 6, &c), SMTPD_CMD_ERR_NUL);
	assert_int_equal(cmd("NOOP\rRSET", &c), SMTPD_CMD_ERR_NUL);
	assert_int_equal(cmd("NOOP\nRSET", &c), SMTPD_CMD_ERR_NUL);
	/* 8-bit only where a path may be UTF-8. */
	assert_int_equal(cmd("EHLO h\xc3\xa9.example", &c), SMTPD_CMD_ERR_NUL);
	assert_int_equal(c.verb, SMTPD_VERB_EHLO);
	assert_int_equal(cmd("MAIL FROM:<\xc3\xa9@x>", &c), SMTPD_CMD_OK);
	assert_int_equal(cmd("RCPT TO:<\xc3\xa9@x>", &c), SMTPD_CMD_OK);
	/* Argument required or forbidden. */
	assert_int_equal(cmd("DATA x", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(c.verb, SMTPD_VERB_DATA);
	assert_int_equal(cmd("STARTTLS now", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("QUIT now", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("RSET x", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("HELO", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("EHLO   ", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("MAIL", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("AUTH", &c), SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(cmd("BDAT", &c), SMTPD_CMD_ERR_SYNTAX);
}

static enum smtpd_cmd_result
mail(const char *arg, struct smtpd_mail_args *m)
{
	return smtpd_cmd_parse_mail(arg, strlen(arg), m);
}

static void
test_smtpd_cmd_mail(void **state)
{
	struct smtpd_mail_args m;

	(void)state;
	assert_int_equal(mail("FROM:<a@B.example>", &m), SMTPD_CMD_OK);
	assert_string_equal(m.from.local, "a");
	assert_string_equal(m.from.domain, "b.example");
	assert_false(m.is_null);
	assert_int_equal(m.size, 0);
	assert_int_equal(m.body, ENVELOPE_BODY_UNSPEC);
	assert_int_equal(m.ret, ENVELOPE_RET_UNSPEC);
	assert_false(m.has_envid || m.has_auth || m.smtputf8 || m.requiretls);

	assert_int_equal(mail("from:<>", &m), SMTPD_CMD_OK);
	assert_true(m.is_null);
	assert_string_equal(m.from.local, "");

	assert_int_equal(mail("FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8 "
	    "RET=HDRS ENVID=xyz+2B1 AUTH=<> REQUIRETLS", &m), SMTPD_CMD_OK);
	assert_int_equal(m.size, 123);
	assert_int_equal(m.body, ENVELOPE_BODY_8BITMIME);
	assert_true(m.smtputf8);
	assert_int_equal(m.ret, ENVELOPE_RET_HDRS);
	assert_true(m.has_envid);
	assert_string_equal(m.envid, "xyz+2B1");
	assert_true(m.has_auth);
	assert_string_equal(m.auth, "<>");
	assert_true(m.requiretls);

	/* Keywords and enumerated values are case-insensitive. */
	assert_int_equal(mail("FROM:<a@b> body=7bit ret=full size=0", &m),
	    SMTPD_CMD_OK);
	assert_int_equal(m.body, ENVELOPE_BODY_7BIT);
	assert_int_equal(m.ret, ENVELOPE_RET_FULL);
	assert_int_equal(mail("FROM:<a@b> BODY=BINARYMIME", &m), SMTPD_CMD_OK);
	assert_int_equal(m.body, ENVELOPE_BODY_BINARYMIME);
	assert_int_equal(mail("FROM:<a@b> AUTH=user+40example.org", &m),
	    SMTPD_CMD_OK);
	assert_string_equal(m.auth, "user+40example.org");

	/* Tolerated: space after the colon, runs of spaces between
	 * parameters. */
	assert_int_equal(mail("FROM: <a@b>", &m), SMTPD_CMD_OK);
	assert_int_equal(mail("FROM:   <a@b>  SIZE=1  BODY=7BIT", &m),
	    SMTPD_CMD_OK);
	assert_int_equal(m.size, 1);
	assert_int_equal(mail("FROM:<@relay:a@b>", &m), SMTPD_CMD_OK);
	assert_string_equal(m.from.local, "a");
	assert_int_equal(mail("FROM:<a@b> SIZE=18446744073709551615", &m),
	    SMTPD_CMD_OK);
	assert_int_equal(m.size, UINT64_MAX);
}

static void
test_smtpd_cmd_mail_errors(void **state)
{
	static const struct {
		const char		*arg;
		enum smtpd_cmd_result	 want;
	} t[] = {
		{ "", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM <a@b>", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<a@b>", SMTPD_CMD_ERR_SYNTAX },
		{ " FROM:<a@b>", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:", SMTPD_CMD_ERR_PATH },
		{ "FROM:a@b", SMTPD_CMD_ERR_PATH },
		{ "FROM:<a@b", SMTPD_CMD_ERR_PATH },
		{ "FROM:<a b@c>", SMTPD_CMD_ERR_PATH },
		{ "FROM:<a@b>x", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b>\tSIZE=1", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=-1", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=12a", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=18446744073709551616",
		  SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=99999999999999999999999",
		  SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> BODY=9BIT", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> BODY", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> RET=ALL", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SMTPUTF8=yes", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> REQUIRETLS=1", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> ENVID=", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> ENVID=a+2b", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> ENVID=a+2", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> ENVID=a+", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> ENVID=a=b", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> AUTH=a+ZZ", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> =x", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> -X=1", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> X_Y=1", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b> SIZE=1 SIZE=2", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> RET=HDRS ret=FULL", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> SMTPUTF8 SMTPUTF8", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> FOO=bar", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> X-FOO", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> NOTIFY=NEVER", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> ORCPT=rfc822;a@b", SMTPD_CMD_ERR_PARAM },
		{ "FROM:<a@b> ENVID=\xc3\xa9", SMTPD_CMD_ERR_NUL },
		{ "FROM:<\xc3\xa9@x>", SMTPD_CMD_ERR_PATH_UTF8 },
		{ "FROM:<a@b\xc3\xa9> BODY=8BITMIME", SMTPD_CMD_ERR_PATH_UTF8 },
		{ "FROM:<\xc3@x> SMTPUTF8", SMTPD_CMD_ERR_PATH },
		{ "FROM:<a@xn--bad.test>", SMTPD_CMD_ERR_PATH_IDNA },
		{ "FROM:<a@\xe2\x98\x83.test> SMTPUTF8",
		    SMTPD_CMD_ERR_PATH_IDNA },
	};
	struct smtpd_mail_args m;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum smtpd_cmd_result r = mail(t[i].arg, &m);
		if (r != t[i].want)
			fail_msg("\"%s\": %d, want %d", t[i].arg, r, t[i].want);
	}
	/* Too long: ENVID 100 fits, 101 does not; AUTH up to LIMIT_PATH. */
	char buf[700], v[400];
	memset(v, 'e', 101);
	v[100] = '\0';
	snprintf(buf, sizeof(buf), "FROM:<a@b> ENVID=%s", v);
	assert_int_equal(mail(buf, &m), SMTPD_CMD_OK);
	assert_int_equal(strlen(m.envid), 100);
	snprintf(buf, sizeof(buf), "FROM:<a@b> ENVID=%se", v);
	assert_int_equal(mail(buf, &m), SMTPD_CMD_ERR_SYNTAX);
	memset(v, 'u', 257);
	v[257] = '\0';
	snprintf(buf, sizeof(buf), "FROM:<a@b> AUTH=%s", v);
	assert_int_equal(mail(buf, &m), SMTPD_CMD_ERR_SYNTAX);
	v[256] = '\0';
	snprintf(buf, sizeof(buf), "FROM:<a@b> AUTH=%s", v);
	assert_int_equal(mail(buf, &m), SMTPD_CMD_OK);
	/* UTF-8 path with SMTPUTF8, wherever the parameter is. */
	assert_int_equal(mail("FROM:<\xc3\xa9@x\xc3\xa9> BODY=8BITMIME "
	    "SMTPUTF8", &m), SMTPD_CMD_OK);
	assert_string_equal(m.from.local, "\xc3\xa9");
	assert_true(m.smtputf8);
}

static enum smtpd_cmd_result
rcpt(const char *arg, bool utf8, struct smtpd_rcpt_args *r)
{
	return smtpd_cmd_parse_rcpt(arg, strlen(arg), utf8, r);
}

static void
test_smtpd_cmd_rcpt(void **state)
{
	struct smtpd_rcpt_args r;

	(void)state;
	assert_int_equal(rcpt("TO:<x@Y.example>", false, &r), SMTPD_CMD_OK);
	assert_string_equal(r.to.local, "x");
	assert_string_equal(r.to.domain, "y.example");
	assert_false(r.postmaster || r.has_orcpt);
	assert_int_equal(r.notify, 0);

	assert_int_equal(rcpt("to: <x@y> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;x@y", false, &r), SMTPD_CMD_OK);
	assert_int_equal(r.notify,
	    ENVELOPE_NOTIFY_SUCCESS | ENVELOPE_NOTIFY_FAILURE);
	assert_true(r.has_orcpt);
	assert_string_equal(r.orcpt, "rfc822;x@y");
	assert_int_equal(rcpt("TO:<x@y> notify=delay,Success,FAILURE", false,
	    &r), SMTPD_CMD_OK);
	assert_int_equal(r.notify, ENVELOPE_NOTIFY_SUCCESS |
	    ENVELOPE_NOTIFY_FAILURE | ENVELOPE_NOTIFY_DELAY);
	assert_int_equal(rcpt("TO:<x@y> NOTIFY=NEVER", false, &r),
	    SMTPD_CMD_OK);
	assert_int_equal(r.notify, ENVELOPE_NOTIFY_NEVER);
	assert_int_equal(rcpt("TO:<x@y> ORCPT=utf-8;x+2B+40y", false, &r),
	    SMTPD_CMD_OK);

	/* Postmaster without a domain, any case (RFC 5321 §4.1.1.3). */
	assert_int_equal(rcpt("TO:<Postmaster>", false, &r), SMTPD_CMD_OK);
	assert_true(r.postmaster);
	assert_string_equal(r.to.local, "postmaster");
	assert_string_equal(r.to.domain, "");
	assert_int_equal(rcpt("TO:<POSTMASTER> NOTIFY=NEVER", false, &r),
	    SMTPD_CMD_OK);
	assert_true(r.postmaster);
	assert_int_equal(rcpt("TO:<postmaster@x.example>", false, &r),
	    SMTPD_CMD_OK);
	assert_false(r.postmaster);
	assert_int_equal(rcpt("TO:<Postmaster>x", false, &r),
	    SMTPD_CMD_ERR_SYNTAX);
	assert_int_equal(rcpt("TO:<Postmast>", false, &r), SMTPD_CMD_ERR_PATH);

	/* UTF-8 only in a SMTPUTF8 transaction. */
	assert_int_equal(rcpt("TO:<\xc3\xa9@x>", false, &r),
	    SMTPD_CMD_ERR_PATH_UTF8);
	assert_int_equal(rcpt("TO:<\xc3\xa9@x>", true, &r), SMTPD_CMD_OK);
	assert_string_equal(r.to.local, "\xc3\xa9");
}

static void
test_smtpd_cmd_rcpt_errors(void **state)
{
	static const struct {
		const char		*arg;
		enum smtpd_cmd_result	 want;
	} t[] = {
		{ "", SMTPD_CMD_ERR_SYNTAX },
		{ "FROM:<a@b>", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<a@xn--bad.test>", SMTPD_CMD_ERR_PATH_IDNA },
		{ "TO:<>", SMTPD_CMD_ERR_PATH },
		{ "TO:x@y", SMTPD_CMD_ERR_PATH },
		{ "TO:<x@y> NOTIFY", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=NEVER,SUCCESS", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=FAILURE,NEVER", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=SUCCESS,SUCCESS", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=SUCCESS,", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=,SUCCESS", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=ALWAYS", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> NOTIFY=NEVER NOTIFY=NEVER", SMTPD_CMD_ERR_PARAM },
		{ "TO:<x@y> ORCPT=rfc822;a ORCPT=rfc822;b",
		  SMTPD_CMD_ERR_PARAM },
		{ "TO:<x@y> ORCPT", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=rfc822", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=rfc822;", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=;x@y", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=rfc(822);x@y", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=rfc822;x+4", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> ORCPT=rfc822;x+4a", SMTPD_CMD_ERR_SYNTAX },
		{ "TO:<x@y> SIZE=10", SMTPD_CMD_ERR_PARAM },
		{ "TO:<x@y> BODY=8BITMIME", SMTPD_CMD_ERR_PARAM },
		{ "TO:<x@y> FOO", SMTPD_CMD_ERR_PARAM },
		{ "TO:<x@y> ORCPT=rfc822;\xc3\xa9", SMTPD_CMD_ERR_NUL },
	};
	struct smtpd_rcpt_args r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum smtpd_cmd_result res = rcpt(t[i].arg, true, &r);
		if (res != t[i].want)
			fail_msg("\"%s\": %d, want %d", t[i].arg, res,
			    t[i].want);
	}
	/* ORCPT may be 500 characters long, not more (RFC 3461 §4.2). */
	char buf[700], v[600];
	memset(v, 'o', sizeof(v));
	memcpy(v, "rfc822;", 7);
	v[500] = '\0';
	snprintf(buf, sizeof(buf), "TO:<x@y> ORCPT=%s", v);
	assert_int_equal(rcpt(buf, false, &r), SMTPD_CMD_OK);
	assert_int_equal(strlen(r.orcpt), 500);
	v[500] = 'o';
	v[501] = '\0';
	snprintf(buf, sizeof(buf), "TO:<x@y> ORCPT=%s", v);
	assert_int_equal(rcpt(buf, false, &r), SMTPD_CMD_ERR_SYNTAX);
}

static void
test_smtpd_cmd_bdat(void **state)
{
	static const struct {
		const char	*arg;
		bool		 ok;
		uint64_t	 size;
		bool		 last;
	} t[] = {
		{ "0", true, 0, false },
		{ "100", true, 100, false },
		{ "100 LAST", true, 100, true },
		{ "100 last", true, 100, true },
		{ "  7   LaSt  ", true, 7, true },
		{ "18446744073709551615 LAST", true, UINT64_MAX, true },
		{ "18446744073709551616", false, 0, false },
		{ "", false, 0, false },
		{ "LAST", false, 0, false },
		{ "-1", false, 0, false },
		{ "1x", false, 0, false },
		{ "1 LASTX", false, 0, false },
		{ "1 LAST X", false, 0, false },
		{ "1 2", false, 0, false },
		{ "0x10", false, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t size = 99;
		bool last = true;
		enum smtpd_cmd_result r = smtpd_cmd_parse_bdat(t[i].arg,
		    strlen(t[i].arg), &size, &last);
		if ((r == SMTPD_CMD_OK) != t[i].ok)
			fail_msg("\"%s\": %d", t[i].arg, r);
		if (t[i].ok) {
			assert_true(size == t[i].size);
			assert_int_equal(last, t[i].last);
		} else
			assert_int_equal(r, SMTPD_CMD_ERR_SYNTAX);
	}
}

static void
test_smtpd_cmd_error_reply(void **state)
{
	static const char *const want[] = {
		"250 2.0.0 ", "500 5.5.2 ", "501 5.5.4 ", "553 5.1.3 ",
		"553 5.6.7 ", "553 5.1.3 ", "555 5.5.4 ", "500 5.5.2 ",
	};

	(void)state;
	for (int r = SMTPD_CMD_OK; r <= SMTPD_CMD_ERR_NUL; r++) {
		const char *s = smtpd_cmd_error_reply((enum smtpd_cmd_result)r);
		assert_non_null(s);
		assert_memory_equal(s, want[r], 10);
		assert_null(strpbrk(s, "\r\n"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_cmd_verbs),
		cmocka_unit_test(test_smtpd_cmd_verb_errors),
		cmocka_unit_test(test_smtpd_cmd_mail),
		cmocka_unit_test(test_smtpd_cmd_mail_errors),
		cmocka_unit_test(test_smtpd_cmd_rcpt),
		cmocka_unit_test(test_smtpd_cmd_rcpt_errors),
		cmocka_unit_test(test_smtpd_cmd_bdat),
		cmocka_unit_test(test_smtpd_cmd_error_reply),
	};

	return cmocka_run_group_tests_name("smtpd_cmd", tests, NULL, NULL);
}
