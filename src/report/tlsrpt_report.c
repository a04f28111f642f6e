/* SPDX-License-Identifier: ISC */
/*
 * TLS-RPT reports sent (RFC 8460): tlsrpt_run (report.h) reports, per UTC
 * day of the period and per policy domain with sessions not yet reported,
 * the store's counts (db_tlsrpt.c) to every rua of the domain's
 * _smtp._tls TXT record: mailto: as a §5.3 multipart/report message,
 * https: as a §5.4 POST. The record, the JSON strings and the URIs are
 * untrusted (DNS, remote EHLO names).
 */
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/tlsrpt_record.h"
#include "conf/conf.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/log.h"
#include "dns/dns.h"
#include "report/report_gzip.h"
#include "report/tlsrpt_json.h"
#include "store/db.h"

#define TLSRPT_DNS_MS		10000
/* A compressed report above this is not sent (10 MB is a common
 * receiver limit, §5.2). */
#define TLSRPT_GZ_MAX		(8 * 1024 * 1024)

enum tlsrpt_lookup {
	TLSRPT_FOUND,
	TLSRPT_NONE,		/* no (single, valid) record: no reports */
	TLSRPT_TEMP,		/* DNS failed: try at the next run */
};

/* The one TLSRPT record at _smtp._tls.DOMAIN (§3: records not starting
 * with v=TLSRPTv1 are discarded; if not exactly one is left, none). */
static enum tlsrpt_lookup
tlsrpt_lookup(const struct conf *c, const char *domain,
    struct tlsrpt_record *rec)
{
	char name[LIMIT_DOMAIN + 16];
	struct dns_answer *a = NULL;
	const struct dns_rr *found = NULL;
	size_t n = 0;
	enum tlsrpt_lookup res = TLSRPT_NONE;

	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	if (dns_query_sync(c, name, DNS_T_TXT, TLSRPT_DNS_MS, &a) == -1)
		return TLSRPT_NONE;
	if (a->rcode != DNS_RCODE_NOERROR && a->rcode != DNS_RCODE_NXDOMAIN) {
		dns_answer_free(a);
		return TLSRPT_TEMP;
	}
	for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR &&
	    a->sec != DNS_SEC_BOGUS && i < a->nrr; i++) {
		const struct dns_rr *rr = &a->rr[i];
		if (rr->type == DNS_T_TXT && tlsrpt_record_is_tlsrpt(
		    rr->u.txt.text, rr->u.txt.len)) {
			found = rr;
			n++;
		}
	}
	if (n == 1 && tlsrpt_record_parse(found->u.txt.text, found->u.txt.len,
	    rec) == TLSRPT_RECORD_OK)
		res = TLSRPT_FOUND;
	dns_answer_free(a);
	return res;
}

/* One report, built once and sent to each rua. */
struct tlsrpt_out {
	const char	*domain;
	char		 submitter[LIMIT_DOMAIN + 1];
	char		 report_id[IDS_QID_LEN + LIMIT_DOMAIN + 2];
	char		 filename[2 * LIMIT_DOMAIN + 80];
	char		 subject[3 * LIMIT_DOMAIN + 80];
	struct buf	 gz;
	long long	 begin, end;
};

