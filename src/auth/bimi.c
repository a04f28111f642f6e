/* SPDX-License-Identifier: ISC */
/*
 * BIMI: Assertion Record and BIMI-Selector parsing, local-part selectors,
 * the DMARC conditions, asynchronous record discovery, BIMI-Location
 * formatting and removal of sender-supplied BIMI fields. See bimi.h.
 */
#include "auth/bimi.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

/* ---- tag-list (RFC 6376 §3.2) ---------------------------------------- */

struct bimi_tag {
	const char	*name, *val;
	size_t		 nlen, vlen;
};

static bool
bimi_is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
bimi_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static void
bimi_trim(const char **p, size_t *n)
{
	while (*n > 0 && bimi_is_fws(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && bimi_is_fws((*p)[*n - 1]))
		(*n)--;
}

/*
 * Split a trimmed tag-spec: tag-name = ALPHA *(ALPHA / DIGIT / "_"),
 * "=", tag-value of VALCHARs (%x21-3A / %x3C-7E) and inner FWS.
 */
static bool
bimi_split(const char *p, size_t n, struct bimi_tag *t)
{
	size_t i = 0, j;

	if (n == 0 || !((p[0] >= 'a' && p[0] <= 'z') ||
	    (p[0] >= 'A' && p[0] <= 'Z')))
		return false;
	while (i < n && (bimi_is_alnum(p[i]) || p[i] == '_'))
		i++;
	t->name = p;
	t->nlen = i;
	while (i < n && bimi_is_fws(p[i]))
		i++;
	if (i == n || p[i] != '=')
		return false;
	for (i++; i < n && bimi_is_fws(p[i]); i++)
		;
	t->val = p + i;
	t->vlen = n - i;
	for (j = 0; j < t->vlen; j++) {
		unsigned char c = (unsigned char)t->val[j];
		if (!bimi_is_fws((char)c) && (c < 0x21 || c > 0x7e))
			return false;
	}
	return true;
}

static bool
bimi_name_is(const struct bimi_tag *t, const char *name)
{
	return strlen(name) == t->nlen && memcmp(t->name, name, t->nlen) == 0;
}

/*
 * Iterate the tag-specs of a tag-list: *pos starts at 0. Returns 1 with
 * *t set, 0 at the end, -1 on a malformed tag-spec (an empty one is
 * allowed only after the final ";").
 */
static int
bimi_next_tag(const char *s, size_t len, size_t *pos, struct bimi_tag *t)
{
	const char *p;
	size_t end, n;

	if (*pos > len)
		return 0;
	for (end = *pos; end < len && s[end] != ';'; end++)
		;
	p = s + *pos;
	n = end - *pos;
	*pos = end + 1;
	bimi_trim(&p, &n);
	if (n == 0)
		return end >= len ? 0 : -1;
	return bimi_split(p, n, t) ? 1 : -1;
}

/* ---- Assertion Record ------------------------------------------------ */

static bool
bimi_is_uric(char c)
{
	return bimi_is_alnum(c) || (c != '\0' &&
	    strchr("-._~:/?#[]@!$&'()*+;=%", c) != NULL);
}

/* An https URI with a host name that has a dot (an FQDN), no "," and no
 * spaces; the empty string is allowed by the caller. */
static bool
bimi_uri_ok(const char *u, size_t n)
{
	size_t i, host, dots = 0;

	if (n < 9 || n > BIMI_URI_MAX || strncasecmp(u, "https://", 8) != 0)
		return false;
	for (i = host = 8; i < n && u[i] != '/' && u[i] != '?' &&
	    u[i] != '#' && u[i] != ':'; i++) {
		if (u[i] == '.')
			dots++;
		else if (!bimi_is_alnum(u[i]) && u[i] != '-')
			return false;
	}
	if (i == host || dots == 0 || u[host] == '.' || u[i - 1] == '.')
		return false;
	for (; i < n; i++) {
		if (!bimi_is_uric(u[i]))
			return false;
		if (u[i] == '%' && (i + 2 >= n || !bimi_is_alnum(u[i + 1]) ||
		    !bimi_is_alnum(u[i + 2])))
			return false;
	}
	return true;
}

static bool
bimi_set_uri(char out[BIMI_URI_MAX + 1], const char *v, size_t n)
{
	if (n > 0 && !bimi_uri_ok(v, n))
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* lps = [prefix *( *WSP "," *WSP prefix )], prefix = 1*63(ALPHA/DIGIT/"-") */
static bool
bimi_set_lps(struct bimi_record *r, const char *v, size_t n)
{
	size_t s = 0, e;

	r->has_lps = true;
	if (n == 0)
		return true;
	while (s <= n) {
		const char *p = v + s;
		size_t plen, i;

		for (e = s; e < n && v[e] != ','; e++)
			;
		plen = e - s;
		bimi_trim(&p, &plen);
		if (plen == 0 || plen > BIMI_LPS_LEN)
			return false;
		for (i = 0; i < plen; i++)
			if (!bimi_is_alnum(p[i]) && p[i] != '-')
				return false;
		if (r->nlps < BIMI_LPS_MAX) {
			memcpy(r->lps[r->nlps], p, plen);
			r->lps[r->nlps++][plen] = '\0';
		}
		s = e + 1;
	}
	return true;
}

/* Apply one tag; false on an invalid value. *seen tracks duplicates. */
static bool
bimi_apply(struct bimi_record *r, const struct bimi_tag *t, unsigned *seen)
{
	static const char *const known[] = { "l", "a", "lps", "avp" };
	size_t k;

	for (k = 0; k < 4 && !bimi_name_is(t, known[k]); k++)
		;
	if (k == 4)
		return true;		/* unknown tags MUST be ignored */
	if (*seen & (1u << k))
		return false;		/* RFC 6376 §3.2: duplicate tag */
	*seen |= 1u << k;
	switch (k) {
	case 0:
		return bimi_set_uri(r->l, t->val, t->vlen);
	case 1:
		return bimi_set_uri(r->a, t->val, t->vlen);
	case 2:
		return bimi_set_lps(r, t->val, t->vlen);
	default:
		if (t->vlen == 8 && memcmp(t->val, "personal", 8) == 0)
			r->avp = BIMI_AVP_PERSONAL;
		else if (t->vlen == 5 && memcmp(t->val, "brand", 5) == 0)
			r->avp = BIMI_AVP_BRAND;
		else
			r->avp = BIMI_AVP_INVALID;	/* ignored, not fatal */
		return true;
	}
}

enum bimi_record_result
bimi_record_parse(const char *txt, size_t len, struct bimi_record *out)
{
	struct bimi_tag t;
	size_t pos = 0;
	unsigned seen = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->avp = BIMI_AVP_BRAND;
	if (bimi_next_tag(txt, len, &pos, &t) != 1 || !bimi_name_is(&t, "v") ||
	    t.vlen != 5 || memcmp(t.val, "BIMI1", 5) != 0)
		return BIMI_RECORD_NOT_BIMI;
	while ((rc = bimi_next_tag(txt, len, &pos, &t)) == 1)
		if (!bimi_apply(out, &t, &seen))
			return BIMI_RECORD_INVALID;
	if (rc == -1 || !(seen & 1u))
		return BIMI_RECORD_INVALID;	/* l= is required */
	return BIMI_RECORD_OK;
}

bool
bimi_record_declined(const struct bimi_record *r)
{
	return r->l[0] == '\0' && r->a[0] == '\0';
}

/* ---- selectors ------------------------------------------------------- */

/* selector = sub-domain *("." sub-domain); lower-cased into out. */
static bool
bimi_selector_ok(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, label = 0;

	if (n == 0 || n >= outlen || n > BIMI_SELECTOR_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (bimi_is_alnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else
			return false;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (label == 0 || s[n - 1] == '-')
		return false;
	out[n] = '\0';
	return true;
}

int
bimi_selector_parse(const char *value, size_t len, char *out, size_t outlen)
{
	struct bimi_tag t;
	size_t pos = 0;
	int rc;
	bool found = false;

	/* bimi-header-version = "v" *WSP "=" *WSP "BIMI" 1DIGIT; we know 1. */
	if (bimi_next_tag(value, len, &pos, &t) != 1 ||
	    !bimi_name_is(&t, "v") || t.vlen != 5 ||
	    memcmp(t.val, "BIMI1", 5) != 0)
		return -1;
	while ((rc = bimi_next_tag(value, len, &pos, &t)) == 1) {
		if (!bimi_name_is(&t, "s"))
			continue;
		if (found || !bimi_selector_ok(t.val, t.vlen, out, outlen))
			return -1;
		found = true;
	}
	return rc == 0 && found ? 0 : -1;
}

int
bimi_lps_selector(const char *local, char *out, size_t outlen)
{
	size_t i, o = 0;
	bool dash = false;

	/* "+" starts a subaddress (RFC 5233): dropped with what follows. */
	for (i = 0; local[i] != '\0' && local[i] != '+'; i++) {
		char c = local[i];
		if (c == '_' || c == '.' || c == '-') {
			/* A run of these becomes one "-"; edges trimmed. */
			dash = true;
			continue;
		}
		if (!bimi_is_alnum(c))
			return -1;
		if (o + 2 >= outlen || o + 2 > BIMI_LPS_LEN + 1)
			return -1;
		if (dash && o > 0)
			out[o++] = '-';
		dash = false;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (o == 0 || o > BIMI_LPS_LEN)
		return -1;
	out[o] = '\0';
	return 0;
}

bool
bimi_lps_match(const struct bimi_record *r, const char *selector)
{
	size_t i;

	if (r->nlps == 0)
		return true;
	for (i = 0; i < r->nlps; i++)
		if (strncasecmp(selector, r->lps[i], strlen(r->lps[i])) == 0)
			return true;
	return false;
}

/* ---- DMARC conditions ------------------------------------------------ */

/* p=none or sp=none in a record rules BIMI out. */
static const char *
bimi_record_blocks(const struct dmarc_record *r)
{
	if (r->policy_invalid || r->p == DMARC_POLICY_NONE)
		return "DMARC policy is none";
	if (r->has_sp && r->sp == DMARC_POLICY_NONE)
		return "DMARC subdomain policy is none";
	if (dmarc_record_testing(r))
		return "DMARC policy in test mode";
	if (r->pct != -1 && r->pct != 100)
		return "DMARC pct is not 100";
	return NULL;
}

bool
bimi_dmarc_eligible(const struct dmarc_verdict *v, size_t nfrom_addrs,
    const char **why)
{
	const struct dmarc_author *a;

	*why = NULL;
	if (nfrom_addrs != 1 || v->nauthors != 1)
		*why = "not exactly one From address";
	else if ((a = &v->author[0])->result != DMARC_RESULT_PASS)
		*why = "message failed DMARC";
	else if ((*why = bimi_record_blocks(&a->record)) != NULL)
		;
	else if (a->has_org_record &&
	    (*why = bimi_record_blocks(&a->org_record)) != NULL)
		;
	else if (a->policy == DMARC_POLICY_NONE)
		*why = "DMARC policy is none";
	return *why == NULL;
}

const char *
bimi_result_name(enum bimi_result r)
{
	switch (r) {
	case BIMI_RESULT_NONE: return "none";
	case BIMI_RESULT_PASS: return "pass";
	case BIMI_RESULT_FAIL: return "fail";
	case BIMI_RESULT_TEMPERROR: return "temperror";
	case BIMI_RESULT_DECLINED: return "declined";
	case BIMI_RESULT_SKIPPED: return "skipped";
	}
	return "none";
}

/* ---- header fields --------------------------------------------------- */

int
bimi_location_format(struct buf *out, const struct bimi_outcome *o)
{
	size_t need;

	if (o->result != BIMI_RESULT_PASS || o->record.l[0] == '\0')
		return -1;
	need = strlen("BIMI-Location: v=BIMI1; l=") + strlen(o->record.l);
	/* A URI cannot be folded; fold before it when the line is long. */
	return buf_printf(out, "BIMI-Location: v=BIMI1;%sl=%s\r\n",
	    need > AUTHRES_LINE_MAX ? "\r\n\t" : " ", o->record.l);
}

size_t
bimi_strip_ranges(const char *hdrs, size_t len, struct authres_field *out,
    size_t max)
{
	struct authres_field f;
	size_t pos = 0, n = 0;

	while (authres_field_next(hdrs, len, &pos, &f)) {
		if (!authres_field_is(&f, "BIMI-Location") &&
		    !authres_field_is(&f, "BIMI-Indicator") &&
		    !authres_field_is(&f, "BIMI-Logo-Preference"))
			continue;
		if (n < max)
			out[n] = f;
		n++;
	}
	return n;
}

/* ---- Assertion Record discovery -------------------------------------- */

enum bimi_stage {
	BIMI_AUTHOR,		/* selector._bimi.<author> */
	BIMI_AUTHOR_LPS,	/* lps-selector._bimi.<author> */
	BIMI_ORG,		/* selector._bimi.<org> */
	BIMI_ORG_LPS,
};

struct bimi_lookup {
	struct dns_resolver	*res;
	bimi_cb			*cb;
	void			*arg;
	char			 author[BIMI_DOMAIN_MAX];
	char			 org[BIMI_DOMAIN_MAX];
	char			 lps[BIMI_LPS_LEN + 2];	/* "" if unusable */
	char			 selector[BIMI_SELECTOR_MAX + 1];
	enum bimi_stage		 stage;
	struct dns_query	*q;
	struct event		*ev;
	struct bimi_outcome	*o;
	struct bimi_record	 base;		/* record of the non-lps step */
};

void
bimi_outcome_free(struct bimi_outcome *o)
{
	free(o);
}

static void
bimi_lookup_free(struct bimi_lookup *l)
{
	dns_query_cancel(l->q);
	if (l->ev != NULL)
		event_free(l->ev);
	bimi_outcome_free(l->o);
	free(l);
}

static void
bimi_finish(struct bimi_lookup *l)
{
	struct bimi_outcome *o = l->o;
	bimi_cb *cb = l->cb;
	void *arg = l->arg;

	l->o = NULL;
	bimi_lookup_free(l);
	cb(o, arg);
}

static void
bimi_set(struct bimi_lookup *l, enum bimi_result r, const char *why)
{
	l->o->result = r;
	l->o->reason = why;
}

/* The record chosen: declined, fail without l=, or pass. */
static void
bimi_conclude(struct bimi_lookup *l, const struct bimi_record *r,
    const char *domain, const char *selector)
{
	l->o->record = *r;
	snprintf(l->o->domain, sizeof(l->o->domain), "%s", domain);
	snprintf(l->o->selector, sizeof(l->o->selector), "%s", selector);
	if (bimi_record_declined(r))
		bimi_set(l, BIMI_RESULT_DECLINED, "declination to publish");
	else if (r->l[0] == '\0')
		bimi_set(l, BIMI_RESULT_FAIL, "no indicator location (l=)");
	else
		bimi_set(l, BIMI_RESULT_PASS, "assertion record found");
}

/* Start the query of the current stage; false if it could not start. */
static bool bimi_query(struct bimi_lookup *l);

/*
 * The BIMI records of an answer: 0, 1 (parsed into *r, *res its parse
 * result) or 2 for "several". -1 for a DNS error.
 */
static int
bimi_records(const struct dns_answer *ans, struct bimi_record *r,
    enum bimi_record_result *res)
{
	struct bimi_record tmp;
	size_t i;
	int n = 0;

	if (ans->rcode == DNS_RCODE_SERVFAIL ||
	    ans->rcode == DNS_RCODE_TIMEOUT || ans->sec == DNS_SEC_BOGUS)
		return -1;
	if (ans->rcode == DNS_RCODE_NXDOMAIN)
		return 0;
	for (i = 0; i < ans->nrr && n < 2; i++) {
		enum bimi_record_result pr;
		if (ans->rr[i].type != DNS_T_TXT)
			continue;
		pr = bimi_record_parse(ans->rr[i].u.txt.text,
		    ans->rr[i].u.txt.len, n == 0 ? r : &tmp);
		if (pr == BIMI_RECORD_NOT_BIMI)
			continue;	/* steps 4 and 7 */
		if (n == 0)
			*res = pr;
		n++;
	}
	return n;
}

/* Answer of a selector step (BIMI_AUTHOR or BIMI_ORG). Returns true when
 * the outcome is decided. */
static bool
bimi_on_selector(struct bimi_lookup *l, const struct dns_answer *ans)
{
	enum bimi_record_result pr = BIMI_RECORD_OK;
	const char *dom = l->stage == BIMI_AUTHOR ? l->author : l->org;
	int n = bimi_records(ans, &l->base, &pr);

	if (n == -1) {
		bimi_set(l, BIMI_RESULT_TEMPERROR, "DNS error");
		return true;
	}
	if (n == 0) {
		/* Step 6: fall back to the Organizational Domain. */
		if (l->stage == BIMI_AUTHOR && l->org[0] != '\0' &&
		    strcmp(l->org, l->author) != 0) {
			l->stage = BIMI_ORG;
			if (bimi_query(l))
				return false;
		}
		bimi_set(l, BIMI_RESULT_NONE, "no assertion record");
		return true;
	}
	if (n > 1) {
		bimi_set(l, BIMI_RESULT_FAIL, "several assertion records");
		return true;
	}
	if (pr != BIMI_RECORD_OK) {
		bimi_set(l, BIMI_RESULT_FAIL, "assertion record syntax error");
		return true;
	}
	/* Steps 5 and 8: a local-part selector, if it is a new name. */
	if (l->base.has_lps && l->lps[0] != '\0' &&
	    strcmp(l->lps, l->selector) != 0 && bimi_lps_match(&l->base,
	    l->lps)) {
		l->stage = l->stage == BIMI_AUTHOR ? BIMI_AUTHOR_LPS :
		    BIMI_ORG_LPS;
		if (bimi_query(l))
			return false;
	}
	bimi_conclude(l, &l->base, dom, l->selector);
	return true;
}

/* Answer of an lps step: its record if valid, else the base record. */
static void
bimi_on_lps(struct bimi_lookup *l, const struct dns_answer *ans)
{
	struct bimi_record r;
	enum bimi_record_result pr = BIMI_RECORD_INVALID;
	const char *dom = l->stage == BIMI_AUTHOR_LPS ? l->author : l->org;

	if (bimi_records(ans, &r, &pr) == 1 && pr == BIMI_RECORD_OK)
		bimi_conclude(l, &r, dom, l->lps);
	else
		bimi_conclude(l, &l->base, dom, l->selector);
}

static void
bimi_answer(struct dns_answer *ans, void *arg)
{
	struct bimi_lookup *l = arg;
	bool done = true;

	l->q = NULL;
	if (l->stage == BIMI_AUTHOR || l->stage == BIMI_ORG)
		done = bimi_on_selector(l, ans);
	else
		bimi_on_lps(l, ans);
	dns_answer_free(ans);
	if (done)
		bimi_finish(l);
}

static bool
bimi_query(struct bimi_lookup *l)
{
	char name[512];
	const char *sel = l->stage == BIMI_AUTHOR_LPS ||
	    l->stage == BIMI_ORG_LPS ? l->lps : l->selector;
	const char *dom = l->stage == BIMI_AUTHOR ||
	    l->stage == BIMI_AUTHOR_LPS ? l->author : l->org;
	int n;

	n = snprintf(name, sizeof(name), "%s._bimi.%s", sel, dom);
	if (n < 0 || n > 253)
		return false;	/* such a name cannot exist */
	l->o->nqueries++;
	l->q = dns_query(l->res, name, DNS_T_TXT, BIMI_QUERY_TIMEOUT_MS,
	    bimi_answer, l);
	return l->q != NULL;
}

static void
bimi_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bimi_finish(arg);
}

/* Copy a domain lower-cased without its final dot; false if unusable. */
static bool
bimi_copy_domain(char out[BIMI_DOMAIN_MAX], const char *in)
{
	size_t i, n = in == NULL ? 0 : strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char c = in[i];
		if (!bimi_is_alnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
	return true;
}

struct bimi_lookup *
bimi_lookup_start(struct event_base *base, struct dns_resolver *res,
    const struct bimi_input *in, bimi_cb *cb, void *arg)
{
	struct bimi_lookup *l = xcalloc(1, sizeof(*l));

	l->res = res;
	l->cb = cb;
	l->arg = arg;
	l->o = xcalloc(1, sizeof(*l->o));
	if (in->selector == NULL || !bimi_selector_ok(in->selector,
	    strlen(in->selector), l->selector, sizeof(l->selector)))
		snprintf(l->selector, sizeof(l->selector), "default");
	if (in->local_part == NULL || bimi_lps_selector(in->local_part,
	    l->lps, sizeof(l->lps)) == -1)
		l->lps[0] = '\0';
	if (!bimi_copy_domain(l->org, in->org_domain))
		l->org[0] = '\0';
	l->stage = BIMI_AUTHOR;
	if (!bimi_copy_domain(l->author, in->author_domain))
		bimi_set(l, BIMI_RESULT_FAIL, "unusable Author Domain");
	else if (bimi_query(l))
		return l;
	else
		bimi_set(l, BIMI_RESULT_NONE, "no assertion record");
	/* Decided at once: the callback still comes from the loop. */
	l->ev = evtimer_new(base, bimi_deferred, l);
	if (l->ev == NULL)
		fatal("bimi: evtimer_new failed");
	event_active(l->ev, EV_TIMEOUT, 0);
	return l;
}

void
bimi_lookup_cancel(struct bimi_lookup *l)
{
	if (l != NULL)
		bimi_lookup_free(l);
}

struct bimi_sync {
	struct bimi_outcome	*o;
	bool			 done;
};

static void
bimi_sync_cb(struct bimi_outcome *o, void *arg)
{
	struct bimi_sync *s = arg;

	s->o = o;
	s->done = true;
}

int
bimi_lookup_sync(const struct conf *conf, const struct bimi_input *in,
    struct bimi_outcome **out)
{
	struct bimi_sync s = { NULL, false };
	struct dns_sync_env env;
	char err[256];

	*out = NULL;
	if (dns_sync_open(&env, conf, err, sizeof(err)) == -1) {
		log_warn("bimi: resolver: %s", err);
		return -1;
	}
	(void)bimi_lookup_start(env.base, env.res, in, bimi_sync_cb, &s);
	dns_sync_run(&env, &s.done);
	dns_sync_close(&env);
	if (!s.done)
		return -1;
	*out = s.o;
	return 0;
}
