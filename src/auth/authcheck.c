/* SPDX-License-Identifier: ISC */
/*
 * The inbound authentication pipeline (see authcheck.h). SPF runs from the
 * start; DKIM hashes the body as it streams; at the end DKIM fetches its
 * keys, DMARC waits for both, BIMI for DMARC. Every step is a module of its
 * own; this file only sequences them and turns their results into one
 * Authentication-Results field.
 */
#include "auth/authcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "auth/bimi.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_verify.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/idna.h"
#include "msg/rfc5322_headers.h"

/* DKIM signatures shown and handed to DMARC (dkim_verify caps at 8). */
#define AUTHCHECK_DKIM_MAX	8

struct authcheck {
	struct event_base	*base;
	struct dns_resolver	*res;
	char			*authserv_id;
	char			*helo;
	struct event		*ev;		/* deferred wait_spf callback */

	struct spf_query	*spfq;
	struct spf_outcome	 spf;
	bool			 spf_done;
	authcheck_cb		*spf_cb;
	void			*spf_arg;

	struct dkim_verify	*dkim;
	bool			 dkim_done;
	struct arc_verify	*arc;
	bool			 arc_done;
	char			 ip_text[64];	/* smtp.remote-ip */

	/* What the header section told us. */
	char			 from_domains[DMARC_AUTHORS_MAX][DMARC_DOMAIN_MAX];
	int			 nfrom_domains;	/* -1: From: did not parse */
	size_t			 nfrom_addrs;
	char			 from_local[LIMIT_LOCAL_PART * 2 + 3];
	char			 bimi_selector[BIMI_SELECTOR_MAX + 1];

	struct dmarc_eval	*dmarcq;
	struct dmarc_verdict	*dmarc;
	bool			 dmarc_started;
	struct bimi_lookup	*bimiq;
	struct bimi_outcome	*bimi;
	const char		*bimi_why;	/* skipped: why */
	bool			 bimi_decided;

	bool			 finishing;
	authcheck_cb		*cb;
	void			*arg;
};

static void authcheck_advance(struct authcheck *ac);

static void
authcheck_spf_cb(const struct spf_outcome *out, void *arg)
{
	struct authcheck *ac = arg;

	ac->spf = *out;
	ac->spf_done = true;
	ac->spfq = NULL;
	if (ac->spf_cb) {
		authcheck_cb *cb = ac->spf_cb;
		ac->spf_cb = NULL;
		/* The callback may free ac only if we are not finishing;
		 * the session never waits for both at once. */
		cb(ac, ac->spf_arg);
		return;
	}
	if (ac->finishing)
		authcheck_advance(ac);
}

struct authcheck *
authcheck_new(struct event_base *base, struct dns_resolver *res,
    const struct authcheck_params *p)
{
	struct authcheck *ac = xcalloc(1, sizeof(*ac));
	struct spf_request req = {
		.ip = p->ip,
		.helo = p->helo,
		.mail_from = p->mail_from,
		.receiver = p->authserv_id,
	};

	ac->base = base;
	ac->res = res;
	ac->authserv_id = xstrdup(p->authserv_id);
	ac->helo = p->helo ? xstrdup(p->helo) : NULL;
	ac->nfrom_domains = 0;
	if (p->ip->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    p->ip)->sin_addr, ac->ip_text, sizeof(ac->ip_text));
	else if (p->ip->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
		    p->ip)->sin6_addr, ac->ip_text, sizeof(ac->ip_text));
	ac->spfq = spf_check_start(base, res, &req, authcheck_spf_cb, ac);
	if (ac->spfq == NULL) {
		/* Not an IP client (a local injection): nothing to check. */
		ac->spf.result = SPF_NONE;
		snprintf(ac->spf.problem, sizeof(ac->spf.problem),
		    "no client address");
		ac->spf_done = true;
	}
	return ac;
}

void
authcheck_free(struct authcheck *ac)
{
	if (ac == NULL)
		return;
	spf_cancel(ac->spfq);
	dkim_verify_free(ac->dkim);
	arc_verify_free(ac->arc);
	dmarc_eval_cancel(ac->dmarcq);
	dmarc_verdict_free(ac->dmarc);
	bimi_lookup_cancel(ac->bimiq);
	bimi_outcome_free(ac->bimi);
	if (ac->ev)
		event_free(ac->ev);
	free(ac->authserv_id);
	free(ac->helo);
	free(ac);
}

static void
authcheck_spf_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authcheck *ac = arg;
	authcheck_cb *cb = ac->spf_cb;

	(void)fd;
	(void)what;
	ac->spf_cb = NULL;
	if (cb)
		cb(ac, ac->spf_arg);
}

