/* SPDX-License-Identifier: ISC */
/*
 * check-domain's fact gathering: every DNS lookup goes through one
 * resolver built from [dns] (dns_sync_open), one query at a time with the
 * step timeout as its deadline; MX hosts are then probed one address
 * after the other (checkdom_probe.c). Blocking: CLI only.
 */
#include "check/checkdom.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth/bimi.h"
#include "auth/dkim_key.h"
#include "auth/dmarc.h"
#include "auth/spf_record.h"
#include "check/tlsrpt_record.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "sts/sts_fetch.h"
#include "sts/sts_record.h"

struct collect {
	struct checkdom		*cd;
	const struct conf	*conf;
	struct dns_sync_env	 env;
};

/* What one blocking step waits for: a DNS answer, a DMARC verdict or a
 * BIMI outcome, handed over by the callback of its asynchronous API. */
struct collect_wait {
	bool	 done;
	void	*out;
};

static void
collect_cb(struct dns_answer *ans, void *arg)
{
	struct collect_wait *w = arg;

	w->out = ans;
	w->done = true;
}

/* One blocking lookup; never NULL: a name that cannot be queried gives
 * a SERVFAIL answer with why set. */
static struct dns_answer *
collect_lookup(struct collect *c, const char *name, uint16_t type)
{
	struct collect_wait w = { 0 };

	if (dns_query(c->env.res, name, type, c->cd->timeout_ms, collect_cb,
	    &w) != NULL)
		dns_sync_run(&c->env, &w.done);
	if (!w.done || w.out == NULL) {
		struct dns_answer *a = dns_answer_new();
		a->rcode = DNS_RCODE_SERVFAIL;
		a->why = xstrdup("the name cannot be looked up");
		return a;
	}
	return w.out;
}

static const char *
spf_esc(const char *s, char *out, size_t outlen)
{
	return log_escape(s, strlen(s), out, outlen);
}

/* The worse of two rcodes for "could the addresses be learned". */
static enum dns_rcode
collect_worse(enum dns_rcode a, enum dns_rcode b)
{
	if (a == DNS_RCODE_TIMEOUT || b == DNS_RCODE_TIMEOUT)
		return DNS_RCODE_TIMEOUT;
	if (a == DNS_RCODE_SERVFAIL || b == DNS_RCODE_SERVFAIL)
		return DNS_RCODE_SERVFAIL;
	if (a == DNS_RCODE_NOERROR || b == DNS_RCODE_NOERROR)
		return DNS_RCODE_NOERROR;
	return DNS_RCODE_NXDOMAIN;
}

static enum dns_sec
collect_min_sec(enum dns_sec a, enum dns_sec b)
{
	if (a == DNS_SEC_BOGUS || b == DNS_SEC_BOGUS)
		return DNS_SEC_BOGUS;
	if (a == DNS_SEC_INSECURE || b == DNS_SEC_INSECURE)
		return DNS_SEC_INSECURE;
	return DNS_SEC_SECURE;
}

/* ---- MX and hosts ----------------------------------------------------- */

static uint32_t
collect_no_shuffle(uint32_t upper, void *arg)
{
	(void)upper;
	(void)arg;
	return 0;
}

static void
collect_mx(struct collect *c)
{
	struct checkdom *cd = c->cd;
	struct dns_answer *a = collect_lookup(c, cd->domain, DNS_T_MX);
	struct smtpc_mx *mx = xcalloc(a->nrr ? a->nrr : 1, sizeof(*mx));
	struct smtpc_route route;
	size_t n;

	cd->mx_rcode = a->rcode;
	cd->mx_sec = a->sec;
	if (a->rcode == DNS_RCODE_NOERROR) {
		n = smtpc_route_mx_from_answer(a, mx);
		cd->null_mx = smtpc_route_is_null_mx(mx, n);
		if (!cd->null_mx && smtpc_route_plan(cd->domain, mx, n, NULL,
		    collect_no_shuffle, NULL, &route) == SMTPC_ROUTE_OK) {
			cd->implicit_mx = route.implicit;
			for (size_t i = 0; i < route.nhosts; i++) {
				struct checkdom_mx *m = &cd->mx[cd->nmx++];
				snprintf(m->host, sizeof(m->host), "%s",
				    route.hosts[i].host);
				m->pref = route.hosts[i].pref;
			}
		}
	}
	free(mx);
	dns_answer_free(a);
}