static int
tlsrpt_mailto(struct report_run *run, const struct tlsrpt_out *o,
    const char *uri, char *err, size_t errlen)
{
	char to[LIMIT_PATH + 1], h_domain[LIMIT_DOMAIN + 32],
	    h_submitter[LIMIT_DOMAIN + 32], text[2 * LIMIT_DOMAIN + 128];
	/* §5.3 ends: "when sending failure reports via SMTP, Sending MTAs
	 * MUST NOT honor MTA-STS or DANE TLSA failures": our own delivery
	 * reads TLS-Required: No (RFC 8689) and relaxes its policy, or a
	 * domain whose TLS is broken would never hear about it. */
	const char *headers[] = { h_domain, h_submitter, "TLS-Required: No" };
	struct report_attachment att = {
		.content_type = "application/tlsrpt+gzip",
		.filename = o->filename, .data = o->gz.data, .len = o->gz.len,
		.base64 = true,
	};

	if (report_mailto_addr(uri, to, sizeof(to)) == -1) {
		snprintf(err, errlen, "not a usable mailto: URI");
		return -1;
	}
	snprintf(h_domain, sizeof(h_domain), "TLS-Report-Domain: %s",
	    o->domain);
	snprintf(h_submitter, sizeof(h_submitter), "TLS-Report-Submitter: %s",
	    o->submitter);
	snprintf(text, sizeof(text), "This is an aggregate TLS report "
	    "(RFC 8460) from %s about %s.\r\n", o->submitter, o->domain);
	struct report_mail m = {
		.to = to, .subject = o->subject, .report_type = "tlsrpt",
		.headers = headers, .nheaders = 3, .text = text,
		.att = &att, .natt = 1,
	};
	return report_mail_send(run, &m, err, errlen);
}

/* Send o to every rua; the number that failed. */
static unsigned
tlsrpt_send(struct report_run *run, const struct tlsrpt_out *o,
    const struct tlsrpt_record *rec)
{
	char err[256], q[LOG_QUOTE_SIZE(TLSRPT_URI_MAX)],
	    eq[LOG_QUOTE_SIZE(256)];
	unsigned failed = 0;

	for (size_t i = 0; i < rec->nrua; i++) {
		const char *uri = rec->rua[i];
		int rc;

		err[0] = '\0';
		if (strncmp(uri, "https:", 6) == 0)
			rc = report_https_post(run, uri,
			    "application/tlsrpt+gzip", o->filename, o->gz.data,
			    o->gz.len, err, sizeof(err));
		else
			rc = tlsrpt_mailto(run, o, uri, err, sizeof(err));
		log_quote(uri, strlen(uri), q, sizeof(q));
		if (rc == 0)
			log_info("tlsrpt report %s domain=%s rua=%s "
			    "report_id=%s", run->to_dir ? "written" : "sent",
			    o->domain, q, o->report_id);
		else {
			failed++;
			log_warn("tlsrpt report failed domain=%s rua=%s: %s",
			    o->domain, q, log_quote(err, strlen(err), eq,
			    sizeof(eq)));
		}
	}
	return failed;
}

/* Build the report of d (the claimed counts of one domain) into o. */
static int
tlsrpt_build(struct report_run *run, struct tlsrpt_out *o,
    const struct db_tls_day *d)
{
	const struct conf *c = run->conf;
	const char *at = strrchr(c->reports_from, '@');
	char unique[IDS_QID_LEN + 1];
	struct tlsrpt_meta m;
	char *json;
	int rc;

	snprintf(o->submitter, sizeof(o->submitter), "%s", at ? at + 1 :
	    c->hostname);
	ids_qid_new(unique);
	snprintf(o->report_id, sizeof(o->report_id), "%s@%s", unique,
	    o->submitter);
	m = (struct tlsrpt_meta){ c->reports_org_name, c->reports_from,
	    o->report_id, o->begin, o->end };
	json = tlsrpt_json_report(&m, d->policy, d->npolicy);
	buf_init(&o->gz, TLSRPT_GZ_MAX);
	rc = report_gzip(json, strlen(json), &o->gz);
	free(json);
	if (rc == 0)
		rc = tlsrpt_json_filename(o->submitter, o->domain, o->begin,
		    o->end, unique, o->filename, sizeof(o->filename));
	if (rc == 0)
		rc = tlsrpt_json_subject(o->domain, o->submitter,
		    o->report_id, o->subject, sizeof(o->subject));
	return rc;
}

/* The report recorded as sent and its sessions as reported, in one
 * transaction: a crash between the two would report the sessions again
 * after a partial-period run. */
