/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the report job (report_job.c, dmarc_agg_run): a claim
 * left by a run that died (killed at a shutdown, a CLI run interrupted)
 * does not hold the job for the claim's whole lifetime, a live one does;
 * a domain reported by a `--now` run whose period was not finished is
 * reported for the rest of the period, once (DMARC and TLS-RPT); TLS
 * session results pruned; the TLS-RPT POST's refusals; failure reports
 * sent by one run at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "queue/spool.h"
#include "report/report.h"
#include "report/report_job.h"
#include "store/db.h"
#include "testdns.h"

struct jt {
	char		 dir[64];
	char		 path[128];
	struct db	*db;
	struct conf	 c;
	long long	 now;
	struct testdns	 ns;		/* jt_setup_dns: tests/dns/zones */
};

static int
jt_setup(void **state)
{
	struct jt *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-job-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sealmail.db", t->dir);
	if ((t->db = db_open(t->path, true, NULL, err, sizeof(err))) == NULL)
		fail_msg("db_open: %s", err);
	if (spool_init(t->dir, err, sizeof(err)) == -1)
		fail_msg("spool_init: %s", err);
	t->c.data_dir = t->dir;
	t->c.hostname = "mx.receiver.example";
	t->c.reports_from = "reports@receiver.example";
	t->c.reports_org_name = "receiver.example";
	t->c.reports_dmarc_aggregate = true;
	t->c.reports_interval = 86400;
	t->c.reports_retention = 30 * 86400;
	t->now = (long long)time(NULL);
	*state = t;
	return 0;
}

static int
jt_teardown(void **state)
{
	struct jt *t = *state;
	char p[160];

	if (t->ns.dir[0] != '\0')
		testdns_stop(&t->ns);
	db_close(t->db);
	snprintf(p, sizeof(p), "rm -rf '%s'", t->dir);
	assert_int_equal(system(p), 0);
	free(t);
	return 0;
}

/* jt_setup with the test DNS server (stopped by jt_teardown, also
 * after a failed assertion). */
static int
jt_setup_dns(void **state)
{
	struct jt *t;

	jt_setup(state);
	t = *state;
	if (testdns_start(&t->ns, "report_job_test") == -1)
		fail_msg("testdns_start");
	t->c.dns_resolver = t->ns.resolver;
	t->c.dns_unbound_config = t->ns.ubconf;
	t->c.dns_trust_anchor = t->ns.anchors;
	return 0;
}

/* A holder as report_job.c writes it on node: PID.PID-NAMESPACE.SID@NODE. */
static void
jt_holder_on(long pid, const char *node, char *out, size_t outlen)
{
	char ns[64];
	ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);

	ns[n > 0 ? n : 0] = '\0';
	snprintf(out, outlen, "%ld.%s.AAAAAAAAAAAA@%s", pid, ns, node);
}

/* A holder of this node (jt_setup's hostname). */
static void
jt_holder(long pid, char *out, size_t outlen)
{
	jt_holder_on(pid, "mx.receiver.example", out, outlen);
}

/* A pid that no process has any more. */
static long
jt_dead_pid(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	assert_int_equal(waitpid(p, NULL, 0), p);
	return (long)p;
}

/* Run the job with a claim by holder taken an hour ahead: whether it
 * reported (the watermark moved to the start of today's period). */
static bool
jt_run_with_claim(struct jt *t, const char *holder)
{
	char err[256];
	long long w = 0;

	assert_int_equal(db_report_claim(t->db, "dmarc", holder, t->now,
	    t->now + 3600), DB_OK);
	assert_int_equal(report_job_run_keys(&t->c, NULL, t->now, 0, NULL,
	    err, sizeof(err)), 0);
	if (db_report_watermark(t->db, "dmarc", &w) != DB_OK)
		return false;
	assert_int_equal(w, report_period_start(t->now, 86400));
	return true;
}

static void
test_dead_holder_taken_over(void **state)
{
	struct jt *t = *state;
	char h[400];

	jt_holder(jt_dead_pid(), h, sizeof(h));
	assert_true(jt_run_with_claim(t, h));
}

static void
test_live_holder_respected(void **state)
{
	struct jt *t = *state;
	char h[400];

	jt_holder((long)getppid(), h, sizeof(h));
	assert_false(jt_run_with_claim(t, h));
}

/* A holder from another pid namespace cannot be checked: respected. */
static void
test_foreign_holder_respected(void **state)
{
	struct jt *t = *state;
	char h[400];

	snprintf(h, sizeof(h), "%ld.pid:[1].AAAAAAAAAAAA", jt_dead_pid());
	assert_false(jt_run_with_claim(t, h));
}

/* Another node of a cluster on the same store (PostgreSQL) holds the
 * claim: its pid, in the same initial pid namespace of another machine,
 * says nothing here, so the claim is respected even when no process has
 * that pid on this node (taking it over sent the reports twice). */
static void
test_other_node_holder_respected(void **state)
{
	struct jt *t = *state;
	char h[400];

	jt_holder_on(jt_dead_pid(), "mx2.receiver.example", h, sizeof(h));
	assert_false(jt_run_with_claim(t, h));
}

