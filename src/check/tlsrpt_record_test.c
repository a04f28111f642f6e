/* SPDX-License-Identifier: ISC */
/* Tests of the TLS-RPT record parser (RFC 8460 §3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "check/tlsrpt_record.h"

static enum tlsrpt_record_result
parse(const char *s, struct tlsrpt_record *r)
{
	return tlsrpt_record_parse(s, strlen(s), r);
}

static void
test_valid(void **state)
{
	struct tlsrpt_record r;

	(void)state;
	assert_int_equal(parse("v=TLSRPTv1; rua=mailto:tls@example.org", &r),
	    TLSRPT_RECORD_OK);
	assert_int_equal(r.nrua, 1);
	assert_string_equal(r.rua[0], "mailto:tls@example.org");
	/* Two URIs with blanks around the comma, an extension field and
	 * the optional final delimiter (§3 ABNF). */
	assert_int_equal(parse("v=TLSRPTv1 ;rua=https://r.example.org/x , "
	    "mailto:a@example.org; ext-1=value;", &r), TLSRPT_RECORD_OK);
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[0], "https://r.example.org/x");
	assert_string_equal(r.rua[1], "mailto:a@example.org");
}

static void
test_invalid(void **state)
{
	struct tlsrpt_record r;

	(void)state;
	/* The version must come first, exactly. */
	assert_int_equal(parse("rua=mailto:a@example.org; v=TLSRPTv1", &r),
	    TLSRPT_RECORD_NOT_TLSRPT);
	assert_int_equal(parse("v=TLSRPTv10; rua=mailto:a@b", &r),
	    TLSRPT_RECORD_NOT_TLSRPT);
	assert_int_equal(parse("v=tlsrptv1; rua=mailto:a@b", &r),
	    TLSRPT_RECORD_NOT_TLSRPT);
	assert_int_equal(parse("v=TLSRPTv1", &r), TLSRPT_RECORD_ERR_NO_RUA);
	assert_int_equal(parse("v=TLSRPTv1; rua=", &r), TLSRPT_RECORD_ERR_URI);
	assert_int_equal(parse("v=TLSRPTv1; rua=ftp://x.example", &r),
	    TLSRPT_RECORD_ERR_URI);
	assert_int_equal(parse("v=TLSRPTv1; rua=mailto:a@b,", &r),
	    TLSRPT_RECORD_ERR_URI);
	assert_int_equal(parse("v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d",
	    &r), TLSRPT_RECORD_ERR_DUPLICATE);
	assert_int_equal(parse("v=TLSRPTv1; rua mailto:a@b", &r),
	    TLSRPT_RECORD_ERR_SYNTAX);
	assert_int_equal(r.nrua, 0);
	/* A NUL inside a URI is not a visible character. */
	assert_int_equal(tlsrpt_record_parse("v=TLSRPTv1; rua=mailto:a\0b",
	    26, &r), TLSRPT_RECORD_ERR_URI);
}

static void
test_many_uris(void **state)
{
	struct tlsrpt_record r;
	char rec[1024] = "v=TLSRPTv1; rua=";
	size_t len = strlen(rec);

	(void)state;
	for (int i = 0; i < TLSRPT_URIS_MAX + 2; i++)
		len += (size_t)snprintf(rec + len, sizeof(rec) - len, "%s",
		    i ? ",mailto:x@example.org" : "mailto:x@example.org");
	assert_int_equal(parse(rec, &r), TLSRPT_RECORD_OK);
	assert_int_equal(r.nrua, TLSRPT_URIS_MAX);
	assert_int_equal(r.nrua_total, TLSRPT_URIS_MAX + 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_many_uris),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
