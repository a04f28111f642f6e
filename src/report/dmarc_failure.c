/* SPDX-License-Identifier: ISC */
/*
 * dmarc_failure_run (report.h): the failure reports the SMTP workers
 * recorded (db_dmarc_failure_defer), each sent to every ruf of its
 * policy record that passes the external destination check (RFC 9991 §5)
 * and the per-destination hourly limit ([reports] failure_reports_per_hour,
 * counted in the store so that restarts do not reset it), then deleted.
 * A report over the limit is dropped, never delayed: failure reports are
 * only useful fresh, and a backlog would be a flood.
 */
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "report/dmarc_failure.h"
#include "store/db.h"

/* Rows handled per run (the runner calls again a minute later). */
#define DMARC_FAILURE_BATCH	500
/* A row whose destinations stay unverifiable (DNS) is given up after. */
#define DMARC_FAILURE_MAX_AGE	86400

struct dmarc_failure_count {
	unsigned	 sent, dropped, refused, failed;
	bool		 retry;		/* keep the row: DNS failed */
};

static bool
dmarc_failure_ascii(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] >= 0x80)
			return false;
	return true;
}

/* Send the report of f to one ruf URI. */
static void
dmarc_failure_one(struct report_run *run, const struct db_dmarc_failure *f,
    const char *uri, struct dmarc_failure_count *n)
{
	const struct conf *c = run->conf;
	char to[LIMIT_PATH + 1], err[256], q[LOG_QUOTE_SIZE(LIMIT_PATH)];
	struct dmarc_failure_arf arf;
	long long hour = run->now / 3600;

	if (report_mailto_addr(uri, to, sizeof(to)) == -1) {
		n->refused++;
		return;
	}
	log_quote(to, strlen(to), q, sizeof(q));
	switch (report_dest_check(run, f->policy_domain, to)) {
	case REPORT_DEST_OK:
		break;
	case REPORT_DEST_REFUSED:
		log_info("dmarc failure report not sent domain=%s to=%s: "
		    "external destination not authorised", f->policy_domain,
		    q);
		n->refused++;
		return;
	case REPORT_DEST_TEMP:
		n->retry = true;
		return;
	}
	if (run->to_dir == NULL && !db_report_rate_take(run->db, to, hour,
	    c->reports_failure_per_hour, hour - 24)) {
		log_info("dmarc failure report dropped domain=%s to=%s: over "
		    "%u per hour", f->policy_domain, q,
		    c->reports_failure_per_hour);
		n->dropped++;
		return;
	}
	if (dmarc_failure_arf_build(f, f->auth_failure, "sealmail",
	    &arf) == -1) {
		n->failed++;
		dmarc_failure_arf_clear(&arf);
		return;
	}
	struct report_attachment att[2] = {
		{ "message/feedback-report", NULL, arf.feedback.data,
		  arf.feedback.len, false },
		{ "text/rfc822-headers", NULL, arf.headers.data,
		  arf.headers.len, !dmarc_failure_ascii(&arf.headers) },
	};
	struct report_mail m = {
		.to = to, .subject = arf.subject,
		.report_type = "feedback-report",
		.text = (const char *)arf.text.data, .att = att, .natt = 2,
	};
	if (report_mail_send(run, &m, err, sizeof(err)) == -1) {
		log_warn("dmarc failure report failed domain=%s to=%s: %s",
		    f->policy_domain, q, err);
		n->failed++;
	} else
		n->sent++;
	dmarc_failure_arf_clear(&arf);
}

/* Every ruf of f; true when the row is done with. */
static bool
dmarc_failure_row(struct report_run *run, const struct db_dmarc_failure *f,
    struct dmarc_failure_count *n)
{
	char *rufs = xstrdup(f->ruf), *uri, *save = NULL;

	n->retry = false;
	for (uri = strtok_r(rufs, "\n", &save); uri != NULL;
	    uri = strtok_r(NULL, "\n", &save))
		dmarc_failure_one(run, f, uri, n);
	free(rufs);
	return !n->retry || run->now - f->time > DMARC_FAILURE_MAX_AGE;
}

unsigned
dmarc_failure_run(struct report_run *run)
{
	struct dmarc_failure_count n = { 0 };
	struct db_dmarc_failure *v;
	size_t nv;

	if (db_dmarc_failures_list(run->db, DMARC_FAILURE_BATCH, &v, &nv) !=
	    DB_OK) {
		log_warn("dmarc failure reports: %s", db_error(run->db));
		return 1;
	}
	for (size_t i = 0; i < nv; i++) {
		bool done;

		/* Switched off since they were recorded: not sent. */
		if (!run->conf->reports_dmarc_failure)
			done = true;
		else
			done = dmarc_failure_row(run, &v[i], &n);
		if (done && run->to_dir == NULL &&
		    db_dmarc_failure_del(run->db, v[i].id) != DB_OK)
			log_warn("dmarc failure report not deleted: %s",
			    db_error(run->db));
	}
	if (nv > 0)
		log_info("dmarc failure reports rows=%zu sent=%u "
		    "dropped_rate=%u refused=%u failed=%u%s", nv, n.sent,
		    n.dropped, n.refused, n.failed,
		    run->conf->reports_dmarc_failure ? "" :
		    " (dmarc_failure_reports = no: discarded)");
	db_dmarc_failures_free(v, nv);
	return n.failed;
}
