/* SPDX-License-Identifier: ISC */
/* Tests of the BIMI record, selector and header helpers. The DNS
 * discovery is tested against NSD by tests/auth/test_dmarc_dns.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/bimi.h"
#include "auth/dmarc.h"

static enum bimi_record_result
bt_parse(const char *s, struct bimi_record *r)
{
	return bimi_record_parse(s, strlen(s), r);
}

static void
test_record(void **state)
{
	struct bimi_record r;

	(void)state;
	assert_int_equal(bt_parse("v=BIMI1; l=https://img.example.com/logo.svg;"
	    " a=https://img.example.com/vmc.pem; avp=personal; x=ignored", &r),
	    BIMI_RECORD_OK);
	assert_string_equal(r.l, "https://img.example.com/logo.svg");
	assert_string_equal(r.a, "https://img.example.com/vmc.pem");
	assert_int_equal(r.avp, BIMI_AVP_PERSONAL);
	assert_false(r.has_lps);
	assert_false(bimi_record_declined(&r));

	assert_int_equal(bt_parse("v=BIMI1; l=; a=;", &r), BIMI_RECORD_OK);
	assert_true(bimi_record_declined(&r));
	assert_int_equal(bt_parse("v=BIMI1;l=https://a.example/x.svg", &r),
	    BIMI_RECORD_OK);
	assert_int_equal(r.avp, BIMI_AVP_BRAND);
	assert_int_equal(bt_parse("v=BIMI1; l=https://a.example/x; avp=Brand",
	    &r), BIMI_RECORD_OK);
	assert_int_equal(r.avp, BIMI_AVP_INVALID);

	/* Not BIMI: ignored. */
	assert_int_equal(bt_parse("v=bimi1; l=", &r), BIMI_RECORD_NOT_BIMI);
	assert_int_equal(bt_parse("l=; v=BIMI1", &r), BIMI_RECORD_NOT_BIMI);
	assert_int_equal(bt_parse("v=spf1 -all", &r), BIMI_RECORD_NOT_BIMI);
	assert_int_equal(bt_parse("", &r), BIMI_RECORD_NOT_BIMI);

	/* Errors: no fixing. */
	assert_int_equal(bt_parse("v=BIMI1", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; a=", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=http://a.example/x.svg", &r),
	    BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=https://localhost/x.svg", &r),
	    BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=https://a.example/x.svg,"
	    "https://b.example/y.svg", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=; l=", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; L=", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1;; l=", &r), BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=https://a.example/x y", &r),
	    BIMI_RECORD_INVALID);
}

