/* SPDX-License-Identifier: ISC */
/* The status page (see admin_status.h). */
#include "web/admin_status.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "store/db.h"

/* Hourly bars: the 10-minute buckets summed six at a time. */
#define ADMIN_HOURS		24
#define ADMIN_PER_HOUR		(METRICS_HIST_N / ADMIN_HOURS)
/* The chart's drawing area in SVG units (it scales to the page). */
#define ADMIN_CHART_W		480
#define ADMIN_CHART_H		120
#define ADMIN_SERIES_MAX	4

int
admin_status_escape(struct buf *out, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		const char *e = NULL;
		switch (*p) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: break;
		}
		/* Control characters have no business in the page. */
		if (e == NULL && ((unsigned char)*p < 0x20 || *p == 0x7f))
			e = " ";
		if ((e ? buf_append_str(out, e) : buf_append(out, p, 1)) == -1)
			return -1;
	}
	return 0;
}

static const char admin_status_css[] =
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60em;"
    "padding:.5em 1em;color:#222;background:#fafafa}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin:1.2em 0 .4em}"
    ".cards{display:flex;flex-wrap:wrap;gap:.6em}"
    ".card{background:#fff;border:1px solid #ddd;border-radius:6px;"
    "padding:.4em .7em;flex:1 1 8em}"
    ".big{font-size:1.4em;font-weight:600}"
    ".meter{background:#eee;height:.6em;border-radius:3px}"
    ".meter div{height:100%;border-radius:3px}"
    "svg{width:100%;height:auto;background:#fff;border:1px solid #ddd}"
    ".key span{display:inline-block;width:.8em;height:.8em;"
    "margin:0 .3em 0 .8em}"
    "table{border-collapse:collapse;width:100%;font-size:.9em}"
    "td,th{text-align:left;padding:.2em .4em;border-bottom:1px solid #ddd;"
    "word-break:break-word}"
    ".muted{color:#777}";

struct admin_series {
	const char		*name;
	const char		*color;
	enum metrics_hist	 field;
};

/* The hourly sums of history field f. */
static void
admin_status_hours(const struct metrics_snapshot *s, enum metrics_hist f,
    uint64_t *v)
{
	for (int h = 0; h < ADMIN_HOURS; h++) {
		v[h] = 0;
		for (int k = 0; k < ADMIN_PER_HOUR; k++)
			v[h] += s->hist[h * ADMIN_PER_HOUR + k][f];
	}
}

static uint64_t
admin_status_total(const struct metrics_snapshot *s, enum metrics_hist f)
{
	uint64_t t = 0;

	for (int k = 0; k < METRICS_HIST_N; k++)
		t += s->hist[k][f];
	return t;
}