void
authcheck_wait_spf(struct authcheck *ac, authcheck_cb *cb, void *arg)
{

	ac->spf_cb = cb;
	ac->spf_arg = arg;
	if (!ac->spf_done)
		return;
	if (ac->ev == NULL)
		ac->ev = evtimer_new(ac->base, authcheck_spf_ready_cb, ac);
	event_active(ac->ev, EV_TIMEOUT, 0);
}

const struct spf_outcome *
authcheck_spf(const struct authcheck *ac)
{
	return &ac->spf;
}

/* From: addresses (count, first local part) and the BIMI-Selector. */
static void
authcheck_scan_headers(struct authcheck *ac, const char *hdr, size_t len)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;

	rfc5322_headers_init(&h, hdr, len);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		if (rfc5322_field_is(&f, "From")) {
			struct addr a[DMARC_AUTHORS_MAX];
			int n = addr_parse_header_list(f.value, f.value_len, a,
			    DMARC_AUTHORS_MAX);
			if (n > 0) {
				if (ac->nfrom_addrs == 0)
					snprintf(ac->from_local,
					    sizeof(ac->from_local), "%s",
					    a[0].local);
				ac->nfrom_addrs += (size_t)n;
			}
		} else if (rfc5322_field_is(&f, "BIMI-Selector")) {
			if (bimi_selector_parse(f.value, f.value_len,
			    ac->bimi_selector, sizeof(ac->bimi_selector)) != 0)
				ac->bimi_selector[0] = '\0';
		}
	}
	/* A header section past the splitter's bounds may hide more From:
	 * addresses: fail closed, BIMI needs exactly one. */
	if (r != RFC5322_HEADERS_END)
		ac->nfrom_addrs = SIZE_MAX;
}

void
authcheck_headers(struct authcheck *ac, const char *hdr, size_t len)
{
	if (ac->dkim != NULL)
		return;
	ac->dkim = dkim_verify_new(hdr, len, time(NULL));
	ac->arc = arc_verify_new(hdr, len, time(NULL));
	ac->nfrom_domains = dmarc_author_domains(hdr, len, ac->from_domains,
	    DMARC_AUTHORS_MAX);
	authcheck_scan_headers(ac, hdr, len);
}

void
authcheck_body(struct authcheck *ac, const void *p, size_t n)
{
	if (ac->dkim)
		dkim_verify_body(ac->dkim, p, n);
	if (ac->arc)
		arc_verify_body(ac->arc, p, n);
}

static void
authcheck_done(struct authcheck *ac)
{
	authcheck_cb *cb = ac->cb;

	ac->cb = NULL;
	ac->finishing = false;
	if (cb)
		cb(ac, ac->arg);	/* may free ac */
}

static void
authcheck_bimi_cb(struct bimi_outcome *o, void *arg)
{
	struct authcheck *ac = arg;

	ac->bimiq = NULL;
	ac->bimi = o;
	ac->bimi_decided = true;
	authcheck_done(ac);
}

/* The Author Domain's DMARC lets BIMI go on: look up the record. */
static void
authcheck_bimi_start(struct authcheck *ac)
{
	const struct dmarc_verdict *v = ac->dmarc;

	if (v == NULL || !bimi_dmarc_eligible(v, ac->nfrom_addrs,
	    &ac->bimi_why)) {
		if (ac->bimi_why == NULL)
			ac->bimi_why = "no DMARC verdict";
		ac->bimi_decided = true;
		authcheck_done(ac);
		return;
	}
	struct bimi_input in = {
		.author_domain = v->author[0].domain,
		.org_domain = v->author[0].org_domain,
		.local_part = ac->from_local[0] ? ac->from_local : NULL,
		/* A sender-chosen selector is honoured only when the
		 * message passed DMARC through an aligned DKIM signature,
		 * our stand-in for "covered by the signature". */
		.selector = ac->bimi_selector[0] && v->author[0].dkim_aligned ?
		    ac->bimi_selector : NULL,
	};
	ac->bimiq = bimi_lookup_start(ac->base, ac->res, &in,
	    authcheck_bimi_cb, ac);
}

static void
authcheck_dmarc_cb(struct dmarc_verdict *v, void *arg)
{
	struct authcheck *ac = arg;

	ac->dmarcq = NULL;
	ac->dmarc = v;
	authcheck_bimi_start(ac);
}