/* Messages committed to the spool. */
static size_t
jt_queued(struct jt *t)
{
	size_t n = 0;
	long long oldest;

	assert_int_equal(spool_count(t->dir, &n, &oldest), 0);
	return n;
}

/* Failure report rows waiting in the store. */
static size_t
jt_failure_rows(struct jt *t)
{
	struct db_dmarc_failure *v;
	size_t n;

	assert_int_equal(db_dmarc_failures_list(t->db, 10, &v, &n), DB_OK);
	db_dmarc_failures_free(v, n);
	return n;
}

/*
 * Failure reports are sent by every run (the runner each minute, any CLI
 * run): a live run's claim keeps another from sending the same row (two
 * at once each sent it before either deleted it); once released, a run
 * sends the row and deletes it.
 */
static void
test_failure_reports_claimed(void **state)
{
	struct jt *t = *state;
	struct db_dmarc_failure f = {
		.time = t->now, .source_ip = "192.0.2.9",
		.policy_domain = "example.org", .header_from = "example.org",
		.mail_from = "redacted@example.org",
		.ruf = "mailto:ruf@example.org", .auth_results = "x; dmarc=fail",
		.alignment = "none", .delivery = "delivered",
		.headers = "From: <redacted@example.org>\r\n",
		.dkim_domain = "", .dkim_identity = "", .dkim_selector = "",
	};
	char h[400];

	t->c.reports_dmarc_failure = true;
	t->c.reports_failure_per_hour = 10;
	assert_int_equal(db_dmarc_failure_defer(t->db, &f), DB_OK);
	assert_int_equal(db_dmarc_failure_flush(t->db), DB_OK);
	jt_holder((long)getppid(), h, sizeof(h));
	assert_int_equal(db_report_claim(t->db, REPORT_KIND_FAILURE, h,
	    t->now, t->now + 3600), DB_OK);
	report_job_failures(&t->c, NULL, t->now);
	assert_int_equal(jt_failure_rows(t), 1);
	assert_int_equal(jt_queued(t), 0);
	assert_int_equal(db_report_release(t->db, REPORT_KIND_FAILURE, h),
	    DB_OK);
	report_job_failures(&t->c, NULL, t->now);
	assert_int_equal(jt_failure_rows(t), 0);
	assert_int_equal(jt_queued(t), 1);
}

/* One evaluation of a message from example.org, which asks for reports
 * at its own domain (no RFC 9990 §4 DNS check). */
static void
jt_eval(struct db *db, long long time)
{
	struct db_dmarc_row r = {
		.time = time, .source_ip = "192.0.2.1",
		.header_from = "example.org", .envelope_from = "example.org",
		.policy_domain = "example.org", .policy = "none",
		.disposition = "none", .result = "pass",
		.dkim_domain = "example.org", .dkim_selector = "s1",
		.dkim_result = "pass", .dkim_aligned = true,
		.spf_domain = "example.org", .spf_result = "pass",
		.spf_aligned = true,
		.pub = { .p = "none", .sp = "", .np = "", .adkim = "r",
		    .aspf = "r", .fo = "", .rua = "mailto:rua@example.org" },
	};

	assert_int_equal(db_dmarc_add(db, &r), DB_OK);
}

/* One TLS session to domain at time t (tlsrpt_report.c's input). */
static void
jt_tls(struct db *db, const char *domain, long long t)
{
	struct db_tls_result r = {
		.time = t, .policy_domain = domain,
		.policy_type = "no-policy-found", .policy_string = "",
		.mx_host = "", .sending_ip = "192.0.2.1",
		.receiving_mx = "mx.example.org", .receiving_helo = "",
		.receiving_ip = "198.51.100.7", .result = "success",
		.failure_code = "",
	};

	assert_int_equal(db_tls_result_defer(db, &r), DB_OK);
	assert_int_equal(db_tls_result_flush(db), DB_OK);
}

/*
 * A `--now` run at mid-day sent example.org's report of [day, mid) but
 * another domain failed, so the watermark stayed at the day's start. The
 * day's run must then report example.org's [mid, day end), not skip it
 * as sent, and a later run must not send it again.
 */
static void
test_rest_of_period_after_now(void **state)
{
	struct jt *t = *state;
	long long day = report_period_start(t->now, 86400) - 86400;
	long long mid = day + 43200;
	struct report_run run = { .conf = &t->c, .db = t->db,
	    .now = day + 86400 + 200 };

	jt_eval(t->db, day + 100);
	jt_eval(t->db, mid + 100);
	assert_int_equal(report_mark_sent(&run, "dmarc", "example.org", day,
	    mid, "0123456789abcdef0123456789abcdef"), 0);
	assert_int_equal(dmarc_agg_run(&run, day, day + 86400), 0);
	assert_int_equal(run.sent, 1);
	assert_true(report_was_sent(&run, "dmarc", "example.org", mid));
	assert_int_equal(dmarc_agg_run(&run, day, day + 86400), 0);
	assert_int_equal(run.sent, 1);
	assert_int_equal(run.failed, 0);
}