/* A stacked bar chart of the last 24 hours, the oldest hour left. */
static int
admin_status_chart(struct buf *out, const struct metrics_snapshot *s,
    const char *title, const struct admin_series *sr, size_t n)
{
	uint64_t max = 1, v[ADMIN_SERIES_MAX][ADMIN_HOURS];
	int rc;

	if (n > ADMIN_SERIES_MAX)
		n = ADMIN_SERIES_MAX;
	for (size_t i = 0; i < n; i++)
		admin_status_hours(s, sr[i].field, v[i]);
	for (int h = 0; h < ADMIN_HOURS; h++) {
		uint64_t sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += v[i][h];
		if (sum > max)
			max = sum;
	}
	rc = buf_printf(out, "<svg viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"%s, last 24 hours\"><title>%s</title>"
	    "<line x1=\"0\" y1=\"10\" x2=\"%d\" y2=\"10\" stroke=\"#ddd\"/>"
	    "<text x=\"2\" y=\"22\" font-size=\"13\" fill=\"#777\">%" PRIu64
	    "</text>", ADMIN_CHART_W, ADMIN_CHART_H + 30, title, title,
	    ADMIN_CHART_W, max);
	for (int h = 0; rc == 0 && h < ADMIN_HOURS; h++) {
		double y = 10 + ADMIN_CHART_H;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			double bh = (double)v[i][h] * ADMIN_CHART_H /
			    (double)max;
			if (v[i][h] == 0)
				continue;
			y -= bh;
			rc = buf_printf(out, "<rect x=\"%d\" y=\"%.1f\" "
			    "width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>"
			    "%s: %" PRIu64 " (%d h ago)</title></rect>",
			    h * (ADMIN_CHART_W / ADMIN_HOURS) + 2, y,
			    ADMIN_CHART_W / ADMIN_HOURS - 4, bh, sr[i].color,
			    sr[i].name, v[i][h], ADMIN_HOURS - 1 - h);
		}
	}
	if (rc == 0)
		rc = buf_printf(out, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" "
		    "y2=\"%d\" stroke=\"#999\"/><g font-size=\"14\" "
		    "fill=\"#555\"><text x=\"2\" y=\"%d\">24 h ago</text>"
		    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">12 h"
		    "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">now"
		    "</text></g></svg><div class=\"key\">", 10 + ADMIN_CHART_H,
		    ADMIN_CHART_W, 10 + ADMIN_CHART_H, ADMIN_CHART_H + 27,
		    ADMIN_CHART_W / 2, ADMIN_CHART_H + 27, ADMIN_CHART_W - 2,
		    ADMIN_CHART_H + 27);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = buf_printf(out, "<span style=\"background:%s\"></span>%s",
		    sr[i].color, sr[i].name);
	return rc == 0 ? buf_append_str(out, "</div>") : -1;
}

/* A share: "part of whole" with a percentage and a meter. The two may
 * be counted at different moments (a DMARC pass when the checks end, the
 * acceptance after the commit, which can still fail): part is bounded by
 * whole. */
static int
admin_status_share(struct buf *out, const char *id, const char *label,
    uint64_t part, uint64_t whole, const char *color)
{
	unsigned pct;

	if (part > whole)
		part = whole;
	pct = whole ? (unsigned)(part * 100 / whole) : 0;

	if (whole == 0)
		return buf_printf(out, "<div class=\"card\">%s<div "
		    "class=\"big\" id=\"%s\">&mdash;</div><div "
		    "class=\"muted\">no traffic"
		    "</div></div>", label, id);
	return buf_printf(out, "<div class=\"card\">%s<div class=\"big\" "
	    "id=\"%s\">%u%%</div><div class=\"meter\"><div style=\"width:%u%%;"
	    "background:%s\"></div></div><div class=\"muted\">%" PRIu64
	    " of %" PRIu64 "</div></div>", label, id, pct, pct, color, part,
	    whole);
}

static int
admin_status_number(struct buf *out, const char *id, const char *label,
    uint64_t n)
{
	return buf_printf(out, "<div class=\"card\">%s<div class=\"big\" "
	    "id=\"%s\">%" PRIu64 "</div></div>", label, id, n);
}

static void
admin_status_age(long long secs, char *out, size_t outlen)
{
	if (secs < 60)
		snprintf(out, outlen, "%llds", secs);
	else if (secs < 3600)
		snprintf(out, outlen, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(out, outlen, "%lldh %lldm", secs / 3600,
		    secs % 3600 / 60);
	else
		snprintf(out, outlen, "%lldd %lldh", secs / 86400,
		    secs % 86400 / 3600);
}

static void
admin_status_time(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "%lld", t);
}

static int
admin_status_queue(struct buf *out, const struct metrics_snapshot *s)
{
	char age[32] = "none";

	if (s->queue_oldest > 0)
		admin_status_age(s->now > s->queue_oldest ?
		    s->now - s->queue_oldest : 0, age, sizeof(age));
	if (!s->queue_known)
		return buf_append_str(out, "<h2>Queue</h2><p class=\"muted\">"
		    "The queue could not be read.</p>");
	return buf_printf(out, "<h2>Queue</h2><div class=\"cards\">"
	    "<div class=\"card\">Messages<div class=\"big\" id=\"q-messages\">"
	    "%" PRIu64 "</div></div><div class=\"card\">Oldest<div "
	    "class=\"big\" id=\"q-oldest\">%s</div></div></div>",
	    s->queue_messages, age);
}

