/* SPDX-License-Identifier: ISC */
/* Unit tests for web/admin_prom: the exposition of a known snapshot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "web/admin_prom.h"

static char *
render(const struct metrics_snapshot *s)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(admin_prom_render(s, &b), 0);
	return buf_take(&b);
}

static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("missing line: %s", line);
}

static void
test_prom_values(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	char *t;

	(void)state;
	s->now = 10000;
	s->accepted = 3;
	s->connections = 7;
	s->sessions[METRICS_TLS_13] = 2;
	s->rejected[METRICS_REJECT_RECIPIENT] = 1;
	s->deliveries[METRICS_DELIVERED][METRICS_POLICY_LOCAL] = 2;
	s->deliveries[METRICS_DEFERRED][METRICS_POLICY_MTASTS] = 1;
	s->verdicts[METRICS_METHOD_DKIM][METRICS_VERDICT_PASS] = 4;
	s->dns_buckets[0] = 2;
	s->dns_buckets[3] = 1;
	s->dns_buckets[METRICS_DNS_BUCKETS] = 1;
	s->dns_count = 4;
	s->dns_sum_us = 6500123;
	s->queue_known = true;
	s->queue_messages = 5;
	s->queue_oldest = 9000;
	s->rss_bytes = 123456;
	t = render(s);
	assert_line(t, "# TYPE sealmail_messages_accepted_total counter");
	assert_line(t, "sealmail_messages_accepted_total 3");
	assert_line(t, "sealmail_connections_total 7");
	assert_line(t, "sealmail_sessions_total{tls=\"TLSv1.3\"} 2");
	assert_line(t, "sealmail_sessions_total{tls=\"none\"} 0");
	assert_line(t, "sealmail_messages_rejected_total"
	    "{reason=\"recipient\"} 1");
	assert_line(t, "sealmail_messages_rejected_total{reason=\"dmarc\"} 0");
	assert_line(t, "sealmail_deliveries_total{result=\"delivered\","
	    "policy=\"local\"} 2");
	assert_line(t, "sealmail_deliveries_total{result=\"deferred\","
	    "policy=\"mta-sts\"} 1");
	assert_line(t, "sealmail_auth_results_total{method=\"dkim\","
	    "result=\"pass\"} 4");
	/* DMARC has no softfail. */
	assert_null(strstr(t, "method=\"dmarc\",result=\"softfail\""));
	assert_line(t, "# TYPE sealmail_queue_messages gauge");
	assert_line(t, "sealmail_queue_messages 5");
	assert_line(t, "sealmail_queue_oldest_age_seconds 1000");
	/* Buckets are cumulative, +Inf is the count. */
	assert_line(t, "sealmail_dns_query_duration_seconds_bucket"
	    "{le=\"0.001\"} 2");
	assert_line(t, "sealmail_dns_query_duration_seconds_bucket"
	    "{le=\"0.025\"} 3");
	assert_line(t, "sealmail_dns_query_duration_seconds_bucket"
	    "{le=\"5.000\"} 3");
	assert_line(t, "sealmail_dns_query_duration_seconds_bucket"
	    "{le=\"+Inf\"} 4");
	assert_line(t, "sealmail_dns_query_duration_seconds_sum 6.500123");
	assert_line(t, "sealmail_dns_query_duration_seconds_count 4");
	assert_line(t, "sealmail_resident_memory_bytes 123456");
	/* Every family is ours and has its HELP before its TYPE. */
	for (const char *p = t; (p = strstr(p, "# TYPE ")) != NULL; p++) {
		assert_memory_equal(p + 7, "sealmail_", 9);
		const char *end = strchr(p + 7, ' ');
		char help[128];
		snprintf(help, sizeof(help), "# HELP %.*s ",
		    (int)(end - (p + 7)), p + 7);
		assert_non_null(strstr(t, help));
		assert_true(strstr(t, help) < p);
	}
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
	free(s);
}

static void
test_prom_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(admin_prom_escape(&b, "a\"b\\c\nd"), 0);
	assert_string_equal(buf_cstr(&b), "a\\\"b\\\\c\\nd");
	buf_clear(&b);
}

/* A full buffer is an error, not a truncated page. */
static void
test_prom_bound(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(admin_prom_render(s, &b), -1);
	buf_clear(&b);
	free(s);
}

/* The snapshot reads the buckets and the count one relaxed load at a
 * time while other processes add (bucket, then count): the two can
 * disagree by the queries in flight. A histogram's _count is its +Inf
 * bucket, whatever the separate counter said. */
static void
test_prom_histogram_count(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	char *t;

	(void)state;
	s->dns_buckets[0] = 2;
	s->dns_buckets[METRICS_DNS_BUCKETS] = 1;
	s->dns_count = 5;	/* two more counted after the buckets' read */
	t = render(s);
	assert_line(t, "sealmail_dns_query_duration_seconds_bucket"
	    "{le=\"+Inf\"} 3");
	assert_line(t, "sealmail_dns_query_duration_seconds_count 3");
	free(t);
	free(s);
}

/* A queue that could not be read is not an empty queue: an alert on the
 * queue's size or age must not see 0 then. The family stays, without a
 * sample. */
static void
test_prom_queue_unknown(void **state)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	char *t;

	(void)state;
	s->now = 10000;
	s->queue_known = false;
	t = render(s);
	assert_line(t, "# TYPE sealmail_queue_messages gauge");
	assert_null(strstr(t, "\nsealmail_queue_messages "));
	assert_null(strstr(t, "\nsealmail_queue_oldest_age_seconds "));
	assert_line(t, "sealmail_processes 0");
	free(t);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_values),
		cmocka_unit_test(test_prom_escape),
		cmocka_unit_test(test_prom_bound),
		cmocka_unit_test(test_prom_histogram_count),
		cmocka_unit_test(test_prom_queue_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
