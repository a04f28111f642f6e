/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the SPF record parser: version matching (§4.5), every
 * mechanism with its arguments and CIDR lengths (§5), modifiers (§6) and
 * the syntax errors that make a record a permerror (§4.6).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/spf_record.h"

static struct spf_record *
srt_parse(const char *s)
{
	struct spf_record *r = NULL;
	char err[256];
	enum spf_record_result rc;

	rc = spf_record_parse(s, strlen(s), &r, err, sizeof(err));
	if (rc != SPF_RECORD_OK)
		fail_msg("\"%s\": %s", s, err);
	return r;
}

static void
test_version(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf("v=spf1", 6));
	assert_true(spf_record_is_spf("V=SPF1 -all", 11));
	assert_false(spf_record_is_spf("v=spf10", 7));
	assert_false(spf_record_is_spf("v=spf1\t-all", 11));
	assert_false(spf_record_is_spf(" v=spf1", 7));
	assert_false(spf_record_is_spf("v=spf", 5));
	assert_false(spf_record_is_spf("spf2.0/pra", 10));
}

static void
test_mechanisms(void **state)
{
	struct spf_record *r;
	const struct spf_term *t;

	(void)state;
	r = srt_parse("v=spf1  +a -MX:example.org/24//64 ~ptr ?Ip4:192.0.2.0/24"
	    " ip6:2001:DB8::/32 include:_spf.%{d} exists:%{i}.x.example"
	    " a//0 mx:%%%_/.Clara.de/27 ALL  ");
	assert_int_equal(r->nterms, 10);
	t = r->terms;
	assert_int_equal(t[0].mech, SPF_MECH_A);
	assert_int_equal(t[0].qual, SPF_QUAL_PASS);
	assert_null(t[0].spec);
	assert_int_equal(t[0].cidr4, 32);
	assert_int_equal(t[0].cidr6, 128);
	assert_int_equal(t[1].mech, SPF_MECH_MX);
	assert_int_equal(t[1].qual, SPF_QUAL_FAIL);
	assert_string_equal(t[1].spec, "example.org");
	assert_int_equal(t[1].cidr4, 24);
	assert_int_equal(t[1].cidr6, 64);
	assert_string_equal(t[1].text, "-MX:example.org/24//64");
	assert_int_equal(t[2].mech, SPF_MECH_PTR);
	assert_int_equal(t[2].qual, SPF_QUAL_SOFTFAIL);
	assert_int_equal(t[3].mech, SPF_MECH_IP4);
	assert_int_equal(t[3].qual, SPF_QUAL_NEUTRAL);
	assert_int_equal(t[3].cidr4, 24);
	assert_memory_equal(t[3].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(t[4].mech, SPF_MECH_IP6);
	assert_int_equal(t[4].cidr6, 32);
	assert_int_equal(t[4].addr[1], 0x01);
	assert_int_equal(t[4].addr[2], 0x0d);
	assert_int_equal(t[5].mech, SPF_MECH_INCLUDE);
	assert_string_equal(t[5].spec, "_spf.%{d}");
	assert_int_equal(t[6].mech, SPF_MECH_EXISTS);
	assert_int_equal(t[7].cidr4, 32);
	assert_int_equal(t[7].cidr6, 0);
	assert_string_equal(t[8].spec, "%%%_/.Clara.de");
	assert_int_equal(t[8].cidr4, 27);
	assert_int_equal(t[9].mech, SPF_MECH_ALL);
	assert_null(r->redirect);
	spf_record_free(r);

	r = srt_parse("v=spf1");
	assert_int_equal(r->nterms, 0);
	spf_record_free(r);
}

static void
test_modifiers(void **state)
{
	struct spf_record *r;

	(void)state;
	r = srt_parse("v=spf1 exp=explain._spf.%{d} ip4:192.0.2.1"
	    " REDIRECT=_spf.example.org. foo-bar.x=%{l}anything a=b");
	assert_int_equal(r->nterms, 1);
	assert_string_equal(r->redirect, "_spf.example.org.");
	assert_string_equal(r->exp, "explain._spf.%{d}");
	spf_record_free(r);
}

static void
test_errors(void **state)
{
	static const struct {
		const char		*rec;
		enum spf_record_result	 want;
	} t[] = {
		{ "spf1 -all", SPF_RECORD_NOT_SPF },
		{ "v=spf1 -all:foo", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 foo", SPF_RECORD_ERR_MECHANISM },
		{ "v=spf1 *all", SPF_RECORD_ERR_MECHANISM },
		{ "v=spf1 include", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 include:", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 exists", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 a:localhost", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 a:example.123", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 a:example.com-", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 a:example.com:8080", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 a/33", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 a//129", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 a/024", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 a/", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 ip4:192.0.2.300", SPF_RECORD_ERR_ADDR },
		{ "v=spf1 ip4:192.0.02.1", SPF_RECORD_ERR_ADDR },
		{ "v=spf1 ip4:192.0.2", SPF_RECORD_ERR_ADDR },
		{ "v=spf1 ip4:192.0.2.0/33", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 ip4:192.0.2.0//64", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 ip4", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 ip6:2001:db8::/129", SPF_RECORD_ERR_CIDR },
		{ "v=spf1 ip6:2001:db8:::1", SPF_RECORD_ERR_ADDR },
		{ "v=spf1 ip6:192.0.2.1", SPF_RECORD_ERR_ADDR },
		{ "v=spf1 ptr/24", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 redirect=a.example redirect=b.example",
		  SPF_RECORD_ERR_DUP_MODIFIER },
		{ "v=spf1 exp=a.example exp=b.example",
		  SPF_RECORD_ERR_DUP_MODIFIER },
		{ "v=spf1 redirect=", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 exists:%{x}.example.org", SPF_RECORD_ERR_MACRO },
		{ "v=spf1 exists:%{c}.example.org", SPF_RECORD_ERR_MACRO },
		{ "v=spf1 foo=%", SPF_RECORD_ERR_MACRO },
		{ "v=spf1 a:example.org,", SPF_RECORD_ERR_DOMAIN },
		{ "v=spf1 -all\t", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 a:ex\xc3\xa9.org", SPF_RECORD_ERR_SYNTAX },
		{ "v=spf1 ip6:2001:db8::\x01/32", SPF_RECORD_ERR_SYNTAX },
	};
	struct spf_record *r;
	enum spf_record_result rc;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = spf_record_parse(t[i].rec, strlen(t[i].rec), &r, err,
		    sizeof(err));
		if (rc != t[i].want)
			fail_msg("\"%s\": got %s, want %s", t[i].rec,
			    spf_record_result_name(rc),
			    spf_record_result_name(t[i].want));
		assert_null(r);
	}
	/* A NUL inside the record. */
	assert_int_equal(spf_record_parse("v=spf1 a\0 -all", 14, &r, NULL, 0),
	    SPF_RECORD_ERR_SYNTAX);
}

static void
test_too_many(void **state)
{
	char rec[8 + 6 * (SPF_RECORD_TERMS_MAX + 1)];
	struct spf_record *r;
	size_t n = 6;

	(void)state;
	memcpy(rec, "v=spf1", 6);
	for (int i = 0; i < SPF_RECORD_TERMS_MAX; i++) {
		memcpy(rec + n, " -all", 5);
		n += 5;
	}
	assert_int_equal(spf_record_parse(rec, n, &r, NULL, 0), SPF_RECORD_OK);
	assert_int_equal(r->nterms, SPF_RECORD_TERMS_MAX);
	spf_record_free(r);
	memcpy(rec + n, " -all", 5);
	n += 5;
	assert_int_equal(spf_record_parse(rec, n, &r, NULL, 0),
	    SPF_RECORD_ERR_TOO_MANY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
