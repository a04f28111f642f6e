/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the TLS results of the store (db_tlsrpt.c): counting
 * across defer and flush calls, UTC day boundaries, grouping per policy,
 * flushing on db_close and when too many rows are pending.
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
#include "store/db_internal.h"
#include "teststore.h"

/* 2026-12-05 00:00:00 UTC */
#define T0	1796428800LL

/* Rows in the table (not sessions). */
static int
tt_rows(const struct teststore *t)
{
	struct sql_stmt *st;
	int n;

	assert_non_null(st = sql_prepare(t->db->sql,
	    "SELECT count(*) FROM tls_results"));
	assert_int_equal(sql_step(st), SQL_ROW);
	n = (int)sql_column_int64(st, 0);
	sql_finalize(st);
	return n;
}

/* A DANE session to mx.example.org at time t with the given result. */
static struct db_tls_result
tt_dane(long long t, const char *result, const char *code)
{
	struct db_tls_result r = {
		.time = t, .policy_domain = "example.org",
		.policy_type = "tlsa",
		.policy_string = "3 1 1 aabbcc\n2 1 1 ddeeff",
		.mx_host = "mx.example.org", .sending_ip = "192.0.2.1",
		.receiving_mx = "mx.example.org",
		.receiving_helo = "mx1.example.org",
		.receiving_ip = "198.51.100.7", .result = result,
		.failure_code = code,
	};
	return r;
}

static void
tt_defer(struct teststore *t, struct db_tls_result r, int times)
{
	for (int i = 0; i < times; i++) {
		r.time += i;	/* another second, the same day */
		assert_int_equal(db_tls_result_defer(t->db, &r), DB_OK);
	}
}

static void
test_tls_counts_across_flushes(void **state)
{
	struct teststore *t = *state;
	struct db_tls_day d;

	tt_defer(t, tt_dane(T0 + 100, "success", ""), 3);
	tt_defer(t, tt_dane(T0 + 200, "validation-failure", "x509 mismatch"),
	    1);
	assert_int_equal(db_tls_result_pending(t->db), 4);
	assert_int_equal(tt_rows(t), 0);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_result_pending(t->db), 0);
	assert_int_equal(tt_rows(t), 2);
	/* A second batch adds to the stored counts: no new rows. */
	tt_defer(t, tt_dane(T0 + 3000, "success", ""), 2);
	tt_defer(t, tt_dane(T0 + 4000, "validation-failure", "x509 mismatch"),
	    2);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);	/* nothing */
	assert_int_equal(tt_rows(t), 2);

	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_string_equal(d.policy[0].policy_domain, "example.org");
	assert_string_equal(d.policy[0].policy_type, "tlsa");
	assert_string_equal(d.policy[0].policy_string,
	    "3 1 1 aabbcc\n2 1 1 ddeeff");
	assert_string_equal(d.policy[0].mx_host, "mx.example.org");
	assert_int_equal(d.policy[0].successes, 5);
	assert_int_equal(d.policy[0].failures, 3);
	assert_int_equal(d.policy[0].nfailure, 1);
	assert_string_equal(d.policy[0].failure[0].result,
	    "validation-failure");
	assert_string_equal(d.policy[0].failure[0].failure_code,
	    "x509 mismatch");
	assert_string_equal(d.policy[0].failure[0].sending_ip, "192.0.2.1");
	assert_string_equal(d.policy[0].failure[0].receiving_mx,
	    "mx.example.org");
	assert_string_equal(d.policy[0].failure[0].receiving_helo,
	    "mx1.example.org");
	assert_string_equal(d.policy[0].failure[0].receiving_ip,
	    "198.51.100.7");
	assert_int_equal(d.policy[0].failure[0].count, 3);
	db_tls_day_clear(&d);
	assert_int_equal(d.npolicy, 0);
}