static void
test_lps(void **state)
{
	struct bimi_record r;
	char sel[80];

	(void)state;
	assert_int_equal(bt_parse("v=BIMI1; l=; a=; lps=brand-indicators-",
	    &r), BIMI_RECORD_OK);
	assert_true(r.has_lps);
	assert_int_equal(r.nlps, 1);
	assert_int_equal(bt_parse("v=BIMI1; l=; lps = brand-one , brand-two",
	    &r), BIMI_RECORD_OK);
	assert_int_equal(r.nlps, 2);
	assert_string_equal(r.lps[1], "brand-two");
	assert_true(bimi_lps_match(&r, "brand-two-noreply"));
	assert_false(bimi_lps_match(&r, "brand-three"));
	assert_int_equal(bt_parse("v=BIMI1; l=; lps=", &r), BIMI_RECORD_OK);
	assert_true(r.has_lps && r.nlps == 0);
	assert_true(bimi_lps_match(&r, "anything"));
	assert_int_equal(bt_parse("v=BIMI1; l=; lps=a_b", &r),
	    BIMI_RECORD_INVALID);
	assert_int_equal(bt_parse("v=BIMI1; l=; lps=a,,b", &r),
	    BIMI_RECORD_INVALID);

	assert_int_equal(bimi_lps_selector("Brand_.Indicators+tag", sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "brand-indicators");
	assert_int_equal(bimi_lps_selector("._news..letter_", sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "news-letter");
	assert_int_equal(bimi_lps_selector("+x", sel, sizeof(sel)), -1);
	assert_int_equal(bimi_lps_selector("a!b", sel, sizeof(sel)), -1);
	assert_int_equal(bimi_lps_selector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", sel, sizeof(sel)), -1);
}

static void
test_selector_header(void **state)
{
	char sel[BIMI_SELECTOR_MAX + 1];

	(void)state;
	assert_int_equal(bimi_selector_parse(" v=BIMI1; s=MySel;", 18, sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "mysel");
	assert_int_equal(bimi_selector_parse("v=BIMI1; s=a.b-c", 16, sel,
	    sizeof(sel)), 0);
	assert_string_equal(sel, "a.b-c");
	assert_int_equal(bimi_selector_parse("s=myselector;", 13, sel,
	    sizeof(sel)), -1);
	assert_int_equal(bimi_selector_parse("v=BIMI1;", 8, sel, sizeof(sel)),
	    -1);
	assert_int_equal(bimi_selector_parse("v=BIMI1; s=../x", 15, sel,
	    sizeof(sel)), -1);
}

static void
test_eligible(void **state)
{
	struct dmarc_verdict v;
	struct dmarc_author *a = &v.author[0];
	const char *why;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.nauthors = 1;
	a->result = DMARC_RESULT_PASS;
	a->record.p = a->policy = DMARC_POLICY_QUARANTINE;
	a->record.pct = -1;
	assert_true(bimi_dmarc_eligible(&v, 1, &why));
	assert_false(bimi_dmarc_eligible(&v, 2, &why));
	a->record.pct = 50;
	assert_false(bimi_dmarc_eligible(&v, 1, &why));
	assert_string_equal(why, "DMARC pct is not 100");
	a->record.pct = 100;
	a->record.has_sp = true;
	a->record.sp = DMARC_POLICY_NONE;
	assert_false(bimi_dmarc_eligible(&v, 1, &why));
	a->record.has_sp = false;
	a->has_org_record = true;
	a->org_record.p = DMARC_POLICY_NONE;
	assert_false(bimi_dmarc_eligible(&v, 1, &why));
	a->has_org_record = false;
	a->record.t = a->record.has_t = true;
	assert_false(bimi_dmarc_eligible(&v, 1, &why));
	a->record.t = a->record.has_t = false;
	a->result = DMARC_RESULT_FAIL;
	assert_false(bimi_dmarc_eligible(&v, 1, &why));
	assert_string_equal(why, "message failed DMARC");
}

static void
test_headers(void **state)
{
	static const char h[] =
	    "BIMI-Location: v=BIMI1; l=https://evil.example/x.svg\r\n"
	    "From: a@example.com\r\n"
	    "bimi-indicator: PD94bW\r\n"
	    "\tmore\r\n"
	    "BIMI-Selector: v=BIMI1; s=brand;\r\n"
	    "BIMI-Logo-Preference: avp=brand\r\n"
	    "\r\n";
	struct authres_field f[4];
	struct bimi_outcome o;
	struct buf b;

	(void)state;
	assert_int_equal(bimi_strip_ranges(h, sizeof(h) - 1, f, 4), 3);
	assert_int_equal(f[0].off, 0);
	assert_memory_equal(h + f[1].off, "bimi-indicator", 14);
	assert_int_equal(f[1].len, strlen("bimi-indicator: PD94bW\r\n"
	    "\tmore\r\n"));
	memset(&o, 0, sizeof(o));
	o.result = BIMI_RESULT_PASS;
	strcpy(o.record.l, "https://image.example.com/bimi/logo/");
	buf_init(&b, 4096);
	assert_int_equal(bimi_location_format(&b, &o), 0);
	assert_string_equal(buf_cstr(&b), "BIMI-Location: v=BIMI1; "
	    "l=https://image.example.com/bimi/logo/\r\n");
	buf_reset(&b);
	strcpy(o.record.l, "https://image.example.com/a/very/long/path/to/"
	    "the/brand/indicator.svg");
	assert_int_equal(bimi_location_format(&b, &o), 0);
	assert_string_equal(buf_cstr(&b), "BIMI-Location: v=BIMI1;\r\n\t"
	    "l=https://image.example.com/a/very/long/path/to/the/brand/"
	    "indicator.svg\r\n");
	o.result = BIMI_RESULT_NONE;
	assert_int_equal(bimi_location_format(&b, &o), -1);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_lps),
		cmocka_unit_test(test_selector_header),
		cmocka_unit_test(test_eligible),
		cmocka_unit_test(test_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
