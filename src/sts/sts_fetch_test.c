/* SPDX-License-Identifier: ISC */
/* Unit tests for the pure parts of the policy fetch: media type check,
 * result types, refusals decided before any connection. The fetch against
 * real servers is tested in deliver/mtasts_test.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "sts/sts_fetch.h"

static void
test_text_plain(void **state)
{
	(void)state;
	assert_true(sts_fetch_is_text_plain("text/plain"));
	assert_true(sts_fetch_is_text_plain("Text/Plain; charset=utf-8"));
	assert_true(sts_fetch_is_text_plain(" text/plain ;charset=x"));
	assert_false(sts_fetch_is_text_plain(NULL));
	assert_false(sts_fetch_is_text_plain(""));
	assert_false(sts_fetch_is_text_plain("text/html"));
	assert_false(sts_fetch_is_text_plain("text/plainx"));
	assert_false(sts_fetch_is_text_plain("text/plai"));
	assert_false(sts_fetch_is_text_plain("application/octet-stream"));
}

static void
test_result_types(void **state)
{
	(void)state;
	assert_null(sts_fetch_result_type(STS_FETCH_OK));
	assert_string_equal(sts_fetch_result_type(STS_FETCH_ERROR),
	    "sts-policy-fetch-error");
	assert_string_equal(sts_fetch_result_type(STS_FETCH_WEBPKI),
	    "sts-webpki-invalid");
	assert_string_equal(sts_fetch_result_type(STS_FETCH_INVALID),
	    "sts-policy-invalid");
}

/* Refused before libcurl is involved: nothing listens anywhere here. */
static void
test_refused_early(void **state)
{
	const char *priv[] = { "127.0.0.1", "10.0.0.1", "::1", "fe80::1",
	    "::ffff:192.168.0.1", "169.254.169.254", "100.64.1.1" };
	const char *junk[] = { "mta-sts.example.com", "" };
	struct sts_fetch_params p = { NULL, false, 443, 100, 100 };
	struct sts_fetch_out out;

	(void)state;
	assert_int_equal(sts_fetch("example.com", priv, 7, &p, &out),
	    STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "7 refused"));
	assert_null(out.body);
	sts_fetch_out_clear(&out);
	assert_int_equal(sts_fetch("example.com", junk, 2, &p, &out),
	    STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "not an IP address"));
	sts_fetch_out_clear(&out);
	assert_int_equal(sts_fetch("example.com", NULL, 0, &p, &out),
	    STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "has no address"));
	sts_fetch_out_clear(&out);
	assert_int_equal(sts_fetch("exa/mple.com", priv, 1, &p, &out),
	    STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "invalid policy domain"));
	sts_fetch_out_clear(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_plain),
		cmocka_unit_test(test_result_types),
		cmocka_unit_test(test_refused_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