static void
test_tls_utc_days(void **state)
{
	struct teststore *t = *state;
	struct db_tls_day d;

	assert_int_equal(db_tls_day(0), 0);
	assert_int_equal(db_tls_day(86399), 0);
	assert_int_equal(db_tls_day(86400), 1);
	assert_int_equal(db_tls_day(-1), -1);
	assert_int_equal(db_tls_day(T0), 20792);	/* 2026-12-05 */
	/* The last second of one UTC day and the first of the next. */
	tt_defer(t, tt_dane(T0 - 1, "success", ""), 1);
	tt_defer(t, tt_dane(T0, "success", ""), 2);
	tt_defer(t, tt_dane(T0 + 86399, "success", ""), 1);
	tt_defer(t, tt_dane(T0 + 86400, "success", ""), 4);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(tt_rows(t), 3);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0) - 1, &d),
	    DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].successes, 1);
	db_tls_day_clear(&d);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].successes, 3);
	assert_int_equal(d.policy[0].failures, 0);
	assert_int_equal(d.policy[0].nfailure, 0);
	db_tls_day_clear(&d);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0) + 1, &d),
	    DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].successes, 4);
	db_tls_day_clear(&d);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0) + 2, &d),
	    DB_OK);
	assert_int_equal(d.npolicy, 0);
	db_tls_day_clear(&d);
}

static void
test_tls_grouping(void **state)
{
	struct teststore *t = *state;
	struct db_tls_result sts = {
		.time = T0 + 10, .policy_domain = "b.example",
		.policy_type = "sts",
		.policy_string = "version: STSv1\nmode: enforce\n"
		    "mx: *.b.example\nmax_age: 86400",
		.mx_host = "*.b.example", .sending_ip = "192.0.2.1",
		.receiving_mx = "mx.b.example", .receiving_ip = "203.0.113.5",
		.result = "certificate-expired",
	};
	struct db_tls_result none = {
		.time = T0 + 20, .policy_domain = "c.example",
		.policy_type = "no-policy-found", .receiving_mx = "mx.c.example",
		.receiving_ip = "203.0.113.9", .result = "success",
	};
	struct db_tls_day d;

	tt_defer(t, tt_dane(T0 + 5, "success", ""), 1);
	tt_defer(t, sts, 2);
	sts.receiving_ip = "203.0.113.6";	/* another address of the MX */
	tt_defer(t, sts, 1);
	sts.result = "success";
	tt_defer(t, sts, 7);
	tt_defer(t, none, 1);
	/* Another policy string is another policy. */
	struct db_tls_result other = tt_dane(T0 + 6, "tlsa-invalid", "");
	other.policy_string = "3 1 1 001122";
	tt_defer(t, other, 1);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);

	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(d.npolicy, 4);
	assert_string_equal(d.policy[0].policy_domain, "b.example");
	assert_string_equal(d.policy[0].policy_type, "sts");
	assert_string_equal(d.policy[0].mx_host, "*.b.example");
	assert_int_equal(d.policy[0].successes, 7);
	assert_int_equal(d.policy[0].failures, 3);
	assert_int_equal(d.policy[0].nfailure, 2);
	assert_string_equal(d.policy[0].failure[0].receiving_ip,
	    "203.0.113.5");
	assert_int_equal(d.policy[0].failure[0].count, 2);
	assert_string_equal(d.policy[0].failure[1].receiving_ip,
	    "203.0.113.6");
	assert_int_equal(d.policy[0].failure[1].count, 1);
	/* NULL fields were stored as "". */
	assert_string_equal(d.policy[0].failure[0].receiving_helo, "");
	assert_string_equal(d.policy[0].failure[0].failure_code, "");
	assert_string_equal(d.policy[1].policy_domain, "c.example");
	assert_string_equal(d.policy[1].policy_type, "no-policy-found");
	assert_string_equal(d.policy[1].policy_string, "");
	assert_string_equal(d.policy[1].mx_host, "");
	assert_int_equal(d.policy[1].successes, 1);
	assert_string_equal(d.policy[2].policy_domain, "example.org");
	assert_string_equal(d.policy[2].policy_string, "3 1 1 001122");
	assert_int_equal(d.policy[2].successes, 0);
	assert_int_equal(d.policy[2].failures, 1);
	assert_string_equal(d.policy[3].policy_string,
	    "3 1 1 aabbcc\n2 1 1 ddeeff");
	assert_int_equal(d.policy[3].successes, 1);
	assert_int_equal(d.policy[3].failures, 0);
	db_tls_day_clear(&d);
}