static int
admin_status_inbound(struct buf *out, const struct metrics_snapshot *s)
{
	static const struct admin_series msg[2] = {
		{ "accepted", "#2e7d32", METRICS_H_ACCEPTED },
		{ "rejected", "#c62828", METRICS_H_REJECTED },
	}, ses[2] = {
		{ "TLS", "#1565c0", METRICS_H_IN_TLS },
		{ "plaintext", "#ef6c00", METRICS_H_IN_PLAIN },
	};
	uint64_t acc = admin_status_total(s, METRICS_H_ACCEPTED);
	uint64_t tls = admin_status_total(s, METRICS_H_IN_TLS);
	uint64_t plain = admin_status_total(s, METRICS_H_IN_PLAIN);

	if (buf_append_str(out, "<h2>Inbound, last 24 h</h2>"
	    "<div class=\"cards\">") == -1 ||
	    admin_status_number(out, "in-accepted", "Accepted", acc) == -1 ||
	    admin_status_number(out, "in-rejected", "Rejected",
	    admin_status_total(s, METRICS_H_REJECTED)) == -1 ||
	    admin_status_share(out, "in-encrypted", "Sessions encrypted", tls,
	    tls + plain, "#1565c0") == -1 ||
	    admin_status_share(out, "in-authenticated", "Messages "
	    "authenticated (DMARC pass)", admin_status_total(s,
	    METRICS_H_IN_DMARC_PASS), acc, "#2e7d32") == -1 ||
	    buf_append_str(out, "</div><h3>Messages</h3>") == -1 ||
	    admin_status_chart(out, s, "Messages", msg, 2) == -1 ||
	    buf_append_str(out, "<h3>Sessions</h3>") == -1 ||
	    admin_status_chart(out, s, "Inbound sessions", ses, 2) == -1)
		return -1;
	return 0;
}

static int
admin_status_outbound(struct buf *out, const struct metrics_snapshot *s)
{
	static const struct admin_series d[4] = {
		{ "authenticated", "#2e7d32", METRICS_H_OUT_AUTH },
		{ "encrypted", "#1565c0", METRICS_H_OUT_ENC },
		{ "plaintext", "#ef6c00", METRICS_H_OUT_PLAIN },
		{ "failed", "#c62828", METRICS_H_OUT_FAILED },
	};
	uint64_t a = admin_status_total(s, METRICS_H_OUT_AUTH);
	uint64_t e = admin_status_total(s, METRICS_H_OUT_ENC);
	uint64_t p = admin_status_total(s, METRICS_H_OUT_PLAIN);

	if (buf_append_str(out, "<h2>Outbound, last 24 h</h2>"
	    "<div class=\"cards\">") == -1 ||
	    admin_status_number(out, "out-delivered", "Delivered (remote)",
	    a + e + p) == -1 ||
	    admin_status_number(out, "out-failed", "Deferred or bounced",
	    admin_status_total(s, METRICS_H_OUT_FAILED)) == -1 ||
	    admin_status_share(out, "out-encrypted", "Hops encrypted", a + e,
	    a + e + p, "#1565c0") == -1 ||
	    admin_status_share(out, "out-authenticated", "Hops authenticated "
	    "(DANE, MTA-STS, verify)", a, a + e + p, "#2e7d32") == -1 ||
	    buf_append_str(out, "</div>") == -1 ||
	    admin_status_chart(out, s, "Outbound deliveries", d, 4) == -1)
		return -1;
	return 0;
}

