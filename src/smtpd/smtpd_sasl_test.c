/* SPDX-License-Identifier: ISC */
/* Unit tests for smtpd/smtpd_sasl: PLAIN (RFC 4616) and LOGIN fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/base64.h"
#include "smtpd/smtpd_sasl.h"

/* PLAIN response from raw bytes (NULs included). */
static enum smtpd_sasl_result
plain_raw(const char *raw, size_t n, struct smtpd_sasl_creds *c)
{
	char b64[2048];
	long e = base64_encode((const uint8_t *)raw, n, b64, sizeof(b64));

	assert_true(e >= 0);
	return smtpd_sasl_plain(b64, (size_t)e, c);
}

static void
test_smtpd_sasl_plain_ok(void **state)
{
	struct smtpd_sasl_creds c;

	(void)state;
	/* RFC 4616 §4 examples. */
	assert_int_equal(plain_raw("\0tim\0tanstaaftanstaaf", 21, &c),
	    SMTPD_SASL_OK);
	assert_string_equal(c.authzid, "");
	assert_string_equal(c.authcid, "tim");
	assert_string_equal(c.passwd, "tanstaaftanstaaf");
	assert_int_equal(plain_raw("Ursel\0Kurt\0xipj3plmq", 20, &c),
	    SMTPD_SASL_OK);
	assert_string_equal(c.authzid, "Ursel");
	assert_string_equal(c.authcid, "Kurt");
	assert_string_equal(c.passwd, "xipj3plmq");
	/* The same, as a client sends it. */
	const char *b = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	assert_int_equal(smtpd_sasl_plain(b, strlen(b), &c), SMTPD_SASL_OK);
	assert_string_equal(c.authcid, "tim");
	/* UTF-8 and spaces pass through untouched. */
	assert_int_equal(plain_raw("\0j\xc3\xb6rg@x\0pass word", 18, &c),
	    SMTPD_SASL_OK);
	assert_string_equal(c.authcid, "j\xc3\xb6rg@x");
	assert_string_equal(c.passwd, "pass word");
}

static void
test_smtpd_sasl_plain_errors(void **state)
{
	struct smtpd_sasl_creds c;

	(void)state;
	assert_int_equal(smtpd_sasl_plain("*", 1, &c), SMTPD_SASL_CANCELLED);
	assert_int_equal(smtpd_sasl_plain("", 0, &c), SMTPD_SASL_ERR_SYNTAX);
	/* "=" is an empty response (RFC 4954 §4): decodable, but no PLAIN
	 * message, so a syntax error and not a base64 one. */
	assert_int_equal(smtpd_sasl_plain("=", 1, &c), SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(smtpd_sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n",
	    30, &c), SMTPD_SASL_ERR_BASE64);
	assert_int_equal(smtpd_sasl_plain("AHRpbQB0 YW5zdGFhZnRhbnN0YWFm", 29,
	    &c), SMTPD_SASL_ERR_BASE64);
	assert_int_equal(smtpd_sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWF", 27,
	    &c), SMTPD_SASL_ERR_BASE64);
	/* Structure: two NULs exactly, non-empty authcid and passwd. */
	assert_int_equal(plain_raw("timpass", 7, &c), SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0timpass", 8, &c), SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0\0pass", 6, &c), SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0tim\0", 5, &c), SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0tim\0pa\0ss", 10, &c),
	    SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0tim\0pass\0", 10, &c),
	    SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(plain_raw("\0\0", 2, &c), SMTPD_SASL_ERR_SYNTAX);
	/* On error nothing is left in the output. */
	assert_string_equal(c.authcid, "");
	assert_string_equal(c.passwd, "");
}

static void
test_smtpd_sasl_plain_limits(void **state)
{
	char raw[1024];
	struct smtpd_sasl_creds c;

	(void)state;
	/* 255 octets in each field is the most (RFC 4616 §2). */
	memset(raw, 'z', 255);
	raw[255] = '\0';
	memset(raw + 256, 'c', 255);
	raw[511] = '\0';
	memset(raw + 512, 'p', 255);
	assert_int_equal(plain_raw(raw, 767, &c), SMTPD_SASL_OK);
	assert_int_equal(strlen(c.authzid), 255);
	assert_int_equal(strlen(c.authcid), 255);
	assert_int_equal(strlen(c.passwd), 255);
	raw[767] = 'p';
	assert_int_equal(plain_raw(raw, 768, &c), SMTPD_SASL_ERR_SYNTAX);
	memset(raw, 0, sizeof(raw));
	raw[1] = 'c';
	memset(raw + 3, 'p', 256);
	assert_int_equal(plain_raw(raw, 259, &c), SMTPD_SASL_ERR_SYNTAX);
	/* Far too long input is refused before decoding. */
	char big[3000];
	memset(big, 'A', sizeof(big));
	assert_int_equal(smtpd_sasl_plain(big, sizeof(big), &c),
	    SMTPD_SASL_ERR_SYNTAX);
}

static void
test_smtpd_sasl_login(void **state)
{
	char out[LIMIT_SASL_FIELD + 1], b64[600], raw[300];
	long e;

	(void)state;
	assert_int_equal(smtpd_sasl_login_field("dXNlckBleGFtcGxlLm9yZw==", 24,
	    out, sizeof(out)), SMTPD_SASL_OK);
	assert_string_equal(out, "user@example.org");
	assert_int_equal(smtpd_sasl_login_field("*", 1, out, sizeof(out)),
	    SMTPD_SASL_CANCELLED);
	assert_int_equal(smtpd_sasl_login_field("", 0, out, sizeof(out)),
	    SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(smtpd_sasl_login_field("dXNlcg", 6, out, sizeof(out)),
	    SMTPD_SASL_ERR_BASE64);
	assert_int_equal(smtpd_sasl_login_field("dQB4", 4, out, sizeof(out)),
	    SMTPD_SASL_ERR_SYNTAX);	/* "u\0x" */
	assert_string_equal(out, "");
	/* Must fit the caller's buffer with its NUL. */
	assert_int_equal(smtpd_sasl_login_field("dXNlcg==", 8, out, 4),
	    SMTPD_SASL_ERR_SYNTAX);
	assert_int_equal(smtpd_sasl_login_field("dXNlcg==", 8, out, 5),
	    SMTPD_SASL_OK);
	assert_string_equal(out, "user");
	memset(raw, 'x', 256);
	e = base64_encode((const uint8_t *)raw, 256, b64, sizeof(b64));
	char bigout[512];
	assert_int_equal(smtpd_sasl_login_field(b64, (size_t)e, bigout,
	    sizeof(bigout)), SMTPD_SASL_ERR_SYNTAX);
	e = base64_encode((const uint8_t *)raw, 255, b64, sizeof(b64));
	assert_int_equal(smtpd_sasl_login_field(b64, (size_t)e, out,
	    sizeof(out)), SMTPD_SASL_OK);
	assert_int_equal(strlen(out), 255);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_sasl_plain_ok),
		cmocka_unit_test(test_smtpd_sasl_plain_errors),
		cmocka_unit_test(test_smtpd_sasl_plain_limits),
		cmocka_unit_test(test_smtpd_sasl_login),
	};

	return cmocka_run_group_tests_name("smtpd_sasl", tests, NULL, NULL);
}