/* Sessions counted on day (whatever their reporting state). */
static long long
jt_tls_count(struct db *db, long long day)
{
	struct db_tls_day d;
	long long n = 0;

	assert_int_equal(db_tls_results_day(db, day, &d), DB_OK);
	for (size_t i = 0; i < d.npolicy; i++)
		n += d.policy[i].successes + d.policy[i].failures;
	db_tls_day_clear(&d);
	return n;
}

/* TLS session results are pruned after the retention like DMARC
 * evaluations (they were kept forever); younger ones stay. */
static void
test_tls_results_pruned(void **state)
{
	struct jt *t = *state;
	long long old = t->now - 40 * 86400, young = t->now - 5 * 86400;
	char err[256];

	jt_tls(t->db, "example.org", old);
	jt_tls(t->db, "example.org", young);
	assert_int_equal(jt_tls_count(t->db, db_tls_day(old)), 1);
	assert_int_equal(report_job_run_keys(&t->c, NULL, t->now, 0, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(jt_tls_count(t->db, db_tls_day(old)), 0);
	assert_int_equal(jt_tls_count(t->db, db_tls_day(young)), 1);
}

/*
 * TLS-RPT, the same case as test_rest_of_period_after_now: a `--now` run
 * sent example.test's report of [day, mid), the watermark stayed at the
 * day's start. The day's run must report the sessions since (they were
 * skipped as sent and never reported), once.
 */
static void
test_tlsrpt_rest_of_period_after_now(void **state)
{
	struct jt *t = *state;
	long long day = report_period_start(t->now, 86400) - 86400;
	long long mid = day + 43200;
	struct report_run run = { .conf = &t->c, .db = t->db, .now = mid };
	char **dom;
	size_t n;

	if (t->ns.skip)
		skip();
	jt_tls(t->db, "example.test", day + 100);
	assert_int_equal(tlsrpt_run(&run, day, mid), 0);
	assert_int_equal(run.sent, 1);

	jt_tls(t->db, "example.test", mid + 100);
	run.now = day + 86400 + 200;
	assert_int_equal(tlsrpt_run(&run, day, day + 86400), 0);
	assert_int_equal(run.sent, 2);
	assert_true(report_was_sent(&run, "tlsrpt", "example.test", mid));
	assert_int_equal(db_tls_unreported_domains(t->db, db_tls_day(day),
	    &dom, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(tlsrpt_run(&run, day, day + 86400), 0);
	assert_int_equal(run.sent, 2);
	assert_int_equal(run.failed, 0);
}

/* A TLS-RPT POST to ns1.example.test (127.0.0.1) at port: 0 or -1 with
 * err. */
static int
jt_post(struct jt *t, unsigned port, char *err, size_t errlen)
{
	struct report_run run = { .conf = &t->c, .db = t->db, .now = t->now };
	char url[80];

	snprintf(url, sizeof(url), "https://ns1.example.test:%u/tlsrpt", port);
	err[0] = '\0';
	return report_https_post(&run, url, "application/tlsrpt+gzip",
	    "r.json.gz", "x", 1, err, errlen);
}

/* The HTTPS POST refuses a loopback address unless
 * fetch_private_addresses (the MTA-STS fetch's rule), and a server
 * whose certificate does not verify. */
static void
test_https_post_refused(void **state)
{
	struct jt *t = *state;
	char err[256], cmd[1024];
	unsigned port = 20000 + (unsigned)getpid() % 20000;
	FILE *fp;
	long pid = 0;

	if (t->ns.skip)
		skip();
	assert_int_equal(jt_post(t, port, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no usable address"));
	assert_non_null(strstr(err, "loopback"));

	/* A self-signed certificate for the right name. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -x509 -newkey "
	    "ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out "
	    "c.pem -days 1 -subj /CN=ns1.example.test -addext "
	    "subjectAltName=DNS:ns1.example.test >/dev/null 2>&1 && "
	    "{ openssl s_server -quiet -accept 127.0.0.1:%u -cert c.pem "
	    "-key k.pem -www </dev/null >/dev/null 2>&1 & echo $! >pid; } && "
	    "sleep 1", t->dir, port);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/pid", t->dir);
	assert_non_null(fp = fopen(cmd, "r"));
	assert_int_equal(fscanf(fp, "%ld", &pid), 1);
	fclose(fp);
	t->c.fetch_private_addresses = true;
	int rc = jt_post(t, port, err, sizeof(err));
	kill((pid_t)pid, SIGTERM);
	assert_int_equal(rc, -1);
	assert_null(strstr(err, "no usable address"));
	assert_non_null(strstr(err, "certificate"));	/* "self-signed" */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dead_holder_taken_over,
		    jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(test_live_holder_respected,
		    jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_holder_respected,
		    jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_other_node_holder_respected, jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(test_failure_reports_claimed,
		    jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(test_rest_of_period_after_now,
		    jt_setup, jt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_tlsrpt_rest_of_period_after_now, jt_setup_dns,
		    jt_teardown),
		cmocka_unit_test_setup_teardown(test_https_post_refused,
		    jt_setup_dns, jt_teardown),
		cmocka_unit_test_setup_teardown(test_tls_results_pruned,
		    jt_setup, jt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