static bool
tlsrpt_mark(struct report_run *run, long long day, const char *domain,
    long long begin, long long end, const char *report_id)
{
	bool ok;

	if (db_begin(run->db) != DB_OK)
		return false;
	ok = report_mark_sent(run, "tlsrpt", domain, begin, end,
	    report_id) == 0 && db_tls_mark_reported(run->db, day, domain) ==
	    DB_OK;
	return db_end(run->db, ok) == DB_OK;
}

/* The report about domain for the part [begin, end) of UTC day `day`;
 * the number of destinations that failed. */
static unsigned
tlsrpt_domain(struct report_run *run, long long day, const char *domain,
    long long begin, long long end)
{
	struct tlsrpt_record rec;
	struct tlsrpt_out o = { .domain = domain, .begin = begin,
	    .end = end };
	struct db_tls_day d;
	unsigned failed = 0;
	bool dry = run->to_dir != NULL;
	long long until;

	/* A `--now` run that did not finish the period (another domain
	 * failed: the watermark stayed) sent its first part: the sessions
	 * since (the rows say which) under their own begin. Sent for the
	 * whole period by a run that stopped before marking the rows: mark. */
	if (!dry && db_report_sent_until(run->db, "tlsrpt", domain, begin, end,
	    &until) == DB_OK) {
		if (until >= end)
			return db_tls_mark_reported(run->db, day, domain) ==
			    DB_OK ? 0 : 1;
		if (until > begin)
			o.begin = begin = until;
	}
	switch (tlsrpt_lookup(run->conf, domain, &rec)) {
	case TLSRPT_TEMP:
		log_warn("tlsrpt no report domain=%s: DNS lookup of "
		    "_smtp._tls failed, next run retries", domain);
		return 1;
	case TLSRPT_NONE:
		/* Nobody to tell: these sessions are done with. */
		if (!dry)
			db_tls_claim(run->db, day, domain);
		if (!dry && db_tls_mark_reported(run->db, day, domain) != DB_OK)
			return 1;
		return 0;
	case TLSRPT_FOUND:
		break;
	}
	/* Claiming does not change what is reported, so a dry run may. */
	if (db_tls_claim(run->db, day, domain) != DB_OK ||
	    db_tls_results_claimed(run->db, day, domain, &d) != DB_OK) {
		log_warn("tlsrpt no report domain=%s: %s", domain,
		    db_error(run->db));
		return 1;
	}
	if (d.npolicy > 0 && tlsrpt_build(run, &o, &d) == -1) {
		log_warn("tlsrpt no report domain=%s: too large", domain);
		failed = 1;
	} else if (d.npolicy > 0) {
		failed = tlsrpt_send(run, &o, &rec);
		/* One destination reached is a report sent: a retry would
		 * send it again to those that got it. */
		if (!dry && failed < rec.nrua && !tlsrpt_mark(run, day,
		    domain, begin, end, o.report_id))
			log_warn("tlsrpt report domain=%s not marked as sent: "
			    "%s", domain, db_error(run->db));
	}
	buf_clear(&o.gz);
	db_tls_day_clear(&d);
	return failed;
}

unsigned
tlsrpt_run(struct report_run *run, long long begin, long long end)
{
	unsigned failed = 0;

	if (end <= begin)
		return 0;
	for (long long day = db_tls_day(begin); day <= db_tls_day(end - 1);
	    day++) {
		long long db = day * 86400, de = db + 86400;
		char **dom;
		size_t n;

		if (db_tls_unreported_domains(run->db, day, &dom, &n) !=
		    DB_OK) {
			log_warn("tlsrpt cannot read results: %s",
			    db_error(run->db));
			return failed + 1;
		}
		for (size_t i = 0; i < n; i++)
			failed += tlsrpt_domain(run, day, dom[i],
			    db > begin ? db : begin, de < end ? de : end);
		db_strv_free(dom, n);
	}
	return failed;
}