static void
authcheck_dmarc_start(struct authcheck *ac)
{
	struct dmarc_dkim_input dk[AUTHCHECK_DKIM_MAX];
	const char *domains[DMARC_AUTHORS_MAX];
	size_t ndk = 0, n = ac->dkim ? dkim_verify_count(ac->dkim) : 0;
	size_t nfrom = ac->nfrom_domains > 0 ? (size_t)ac->nfrom_domains : 0;

	if (nfrom > DMARC_AUTHORS_MAX)
		nfrom = 0;	/* too many Author Domains: permerror */
	for (size_t i = 0; i < nfrom; i++)
		domains[i] = ac->from_domains[i];
	for (size_t i = 0; i < n && ndk < AUTHCHECK_DKIM_MAX; i++) {
		const struct dkim_result *r = dkim_verify_result(ac->dkim, i);
		if (r->d[0] == '\0')
			continue;
		dk[ndk].domain = r->d;
		dk[ndk].pass = r->res == DKIM_RES_PASS;
		ndk++;
	}
	struct dmarc_input in = {
		.from_domains = domains,
		.nfrom = nfrom,
		.spf_pass = ac->spf.result == SPF_PASS,
		.spf_domain = ac->spf.domain,
		.dkim = dk,
		.ndkim = ndk,
	};
	ac->dmarc_started = true;
	ac->dmarcq = dmarc_eval_start(ac->base, ac->res, &in,
	    authcheck_dmarc_cb, ac);
}

static void
authcheck_advance(struct authcheck *ac)
{
	if (!ac->spf_done || !ac->dkim_done || !ac->arc_done ||
	    ac->dmarc_started)
		return;
	authcheck_dmarc_start(ac);
}

static void
authcheck_dkim_cb(struct dkim_verify *v, void *arg)
{
	struct authcheck *ac = arg;

	(void)v;
	ac->dkim_done = true;
	authcheck_advance(ac);
}

static void
authcheck_arc_cb(struct arc_verify *v, void *arg)
{
	struct authcheck *ac = arg;

	(void)v;
	ac->arc_done = true;
	authcheck_advance(ac);
}

void
authcheck_finish(struct authcheck *ac, authcheck_cb *cb, void *arg)
{
	ac->cb = cb;
	ac->arg = arg;
	ac->finishing = true;
	if (ac->dkim == NULL)
		authcheck_headers(ac, "", 0);
	arc_verify_start(ac->arc, ac->base, ac->res, authcheck_arc_cb, ac);
	dkim_verify_start(ac->dkim, ac->base, ac->res, authcheck_dkim_cb, ac);
}

const struct arc_verify *
authcheck_arc(const struct authcheck *ac)
{
	return ac->arc;
}

const struct dmarc_verdict *
authcheck_dmarc(const struct authcheck *ac)
{
	return ac->dmarc;
}

enum dmarc_disposition
authcheck_disposition(const struct authcheck *ac)
{
	return ac->dmarc ? ac->dmarc->disposition : DMARC_DISPOSITION_NONE;
}

const struct dkim_verify *
authcheck_dkim(const struct authcheck *ac)
{
	return ac->dkim;
}

const struct bimi_outcome *
authcheck_bimi(const struct authcheck *ac)
{
	return ac->bimi;
}

/* Fill the A-R entries; strings point into ac or static storage, plus
 * comments written into cbuf (n slots of 96 bytes). */
