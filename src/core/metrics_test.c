/* SPDX-License-Identifier: ISC */
/* Unit tests for core/metrics: counts made in a child process are seen by
 * the parent, the history and the failure ring, label mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"

static int
setup(void **state)
{
	(void)state;
	metrics_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	metrics_shutdown();
	return 0;
}

static void
test_metrics_off(void **state)
{
	struct metrics_snapshot s;

	(void)state;
	metrics_shutdown();
	/* Without the mapping (CLI commands) updates are no-ops. */
	metrics_accepted();
	metrics_delivery_failure(METRICS_BOUNCED, "a@b", "c");
	metrics_snapshot(&s, 1000);
	assert_false(metrics_enabled());
	assert_int_equal(s.accepted, 0);
	assert_int_equal(s.nfailures, 0);
	metrics_init();
}

/* Two children count at once; the parent sees every count. */
static void
test_metrics_shared_across_fork(void **state)
{
	struct metrics_snapshot *s = malloc(sizeof(*s));
	pid_t pid[2];
	int status;

	(void)state;
	for (int c = 0; c < 2; c++) {
		if ((pid[c] = fork()) == 0) {
			for (int i = 0; i < 1000; i++) {
				metrics_accepted();
				metrics_session(i % 2 ? "TLSv1.3" : NULL);
			}
			metrics_rejected(METRICS_REJECT_RECIPIENT);
			metrics_delivery(METRICS_DELIVERED, "dane", true, true);
			metrics_delivery(METRICS_DEFERRED, "may", false, false);
			metrics_delivery(METRICS_DELIVERED, NULL, false, false);
			metrics_verdict(METRICS_METHOD_DMARC, "pass");
			metrics_verdict(METRICS_METHOD_SPF, "bogus");
			metrics_dns_latency(3000);
			_exit(0);
		}
		assert_true(pid[c] > 0);
	}
	for (int c = 0; c < 2; c++) {
		assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	metrics_snapshot(s, (long long)time(NULL));
	assert_int_equal(s->accepted, 2000);
	assert_int_equal(s->sessions[METRICS_TLS_NONE], 1000);
	assert_int_equal(s->sessions[METRICS_TLS_13], 1000);
	assert_int_equal(s->rejected[METRICS_REJECT_RECIPIENT], 2);
	assert_int_equal(s->deliveries[METRICS_DELIVERED][METRICS_POLICY_DANE],
	    2);
	assert_int_equal(s->deliveries[METRICS_DEFERRED][METRICS_POLICY_MAY],
	    2);
	assert_int_equal(s->deliveries[METRICS_DELIVERED][METRICS_POLICY_LOCAL],
	    2);
	assert_int_equal(
	    s->verdicts[METRICS_METHOD_DMARC][METRICS_VERDICT_PASS], 2);
	/* An unknown result name is a permerror, never out of bounds. */
	assert_int_equal(
	    s->verdicts[METRICS_METHOD_SPF][METRICS_VERDICT_PERMERROR], 2);
	assert_int_equal(s->dns_count, 2);
	assert_int_equal(s->dns_buckets[1], 2);	/* 3 ms: le 5 ms */
	assert_int_equal(s->dns_sum_us, 6000);
	/* The current 10-minute bucket is the last one. */
	uint32_t *h = s->hist[METRICS_HIST_N - 1];
	assert_int_equal(h[METRICS_H_ACCEPTED], 2000);
	assert_int_equal(h[METRICS_H_REJECTED], 2);
	assert_int_equal(h[METRICS_H_IN_TLS], 1000);
	assert_int_equal(h[METRICS_H_IN_PLAIN], 1000);
	assert_int_equal(h[METRICS_H_IN_DMARC_PASS], 2);
	assert_int_equal(h[METRICS_H_OUT_AUTH], 2);
	assert_int_equal(h[METRICS_H_OUT_FAILED], 2);
	assert_int_equal(h[METRICS_H_OUT_ENC] + h[METRICS_H_OUT_PLAIN], 0);
	/* A day later the history has moved on, the totals have not. */
	metrics_snapshot(s, (long long)time(NULL) + 86400);
	assert_int_equal(s->hist[METRICS_HIST_N - 1][METRICS_H_ACCEPTED], 0);
	assert_int_equal(s->accepted, 2000);
	free(s);
}

static void
test_metrics_failure_ring(void **state)
{
	struct metrics_snapshot *s = malloc(sizeof(*s));
	char rcpt[32], long_reason[METRICS_FAIL_TEXT * 2];

	(void)state;
	memset(long_reason, 'x', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	for (int i = 0; i < METRICS_FAIL_N + 4; i++) {
		snprintf(rcpt, sizeof(rcpt), "u%d@example.org", i);
		metrics_delivery_failure(METRICS_DEFERRED, rcpt,
		    "451 4.7.0\r\nInjected: line");
	}
	metrics_delivery_failure(METRICS_BOUNCED, "last@example.org",
	    long_reason);
	metrics_snapshot(s, (long long)time(NULL));
	assert_int_equal(s->nfailures, METRICS_FAIL_N);
	/* Newest first, bounded, no line breaks. */
	assert_string_equal(s->failures[0].rcpt, "last@example.org");
	assert_int_equal(s->failures[0].result, METRICS_BOUNCED);
	assert_int_equal(strlen(s->failures[0].reason), METRICS_FAIL_TEXT);
	assert_string_equal(s->failures[1].rcpt, "u19@example.org");
	assert_string_equal(s->failures[1].reason,
	    "451 4.7.0  Injected: line");
	free(s);
}

static void
test_metrics_labels(void **state)
{
	(void)state;
	assert_int_equal(metrics_tls_from_text(NULL), METRICS_TLS_NONE);
	assert_int_equal(metrics_tls_from_text("TLSv1.2"), METRICS_TLS_12);
	assert_int_equal(metrics_tls_from_text("TLSv1.3"), METRICS_TLS_13);
	assert_int_equal(metrics_tls_from_text("TLSv1"), METRICS_TLS_OTHER);
	assert_int_equal(metrics_policy_from_text("dane-only"),
	    METRICS_POLICY_DANE);
	assert_int_equal(metrics_policy_from_text("mta-sts"),
	    METRICS_POLICY_MTASTS);
	assert_int_equal(metrics_policy_from_text(""), METRICS_POLICY_LOCAL);
	assert_int_equal(metrics_verdict_from_text("softfail"),
	    METRICS_VERDICT_SOFTFAIL);
}

/* Each process reports its own memory; readers sum the reports; a
 * reaped process is forgotten. */
static void
test_metrics_rss(void **state)
{
	uint64_t self = 0, total;
	unsigned n;
	int fds[2];
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(metrics_self_rss(&self), 0);
	assert_true(self > 1024 * 1024);
	assert_int_equal(metrics_rss(&n), 0);
	assert_int_equal(n, 0);
	metrics_rss_update();
	metrics_rss_update();		/* the same entry, not a second */
	assert_true(metrics_rss(&n) > 1024 * 1024);
	assert_int_equal(n, 1);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		metrics_rss_update();
		_exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	total = metrics_rss(&n);
	assert_int_equal(n, 2);
	assert_true(total > 2 * 1024 * 1024);
	waitpid(pid, NULL, 0);
	metrics_rss_forget(pid);
	metrics_rss(&n);
	assert_int_equal(n, 1);
}

/* A restart: history and failures put back into a fresh mapping are what
 * the next snapshot shows, new events count on top, totals start at 0. */
static void
test_metrics_restore(void **state)
{
	struct metrics_snapshot *in = calloc(1, sizeof(*in));
	struct metrics_snapshot *out = malloc(sizeof(*out));
	long long now = (long long)time(NULL);

	(void)state;
	metrics_shutdown();
	metrics_init();
	in->hist_start = metrics_hist_start(now);
	in->hist[0][METRICS_H_REJECTED] = 3;
	in->hist[METRICS_HIST_N - 1][METRICS_H_ACCEPTED] = 5;
	in->nfailures = 2;
	in->failures[0] = (struct metrics_failure){ now - 5, METRICS_BOUNCED,
	    "new@example.org", "550 5.1.1 <b>no</b>" };
	in->failures[1] = (struct metrics_failure){ now - 50,
	    METRICS_DEFERRED, "old@example.org", "451 4.4.1\r\nx" };
	metrics_restore(in);
	metrics_accepted();
	metrics_snapshot(out, now);
	assert_int_equal(out->accepted, 1);
	assert_int_equal(out->rejected[METRICS_REJECT_OTHER], 0);
	assert_int_equal(out->hist[0][METRICS_H_REJECTED], 3);
	assert_int_equal(out->hist[METRICS_HIST_N - 1][METRICS_H_ACCEPTED], 6);
	assert_int_equal(out->nfailures, 2);
	assert_string_equal(out->failures[0].rcpt, "new@example.org");
	assert_int_equal(out->failures[0].time, now - 5);
	assert_int_equal(out->failures[0].result, METRICS_BOUNCED);
	/* Control characters (a tampered store) are replaced again. */
	assert_string_equal(out->failures[1].reason, "451 4.4.1  x");
	/* The ring goes on after the restored entries. */
	metrics_delivery_failure(METRICS_DEFERRED, "next@example.org", "x");
	metrics_snapshot(out, now);
	assert_int_equal(out->nfailures, 3);
	assert_string_equal(out->failures[0].rcpt, "next@example.org");
	assert_string_equal(out->failures[2].rcpt, "old@example.org");
	free(in);
	free(out);
}

/* A clock near the epoch (a board without a real-time clock, before NTP):
 * the 24 h window then starts before time 0, and its buckets must still
 * map into the ring, not before the mapping (which held the totals). */
static void
test_metrics_clock_at_epoch(void **state)
{
	struct metrics_snapshot *in = calloc(1, sizeof(*in));
	struct metrics_snapshot *out = malloc(sizeof(*out));
	long long now = 1000;

	(void)state;
	metrics_shutdown();
	metrics_init();
	in->hist_start = metrics_hist_start(now);
	for (int k = 0; k < METRICS_HIST_N; k++)
		for (int i = 0; i < METRICS_H_N; i++)
			in->hist[k][i] = 7;
	metrics_restore(in);
	metrics_snapshot(out, now);
	assert_int_equal(out->connections, 0);
	assert_int_equal(out->accepted, 0);
	assert_int_equal(out->dns_count, 0);
	assert_int_equal(out->dns_sum_us, 0);
	for (int i = 0; i <= METRICS_DNS_BUCKETS; i++)
		assert_int_equal(out->dns_buckets[i], 0);
	for (int k = 0; k < METRICS_HIST_N; k++)
		assert_int_equal(out->hist[k][METRICS_H_ACCEPTED], 7);
	free(in);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_off),
		cmocka_unit_test(test_metrics_shared_across_fork),
		cmocka_unit_test(test_metrics_failure_ring),
		cmocka_unit_test(test_metrics_labels),
		cmocka_unit_test(test_metrics_rss),
		cmocka_unit_test(test_metrics_restore),
		cmocka_unit_test(test_metrics_clock_at_epoch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