/* "4.3.2.1.in-addr.arpa" or the ip6.arpa nibble name of address. */
static int
collect_reverse(const char *address, char *out, size_t outlen)
{
	uint8_t b[16];
	size_t off = 0;

	if (inet_pton(AF_INET, address, b) == 1) {
		snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2],
		    b[1], b[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, address, b) != 1 || outlen < 73)
		return -1;
	for (int i = 15; i >= 0; i--)
		off += (size_t)snprintf(out + off, outlen - off, "%x.%x.",
		    b[i] & 0xf, b[i] >> 4);
	snprintf(out + off, outlen - off, "ip6.arpa");
	return 0;
}

static void
collect_rr_address(const struct dns_rr *rr, char *out, size_t outlen)
{
	inet_ntop(rr->type == DNS_T_A ? AF_INET : AF_INET6,
	    rr->type == DNS_T_A ? (const void *)rr->u.a :
	    (const void *)rr->u.aaaa, out, (socklen_t)outlen);
}

/* Does name have address among its A/AAAA records? */
static bool
collect_forward_has(struct collect *c, const char *name, const char *address)
{
	bool v6 = strchr(address, ':') != NULL, found = false;
	struct dns_answer *a = collect_lookup(c, name, v6 ? DNS_T_AAAA :
	    DNS_T_A);
	char text[48];

	for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR && i < a->nrr; i++) {
		collect_rr_address(&a->rr[i], text, sizeof(text));
		if (strcmp(text, address) == 0)
			found = true;
	}
	dns_answer_free(a);
	return found;
}

static void
collect_ptr(struct collect *c, struct checkdom_probe *p)
{
	char rev[80];

	if (collect_reverse(p->address, rev, sizeof(rev)) == -1)
		return;
	struct dns_answer *a = collect_lookup(c, rev, DNS_T_PTR);
	if (a->rcode == DNS_RCODE_NOERROR && a->nrr > 0) {
		const char *name = a->rr[0].u.name;
		p->ptr_found = true;
		log_escape(name, strlen(name), p->ptr, sizeof(p->ptr));
		p->fcrdns = collect_forward_has(c, name, p->address);
	}
	dns_answer_free(a);
}

static void
collect_addresses(struct collect *c, struct checkdom_mx *m)
{
	static const uint16_t types[2] = { DNS_T_A, DNS_T_AAAA };

	m->addr_rcode = DNS_RCODE_NXDOMAIN;
	m->addr_sec = DNS_SEC_SECURE;
	for (size_t t = 0; t < 2; t++) {
		struct dns_answer *a = collect_lookup(c, m->host, types[t]);
		m->addr_rcode = t == 0 ? a->rcode : collect_worse(m->addr_rcode,
		    a->rcode);
		m->addr_sec = collect_min_sec(m->addr_sec, a->sec);
		for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR &&
		    i < a->nrr; i++) {
			if (m->naddr == CHECKDOM_ADDRS_MAX) {
				m->addr_skipped++;
				continue;
			}
			collect_rr_address(&a->rr[i], m->addr[m->naddr].address,
			    sizeof(m->addr[m->naddr].address));
			m->naddr++;
		}
		dns_answer_free(a);
	}
}

static void
collect_tlsa(struct collect *c, struct checkdom_mx *m)
{
	snprintf(m->tlsa_name, sizeof(m->tlsa_name), "_%u._tcp.%s",
	    c->cd->port, m->host);
	struct dns_answer *a = collect_lookup(c, m->tlsa_name, DNS_T_TLSA);
	m->tlsa_rcode = a->rcode;
	m->tlsa_sec = a->sec;
	for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR && i < a->nrr &&
	    m->ntlsa < CHECKDOM_TLSA_MAX; i++) {
		const struct dns_rr *rr = &a->rr[i];
		struct checkdom_tlsa *t = &m->tlsa[m->ntlsa++];
		t->usage = rr->u.tlsa.usage;
		t->selector = rr->u.tlsa.selector;
		t->mtype = rr->u.tlsa.mtype;
		t->len = rr->u.tlsa.len;
		t->data = xmalloc(t->len ? t->len : 1);
		memcpy(t->data, rr->u.tlsa.data, t->len);
		if (t->usage == 2 || t->usage == 3)
			m->tlsa_usable++;
	}
	dns_answer_free(a);
}