static size_t
authcheck_results(const struct authcheck *ac, struct authres_result *r,
    size_t max, char (*cbuf)[96])
{
	size_t n = 0, ndkim = ac->dkim ? dkim_verify_count(ac->dkim) : 0;

	r[n] = (struct authres_result){ .method = "spf",
	    .result = spf_result_name(ac->spf.result) };
	if (ac->spf.identity == SPF_ID_HELO || ac->spf.sender[0] == '\0')
		r[n].props[r[n].nprops++] = (struct authres_prop){ "smtp",
		    "helo", ac->helo ? ac->helo : "unknown" };
	else
		r[n].props[r[n].nprops++] = (struct authres_prop){ "smtp",
		    "mailfrom", ac->spf.sender };
	if (ac->spf.problem[0])
		r[n].reason = ac->spf.problem;
	n++;
	if (ndkim == 0)
		r[n++] = (struct authres_result){ .method = "dkim",
		    .result = "none" };
	for (size_t i = 0; i < ndkim && n + 3 < max; i++) {
		const struct dkim_result *d = dkim_verify_result(ac->dkim, i);
		r[n] = (struct authres_result){ .method = "dkim",
		    .result = dkim_res_name(d->res) };
		if (d->res != DKIM_RES_PASS && d->detail)
			r[n].reason = d->detail;
		if (d->d[0]) {
			r[n].props[r[n].nprops++] = (struct authres_prop){
			    "header", "d", d->d };
			r[n].props[r[n].nprops++] = (struct authres_prop){
			    "header", "s", d->s };
			r[n].props[r[n].nprops++] = (struct authres_prop){
			    "header", "a", dkim_alg_name(d->alg) };
			if (d->b[0])
				r[n].props[r[n].nprops++] =
				    (struct authres_prop){ "header", "b",
				    d->b };
		}
		n++;
	}
	if (ac->arc)
		arc_verify_authres(ac->arc, ac->ip_text[0] ? ac->ip_text : NULL,
		    &r[n++]);
	const struct dmarc_verdict *v = ac->dmarc;
	for (size_t i = 0; v && i < v->nauthors && n + 2 < max; i++) {
		const struct dmarc_author *a = &v->author[i];
		r[n] = (struct authres_result){ .method = "dmarc",
		    .result = dmarc_result_name(a->result) };
		snprintf(cbuf[n], 96, "p=%s dis=%s%s",
		    a->has_record ? dmarc_policy_name(a->policy) : "none",
		    dmarc_disposition_name(a->disposition),
		    a->testing ? " t=y" : "");
		r[n].comment = cbuf[n];
		if (a->result == DMARC_RESULT_PERMERROR)
			r[n].reason = a->reason;
		r[n].props[r[n].nprops++] = (struct authres_prop){ "header",
		    "from", a->domain };
		n++;
	}
	if (v && v->nauthors == 0)
		r[n++] = (struct authres_result){ .method = "dmarc",
		    .result = dmarc_result_name(v->result) };
	if (ac->bimi) {
		r[n] = (struct authres_result){ .method = "bimi",
		    .result = bimi_result_name(ac->bimi->result) };
		if (ac->bimi->domain[0]) {
			r[n].props[r[n].nprops++] = (struct authres_prop){
			    "header", "d", ac->bimi->domain };
			r[n].props[r[n].nprops++] = (struct authres_prop){
			    "header", "selector", ac->bimi->selector };
		}
		n++;
	} else if (ac->bimi_decided) {
		r[n] = (struct authres_result){ .method = "bimi",
		    .result = "skipped", .comment = ac->bimi_why };
		n++;
	}
	return n;
}

int
authcheck_format(const struct authcheck *ac, struct buf *out)
{
	struct authres_result r[AUTHCHECK_DKIM_MAX + DMARC_AUTHORS_MAX + 4];
	char cbuf[AUTHCHECK_DKIM_MAX + DMARC_AUTHORS_MAX + 4][96];
	size_t n;

	memset(r, 0, sizeof(r));
	n = authcheck_results(ac, r, sizeof(r) / sizeof(r[0]), cbuf);
	if (authres_format(out, ac->authserv_id, r, n) == -1)
		return -1;
	if (ac->bimi && ac->bimi->result == BIMI_RESULT_PASS &&
	    bimi_location_format(out, ac->bimi) == -1)
		return -1;
	return 0;
}

/* " from=..." (both forms of an IDN, msg/idna) and, for a permerror,
 * " reason=...", quoted for the log line. */
static void
authcheck_summary_author(const struct dmarc_author *a, char *out,
    size_t outlen)
{
	char disp[IDNA_DISPLAY_MAX], q[LOG_QUOTE_SIZE(IDNA_DISPLAY_MAX)];
	char rq[LOG_QUOTE_SIZE(80)];
	bool why = a->result == DMARC_RESULT_PERMERROR && a->reason != NULL;

	idna_display(a->domain, disp, sizeof(disp));
	snprintf(out, outlen, " from=%s%s%s",
	    log_quote(disp, strlen(disp), q, sizeof(q)),
	    why ? " reason=" : "",
	    why ? log_quote(a->reason, strlen(a->reason), rq, sizeof(rq)) :
	    "");
}

void
authcheck_summary(const struct authcheck *ac, char *out, size_t outlen)
{
	size_t ndkim = ac->dkim ? dkim_verify_count(ac->dkim) : 0;
	const char *dkim = "none";

	for (size_t i = 0; i < ndkim; i++) {
		const struct dkim_result *d = dkim_verify_result(ac->dkim, i);
		dkim = dkim_res_name(d->res);
		if (d->res == DKIM_RES_PASS)
			break;
	}
	int n = snprintf(out, outlen,
	    "spf=%s dkim=%s arc=%s dmarc=%s dis=%s bimi=%s",
	    spf_result_name(ac->spf.result), dkim,
	    ac->arc ? arc_result_name(arc_verify_result(ac->arc)) : "none",
	    ac->dmarc ? dmarc_result_name(ac->dmarc->result) : "none",
	    dmarc_disposition_name(authcheck_disposition(ac)),
	    ac->bimi ? bimi_result_name(ac->bimi->result) : "skipped");
	const struct dmarc_author *a = ac->dmarc && ac->dmarc->nauthors ?
	    &ac->dmarc->author[0] : NULL;

	if (a == NULL || n < 0 || (size_t)n >= outlen)
		return;
	authcheck_summary_author(a, out + n, outlen - (size_t)n);
}