static void
test_tls_close_flushes(void **state)
{
	struct teststore *t = *state;
	struct db_tls_day d;
	char err[256];

	tt_defer(t, tt_dane(T0, "dnssec-invalid", ""), 2);
	db_close(t->db);
	t->db = db_open(t->path, false, NULL, err, sizeof(err));
	assert_non_null(t->db);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].failures, 2);
	assert_string_equal(d.policy[0].failure[0].result, "dnssec-invalid");
	db_tls_day_clear(&d);
}

static void
test_tls_pending_max(void **state)
{
	struct teststore *t = *state;
	struct db_tls_result r = tt_dane(T0, "success", "");
	char big[DB_TLS_FIELD_MAX + 100];
	struct db_tls_day d;

	for (int i = 0; i < DB_TLS_PENDING_MAX; i++)
		assert_int_equal(db_tls_result_defer(t->db, &r), DB_OK);
	assert_int_equal(tt_rows(t), 0);
	/* One more flushes the full batch first. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.receiving_helo = big;
	assert_int_equal(db_tls_result_defer(t->db, &r), DB_OK);
	assert_int_equal(db_tls_result_pending(t->db), 1);
	assert_int_equal(tt_rows(t), 1);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(d.policy[0].successes, DB_TLS_PENDING_MAX + 1);
	db_tls_day_clear(&d);
}

/* An over-long field is cut at DB_TLS_FIELD_MAX bytes. */
static void
test_tls_field_cut(void **state)
{
	struct teststore *t = *state;
	struct db_tls_result r = tt_dane(T0, "validation-failure", "");
	static char big[DB_TLS_FIELD_MAX + 100];
	struct db_tls_day d;

	memset(big, 'h', sizeof(big) - 1);
	r.receiving_helo = big;
	tt_defer(t, r, 1);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_results_day(t->db, db_tls_day(T0), &d), DB_OK);
	assert_int_equal(strlen(d.policy[0].failure[0].receiving_helo),
	    DB_TLS_FIELD_MAX);
	db_tls_day_clear(&d);
}

/* A day reported in two parts counts each session once; a report that
 * failed (claimed, not marked) is claimed again with what came since. */
static void
test_tls_reported_in_parts(void **state)
{
	struct teststore *t = *state;
	long long day = db_tls_day(T0);
	struct db_tls_day d;
	char **dom;
	size_t n;

	tt_defer(t, tt_dane(T0, "success", ""), 3);
	tt_defer(t, tt_dane(T0, "validation-failure", "x"), 2);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_unreported_domains(t->db, day, &dom, &n),
	    DB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(dom[0], "example.org");
	db_strv_free(dom, n);
	/* First part: 3 + 2, then more sessions arrive before marking. */
	assert_int_equal(db_tls_claim(t->db, day, "example.org"), DB_OK);
	tt_defer(t, tt_dane(T0 + 100, "success", ""), 4);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_results_claimed(t->db, day, "example.org",
	    &d), DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].successes, 3);
	assert_int_equal(d.policy[0].failures, 2);
	db_tls_day_clear(&d);
	assert_int_equal(db_tls_mark_reported(t->db, day, "example.org"),
	    DB_OK);
	/* Second part: only the 4 that came later. */
	assert_int_equal(db_tls_claim(t->db, day, "example.org"), DB_OK);
	assert_int_equal(db_tls_results_claimed(t->db, day, "example.org",
	    &d), DB_OK);
	assert_int_equal(d.npolicy, 1);
	assert_int_equal(d.policy[0].successes, 4);
	assert_int_equal(d.policy[0].failures, 0);
	assert_int_equal(d.policy[0].nfailure, 0);
	db_tls_day_clear(&d);
	/* Not marked (the send failed): the next claim has them again. */
	tt_defer(t, tt_dane(T0 + 200, "success", ""), 1);
	assert_int_equal(db_tls_result_flush(t->db), DB_OK);
	assert_int_equal(db_tls_claim(t->db, day, "example.org"), DB_OK);
	assert_int_equal(db_tls_results_claimed(t->db, day, "example.org",
	    &d), DB_OK);
	assert_int_equal(d.policy[0].successes, 5);
	db_tls_day_clear(&d);
	assert_int_equal(db_tls_mark_reported(t->db, day, "example.org"),
	    DB_OK);
	assert_int_equal(db_tls_unreported_domains(t->db, day, &dom, &n),
	    DB_OK);
	assert_int_equal(n, 0);
	/* The whole day is still there for tls-results. */
	assert_int_equal(db_tls_results_day(t->db, day, &d), DB_OK);
	assert_int_equal(d.policy[0].successes, 8);
	assert_int_equal(d.policy[0].failures, 2);
	db_tls_day_clear(&d);
}

