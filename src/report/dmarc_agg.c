/* SPDX-License-Identifier: ISC */
/*
 * DMARC aggregate reports (RFC 9990): per policy domain with evaluations
 * in the period and a rua, the XML report (written with libxml2's
 * xmlTextWriter, pure: dmarc_agg.h), gzipped and mailed to each mailto:
 * destination that RFC 9990 §4 allows.
 */
#include "report/dmarc_agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conf/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "report/report.h"
#include "report/report_gzip.h"
#include "report/xmllib.h"
#include "store/db.h"

/* The writer and the library it came from (libxml2 is loaded on first
 * use: report/xmllib.h). */
struct dmarc_agg_w {
	const struct xmllib	*x;
	xmlTextWriterPtr	 tw;
};

/* A compressed report past this is not sent (it would not be taken). */
#define DMARC_AGG_MAX		(16u * 1024 * 1024)
/* rua URIs tried per report (RFC 9989 keeps up to DMARC_URIS_MAX). */
#define DMARC_AGG_DEST_MAX	8

void
dmarc_agg_report_id(const char *receiver, const char *domain,
    long long begin, long long end, char out[DMARC_AGG_ID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *in = xasprintf("%s!%s!%lld!%lld", receiver, domain, begin, end);

	if (EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 16)
		memset(md, 0, 16);	/* not reached: SHA-256 is built in */
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	free(in);
}

/* The last second of [begin, end): RFC 9990's date_range example ends
 * a day at 23:59:59, and reports "SHOULD NOT overlap" (§3.1.1.4), so the
 * next period's begin must not be this one's end. */
static long long
dmarc_agg_last(long long begin, long long end)
{
	return end > begin ? end - 1 : end;
}

int
dmarc_agg_filename(const char *receiver, const char *domain,
    long long begin, long long end, const char *report_id, char *out,
    size_t outlen)
{
	int n = snprintf(out, outlen, "%s!%s!%lld!%lld!%s.xml.gz", receiver,
	    domain, begin, dmarc_agg_last(begin, end), report_id);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes) that XML 1.0
 * allows (§2.2 Char), or 0. */
static size_t
dmarc_agg_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' ||
		    s[0] == '\r' ? 1 : 0;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, U+FFFE/FFFF and beyond U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff || cp > 0x10ffff)
		return 0;
	return len;
}

/* <name>value</name>; bytes that XML cannot carry (store values come
 * from the network) become '?'. */
static int
dmarc_agg_el(struct dmarc_agg_w *w, const char *name, const char *value)
{
	size_t n = strlen(value), i = 0, k;
	char *clean = NULL;
	int rc;

	while (i < n) {
		if ((k = dmarc_agg_char((const unsigned char *)value + i,
		    n - i)) == 0) {
			if (clean == NULL)
				clean = xstrdup(value);
			clean[i] = '?';
			k = 1;
		}
		i += k;
	}
	rc = w->x->write_element(w->tw, BAD_CAST name, BAD_CAST (clean ?
	    clean : value)) < 0 ? -1 : 0;
	free(clean);
	return rc;
}

static int
dmarc_agg_el_num(struct dmarc_agg_w *w, const char *name, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	return w->x->write_element(w->tw, BAD_CAST name, BAD_CAST num) < 0 ?
	    -1 : 0;
}

static int
dmarc_agg_start(struct dmarc_agg_w *w, const char *name)
{
	return w->x->start_element(w->tw, BAD_CAST name) < 0 ? -1 : 0;
}

static int
dmarc_agg_end(struct dmarc_agg_w *w)
{
	return w->x->end_element(w->tw) < 0 ? -1 : 0;
}

/* v if it is one of the names allowed, else dflt (the schema's enums:
 * a value the store holds from an older version must not make the whole
 * report invalid). */
static const char *
dmarc_agg_enum(const char *v, const char *const *allowed, const char *dflt)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(v, *allowed) == 0)
			return v;
	return dflt;
}

static const char *const dmarc_agg_policies[] = { "none", "quarantine",
    "reject", NULL };
static const char *const dmarc_agg_align[] = { "r", "s", NULL };

static int
dmarc_agg_metadata(struct dmarc_agg_w *w, const struct dmarc_agg_meta *m)
{
	return dmarc_agg_start(w, "report_metadata") == -1 ||
	    dmarc_agg_el(w, "org_name", m->org_name) == -1 ||
	    dmarc_agg_el(w, "email", m->email) == -1 ||
	    dmarc_agg_el(w, "report_id", m->report_id) == -1 ||
	    dmarc_agg_start(w, "date_range") == -1 ||
	    dmarc_agg_el_num(w, "begin", m->begin) == -1 ||
	    dmarc_agg_el_num(w, "end", dmarc_agg_last(m->begin, m->end)) ==
	    -1 ||
	    dmarc_agg_end(w) == -1 ||
	    dmarc_agg_el(w, "generator", "sealmail") == -1 ||
	    dmarc_agg_end(w) == -1 ? -1 : 0;
}

