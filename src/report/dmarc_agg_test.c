/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the pure part of the DMARC aggregate report (dmarc_agg.h)
 * and the report job's periods (report_job.h): the XML validates against
 * RFC 9990's schema (tests/data/dmarc/rfc9990.xsd, libxml2's validator)
 * and carries the counts, hostile values are escaped or replaced, the
 * Report-ID and file name are deterministic; period arithmetic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "conf/conf.h"
#include "core/buf.h"
#include "report/report.h"
#include "report/dmarc_agg.h"
#include "report/report_job.h"
#include "store/db.h"

#define XSD	"tests/data/dmarc/rfc9990.xsd"
#define T0	1796428800LL	/* 2026-12-05 00:00:00 UTC */

/* 0 if xml validates against the RFC 9990 schema. */
static int
validate(const struct buf *xml)
{
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(XSD);
	xmlSchemaPtr schema;
	xmlSchemaValidCtxtPtr vc;
	xmlDocPtr doc;
	int rc;

	assert_non_null(pc);
	assert_non_null(schema = xmlSchemaParse(pc));
	assert_non_null(vc = xmlSchemaNewValidCtxt(schema));
	doc = xmlReadMemory((const char *)xml->data, (int)xml->len, "r.xml",
	    NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlFreeDoc(doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	return rc;
}

static bool
has(const struct buf *x, const char *s)
{
	return memmem(x->data, x->len, s, strlen(s)) != NULL;
}

static struct db_dmarc_record
rec(char *ip, char *disp, char *policy, bool dkim, bool spf, bool testing,
    long long count)
{
	struct db_dmarc_record r = {
		.source_ip = ip, .disposition = disp, .policy = policy,
		.header_from = "example.com",
		.envelope_from = "bounce@mail.example.com",
		.dkim_domain = dkim ? "example.com" : "",
		.dkim_selector = "s1", .dkim_result = dkim ? "pass" : "none",
		.spf_domain = "mail.example.com",
		.spf_result = spf ? "pass" : "fail",
		.dkim_aligned = dkim, .spf_aligned = spf, .testing = testing,
		.count = count,
	};
	return r;
}

static struct db_dmarc_policy pol = {
	.domain = "example.com", .p = "reject", .sp = "quarantine", .np = "",
	.adkim = "r", .aspf = "s", .fo = "1:d", .rua = "mailto:d@example.com",
};

static const struct dmarc_agg_meta meta = {
	.org_name = "Receiver & Co <x>", .email = "reports@receiver.example",
	.report_id = "0123456789abcdef0123456789abcdef", .begin = T0,
	.end = T0 + 86400,
};

static void
test_xml_valid(void **state)
{
	struct db_dmarc_record r[3] = {
		rec("192.0.2.1", "none", "reject", true, true, false, 7),
		rec("2001:db8::1", "reject", "reject", false, false, false, 3),
		rec("198.51.100.9", "none", "reject", false, false, false, 2),
	};
	struct buf x;

	(void)state;
	buf_init(&x, 1 << 20);
	assert_int_equal(dmarc_agg_xml(&meta, &pol, r, 3, &x), 0);
	assert_int_equal(validate(&x), 0);
	assert_non_null(memmem(x.data, x.len, "<count>7</count>", 16));
	assert_non_null(memmem(x.data, x.len, "<count>3</count>", 16));
	/* The third failed but got none: dmarc_enforce = no. */
	assert_non_null(memmem(x.data, x.len, "<type>local_policy</type>",
	    25));
	assert_non_null(memmem(x.data, x.len,
	    "<envelope_from>mail.example.com</envelope_from>", 47));
	assert_non_null(memmem(x.data, x.len, "Receiver &amp; Co &lt;x&gt;",
	    27));
	assert_non_null(memmem(x.data, x.len,
	    "xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"", 40));
	/* date_range ends at the period's last second (RFC 9990's example):
	 * the next report begins at T0 + 86400, so they do not overlap. */
	char dr[80];
	snprintf(dr, sizeof(dr), "<begin>%lld</begin>", T0);
	assert_true(has(&x, dr));
	snprintf(dr, sizeof(dr), "<end>%lld</end>", T0 + 86399);
	assert_true(has(&x, dr));
	buf_clear(&x);
}

static void
test_xml_odd_values(void **state)
{
	/* Values an older or damaged store might hold stay schema-valid. */
	struct db_dmarc_policy p = pol;
	struct db_dmarc_record r = rec("192.0.2.1", "bogus", "none", true,
	    false, true, 1);
	struct buf x;

	(void)state;
	p.p = "weird";
	p.adkim = "x";
	p.np = "reject";
	r.dkim_result = "strange";
	r.spf_result = "";
	/* Bytes XML cannot carry: a control, a bad sequence, a surrogate. */
	r.envelope_from = "x\x01y.example";
	r.dkim_selector = "s\xff\xc3";
	r.spf_domain = "a\xed\xa0\x80" "b.caf\xc3\xa9.example";
	buf_init(&x, 1 << 20);
	assert_int_equal(dmarc_agg_xml(&meta, &p, &r, 1, &x), 0);
	assert_int_equal(validate(&x), 0);
	assert_true(has(&x, "x?y.example"));
	assert_true(has(&x, "<selector>s?" "?</selector>"));
	assert_true(has(&x, "a?" "?" "?b.caf\xc3\xa9.example"));
	assert_int_equal(dmarc_agg_xml(&meta, &p, &r, 0, &x), -1);
	buf_clear(&x);
}

static void
test_id_and_filename(void **state)
{
	char a[DMARC_AGG_ID_LEN], b[DMARC_AGG_ID_LEN], f[300];

	(void)state;
	dmarc_agg_report_id("recv.example", "example.com", T0, T0 + 86400, a);
	dmarc_agg_report_id("recv.example", "example.com", T0, T0 + 86400, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	dmarc_agg_report_id("recv.example", "example.com", T0, T0 + 86399, b);
	assert_string_not_equal(a, b);
	assert_int_equal(dmarc_agg_filename("recv.example", "example.com", T0,
	    T0 + 86400, a, f, sizeof(f)), 0);
	char want[300];
	/* The end-timestamp is the period's last second, as in date_range. */
	snprintf(want, sizeof(want), "recv.example!example.com!%lld!%lld!%s"
	    ".xml.gz", T0, T0 + 86399, a);
	assert_string_equal(f, want);
	assert_int_equal(dmarc_agg_filename("recv.example", "example.com", T0,
	    T0 + 86400, a, f, 20), -1);
}

static void
test_periods(void **state)
{
	long long p[REPORT_PERIODS_MAX + 1][2];
	size_t n;

	(void)state;
	assert_int_equal(report_period_start(T0 + 5, 86400), T0);
	assert_int_equal(report_period_start(T0, 86400), T0);
	assert_int_equal(report_period_start(T0 + 3700, 3600), T0 + 3600);
	/* Daily run just after midnight: yesterday. */
	n = report_periods(T0 - 86400, T0 + 130, 86400, false, p, 32);
	assert_int_equal(n, 1);
	assert_int_equal(p[0][0], T0 - 86400);
	assert_int_equal(p[0][1], T0);
	/* Nothing due yet. */
	assert_int_equal(report_periods(T0, T0 + 500, 86400, false, p, 32),
	    0);
	/* --now: the rest of today; a later daily run starts from there. */
	n = report_periods(T0, T0 + 500, 86400, true, p, 32);
	assert_int_equal(n, 1);
	assert_int_equal(p[0][0], T0);
	assert_int_equal(p[0][1], T0 + 500);
	n = report_periods(T0 + 500, T0 + 86400 + 130, 86400, false, p, 32);
	assert_int_equal(n, 1);
	assert_int_equal(p[0][0], T0 + 500);
	assert_int_equal(p[0][1], T0 + 86400);
	/* --now twice in the same second: nothing. */
	assert_int_equal(report_periods(T0 + 500, T0 + 500, 86400, true, p,
	    32), 0);
	/* Three days down: three periods, then today's part with --now. */
	n = report_periods(T0 - 3 * 86400, T0 + 10, 86400, true, p, 32);
	assert_int_equal(n, 4);
	assert_int_equal(p[2][1], T0);
	assert_int_equal(p[3][0], T0);
	assert_int_equal(p[3][1], T0 + 10);
	/* Months down: only the newest REPORT_PERIODS_MAX. */
	n = report_periods(T0 - 400LL * 86400, T0 + 10, 86400, false, p, 32);
	assert_int_equal(n, REPORT_PERIODS_MAX);
	assert_int_equal(p[n - 1][1], T0);
	/* 7 hours: 0-7, 7-14, 14-21, 21-24 each day. */
	n = report_periods(T0 - 86400, T0 + 10, 7 * 3600, false, p, 32);
	assert_int_equal(n, 4);
	assert_int_equal(p[2][1], T0 - 3 * 3600);
	assert_int_equal(p[3][0], T0 - 3 * 3600);
	assert_int_equal(p[3][1], T0);
	assert_int_equal(report_period_end(T0 + 22 * 3600, 7 * 3600),
	    T0 + 86400);
	/* The next run: after the period's end plus the delay. */
	assert_int_equal(report_period_delay(86400), 120);
	assert_int_equal(report_period_delay(600), 60);
}

static void
test_job_next(void **state)
{
	struct conf c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.reports_interval = 86400;
	assert_int_equal(report_job_next(&c, T0 + 10), T0 + 120);
	assert_int_equal(report_job_next(&c, T0 - 10), T0 + 120);
	assert_int_equal(report_job_next(&c, T0 + 120), T0 + 86400 + 120);
	c.reports_interval = 3600;
	assert_int_equal(report_job_next(&c, T0 + 200), T0 + 3600 + 120);
	c.reports_interval = 7 * 3600;
	assert_int_equal(report_job_next(&c, T0 + 22 * 3600), T0 + 86400 + 120);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_valid),
		cmocka_unit_test(test_xml_odd_values),
		cmocka_unit_test(test_id_and_filename),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_job_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
