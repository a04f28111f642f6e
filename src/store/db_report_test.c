/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the report side of the store (db_report.c, and the
 * policy kept by db_dmarc_add): grouping evaluations into records, the
 * last policy per domain, domains with a rua, the job's claim and
 * watermark, report_sent and pruning; and for received reports
 * (db_inreport.c) the deduplication of a report sent twice, where a report
 * whose message did not pass DMARC cannot keep out the genuine one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/db_inreport.h"
#include "teststore.h"

#define T0	1796428800LL	/* 2026-12-05 00:00:00 UTC */

static void
rt_add(struct db *db, long long time, const char *ip, const char *dom,
    const char *rua, const char *p)
{
	struct db_dmarc_row r = {
		.time = time, .source_ip = ip, .header_from = dom,
		.envelope_from = dom, .policy_domain = dom, .policy = p,
		.disposition = "none", .result = "pass", .dkim_domain = dom,
		.dkim_selector = "s1", .dkim_result = "pass",
		.dkim_aligned = true, .spf_domain = dom, .spf_result = "pass",
		.spf_aligned = true,
		.pub = { .p = p, .sp = "", .np = "", .adkim = "r",
		    .aspf = "s", .fo = "", .rua = rua },
	};

	assert_int_equal(db_dmarc_add(db, &r), DB_OK);
}