static int
dmarc_agg_policy(struct dmarc_agg_w *w, const struct db_dmarc_policy *p)
{
	if (dmarc_agg_start(w, "policy_published") == -1 ||
	    dmarc_agg_el(w, "domain", p->domain) == -1 ||
	    dmarc_agg_el(w, "discovery_method", "treewalk") == -1 ||
	    dmarc_agg_el(w, "p", dmarc_agg_enum(p->p, dmarc_agg_policies,
	    "none")) == -1)
		return -1;
	if (p->sp[0] != '\0' && dmarc_agg_el(w, "sp", dmarc_agg_enum(p->sp,
	    dmarc_agg_policies, "none")) == -1)
		return -1;
	if (p->np[0] != '\0' && dmarc_agg_el(w, "np", dmarc_agg_enum(p->np,
	    dmarc_agg_policies, "none")) == -1)
		return -1;
	if (p->fo[0] != '\0' && dmarc_agg_el(w, "fo", p->fo) == -1)
		return -1;
	return dmarc_agg_el(w, "adkim", dmarc_agg_enum(p->adkim,
	    dmarc_agg_align, "r")) == -1 || dmarc_agg_el(w, "aspf",
	    dmarc_agg_enum(p->aspf, dmarc_agg_align, "r")) == -1 ||
	    dmarc_agg_el(w, "testing", p->testing ? "y" : "n") == -1 ||
	    dmarc_agg_end(w) == -1 ? -1 : 0;
}

/*
 * policy_evaluated: the disposition applied, DMARC-aligned results, and
 * why a failing message got less than the policy (RFC 9990 §3.1.6).
 */
static int
dmarc_agg_evaluated(struct dmarc_agg_w *w, const struct db_dmarc_record *r)
{
	const char *disp = dmarc_agg_enum(r->disposition, dmarc_agg_policies,
	    "none");
	bool failed = !r->dkim_aligned && !r->spf_aligned;
	const char *reason = NULL;

	if (failed && strcmp(disp, r->policy) != 0)
		reason = r->testing ? "policy_test_mode" : "local_policy";
	if (dmarc_agg_start(w, "policy_evaluated") == -1 ||
	    dmarc_agg_el(w, "disposition", disp) == -1 ||
	    dmarc_agg_el(w, "dkim", r->dkim_aligned ? "pass" : "fail") == -1 ||
	    dmarc_agg_el(w, "spf", r->spf_aligned ? "pass" : "fail") == -1)
		return -1;
	if (reason != NULL && (dmarc_agg_start(w, "reason") == -1 ||
	    dmarc_agg_el(w, "type", reason) == -1 || dmarc_agg_end(w) == -1))
		return -1;
	return dmarc_agg_end(w);
}

/* The domain of a stored envelope_from (older rows hold the address). */
static const char *
dmarc_agg_mfrom(const char *s)
{
	const char *at = strrchr(s, '@');

	return at ? at + 1 : s;
}

static int
dmarc_agg_auth(struct dmarc_agg_w *w, const struct db_dmarc_record *r)
{
	static const char *const dkim_res[] = { "none", "pass", "fail",
	    "policy", "neutral", "temperror", "permerror", NULL };
	static const char *const spf_res[] = { "none", "pass", "fail",
	    "softfail", "policy", "neutral", "temperror", "permerror", NULL };

	if (dmarc_agg_start(w, "auth_results") == -1)
		return -1;
	if (r->dkim_domain[0] != '\0' && (dmarc_agg_start(w, "dkim") == -1 ||
	    dmarc_agg_el(w, "domain", r->dkim_domain) == -1 ||
	    dmarc_agg_el(w, "selector", r->dkim_selector) == -1 ||
	    dmarc_agg_el(w, "result", dmarc_agg_enum(r->dkim_result,
	    dkim_res, "permerror")) == -1 || dmarc_agg_end(w) == -1))
		return -1;
	if (r->spf_domain[0] != '\0' && (dmarc_agg_start(w, "spf") == -1 ||
	    dmarc_agg_el(w, "domain", r->spf_domain) == -1 ||
	    dmarc_agg_el(w, "scope", "mfrom") == -1 ||
	    dmarc_agg_el(w, "result", dmarc_agg_enum(r->spf_result, spf_res,
	    "none")) == -1 || dmarc_agg_end(w) == -1))
		return -1;
	return dmarc_agg_end(w);
}