static void
test_dmarc_failure_rows(void **state)
{
	struct teststore *t = *state;
	struct db_dmarc_failure f = {
		.time = T0, .source_ip = "192.0.2.9",
		.policy_domain = "example.org", .header_from = "example.org",
		.mail_from = "redacted@example.org",
		.ruf = "mailto:f@example.org", .auth_results = "x; dmarc=fail",
		.alignment = "none", .delivery = "delivered",
		.headers = "From: <redacted@example.org>\r\n",
		.dkim_domain = "example.org", .dkim_identity = "@example.org",
		.dkim_selector = "s1",
	}, *v;
	size_t n;

	assert_int_equal(db_dmarc_failure_defer(t->db, &f), DB_OK);
	f.time = T0 + 1;
	f.source_ip = NULL;
	assert_int_equal(db_dmarc_failure_defer(t->db, &f), DB_OK);
	assert_int_equal(db_dmarc_failure_pending(t->db), 2);
	assert_int_equal(db_dmarc_failures_list(t->db, 10, &v, &n), DB_OK);
	assert_int_equal(n, 0);		/* pending rows are not stored yet */
	db_dmarc_failures_free(v, n);
	assert_int_equal(db_dmarc_failure_flush(t->db), DB_OK);
	assert_int_equal(db_dmarc_failures_list(t->db, 10, &v, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].time, T0);
	assert_string_equal(v[0].headers, f.headers);
	assert_string_equal(v[1].source_ip, "");
	assert_string_equal(v[0].dkim_domain, "example.org");
	assert_string_equal(v[0].dkim_identity, "@example.org");
	assert_string_equal(v[0].dkim_selector, "s1");
	assert_int_equal(db_dmarc_failure_del(t->db, v[0].id), DB_OK);
	db_dmarc_failures_free(v, n);
	assert_int_equal(db_dmarc_failures_list(t->db, 1, &v, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].time, T0 + 1);
	db_dmarc_failures_free(v, n);
}

static void
test_report_rate(void **state)
{
	struct teststore *t = *state;

	for (int i = 0; i < 3; i++)
		assert_true(db_report_rate_take(t->db, "a@x", 100, 3, 0));
	assert_false(db_report_rate_take(t->db, "a@x", 100, 3, 0));
	assert_true(db_report_rate_take(t->db, "b@x", 100, 3, 0));
	assert_true(db_report_rate_take(t->db, "a@x", 101, 3, 0));
	assert_false(db_report_rate_take(t->db, "a@x", 101, 0, 0));
	/* Pruning hour 100 does not reopen hour 101. */
	assert_true(db_report_rate_take(t->db, "a@x", 101, 3, 101));
	assert_true(db_report_rate_take(t->db, "a@x", 101, 3, 101));
	assert_false(db_report_rate_take(t->db, "a@x", 101, 3, 101));
}

#define TT(f) cmocka_unit_test_setup_teardown(f, teststore_setup, teststore_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TT(test_tls_counts_across_flushes),
		TT(test_tls_utc_days),
		TT(test_tls_grouping),
		TT(test_tls_close_flushes),
		TT(test_tls_pending_max),
		TT(test_tls_field_cut),
		TT(test_tls_reported_in_parts),
		TT(test_dmarc_failure_rows),
		TT(test_report_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
