/* SPDX-License-Identifier: ISC */
/* Tests of the DMARC Policy Record parser (RFC 9989 §4.7, §4.8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/dmarc_record.h"

static enum dmarc_record_result
drt_parse(const char *s, struct dmarc_record *r)
{
	return dmarc_record_parse(s, strlen(s), r);
}

static void
test_version(void **state)
{
	struct dmarc_record r;
	static const char *const bad[] = {
		"", "p=reject; v=DMARC1", "v=DMARC2; p=none", "v=dmarc1; p=none",
		" v=DMARC1; p=none", "v=DMARC1x; p=none", "v:DMARC1", "v=",
		"v=spf1 -all",
	};
	static const char *const good[] = {
		"v=DMARC1", "v=DMARC1;", "v = DMARC1 ; p=none", "V=DMARC1;p=none",
		"v=DMARC1\t;\tp=none;",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(drt_parse(bad[i], &r), DMARC_RECORD_NOT_DMARC);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(drt_parse(good[i], &r), DMARC_RECORD_OK);
		assert_true(dmarc_record_is_dmarc(good[i], strlen(good[i])));
	}
	/* A NUL byte ends nothing: it is a bad character in a value. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=re\0ject", 19, &r),
	    DMARC_RECORD_OK);
	assert_false(r.has_p);
	assert_true(r.policy_invalid);
}

static void
test_tags(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(drt_parse("v=DMARC1; p=Reject; sp=quarantine; "
	    "np=none; adkim=s; aspf=S; psd=y; t=y; fo=1:d:s; pct=20; "
	    "future=whatever; rua=mailto:agg@example.com, "
	    "mailto:b@example.net!10m; ruf=mailto:f@example.com", &r),
	    DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_true(r.has_sp && r.sp == DMARC_POLICY_QUARANTINE);
	assert_true(r.has_np && r.np == DMARC_POLICY_NONE);
	assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
	assert_int_equal(r.aspf, DMARC_ALIGN_STRICT);
	assert_int_equal(r.psd, DMARC_PSD_Y);
	assert_true(r.t && r.has_t);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[0], "mailto:agg@example.com");
	assert_string_equal(r.rua[1], "mailto:b@example.net");
	assert_int_equal(r.nruf, 1);
	assert_int_equal(r.errors, 0);
	assert_false(r.policy_invalid);
	assert_true(dmarc_record_testing(&r));
}

static void
test_defaults_and_errors(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(drt_parse("v=DMARC1; p=none", &r), DMARC_RECORD_OK);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.psd, DMARC_PSD_U);
	assert_int_equal(r.pct, -1);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_false(r.has_sp || r.has_np || r.has_t);
	assert_false(dmarc_record_testing(&r));

	/* Bad values fall back to defaults; each is flagged. */
	assert_int_equal(drt_parse("v=DMARC1; p=reject; adkim=x; psd=maybe; "
	    "t=yes; fo=0:1; pct=101; rua=not a uri; bogus; p=none", &r),
	    DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.psd, DMARC_PSD_U);
	assert_false(r.has_t);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_int_equal(r.pct, -1);
	assert_int_equal(r.nrua, 0);
	assert_int_equal(r.errors, DMARC_ERR_ADKIM | DMARC_ERR_PSD |
	    DMARC_ERR_T | DMARC_ERR_FO | DMARC_ERR_PCT | DMARC_ERR_RUA |
	    DMARC_ERR_SYNTAX | DMARC_ERR_DUPLICATE);
	assert_false(r.policy_invalid);
	assert_true(dmarc_record_testing(&r) == false);

	/* §4.10.1: invalid sp, missing p. */
	assert_int_equal(drt_parse("v=DMARC1; p=reject; sp=", &r),
	    DMARC_RECORD_OK);
	assert_true(r.policy_invalid);
	assert_int_equal(drt_parse("v=DMARC1; rua=mailto:a@b.example", &r),
	    DMARC_RECORD_OK);
	assert_true(r.policy_invalid);
	assert_int_equal(r.nrua, 1);

	/* pct=0 without t is test mode (Appendix A.6); t wins over pct. */
	assert_int_equal(drt_parse("v=DMARC1; p=reject; pct=0", &r),
	    DMARC_RECORD_OK);
	assert_true(dmarc_record_testing(&r));
	assert_int_equal(drt_parse("v=DMARC1; p=reject; pct=0; t=n", &r),
	    DMARC_RECORD_OK);
	assert_false(dmarc_record_testing(&r));
}

static void
test_fo_and_uris(void **state)
{
	struct dmarc_record r;
	static const char *const fo_ok[] = { "0", "1", "d", "s", "0:d",
	    "d:s", "s:d:1", "d:0:s" };
	static const char *const fo_bad[] = { "0:1", "d:d", "x", "0:", ":0",
	    "0::d" };
	char txt[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fo_ok) / sizeof(fo_ok[0]); i++) {
		snprintf(txt, sizeof(txt), "v=DMARC1; p=none; fo=%s", fo_ok[i]);
		drt_parse(txt, &r);
		assert_int_equal(r.errors & DMARC_ERR_FO, 0);
	}
	for (i = 0; i < sizeof(fo_bad) / sizeof(fo_bad[0]); i++) {
		snprintf(txt, sizeof(txt), "v=DMARC1; p=none; fo=%s", fo_bad[i]);
		drt_parse(txt, &r);
		assert_int_not_equal(r.errors & DMARC_ERR_FO, 0);
	}
	drt_parse("v=DMARC1; p=none; rua=mailto:a%2Cb@x.example,https://"
	    "r.example/p?q=1,mailto:bad!x,:nothing,mailto:c@x.example!5", &r);
	assert_int_equal(r.nrua, 3);
	assert_string_equal(r.rua[0], "mailto:a%2Cb@x.example");
	assert_string_equal(r.rua[1], "https://r.example/p?q=1");
	assert_string_equal(r.rua[2], "mailto:c@x.example");
	assert_int_not_equal(r.errors & DMARC_ERR_RUA, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_defaults_and_errors),
		cmocka_unit_test(test_fo_and_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