static long long
collect_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each step is bounded by timeout_ms; the probes of all hosts together
 * by CHECKDOM_PROBE_BUDGET steps, so that a domain with many silent MX
 * addresses cannot hold the command for hours. */
static void
collect_hosts(struct collect *c)
{
	struct checkdom *cd = c->cd;
	long long end = collect_now_ms() +
	    (long long)CHECKDOM_PROBE_BUDGET * cd->timeout_ms;

	for (size_t i = 0; i < cd->nmx; i++) {
		struct checkdom_mx *m = &cd->mx[i];
		collect_addresses(c, m);
		collect_tlsa(c, m);
		for (size_t j = 0; j < m->naddr; j++) {
			collect_ptr(c, &m->addr[j]);
			if (collect_now_ms() >= end) {
				checkdom_text(m->addr[j].error,
				    sizeof(m->addr[j].error), "not probed: the "
				    "probes used up their time (%u s)",
				    (unsigned)(CHECKDOM_PROBE_BUDGET *
				    (cd->timeout_ms / 1000)));
				continue;
			}
			checkdom_probe(&m->addr[j], m, cd->domain, cd->port,
			    c->conf->hostname, c->conf->tls_ca, cd->timeout_ms);
		}
	}
}

/* ---- TXT-based records ------------------------------------------------ */

typedef bool collect_is_fn(const char *txt, size_t len);

/* A TXT record, copied whole (it may hold NULs: use len). */
struct collect_txt {
	char	*text;		/* owned; text[len] is a NUL */
	size_t	 len;
};

/* TXT records at name that is() accepts: their number, the first one
 * escaped into out for display and copied whole into *first (free its
 * text; NULL text when there is none). A bogus answer is a SERVFAIL. */
static enum dns_rcode
collect_txt(struct collect *c, const char *name, collect_is_fn *is,
    size_t *count, char *out, size_t outlen, struct collect_txt *first)
{
	struct dns_answer *a = collect_lookup(c, name, DNS_T_TXT);
	enum dns_rcode rc = a->rcode;

	*count = 0;
	*first = (struct collect_txt){ 0 };
	for (size_t i = 0; rc == DNS_RCODE_NOERROR && i < a->nrr; i++) {
		const struct dns_rr *rr = &a->rr[i];
		if (!is(rr->u.txt.text, rr->u.txt.len))
			continue;
		if ((*count)++ > 0)
			continue;
		log_escape(rr->u.txt.text, rr->u.txt.len, out, outlen);
		first->text = xmalloc(rr->u.txt.len + 1);
		memcpy(first->text, rr->u.txt.text, rr->u.txt.len + 1);
		first->len = rr->u.txt.len;
	}
	if (rc == DNS_RCODE_NOERROR && a->sec == DNS_SEC_BOGUS)
		rc = DNS_RCODE_SERVFAIL;
	dns_answer_free(a);
	return rc;
}

/* The policy itself, from the addresses of mta-sts.DOMAIN as our
 * resolver sees them (the fetch never resolves a name itself). */
static void
collect_sts_fetch(struct collect *c)
{
	struct checkdom_sts *s = &c->cd->sts;
	char host[LIMIT_DOMAIN + 16], addrs[STS_FETCH_ADDRS_MAX][48];
	const char *ap[STS_FETCH_ADDRS_MAX];
	size_t n = 0;
	bool bogus = false;

	snprintf(host, sizeof(host), "mta-sts.%s", c->cd->domain);
	for (size_t t = 0; t < 2; t++) {
		struct dns_answer *a = collect_lookup(c, host, t ? DNS_T_AAAA :
		    DNS_T_A);
		/* Forged records are not connected to (as the daemon). */
		bogus |= a->sec == DNS_SEC_BOGUS;
		for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR &&
		    a->sec != DNS_SEC_BOGUS && i < a->nrr &&
		    n < STS_FETCH_ADDRS_MAX; i++) {
			collect_rr_address(&a->rr[i], addrs[n], sizeof(addrs[n]));
			ap[n] = addrs[n];
			n++;
		}
		dns_answer_free(a);
	}
	s->fetch_tried = true;
	if (n == 0) {
		checkdom_text(s->fetch_error, sizeof(s->fetch_error),
		    "%s has no address%s", host, bogus ? " (DNSSEC-bogus "
		    "answer)" : "");
		return;
	}
	struct sts_fetch_params fp = {
		.ca_file = c->conf->tls_ca,
		.allow_private = c->conf->fetch_private_addresses,
		.connect_timeout_ms = c->cd->timeout_ms,
		.timeout_ms = 2 * c->cd->timeout_ms,
	};
	struct sts_fetch_out out = { 0 };
	if (sts_fetch(c->cd->domain, ap, n, &fp, &out) != STS_FETCH_OK) {
		char esc[CHECKDOM_TEXT];
		log_escape(out.detail, strlen(out.detail), esc, sizeof(esc));
		checkdom_text(s->fetch_error, sizeof(s->fetch_error), "%s: %s",
		    sts_fetch_result_type(out.result), esc);
		sts_fetch_out_clear(&out);
		return;
	}
	s->fetched = true;
	snprintf(s->mode, sizeof(s->mode), "%s", sts_mode_name(
	    out.policy.mode));
	s->max_age = out.policy.max_age;
	for (size_t i = 0; i < out.policy.nmx; i++) {
		if (s->nmx == CHECKDOM_STS_MX_MAX)
			break;
		snprintf(s->mx[s->nmx++], sizeof(s->mx[0]), "%s",
		    out.policy.mx[i]);
	}
	for (size_t i = 0; i < c->cd->nmx; i++)
		c->cd->mx[i].sts_match = sts_policy_match_mx(&out.policy,
		    c->cd->mx[i].host);
	sts_fetch_out_clear(&out);
}