static int
dmarc_agg_record(struct dmarc_agg_w *w, const struct db_dmarc_record *r)
{
	const char *mfrom = dmarc_agg_mfrom(r->envelope_from);

	if (dmarc_agg_start(w, "record") == -1 ||
	    dmarc_agg_start(w, "row") == -1 ||
	    dmarc_agg_el(w, "source_ip", r->source_ip) == -1 ||
	    dmarc_agg_el_num(w, "count", r->count) == -1 ||
	    dmarc_agg_evaluated(w, r) == -1 || dmarc_agg_end(w) == -1 ||
	    dmarc_agg_start(w, "identifiers") == -1 ||
	    dmarc_agg_el(w, "header_from", r->header_from) == -1)
		return -1;
	if (mfrom[0] != '\0' && dmarc_agg_el(w, "envelope_from", mfrom) == -1)
		return -1;
	return dmarc_agg_end(w) == -1 || dmarc_agg_auth(w, r) == -1 ||
	    dmarc_agg_end(w) == -1 ? -1 : 0;
}

static int
dmarc_agg_write(struct dmarc_agg_w *w, const struct dmarc_agg_meta *m,
    const struct db_dmarc_policy *policy, const struct db_dmarc_record *rec,
    size_t n)
{
	if (w->x->set_indent(w->tw, 1) < 0 ||
	    w->x->start_document(w->tw, "1.0", "UTF-8", NULL) < 0 ||
	    w->x->start_element_ns(w->tw, NULL, BAD_CAST "feedback",
	    BAD_CAST DMARC_AGG_NS) < 0 ||
	    dmarc_agg_el(w, "version", "1.0") == -1 ||
	    dmarc_agg_metadata(w, m) == -1 || dmarc_agg_policy(w, policy) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (dmarc_agg_record(w, &rec[i]) == -1)
			return -1;
	return w->x->end_document(w->tw) < 0 ? -1 : 0;
}

int
dmarc_agg_xml(const struct dmarc_agg_meta *m,
    const struct db_dmarc_policy *policy, const struct db_dmarc_record *rec,
    size_t n, struct buf *out)
{
	const struct xmllib *x = xmllib_get();
	struct dmarc_agg_w w;
	xmlBufferPtr xb;
	int rc = -1;

	if (n == 0 || x == NULL || (xb = x->buffer_create()) == NULL)
		return -1;
	w.x = x;
	if ((w.tw = x->writer_memory(xb, 0)) == NULL) {
		x->buffer_free(xb);
		return -1;
	}
	rc = dmarc_agg_write(&w, m, policy, rec, n);
	x->free_writer(w.tw);	/* flushes into xb */
	if (rc == 0 && buf_append(out, x->buffer_content(xb),
	    (size_t)x->buffer_length(xb)) == -1)
		rc = -1;
	x->buffer_free(xb);
	return rc;
}

/* ---- the run --------------------------------------------------------- */

/* One report, made once and mailed to each destination. */
struct dmarc_agg_report {
	const char	*domain;
	const char	*receiver;
	long long	 begin, end;
	char		 id[DMARC_AGG_ID_LEN];
	char		 filename[600];
	struct buf	 gz;
};

/* Build the report of r->domain under policy pol into r->gz: 0, 1 when
 * there is nothing to report, -1 (logged) when it cannot be made. */
static int
dmarc_agg_build(struct report_run *run, struct dmarc_agg_report *r,
    const struct db_dmarc_policy *pol)
{
	const struct conf *c = run->conf;
	struct db_dmarc_record *rec = NULL;
	size_t n = 0;
	struct buf xml;
	int rc = -1;

	dmarc_agg_report_id(r->receiver, r->domain, r->begin, r->end, r->id);
	if (dmarc_agg_filename(r->receiver, r->domain, r->begin, r->end,
	    r->id, r->filename, sizeof(r->filename)) == -1)
		return -1;
	if (db_dmarc_records(run->db, r->domain, r->begin, r->end, &rec,
	    &n) != DB_OK) {
		log_warn("dmarc report %s: %s", r->domain, db_error(run->db));
		return -1;
	}
	struct dmarc_agg_meta m = { .org_name = c->reports_org_name,
	    .email = c->reports_from, .report_id = r->id, .begin = r->begin,
	    .end = r->end };
	buf_init(&xml, 4 * DMARC_AGG_MAX);
	if (n == 0)
		rc = 1;
	else if (dmarc_agg_xml(&m, pol, rec, n, &xml) == -1 ||
	    report_gzip(xml.data, xml.len, &r->gz) == -1)
		log_warn("dmarc report %s: too large or XML error", r->domain);
	else
		rc = 0;
	buf_clear(&xml);
	db_dmarc_records_free(rec, n);
	return rc;
}

/* Mail r to one destination; false when it should be tried again. */
static bool
dmarc_agg_send(struct report_run *run, const struct dmarc_agg_report *r,
    const char *to)
{
	char subject[1024], text[1024], err[512];
	struct report_attachment att = {
		.content_type = "application/gzip", .filename = r->filename,
		.data = r->gz.data, .len = r->gz.len, .base64 = true,
	};
	struct report_mail m = { .to = to, .subject = subject, .text = text,
	    .att = &att, .natt = 1 };

	/* RFC 9990 §3.5.2 dmarc-subject. */
	snprintf(subject, sizeof(subject), "Report Domain: %s Submitter: %s "
	    "Report-ID: <%s>", r->domain, r->receiver, r->id);
	snprintf(text, sizeof(text), "This is a DMARC aggregate report (RFC "
	    "9990) from %s for %s,\ncovering [%lld, %lld) (Unix time, UTC).\n"
	    "Report-ID: %s\n", r->receiver, r->domain, r->begin, r->end,
	    r->id);
	if (report_mail_send(run, &m, err, sizeof(err)) == -1) {
		log_warn("dmarc report %s not sent: %s", r->domain, err);
		run->failed++;
		return false;
	}
	return true;
}

/* Each mailto: of the rua list (other schemes ignored, duplicates once);
 * false if one must be tried again. */
static bool
dmarc_agg_deliver(struct report_run *run, const struct dmarc_agg_report *r,
    const char *rua)
{
	char seen[DMARC_AGG_DEST_MAX][400], uri[1024], esc[1100];
	size_t nseen = 0;
	bool ok = true;

	for (const char *p = rua; *p != '\0' && nseen < DMARC_AGG_DEST_MAX;) {
		size_t len = strcspn(p, ","), i;
		char *to = seen[nseen];

		snprintf(uri, sizeof(uri), "%.*s", (int)len, p);
		p += len + (p[len] == ',');
		if (report_mailto_addr(uri, to, sizeof(seen[0])) == -1) {
			log_info("dmarc report %s: rua %s ignored (not a "
			    "mailto: address)", r->domain, log_quote(uri,
			    strlen(uri), esc, sizeof(esc)));
			continue;
		}
		for (i = 0; i < nseen && strcmp(seen[i], to) != 0; i++)
			;
		if (i < nseen)
			continue;
		nseen++;
		switch (report_dest_check(run, r->domain, to)) {
		case REPORT_DEST_OK:
			ok &= dmarc_agg_send(run, r, to);
			break;
		case REPORT_DEST_TEMP:
			ok = false;
			break;
		case REPORT_DEST_REFUSED:
			break;
		}
	}
	return ok;
}

/* The report of one domain; false if it must be tried again. */
static bool
dmarc_agg_domain(struct report_run *run, const char *receiver,
    const char *domain, long long begin, long long end)
{
	struct dmarc_agg_report r = { .domain = domain, .receiver = receiver,
	    .begin = begin, .end = end };
	struct db_dmarc_policy pol;
	bool ok = true;
	int b;

	if (db_dmarc_policy_get(run->db, domain, &pol) != DB_OK) {
		db_dmarc_policy_clear(&pol);
		return true;	/* pruned meanwhile: nothing to send */
	}
	buf_init(&r.gz, DMARC_AGG_MAX);
	if ((b = dmarc_agg_build(run, &r, &pol)) == 0) {
		ok = dmarc_agg_deliver(run, &r, pol.rua);
		if (ok && run->to_dir == NULL && report_mark_sent(run, "dmarc",
		    domain, begin, end, r.id) == -1)
			ok = false;
	} else if (b == -1) {
		run->failed++;
		ok = false;
	}
	buf_clear(&r.gz);
	db_dmarc_policy_clear(&pol);
	return ok;
}

unsigned
dmarc_agg_run(struct report_run *run, long long begin, long long end)
{
	const char *from = run->conf->reports_from;
	const char *receiver = strrchr(from, '@') ? strrchr(from, '@') + 1 :
	    run->conf->hostname;
	char **dom;
	size_t n;
	unsigned failed = 0;

	if (db_dmarc_report_domains(run->db, begin, end, &dom, &n) != DB_OK) {
		log_warn("dmarc reports: %s", db_error(run->db));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		long long start = begin, until;

		/* A `--now` run that did not finish the period (another
		 * domain failed: the watermark stayed) sent its first part:
		 * now the rest, under its own begin. */
		if (db_report_sent_until(run->db, "dmarc", dom[i], begin, end,
		    &until) == DB_OK) {
			if (until >= end)
				continue;
			if (until > start)
				start = until;
		}
		if (!dmarc_agg_domain(run, receiver, dom[i], start, end))
			failed++;
	}
	db_strv_free(dom, n);
	return failed;
}