static int
admin_status_dmarc(struct buf *out, const struct admin_status *st)
{
	int rc = buf_append_str(out, "<h2>DMARC pass rate by sender domain, "
	    "last 24 h</h2>");

	if (rc == 0 && st->rates_failed)
		return buf_append_str(out, "<p class=\"muted\">The store could "
		    "not be read.</p>");
	if (rc == 0 && st->nrates == 0)
		return buf_append_str(out, "<p class=\"muted\">No message from "
		    "a domain with a DMARC policy.</p>");
	if (rc == 0)
		rc = buf_append_str(out, "<table id=\"dmarc\"><tr><th>Domain"
		    "</th><th>Pass</th><th>Messages</th><th>Rate</th></tr>");
	for (size_t i = 0; rc == 0 && i < st->nrates; i++) {
		const struct db_dmarc_rate *r = &st->rates[i];
		unsigned pct = r->total > 0 ? (unsigned)(r->pass * 100 /
		    r->total) : 0;
		rc = buf_append_str(out, "<tr><td>");
		rc |= admin_status_escape(out, r->domain);
		rc |= buf_printf(out, "</td><td>%lld</td><td>%lld</td><td>%u%%"
		    "<div class=\"meter\"><div style=\"width:%u%%;background:"
		    "#2e7d32\"></div></div></td></tr>", r->pass, r->total, pct,
		    pct);
	}
	return rc == 0 ? buf_append_str(out, "</table>") : -1;
}

static int
admin_status_failures(struct buf *out, const struct metrics_snapshot *s)
{
	char when[40];
	int rc = buf_append_str(out, "<h2>Recent delivery failures</h2>");

	if (rc == 0 && s->nfailures == 0)
		return buf_append_str(out, "<p class=\"muted\">None recorded "
		    "(kept across restarts).</p>");
	if (rc == 0)
		rc = buf_append_str(out, "<table id=\"failures\"><tr><th>When"
		    "</th><th>Result</th><th>Recipient</th><th>Reason</th>"
		    "</tr>");
	for (size_t i = 0; rc == 0 && i < s->nfailures; i++) {
		const struct metrics_failure *f = &s->failures[i];
		admin_status_time(f->time, when, sizeof(when));
		rc = buf_printf(out, "<tr><td>%s</td><td>%s</td><td>", when,
		    metrics_result_names[f->result]);
		rc |= admin_status_escape(out, f->rcpt);
		rc |= buf_append_str(out, "</td><td>");
		rc |= admin_status_escape(out, f->reason);
		rc |= buf_append_str(out, "</td></tr>");
	}
	return rc == 0 ? buf_append_str(out, "</table>") : -1;
}

int
admin_status_render(const struct admin_status *st, struct buf *out)
{
	const struct metrics_snapshot *s = st->snap;
	char now[40];

	admin_status_time(s->now, now, sizeof(now));
	if (buf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" content=\""
	    "width=device-width, initial-scale=1\"><title>sealmail status"
	    "</title><style>%s</style></head><body><h1>sealmail on ",
	    admin_status_css) == -1 ||
	    admin_status_escape(out, st->hostname ? st->hostname : "") == -1 ||
	    buf_printf(out, "</h1><p class=\"muted\">%s &middot; reload for "
	    "fresh numbers</p>", now) == -1 ||
	    admin_status_queue(out, s) == -1 ||
	    admin_status_inbound(out, s) == -1 ||
	    admin_status_outbound(out, s) == -1 ||
	    admin_status_dmarc(out, st) == -1 ||
	    admin_status_failures(out, s) == -1 ||
	    buf_printf(out, "<p class=\"muted\">Since the daemon started: %"
	    PRIu64 " accepted, %" PRIu64 " connections. Counters for "
	    "Prometheus: <a href=\"/metrics\">/metrics</a>.</p>"
	    "</body></html>\n", s->accepted, s->connections) == -1)
		return -1;
	return 0;
}