static void
collect_sts(struct collect *c)
{
	struct checkdom_sts *s = &c->cd->sts;
	char name[LIMIT_DOMAIN + 16], why[CHECKDOM_TEXT];
	const char *txt[DNS_RR_MAX];
	size_t len[DNS_RR_MAX], n = 0;
	struct sts_record rec;

	snprintf(name, sizeof(name), "_mta-sts.%s", c->cd->domain);
	struct dns_answer *a = collect_lookup(c, name, DNS_T_TXT);
	s->rcode = a->rcode;
	/* A failed lookup is not the absence of a policy (§3.3, §5). */
	if (a->rcode == DNS_RCODE_SERVFAIL || a->rcode == DNS_RCODE_TIMEOUT ||
	    a->sec == DNS_SEC_BOGUS) {
		checkdom_text(s->txt_error, sizeof(s->txt_error), "DNS lookup "
		    "failed (%s)", a->sec == DNS_SEC_BOGUS ? "DNSSEC-bogus" :
		    a->rcode == DNS_RCODE_TIMEOUT ? "timed out" :
		    dns_rcode_name(a->rcode));
		dns_answer_free(a);
		return;
	}
	for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR && i < a->nrr; i++) {
		const struct dns_rr *rr = &a->rr[i];
		txt[n] = rr->u.txt.text;
		len[n++] = rr->u.txt.len;
		if (!sts_record_is_sts(rr->u.txt.text, rr->u.txt.len))
			continue;
		if (s->nrecords++ == 0)
			log_escape(rr->u.txt.text, rr->u.txt.len, s->txt,
			    sizeof(s->txt));
	}
	enum sts_record_result r = sts_record_select(txt, len, n, &rec, why,
	    sizeof(why));
	dns_answer_free(a);
	if (r == STS_RECORD_NONE)
		return;
	if (r != STS_RECORD_OK) {
		checkdom_text(s->txt_error, sizeof(s->txt_error), "%s",
		    r == STS_RECORD_MULTIPLE ? "more than one record" : why);
		return;
	}
	snprintf(s->id, sizeof(s->id), "%s", rec.id);
	s->txt_valid = true;
	collect_sts_fetch(c);
}

static void
collect_tlsrpt(struct collect *c)
{
	struct checkdom_tlsrpt *t = &c->cd->tlsrpt;
	struct tlsrpt_record rec;
	char name[LIMIT_DOMAIN + 16];
	struct collect_txt raw;

	snprintf(name, sizeof(name), "_smtp._tls.%s", c->cd->domain);
	t->rcode = collect_txt(c, name, tlsrpt_record_is_tlsrpt, &t->nrecords,
	    t->record, sizeof(t->record), &raw);
	enum tlsrpt_record_result r = tlsrpt_record_parse(raw.text, raw.len,
	    &rec);
	free(raw.text);
	if (t->nrecords != 1)
		return;
	if (r != TLSRPT_RECORD_OK) {
		snprintf(t->error, sizeof(t->error), "%s",
		    tlsrpt_record_result_name(r));
		return;
	}
	t->valid = true;
	for (size_t i = 0; i < rec.nrua && i < CHECKDOM_URIS_MAX; i++)
		log_escape(rec.rua[i], strlen(rec.rua[i]), t->rua[t->nrua++],
		    sizeof(t->rua[0]));
}

