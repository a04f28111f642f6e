/* SPDX-License-Identifier: ISC */
/* The Prometheus text format of the metrics (see admin_prom.h). */
#include "web/admin_prom.h"

#include <inttypes.h>
#include <stdbool.h>

#include "core/buf.h"
#include "core/metrics.h"

/* The results each method can have (RFC 8601 §2.7). */
static const bool admin_prom_verdict_ok[METRICS_METHOD_N][METRICS_VERDICT_N] = {
	[METRICS_METHOD_SPF] = { true, true, true, true, true, false, true,
	    true },
	[METRICS_METHOD_DKIM] = { true, true, false, true, true, true, true,
	    true },
	[METRICS_METHOD_DMARC] = { true, true, false, false, true, false,
	    true, true },
};

int
admin_prom_escape(struct buf *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		int rc;
		if (*p == '\\')
			rc = buf_append_str(out, "\\\\");
		else if (*p == '"')
			rc = buf_append_str(out, "\\\"");
		else if (*p == '\n')
			rc = buf_append_str(out, "\\n");
		else
			rc = buf_append(out, p, 1);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
admin_prom_head(struct buf *out, const char *name, const char *type,
    const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One sample: name{k1="v1",k2="v2"} value (labels may be NULL). */
static int
admin_prom_sample(struct buf *out, const char *name, const char *k1,
    const char *v1, const char *k2, const char *v2, uint64_t value)
{
	int rc = buf_append_str(out, name);

	if (k1 != NULL) {
		rc |= buf_printf(out, "{%s=\"", k1);
		rc |= admin_prom_escape(out, v1);
		if (k2 != NULL) {
			rc |= buf_printf(out, "\",%s=\"", k2);
			rc |= admin_prom_escape(out, v2);
		}
		rc |= buf_append_str(out, "\"}");
	}
	rc |= buf_printf(out, " %" PRIu64 "\n", value);
	return rc ? -1 : 0;
}

/* A metric without labels. */
static int
admin_prom_single(struct buf *out, const char *name, const char *type,
    const char *help, uint64_t value)
{
	if (admin_prom_head(out, name, type, help) == -1)
		return -1;
	return admin_prom_sample(out, name, NULL, NULL, NULL, NULL, value);
}

/* A counter with one label over a fixed set of values. */
static int
admin_prom_family(struct buf *out, const char *name, const char *help,
    const char *label, const char *const *values, const uint64_t *counts,
    size_t n)
{
	int rc = admin_prom_head(out, name, "counter", help);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = admin_prom_sample(out, name, label, values[i], NULL, NULL,
		    counts[i]);
	return rc;
}

static int
admin_prom_dns(struct buf *out, const struct metrics_snapshot *s)
{
	static const char name[] = "sealmail_dns_query_duration_seconds";
	uint64_t cum = 0;
	int rc = admin_prom_head(out, name, "histogram", "Time from a DNS "
	    "query to its answer (or its deadline), in seconds.");

	for (int b = 0; rc == 0 && b <= METRICS_DNS_BUCKETS; b++) {
		cum += s->dns_buckets[b];
		if (b < METRICS_DNS_BUCKETS)
			rc = buf_printf(out, "%s_bucket{le=\"%u.%03u\"} %"
			    PRIu64 "\n", name, metrics_dns_bounds_ms[b] / 1000,
			    metrics_dns_bounds_ms[b] % 1000, cum);
		else
			rc = buf_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64
			    "\n", name, cum);
	}
	/* _count is the +Inf bucket: the snapshot's separate count may be
	 * off by the queries added while it read the buckets. */
	if (rc == 0)
		rc = buf_printf(out, "%s_sum %" PRIu64 ".%06" PRIu64 "\n"
		    "%s_count %" PRIu64 "\n", name, s->dns_sum_us / 1000000,
		    s->dns_sum_us % 1000000, name, cum);
	return rc;
}

static int
admin_prom_matrices(struct buf *out, const struct metrics_snapshot *s)
{
	static const char auth[] = "sealmail_auth_results_total";
	static const char dlv[] = "sealmail_deliveries_total";
	int rc = admin_prom_head(out, auth, "counter", "Inbound messages by "
	    "authentication method (spf, dkim, dmarc) and its result.");

	for (int m = 0; rc == 0 && m < METRICS_METHOD_N; m++)
		for (int v = 0; rc == 0 && v < METRICS_VERDICT_N; v++)
			if (admin_prom_verdict_ok[m][v])
				rc = admin_prom_sample(out, auth, "method",
				    metrics_method_names[m], "result",
				    metrics_verdict_names[v],
				    s->verdicts[m][v]);
	if (rc == 0)
		rc = admin_prom_head(out, dlv, "counter", "Delivery attempts "
		    "per recipient by result (delivered, deferred, bounced) "
		    "and TLS policy (dane, mta-sts, verify, encrypt, may, "
		    "none; local for local delivery).");
	for (int r = 0; rc == 0 && r < METRICS_RESULT_N; r++)
		for (int p = 0; rc == 0 && p < METRICS_POLICY_N; p++)
			rc = admin_prom_sample(out, dlv, "result",
			    metrics_result_names[r], "policy",
			    metrics_policy_names[p], s->deliveries[r][p]);
	return rc;
}

/* The queue's gauges; without a sample when the queue could not be read
 * (0 would say "empty" to an alert). */
static int
admin_prom_queue(struct buf *out, const struct metrics_snapshot *s)
{
	static const char n[] = "sealmail_queue_messages";
	static const char nh[] = "Messages in the queue now.";
	static const char a[] = "sealmail_queue_oldest_age_seconds";
	static const char ah[] = "Age of the oldest message in the queue "
	    "(0: empty).";
	uint64_t age = s->queue_oldest > 0 && s->now > s->queue_oldest ?
	    (uint64_t)(s->now - s->queue_oldest) : 0;

	if (!s->queue_known)
		return admin_prom_head(out, n, "gauge", nh) == -1 ||
		    admin_prom_head(out, a, "gauge", ah) == -1 ? -1 : 0;
	if (admin_prom_single(out, n, "gauge", nh, s->queue_messages) == -1 ||
	    admin_prom_single(out, a, "gauge", ah, age) == -1)
		return -1;
	return 0;
}

int
admin_prom_render(const struct metrics_snapshot *s, struct buf *out)
{
	if (admin_prom_single(out, "sealmail_connections_total", "counter",
	    "SMTP connections accepted on the mx and submission listeners.",
	    s->connections) == -1 ||
	    admin_prom_family(out, "sealmail_sessions_total", "Inbound SMTP "
	    "sessions ended, by TLS version (none: plaintext).", "tls",
	    metrics_tls_names, s->sessions, METRICS_TLS_N) == -1 ||
	    admin_prom_single(out, "sealmail_messages_accepted_total",
	    "counter", "Messages accepted (250 after the data).",
	    s->accepted) == -1 ||
	    admin_prom_family(out, "sealmail_messages_rejected_total",
	    "Senders, recipients and messages refused with a 5xx reply, by "
	    "reason.", "reason", metrics_reject_names, s->rejected,
	    METRICS_REJECT_N) == -1 ||
	    admin_prom_single(out, "sealmail_smtp_auth_failures_total",
	    "counter", "SMTP AUTH attempts refused.", s->auth_failures) == -1 ||
	    admin_prom_matrices(out, s) == -1 ||
	    admin_prom_queue(out, s) == -1 ||
	    admin_prom_dns(out, s) == -1 ||
	    admin_prom_single(out, "sealmail_resident_memory_bytes", "gauge",
	    "Resident memory of the master and its children.",
	    s->rss_bytes) == -1 ||
	    admin_prom_single(out, "sealmail_processes", "gauge", "The master "
	    "and its children.", s->processes) == -1)
		return -1;
	return 0;
}
