/* SPDX-License-Identifier: ISC */
/* Tests of the MTA-STS policy parser (RFC 8461 §3.2), MX matching (§4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts/sts_policy.h"

static int
parse(const char *s, struct sts_policy *p, char *why, size_t whylen)
{
	return sts_policy_parse(s, strlen(s), p, why, whylen);
}

static void
test_rfc_example(void **state)
{
	/* RFC 8461 §3.2, with CRLF and with LF. */
	static const char *const texts[] = {
	    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	    "max_age: 604800\r\n",
	    "version: STSv1\nmode: enforce\nmx: mail.example.com\n"
	    "mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800",
	};
	struct sts_policy p, d;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(parse(texts[i], &p, NULL, 0), 0);
		assert_int_equal(p.mode, STS_MODE_ENFORCE);
		assert_int_equal(p.max_age, 604800);
		assert_int_equal(p.nmx, 3);
		assert_string_equal(p.mx[1], "*.example.net");
		assert_true(sts_policy_match_mx(&p, "mail.example.com"));
		assert_true(sts_policy_match_mx(&p, "MX7.Example.NET."));
		assert_true(sts_policy_match_mx(&p, "backupmx.example.com"));
		assert_false(sts_policy_match_mx(&p, "example.net"));
		assert_false(sts_policy_match_mx(&p, "a.b.example.net"));
		assert_false(sts_policy_match_mx(&p, "evil.example.com"));
		sts_policy_dup(&d, &p);
		sts_policy_clear(&p);
		assert_int_equal(p.nmx, 0);
		assert_true(sts_policy_match_mx(&d, "mail.example.com"));
		assert_string_equal(sts_mode_name(d.mode), "enforce");
		sts_policy_clear(&d);
	}
}

static void
test_valid_variants(void **state)
{
	struct sts_policy p;
	char why[128];

	(void)state;
	/* Any order, WSP around values, unknown keys (UTF-8 too),
	 * duplicates of non-mx keys: the first wins. */
	assert_int_equal(parse("max_age:86400 \nmx:MX.Example.ORG\t\n"
	    "mode: testing\nfoo.bar-baz_1: any value, \xc3\xa9t\xc3\xa9!\n"
	    "version: STSv1\nmode: enforce\nmax_age: 5\n", &p, why,
	    sizeof(why)), 0);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 86400);
	assert_string_equal(p.mx[0], "mx.example.org");
	sts_policy_clear(&p);
	/* mode none needs no mx; max values; trailing empty lines. */
	assert_int_equal(parse("version: STSv1\r\nmode: none\r\n"
	    "max_age: 31557600\r\n\r\n\n", &p, why, sizeof(why)), 0);
	assert_int_equal(p.mode, STS_MODE_NONE);
	assert_int_equal(p.max_age, STS_MAX_AGE_MAX);
	assert_int_equal(p.nmx, 0);
	sts_policy_clear(&p);
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 0\n"
	    "mx: a-1.b\n", &p, why, sizeof(why)), 0);
	assert_int_equal(p.max_age, 0);
	sts_policy_clear(&p);
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"mode: enforce\nmx: a.b\nmax_age: 5\n",		/* version */
		"version: STSv1\nmx: a.b\nmax_age: 5\n",	/* mode */
		"version: STSv1\nmode: enforce\nmx: a.b\n",	/* max_age */
		"version: STSv1\nmode: enforce\nmax_age: 5\n",	/* mx */
		"version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version: stsv1\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version: STSv1\nmode: Enforce\nmx: a.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601\n",
		"version: STSv1\nmode: enforce\nmx: a.b\n"
		    "max_age: 12345678901\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1 2\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age:\n",
		"version: STSv1\n\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version: STSv1\rmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\r",
		"version STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		" version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version : STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a.b.\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: *.*.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a*.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: *\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: -a.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a-.b\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a_b.c\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a.b c.d\nmax_age: 5\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\nx: \x01\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\nx: \xc3\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\n_x: y\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 5\nx:\n",
		/* an invalid duplicate is still a syntax error */
		"version: STSv1\nmode: enforce\nmode: bogus\nmx: a.b\n"
		    "max_age: 5\n",
	};
	struct sts_policy p;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (parse(bad[i], &p, why, sizeof(why)) != -1)
			fail_msg("case %zu parsed: %s", i, bad[i]);
		assert_true(strncmp(why, "line ", 5) == 0);
		assert_int_equal(p.nmx, 0);
		assert_null(p.mx);
	}
	assert_int_equal(sts_policy_parse("version: STSv1\0\nmode: none\n"
	    "max_age: 5\n", 38, &p, why, sizeof(why)), -1);
}

static void
test_bounds(void **state)
{
	struct sts_policy p;
	char *s, why[128];
	size_t i, n = 0, cap = 200 * 32 + 256;

	(void)state;
	s = malloc(cap);
	n += (size_t)snprintf(s + n, cap - n,
	    "version: STSv1\nmode: enforce\nmax_age: 5\n");
	for (i = 0; i < STS_POLICY_MX_MAX; i++)
		n += (size_t)snprintf(s + n, cap - n, "mx: mx%zu.example\n", i);
	assert_int_equal(sts_policy_parse(s, n, &p, why, sizeof(why)), 0);
	assert_int_equal(p.nmx, STS_POLICY_MX_MAX);
	assert_true(sts_policy_match_mx(&p, "mx63.example"));
	sts_policy_clear(&p);
	n += (size_t)snprintf(s + n, cap - n, "mx: one.more\n");
	assert_int_equal(sts_policy_parse(s, n, &p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "too many mx"));
	free(s);
	/* Over 64 KiB: refused before looking at it. */
	s = calloc(1, STS_POLICY_BODY_MAX + 1);
	memset(s, 'x', STS_POLICY_BODY_MAX + 1);
	assert_int_equal(sts_policy_parse(s, STS_POLICY_BODY_MAX + 1, &p, why,
	    sizeof(why)), -1);
	free(s);
}

static void
test_wildcards(void **state)
{
	(void)state;
	assert_true(sts_mx_pattern_match("*.example.com", "mx1.example.com"));
	assert_true(sts_mx_pattern_match("*.example.com", "MX1.EXAMPLE.COM."));
	assert_false(sts_mx_pattern_match("*.example.com", "example.com"));
	assert_false(sts_mx_pattern_match("*.example.com", ".example.com"));
	assert_false(sts_mx_pattern_match("*.example.com", "a.b.example.com"));
	assert_false(sts_mx_pattern_match("*.example.com", "mx1.example.co"));
	assert_false(sts_mx_pattern_match("*.example.com", "mx1example.com"));
	assert_false(sts_mx_pattern_match("*.example.com", "*.example.com"));
	assert_false(sts_mx_pattern_match("*.example.com",
	    "mx1.example.com.."));
	assert_true(sts_mx_pattern_match("mail.example.com",
	    "Mail.Example.Com."));
	assert_false(sts_mx_pattern_match("mail.example.com",
	    "x.mail.example.com"));
	assert_false(sts_mx_pattern_match("mail.example.com", "example.com"));
	assert_false(sts_mx_pattern_match("mail.example.com", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_wildcards),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