static void
test_records_grouped(void **state)
{
	struct teststore *t = *state;
	struct db_dmarc_record *rec;
	size_t n;

	for (int i = 0; i < 3; i++)
		rt_add(t->db, T0 + i, "192.0.2.1", "a.example",
		    "mailto:d@a.example", "none");
	rt_add(t->db, T0 + 5, "192.0.2.2", "a.example", "mailto:d@a.example",
	    "none");
	rt_add(t->db, T0 - 1, "192.0.2.1", "a.example", "mailto:d@a.example",
	    "none");		/* before the period */
	rt_add(t->db, T0 + 86400, "192.0.2.1", "a.example",
	    "mailto:d@a.example", "none");	/* after it */
	assert_int_equal(db_dmarc_records(t->db, "a.example", T0, T0 + 86400,
	    &rec, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rec[0].source_ip, "192.0.2.1");
	assert_int_equal(rec[0].count, 3);
	assert_string_equal(rec[0].dkim_selector, "s1");
	assert_string_equal(rec[1].source_ip, "192.0.2.2");
	assert_int_equal(rec[1].count, 1);
	db_dmarc_records_free(rec, n);
}

/* Rows that differ only in what the report does not show (the policy
 * that applied, when the message passed anyway, e.g. after the domain
 * moved from p=none to p=reject) are one record: one per distinct row. */
static void
test_records_one_per_row(void **state)
{
	struct teststore *t = *state;
	struct db_dmarc_record *rec;
	size_t n;

	rt_add(t->db, T0 + 1, "192.0.2.3", "a.example", "mailto:d@a.example",
	    "none");
	rt_add(t->db, T0 + 2, "192.0.2.3", "a.example", "mailto:d@a.example",
	    "reject");
	assert_int_equal(db_dmarc_records(t->db, "a.example", T0, T0 + 86400,
	    &rec, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rec[0].count, 2);
	db_dmarc_records_free(rec, n);

	/* Failing mail delivered: under p=none as the policy says, under
	 * p=reject by local policy; two records (the second with a reason). */
	for (int i = 0; i < 2; i++) {
		struct db_dmarc_row r = {
			.time = T0 + 3, .source_ip = "192.0.2.4",
			.header_from = "a.example", .envelope_from = "a.example",
			.policy_domain = "a.example",
			.policy = i ? "reject" : "none", .disposition = "none",
			.result = "fail", .dkim_result = "fail",
			.spf_domain = "a.example", .spf_result = "fail",
			.pub = { .p = "none", .sp = "", .np = "", .adkim = "r",
			    .aspf = "r", .fo = "", .rua = "mailto:d@a.example" },
		};
		assert_int_equal(db_dmarc_add(t->db, &r), DB_OK);
	}
	assert_int_equal(db_dmarc_records(t->db, "a.example", T0 + 3, T0 + 4,
	    &rec, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rec[0].count + rec[1].count, 2);
	assert_string_not_equal(rec[0].policy, rec[1].policy);
	db_dmarc_records_free(rec, n);
}

static void
test_policy_last_and_domains(void **state)
{
	struct teststore *t = *state;
	struct db_dmarc_policy p;
	char **d;
	size_t n;

	rt_add(t->db, T0 + 10, "192.0.2.1", "a.example", "mailto:x@a.example",
	    "reject");
	rt_add(t->db, T0 + 5, "192.0.2.1", "a.example", "mailto:old@a.example",
	    "none");	/* older: does not replace */
	rt_add(t->db, T0 + 1, "192.0.2.1", "b.example", "", "none");
	assert_int_equal(db_dmarc_policy_get(t->db, "a.example", &p), DB_OK);
	assert_string_equal(p.p, "reject");
	assert_string_equal(p.rua, "mailto:x@a.example");
	assert_string_equal(p.aspf, "s");
	assert_int_equal(p.time, T0 + 10);
	db_dmarc_policy_clear(&p);
	assert_int_equal(db_dmarc_policy_get(t->db, "c.example", &p),
	    DB_NOTFOUND);
	db_dmarc_policy_clear(&p);
	/* b.example has no rua: not reported. */
	assert_int_equal(db_dmarc_report_domains(t->db, T0, T0 + 86400, &d,
	    &n), DB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d[0], "a.example");
	db_strv_free(d, n);
	assert_int_equal(db_dmarc_report_domains(t->db, T0 + 11, T0 + 86400,
	    &d, &n), DB_OK);
	assert_int_equal(n, 0);
	db_strv_free(d, n);
}

static void
test_claim_watermark(void **state)
{
	struct teststore *t = *state;
	long long w = -1;

	assert_int_equal(db_report_watermark(t->db, "dmarc", &w), DB_NOTFOUND);
	assert_int_equal(db_report_claim(t->db, "dmarc", "A", T0, T0 + 60),
	    DB_OK);
	/* Another holder waits for the claim to end or expire. */
	assert_int_equal(db_report_claim(t->db, "dmarc", "B", T0 + 1,
	    T0 + 61), DB_NOTFOUND);
	assert_int_equal(db_report_claim(t->db, "tlsrpt", "B", T0 + 1,
	    T0 + 61), DB_OK);
	assert_int_equal(db_report_claim(t->db, "dmarc", "A", T0 + 2,
	    T0 + 62), DB_OK);
	assert_int_equal(db_report_set_watermark(t->db, "dmarc", T0), DB_OK);
	assert_int_equal(db_report_watermark(t->db, "dmarc", &w), DB_OK);
	assert_int_equal(w, T0);
	assert_int_equal(db_report_release(t->db, "dmarc", "A"), DB_OK);
	assert_int_equal(db_report_claim(t->db, "dmarc", "B", T0 + 3,
	    T0 + 63), DB_OK);
	assert_int_equal(db_report_claim(t->db, "dmarc", "C", T0 + 63,
	    T0 + 123), DB_OK);	/* B's expired */
	assert_int_equal(db_report_watermark(t->db, "dmarc", &w), DB_OK);
	assert_int_equal(w, T0);
}

/* Writes between db_begin and db_end(false) are undone; db_end(true)
 * keeps them. */
static void
test_transaction(void **state)
{
	struct teststore *t = *state;

	assert_int_equal(db_begin(t->db), DB_OK);
	assert_int_equal(db_report_mark_sent(t->db, "tlsrpt", "a.example", T0,
	    T0 + 86400, "id1", T0 + 86500), DB_OK);
	assert_int_equal(db_end(t->db, false), DB_ERROR);
	assert_int_equal(db_report_was_sent(t->db, "tlsrpt", "a.example",
	    T0), DB_NOTFOUND);
	assert_int_equal(db_begin(t->db), DB_OK);
	assert_int_equal(db_report_mark_sent(t->db, "tlsrpt", "a.example", T0,
	    T0 + 86400, "id1", T0 + 86500), DB_OK);
	assert_int_equal(db_end(t->db, true), DB_OK);
	assert_int_equal(db_report_was_sent(t->db, "tlsrpt", "a.example",
	    T0), DB_OK);
}

static void
test_sent_and_prune(void **state)
{
	struct teststore *t = *state;
	long long o = 0;

	assert_int_equal(db_report_was_sent(t->db, "dmarc", "a.example", T0),
	    DB_NOTFOUND);
	assert_int_equal(db_report_mark_sent(t->db, "dmarc", "a.example", T0,
	    T0 + 86400, "id1", T0 + 86500), DB_OK);
	assert_int_equal(db_report_was_sent(t->db, "dmarc", "a.example", T0),
	    DB_OK);
	assert_int_equal(db_report_was_sent(t->db, "tlsrpt", "a.example",
	    T0), DB_NOTFOUND);
	rt_add(t->db, T0, "192.0.2.1", "a.example", "mailto:d@a.example",
	    "none");
	rt_add(t->db, T0 + 100, "192.0.2.1", "a.example",
	    "mailto:d@a.example", "none");
	assert_int_equal(db_dmarc_oldest(t->db, &o), DB_OK);
	assert_int_equal(o, T0);
	assert_int_equal(db_report_prune(t->db, T0 + 50), DB_OK);
	assert_int_equal(db_dmarc_oldest(t->db, &o), DB_OK);
	assert_int_equal(o, T0 + 100);
	assert_int_equal(db_report_prune(t->db, T0 + 86401), DB_OK);
	assert_int_equal(db_dmarc_oldest(t->db, &o), DB_NOTFOUND);
	assert_int_equal(db_report_was_sent(t->db, "dmarc", "a.example", T0),
	    DB_NOTFOUND);
}

/* The status page's pass rates: per From domain since a time, the
 * busiest first, bounded. */
static void
test_pass_rates(void **state)
{
	struct teststore *t = *state;
	struct db_dmarc_rate r[2];
	size_t n = 9;
	struct db_dmarc_row fail = {
		.time = T0 + 10, .source_ip = "192.0.2.9",
		.header_from = "b.example", .envelope_from = "b.example",
		.policy_domain = "b.example", .policy = "none",
		.disposition = "none", .result = "fail", .dkim_domain = "",
		.dkim_selector = "", .dkim_result = "none",
		.spf_domain = "b.example", .spf_result = "fail",
		.pub = { .p = "none", .sp = "", .np = "", .adkim = "r",
		    .aspf = "r", .fo = "", .rua = "" },
	};

	for (int i = 0; i < 3; i++)
		rt_add(t->db, T0 + i, "192.0.2.1", "a.example", "", "none");
	rt_add(t->db, T0 - 100, "192.0.2.1", "old.example", "", "none");
	assert_int_equal(db_dmarc_add(t->db, &fail), DB_OK);
	fail.time++;
	assert_int_equal(db_dmarc_add(t->db, &fail), DB_OK);
	rt_add(t->db, T0 + 20, "192.0.2.9", "b.example", "", "none");
	rt_add(t->db, T0 + 30, "192.0.2.9", "c.example", "", "none");
	assert_int_equal(db_dmarc_pass_rates(t->db, T0, r, 2, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].domain, "a.example");
	assert_int_equal(r[0].pass, 3);
	assert_int_equal(r[0].total, 3);
	assert_string_equal(r[1].domain, "b.example");
	assert_int_equal(r[1].pass, 1);
	assert_int_equal(r[1].total, 3);
}

/* Store a DMARC report of org "Example" with id "R1": one record of
 * count messages from ip. */
static enum db_result
it_add(struct db *db, bool authenticated, const char *ip, long long count)
{
	struct in_dmarc_record rec = {
		.source_ip = (char *)ip, .count = count,
		.disposition = (char *)"none", .dkim = (char *)"pass",
		.spf = (char *)"pass", .header_from = (char *)"example.org",
		.envelope_from = (char *)"example.org",
		.dkim_domain = (char *)"example.org",
		.dkim_result = (char *)"pass",
		.spf_domain = (char *)"example.org",
		.spf_result = (char *)"pass",
	};
	struct inreport r = {
		.kind = INREPORT_DMARC, .authenticated = authenticated,
		.received = 1796428800LL, .msg_id = (char *)"<m@x>",
		.msg_from_domain = (char *)"reporter.example",
	};

	r.u.dmarc = (struct in_dmarc){ .org_name = (char *)"Example",
	    .email = (char *)"r@reporter.example",
	    .report_id = (char *)"R1", .begin = 1796342400LL,
	    .end = 1796428799LL, .policy_domain = (char *)"example.org",
	    .policy = (char *)"reject", .rec = &rec, .nrec = 1 };
	return db_inreport_add(db, &r);
}

/* The one stored report: its authentication, record's IP and count. */
static void
it_check(struct db *db, bool authenticated, const char *ip, long long count)
{
	struct inreport *v;
	size_t n;

	assert_int_equal(db_inreport_list(db, INREPORT_DMARC, NULL, 0, &v,
	    &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].authenticated, authenticated);
	assert_int_equal(v[0].u.dmarc.nrec, 1);
	assert_string_equal(v[0].u.dmarc.rec[0].source_ip, ip);
	assert_int_equal(v[0].u.dmarc.rec[0].count, count);
	db_inreport_list_free(v, n);
}

static void
test_duplicate_once(void **state)
{
	struct teststore *t = *state;

	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_NOTFOUND);
	it_check(t->db, true, "192.0.2.1", 3);
}

/* Received reports go with their records once older than the cut: the
 * same report stored again afterwards is new, and shows its own record
 * only (SQLite reuses the freed id, so a record left behind would show). */
static void
test_received_pruned(void **state)
{
	struct teststore *t = *state;
	struct inreport *v;
	size_t n;

	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	assert_int_equal(db_inreport_prune(t->db, 1796428800LL), DB_OK);
	it_check(t->db, true, "192.0.2.1", 3);
	assert_int_equal(db_inreport_prune(t->db, 1796428801LL), DB_OK);
	assert_int_equal(db_inreport_list(t->db, INREPORT_DMARC, NULL, 0, &v,
	    &n), DB_OK);
	assert_int_equal(n, 0);
	db_inreport_list_free(v, n);
	assert_int_equal(it_add(t->db, true, "192.0.2.7", 5), DB_OK);
	it_check(t->db, true, "192.0.2.7", 5);
}

/* A forged copy first (report ids are predictable): the genuine report
 * that passed DMARC replaces it. */
static void
test_authenticated_replaces_forged(void **state)
{
	struct teststore *t = *state;

	assert_int_equal(it_add(t->db, false, "198.51.100.66", 99999),
	    DB_OK);
	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	it_check(t->db, true, "192.0.2.1", 3);
}

/* A forged copy after the genuine one changes nothing. */
static void
test_forged_after_ignored(void **state)
{
	struct teststore *t = *state;

	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	assert_int_equal(it_add(t->db, false, "198.51.100.66", 99999),
	    DB_NOTFOUND);
	it_check(t->db, true, "192.0.2.1", 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records_grouped, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_records_one_per_row,
		    teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_policy_last_and_domains,
		    teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_claim_watermark, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_transaction, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_sent_and_prune, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_received_pruned, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_pass_rates, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_once, teststore_setup,
		    teststore_teardown),
		cmocka_unit_test_setup_teardown(
		    test_authenticated_replaces_forged, teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_forged_after_ignored,
		    teststore_setup, teststore_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