/* ---- SPF: the record and its DNS-lookup count ----------------------- */

struct spf_walk {
	unsigned	 records;
};

static void spf_walk_domain(struct collect *c, struct spf_walk *w,
    const char *domain, unsigned depth, bool top);

static void spf_problem(struct checkdom_spf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep the first problem found in the tree. */
static void
spf_problem(struct checkdom_spf *s, const char *fmt, ...)
{
	va_list ap;

	if (s->error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

static bool
spf_has_all(const struct spf_record *rec)
{
	for (size_t i = 0; i < rec->nterms; i++)
		if (rec->terms[i].mech == SPF_MECH_ALL)
			return true;
	return false;
}

/* Count the DNS-querying terms of rec (RFC 7208 §4.6.4: include, a, mx,
 * ptr, exists and redirect) and follow include and redirect targets. A
 * target with a macro cannot be expanded without a message: counted, not
 * followed (incomplete). A redirect in a record with "all" is ignored
 * (§6.1); one from the top record stands in for it (top). */
static void
spf_walk_record(struct collect *c, struct spf_walk *w,
    const struct spf_record *rec, unsigned depth, bool top)
{
	struct checkdom_spf *s = &c->cd->spf;

	for (size_t i = 0; i < rec->nterms; i++) {
		const struct spf_term *t = &rec->terms[i];
		switch (t->mech) {
		case SPF_MECH_INCLUDE:
			s->lookups++;
			if (strchr(t->spec, '%') != NULL)
				s->incomplete = true;
			else
				spf_walk_domain(c, w, t->spec, depth + 1,
				    false);
			break;
		case SPF_MECH_A:
		case SPF_MECH_MX:
		case SPF_MECH_PTR:
		case SPF_MECH_EXISTS:
			s->lookups++;
			break;
		default:
			break;
		}
	}
	if (rec->redirect != NULL && !spf_has_all(rec)) {
		s->lookups++;
		if (strchr(rec->redirect, '%') != NULL)
			s->incomplete = true;
		else
			spf_walk_domain(c, w, rec->redirect, depth + 1, top);
	}
}

/* The all mechanism's qualifier of the top record, for advice. */
static void
spf_all(struct checkdom_spf *s, const struct spf_record *rec)
{
	static const char *const q[] = { "+all", "-all", "~all", "?all" };

	for (size_t i = 0; i < rec->nterms; i++)
		if (rec->terms[i].mech == SPF_MECH_ALL)
			snprintf(s->all, sizeof(s->all), "%s",
			    q[rec->terms[i].qual]);
}

static void
spf_walk_domain(struct collect *c, struct spf_walk *w, const char *domain,
    unsigned depth, bool top)
{
	struct checkdom_spf *s = &c->cd->spf;
	char shown[CHECKDOM_RECORD], err[CHECKDOM_TEXT];
	char esc[CHECKDOM_TEXT];
	size_t n = 0;
	struct spf_record *rec = NULL;
	struct collect_txt raw;

	if (depth > CHECKDOM_SPF_DEPTH_MAX ||
	    w->records >= CHECKDOM_SPF_RECORDS_MAX) {
		s->incomplete = true;
		spf_problem(s, "include/redirect chain too deep at %s",
		    spf_esc(domain, esc, sizeof(esc)));
		return;
	}
	w->records++;
	enum dns_rcode rc = collect_txt(c, domain, spf_record_is_spf, &n, shown,
	    sizeof(shown), &raw);
	enum spf_record_result pr = n == 1 ? spf_record_parse(raw.text,
	    raw.len, &rec, err, sizeof(err)) : SPF_RECORD_NOT_SPF;
	free(raw.text);
	if (depth == 0) {
		s->rcode = rc;
		s->nrecords = n;
		snprintf(s->record, sizeof(s->record), "%s", n ? shown : "");
	}
	if (rc != DNS_RCODE_NOERROR && rc != DNS_RCODE_NXDOMAIN) {
		s->incomplete = true;
		spf_problem(s, "DNS error looking up the SPF record of %s",
		    spf_esc(domain, esc, sizeof(esc)));
		return;
	}
	if (n != 1) {
		if (depth > 0 || n > 1)
			spf_problem(s, n ? "%s has more than one SPF record" :
			    "%s has no SPF record (an include or redirect "
			    "of it is a permerror)", spf_esc(domain, esc,
			    sizeof(esc)));
		return;
	}
	if (pr != SPF_RECORD_OK) {
		spf_problem(s, "SPF record of %s: %s", spf_esc(domain, esc,
		    sizeof(esc)), err);
		return;
	}
	if (depth == 0)
		s->parsed = true;
	if (top)
		spf_all(s, rec);
	spf_walk_record(c, w, rec, depth, top);
	spf_record_free(rec);
}

static void
collect_spf(struct collect *c)
{
	struct spf_walk w = { 0 };

	spf_walk_domain(c, &w, c->cd->domain, 0, true);
}

/* ---- DMARC, DKIM, BIMI ------------------------------------------------ */

static void
collect_dmarc_cb(struct dmarc_verdict *v, void *arg)
{
	struct collect_wait *w = arg;

	w->out = v;
	w->done = true;
}

/* The RFC 9989 tree walk, run as for a message from the domain that
 * nothing authenticates: it finds the policy record and the
 * Organizational Domain. */
static void
collect_dmarc(struct collect *c)
{
	struct checkdom_dmarc *d = &c->cd->dmarc;
	const char *from[1] = { c->cd->domain };
	struct dmarc_input in = { .from_domains = from, .nfrom = 1 };
	struct collect_wait w = { 0 };

	dmarc_eval_start(c->env.base, c->env.res, &in, collect_dmarc_cb, &w);
	dns_sync_run(&c->env, &w.done);
	struct dmarc_verdict *v = w.out;
	if (!w.done || v == NULL || v->nauthors == 0) {
		d->dns_error = true;
		dmarc_verdict_free(v);
		return;
	}
	const struct dmarc_author *au = &v->author[0];
	snprintf(d->org_domain, sizeof(d->org_domain), "%s", au->org_domain);
	if (au->result == DMARC_RESULT_TEMPERROR)
		d->dns_error = true;
	if (au->has_record) {
		const struct dmarc_record *r = &au->record;
		d->found = true;
		d->invalid = r->policy_invalid;
		snprintf(d->policy_domain, sizeof(d->policy_domain), "%s",
		    au->policy_domain);
		snprintf(d->p, sizeof(d->p), "%s", r->has_p ?
		    dmarc_policy_name(r->p) : "");
		snprintf(d->sp, sizeof(d->sp), "%s", r->has_sp ?
		    dmarc_policy_name(r->sp) : "");
		d->testing = dmarc_record_testing(r);
		for (size_t i = 0; i < r->nrua && i < CHECKDOM_URIS_MAX; i++)
			log_escape(r->rua[i], strlen(r->rua[i]),
			    d->rua[d->nrua++], sizeof(d->rua[0]));
	}
	dmarc_verdict_free(v);
}

/* Bits of a DKIM public key; 0 when it does not decode. RSA keys below
 * the verifier's floor are decoded here too, to say how small they are. */
static unsigned
collect_key_bits(const struct dkim_key *k)
{
	const unsigned char *p = k->p;
	EVP_PKEY *pk;

	if (k->type == DKIM_KEY_ED25519)
		return k->plen == 32 ? 256 : 0;
	pk = d2i_PUBKEY(NULL, &p, (long)k->plen);
	if (pk == NULL) {
		p = k->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->plen);
	}
	unsigned bits = pk ? (unsigned)EVP_PKEY_get_bits(pk) : 0;
	EVP_PKEY_free(pk);
	return bits;
}

static bool
collect_any_txt(const char *txt, size_t len)
{
	(void)txt;
	(void)len;
	return true;
}

static void
collect_dkim_one(struct collect *c, struct checkdom_dkim *d)
{
	char name[2 * LIMIT_DOMAIN + 16], shown[CHECKDOM_RECORD];
	size_t n = 0;
	struct collect_txt raw;
	struct dkim_key key;

	snprintf(name, sizeof(name), "%s._domainkey.%s", d->selector,
	    c->cd->domain);
	d->rcode = collect_txt(c, name, collect_any_txt, &n, shown,
	    sizeof(shown), &raw);
	enum dkim_key_result r = n == 1 ? dkim_key_parse(raw.text, raw.len,
	    &key) : DKIM_KEY_ERR_SYNTAX;
	free(raw.text);
	if (d->rcode != DNS_RCODE_NOERROR || n == 0)
		return;
	d->found = true;
	if (n > 1) {
		snprintf(d->error, sizeof(d->error), "%zu TXT records at the "
		    "selector (a verifier's result is unpredictable)", n);
		return;
	}
	if (r != DKIM_KEY_OK) {
		snprintf(d->error, sizeof(d->error), "%s",
		    dkim_key_result_name(r));
		return;
	}
	d->revoked = key.revoked;
	d->testing = key.testing;
	snprintf(d->type, sizeof(d->type), "%s", key.type == DKIM_KEY_RSA ?
	    "rsa" : "ed25519");
	if (key.revoked) {
		d->valid = true;
		return;
	}
	d->bits = collect_key_bits(&key);
	if (d->bits == 0) {
		snprintf(d->error, sizeof(d->error), "p= is not a valid %s key",
		    d->type);
		return;
	}
	d->valid = true;
}

static void
collect_bimi_cb(struct bimi_outcome *o, void *arg)
{
	struct collect_wait *w = arg;

	w->out = o;
	w->done = true;
}

static void
collect_bimi(struct collect *c)
{
	struct checkdom_bimi *b = &c->cd->bimi;
	struct bimi_input in = {
		.author_domain = c->cd->domain,
		.org_domain = c->cd->dmarc.org_domain[0] ?
		    c->cd->dmarc.org_domain : c->cd->domain,
	};
	struct collect_wait w = { 0 };

	bimi_lookup_start(c->env.base, c->env.res, &in, collect_bimi_cb, &w);
	dns_sync_run(&c->env, &w.done);
	struct bimi_outcome *o = w.out;
	if (!w.done || o == NULL) {
		snprintf(b->result, sizeof(b->result), "temperror");
		bimi_outcome_free(o);
		return;
	}
	snprintf(b->result, sizeof(b->result), "%s",
	    bimi_result_name(o->result));
	snprintf(b->reason, sizeof(b->reason), "%s", o->reason ?
	    o->reason : "");
	snprintf(b->domain, sizeof(b->domain), "%s", o->domain);
	if (o->result == BIMI_RESULT_PASS ||
	    o->result == BIMI_RESULT_DECLINED) {
		log_escape(o->record.l, strlen(o->record.l), b->l,
		    sizeof(b->l));
		log_escape(o->record.a, strlen(o->record.a), b->a,
		    sizeof(b->a));
	}
	bimi_outcome_free(o);
}

int
checkdom_collect(struct checkdom *cd, const struct conf *conf,
    const char *const *selectors, size_t nselectors, char *err,
    size_t errlen)
{
	struct collect c = { .cd = cd, .conf = conf };

	if (dns_sync_open(&c.env, conf, err, errlen) == -1)
		return -1;
	collect_mx(&c);
	collect_hosts(&c);
	collect_sts(&c);
	collect_tlsrpt(&c);
	collect_spf(&c);
	collect_dmarc(&c);
	for (size_t i = 0; i < nselectors && i < CHECKDOM_SELECTORS_MAX; i++) {
		struct checkdom_dkim *d = &cd->dkim[cd->ndkim++];
		snprintf(d->selector, sizeof(d->selector), "%s", selectors[i]);
		collect_dkim_one(&c, d);
	}
	collect_bimi(&c);
	dns_sync_close(&c.env);
	return 0;
}

struct checkdom *
checkdom_new(const char *domain, unsigned port, unsigned timeout_ms)
{
	size_t len = strlen(domain);

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > LIMIT_DOMAIN)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)domain[i]) || domain[i] == '-' ||
		    domain[i] == '.' || domain[i] == '_'))
			return NULL;
	struct checkdom *cd = xcalloc(1, sizeof(*cd));
	for (size_t i = 0; i < len; i++)
		cd->domain[i] = (char)tolower((unsigned char)domain[i]);
	cd->port = port;
	cd->timeout_ms = timeout_ms ? timeout_ms : CHECKDOM_TIMEOUT_MS;
	return cd;
}

void
checkdom_free(struct checkdom *cd)
{
	if (cd == NULL)
		return;
	for (size_t i = 0; i < cd->nmx; i++)
		for (size_t j = 0; j < cd->mx[i].ntlsa; j++)
			free(cd->mx[i].tlsa[j].data);
	free(cd);
}
