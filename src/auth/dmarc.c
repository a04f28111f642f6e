/* SPDX-License-Identifier: ISC */
/*
 * DMARC evaluation (RFC 9989). The core (dmarc_ctx) recomputes the whole
 * evaluation from its cache of DNS answers at every step: walks that reach
 * a name not in the cache ask for it and stop there. This keeps the logic
 * a pure function of the answers, testable without DNS, and lets
 * independent walks run in parallel. The asynchronous part only turns
 * needs into dns_query() calls. See dmarc.h for the reading of the RFC.
 */
#include "auth/dmarc.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "msg/addr.h"
#include "msg/idna.h"

/* What the cache knows about one name. */
enum dmarc_lk_state {
	LK_PENDING,	/* asked for, no answer yet */
	LK_RECORD,	/* TXT: exactly one DMARC record */
	LK_NORECORD,	/* NOERROR without exactly one record; A: exists */
	LK_NXDOMAIN,
	LK_ERROR,	/* SERVFAIL, timeout, bogus, or over the limits */
};

struct dmarc_lk {
	char			 name[DMARC_DOMAIN_MAX + 8];
	uint16_t		 type;
	enum dmarc_lk_state	 state;
	bool			 asked;		/* handed out as a need */
	struct dmarc_record	*rec;		/* LK_RECORD */
};

/* Needs collected during one step. */
struct dmarc_needs {
	struct dmarc_need	*v;
	size_t			 max, n;
	bool			 waiting;	/* something is pending */
};

struct dmarc_ctx {
	char		 authors[DMARC_AUTHORS_MAX][DMARC_DOMAIN_MAX];
	/* 0, or why the Author Domain cannot be evaluated (permerror). */
	const char	*author_bad[DMARC_AUTHORS_MAX];
	size_t		 nauthors;
	bool		 too_many_authors;
	bool		 spf_pass;
	char		 spf_domain[DMARC_DOMAIN_MAX];
	char		 dkim[DMARC_DKIM_MAX][DMARC_DOMAIN_MAX];
	size_t		 ndkim;
	struct dmarc_lk	 lk[DMARC_QUERIES_MAX];
	size_t		 nlk;
	unsigned	 nqueries;
	struct dmarc_needs *needs;	/* set during dmarc_ctx_step */
	struct dmarc_verdict *verdict;
};

/* The names of one Tree Walk and the records found (§4.10). */
struct dmarc_walk {
	char		 dom[DMARC_WALK_MAX][DMARC_DOMAIN_MAX];
	const struct dmarc_record *rec[DMARC_WALK_MAX];
	size_t		 n;
};

enum dmarc_walk_state { WALK_DONE, WALK_PENDING, WALK_ERROR };
enum dmarc_align_state { AL_NO, AL_YES, AL_PENDING, AL_ERROR };

static const char dmarc_prefix[] = "_dmarc.";

/* ---- names ----------------------------------------------------------- */

/*
 * Normalise a domain: U-labels to A-labels and A-labels checked (RFC 8616
 * §6: every U-label is converted before further processing; msg/idna),
 * lower case, one final dot dropped, labels of 1..63 LDH or "_"
 * characters, at most 253 characters. Returns 0, -1 for a bad name, -2
 * for one that is not valid IDNA2008 (*why says why).
 */
static int
dmarc_domain_norm(const char *in, char out[DMARC_DOMAIN_MAX],
    const char **why)
{
	char a[LIMIT_DOMAIN + 1];
	size_t i, n = strlen(in), label = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (!idna_is_plain(in, n)) {
		if (idna_to_alabels(in, n, a, sizeof(a), why) != 0)
			return -2;
		in = a;
		n = strlen(a);
	}
	if (n == 0 || n > 253)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x80)
			return -1;
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (label == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static size_t
dmarc_labels(const char *d)
{
	size_t n = 1;

	for (; *d; d++)
		if (*d == '.')
			n++;
	return n;
}

/* The suffix of d that has keep labels (keep <= labels of d). */
static const char *
dmarc_suffix(const char *d, size_t keep)
{
	size_t drop = dmarc_labels(d) - keep;

	while (drop > 0) {
		d = strchr(d, '.') + 1;
		drop--;
	}
	return d;
}

/* True if d is parent or a name below parent (both normalised). */
static bool
dmarc_is_under(const char *d, const char *parent)
{
	size_t dl = strlen(d), pl = strlen(parent);

	if (dl == pl)
		return strcmp(d, parent) == 0;
	return dl > pl && d[dl - pl - 1] == '.' &&
	    strcmp(d + dl - pl, parent) == 0;
}

/* True if a and b (normalised) end in the same label. */
static bool
dmarc_same_top(const char *a, const char *b)
{
	const char *ta = strrchr(a, '.'), *tb = strrchr(b, '.');

	return strcmp(ta ? ta + 1 : a, tb ? tb + 1 : b) == 0;
}

/* ---- cache ----------------------------------------------------------- */

static struct dmarc_lk *
dmarc_lk_find(struct dmarc_ctx *c, const char *name, uint16_t type)
{
	size_t i;

	for (i = 0; i < c->nlk; i++)
		if (c->lk[i].type == type && strcmp(c->lk[i].name, name) == 0)
			return &c->lk[i];
	return NULL;
}

/*
 * The cache entry for name/type, created (and asked for) when missing.
 * Returns the state; LK_PENDING also when it had to be asked for.
 */
static enum dmarc_lk_state
dmarc_lk_get(struct dmarc_ctx *c, const char *name, uint16_t type,
    const struct dmarc_record **rec)
{
	struct dmarc_lk *lk = dmarc_lk_find(c, name, type);
	struct dmarc_needs *nd = c->needs;

	*rec = NULL;
	if (lk == NULL) {
		/* A name longer than DNS allows cannot exist. */
		if (strlen(name) > 253)
			return LK_NXDOMAIN;
		if (c->nlk == DMARC_QUERIES_MAX)
			return LK_ERROR;
		lk = &c->lk[c->nlk++];
		memset(lk, 0, sizeof(*lk));
		snprintf(lk->name, sizeof(lk->name), "%s", name);
		lk->type = type;
		lk->state = LK_PENDING;
	}
	if (lk->state == LK_PENDING) {
		nd->waiting = true;
		if (!lk->asked && nd->n < nd->max) {
			snprintf(nd->v[nd->n].name, sizeof(nd->v[nd->n].name),
			    "%s", name);
			nd->v[nd->n].type = type;
			nd->n++;
			lk->asked = true;
			c->nqueries++;
		}
	}
	*rec = lk->rec;
	return lk->state;
}

/* The cache entry of "_dmarc.<d>". */
static enum dmarc_lk_state
dmarc_lk_txt(struct dmarc_ctx *c, const char *d,
    const struct dmarc_record **rec)
{
	char name[DMARC_DOMAIN_MAX + 8];

	snprintf(name, sizeof(name), "%s%s", dmarc_prefix, d);
	return dmarc_lk_get(c, name, DNS_T_TXT, rec);
}

void
dmarc_ctx_feed(struct dmarc_ctx *c, const char *name, uint16_t type,
    const struct dns_answer *ans)
{
	struct dmarc_lk *lk = dmarc_lk_find(c, name, type);
	size_t i, found = 0, which = 0;

	if (lk == NULL || lk->state != LK_PENDING)
		return;
	if (ans == NULL || ans->rcode == DNS_RCODE_SERVFAIL ||
	    ans->rcode == DNS_RCODE_TIMEOUT || ans->sec == DNS_SEC_BOGUS) {
		lk->state = LK_ERROR;
		return;
	}
	if (ans->rcode == DNS_RCODE_NXDOMAIN) {
		lk->state = LK_NXDOMAIN;
		return;
	}
	lk->state = LK_NORECORD;
	if (type != DNS_T_TXT)
		return;
	/* §4.10 step 2: keep v=DMARC1 records; several are all discarded. */
	for (i = 0; i < ans->nrr; i++) {
		if (ans->rr[i].type != DNS_T_TXT ||
		    !dmarc_record_is_dmarc(ans->rr[i].u.txt.text,
		    ans->rr[i].u.txt.len))
			continue;
		found++;
		which = i;
	}
	if (found != 1)
		return;
	lk->rec = xmalloc(sizeof(*lk->rec));
	(void)dmarc_record_parse(ans->rr[which].u.txt.text,
	    ans->rr[which].u.txt.len, lk->rec);
	lk->state = LK_RECORD;
}

/* ---- Tree Walk (§4.10) and Organizational Domain (§4.10.2) ----------- */

static enum dmarc_walk_state
dmarc_walk(struct dmarc_ctx *c, const char *start, struct dmarc_walk *w)
{
	const char *cur = start;
	size_t x = dmarc_labels(start);

	w->n = 0;
	for (;;) {
		const struct dmarc_record *rec;
		enum dmarc_lk_state st = dmarc_lk_txt(c, cur, &rec);

		if (st == LK_PENDING)
			return WALK_PENDING;
		if (st == LK_ERROR)
			return WALK_ERROR;
		snprintf(w->dom[w->n], sizeof(w->dom[w->n]), "%s", cur);
		w->rec[w->n++] = rec;
		/* Steps 2 and 6: a record with psd=y or psd=n ends it. */
		if (rec != NULL && rec->psd != DMARC_PSD_U)
			return WALK_DONE;
		if (x == 1 || w->n == DMARC_WALK_MAX)
			return WALK_DONE;
		/* Steps 4 and 7: drop one label, or down to 7 labels. */
		x = x - 1 < 7 ? x - 1 : 7;
		cur = dmarc_suffix(start, x);
	}
}

/* Select the Organizational Domain of w->dom[0] (§4.10.2 rules 1-3). */
static void
dmarc_walk_org(const struct dmarc_walk *w, char org[DMARC_DOMAIN_MAX])
{
	size_t i, fewest = w->n;

	for (i = 0; i < w->n; i++) {
		if (w->rec[i] == NULL)
			continue;
		if (w->rec[i]->psd == DMARC_PSD_N) {
			snprintf(org, DMARC_DOMAIN_MAX, "%s", w->dom[i]);
			return;
		}
		if (w->rec[i]->psd == DMARC_PSD_Y && i != 0) {
			/* The name one label below the PSD, inside dom[0]. */
			size_t keep = dmarc_labels(w->dom[i]) + 1;

			snprintf(org, DMARC_DOMAIN_MAX, "%s",
			    dmarc_suffix(w->dom[0], keep));
			return;
		}
		fewest = i;	/* walk order: later names have fewer labels */
	}
	snprintf(org, DMARC_DOMAIN_MAX, "%s",
	    fewest < w->n ? w->dom[fewest] : w->dom[0]);
}

/* The record the walk found at d, or NULL. */
static const struct dmarc_record *
dmarc_walk_rec(const struct dmarc_walk *w, const char *d)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->dom[i], d) == 0)
			return w->rec[i];
	return NULL;
}

/* ---- alignment (§4.4, §4.10.2) --------------------------------------- */

static enum dmarc_align_state
dmarc_aligned(struct dmarc_ctx *c, const char *author, const char *org_author,
    const char *id, enum dmarc_align mode)
{
	struct dmarc_walk w;
	char org[DMARC_DOMAIN_MAX];

	if (strcmp(id, author) == 0)
		return AL_YES;
	if (mode == DMARC_ALIGN_STRICT)
		return AL_NO;
	/* A DNS error hid the Author's Organizational Domain. It is the
	 * Author Domain or an ancestor, and must be one of id's too: names
	 * without a common top label can never align. */
	if (org_author[0] == '\0')
		return dmarc_same_top(id, author) ? AL_ERROR : AL_NO;
	/* An Organizational Domain is the name or an ancestor of it. */
	if (!dmarc_is_under(id, org_author))
		return AL_NO;
	switch (dmarc_walk(c, id, &w)) {
	case WALK_PENDING:
		return AL_PENDING;
	case WALK_ERROR:
		return AL_ERROR;
	case WALK_DONE:
		break;
	}
	dmarc_walk_org(&w, org);
	return strcmp(org, org_author) == 0 ? AL_YES : AL_NO;
}

/* Alignment of SPF and DKIM for a; false while answers are missing.
 * *err tells whether an identifier could not be evaluated. */
static bool
dmarc_align_all(struct dmarc_ctx *c, struct dmarc_author *a, bool *err)
{
	enum dmarc_align_state st;
	bool done = true;
	size_t i;

	*err = false;
	if (c->spf_pass && c->spf_domain[0] != '\0') {
		st = dmarc_aligned(c, a->domain, a->org_domain, c->spf_domain,
		    a->record.aspf);
		a->spf_aligned = st == AL_YES;
		done &= st != AL_PENDING;
		*err |= st == AL_ERROR;
	}
	for (i = 0; i < c->ndkim && !a->dkim_aligned; i++) {
		st = dmarc_aligned(c, a->domain, a->org_domain, c->dkim[i],
		    a->record.adkim);
		if (st == AL_YES) {
			a->dkim_aligned = true;
			snprintf(a->dkim_domain, sizeof(a->dkim_domain), "%s",
			    c->dkim[i]);
		}
		done &= st != AL_PENDING;
		*err |= st == AL_ERROR;
	}
	return done;
}

/* ---- policy (§4.7, §4.10.1) ------------------------------------------ */

static enum dmarc_disposition
dmarc_disposition_of(enum dmarc_policy p, bool testing)
{
	/* §4.7 "t": test mode applies the policy one level below. */
	switch (p) {
	case DMARC_POLICY_REJECT:
		return testing ? DMARC_DISPOSITION_QUARANTINE :
		    DMARC_DISPOSITION_REJECT;
	case DMARC_POLICY_QUARANTINE:
		return testing ? DMARC_DISPOSITION_NONE :
		    DMARC_DISPOSITION_QUARANTINE;
	case DMARC_POLICY_NONE:
		break;
	}
	return DMARC_DISPOSITION_NONE;
}

/*
 * Choose p, sp or np for a. exists: 1 the Author Domain exists, 0 it does
 * not, -1 unknown (then np is not considered).
 */
static void
dmarc_choose_policy(struct dmarc_author *a, int exists)
{
	const struct dmarc_record *r = &a->record;

	a->source = DMARC_SOURCE_P;
	a->policy = r->p;
	if (r->policy_invalid) {
		a->policy = DMARC_POLICY_NONE;	/* rua present: act as p=none */
		return;
	}
	if (strcmp(a->policy_domain, a->domain) == 0)
		return;
	if (exists == 0 && r->has_np) {
		a->source = DMARC_SOURCE_NP;
		a->policy = r->np;
	} else if (r->has_sp) {
		a->source = DMARC_SOURCE_SP;
		a->policy = r->sp;
	}
}

/*
 * Does the Author Domain exist (§3.2.13, Appendix A.4)? 1, 0, -1 for a
 * DNS error, -2 while waiting.
 */
static int
dmarc_author_exists(struct dmarc_ctx *c, const char *d)
{
	const struct dmarc_record *rec;
	enum dmarc_lk_state st = dmarc_lk_txt(c, d, &rec);

	if (st == LK_RECORD || st == LK_NORECORD)
		return 1;	/* RFC 8020: _dmarc.<d> exists, so does d */
	switch (dmarc_lk_get(c, d, DNS_T_A, &rec)) {
	case LK_PENDING:
		return -2;
	case LK_NXDOMAIN:
		return 0;
	case LK_ERROR:
		return -1;
	case LK_RECORD:
	case LK_NORECORD:
		break;
	}
	return 1;
}

static void
dmarc_set(struct dmarc_author *a, enum dmarc_result r, const char *why)
{
	a->result = r;
	a->reason = why;
}

/* Discover the policy record of a (§4.10.1); false while waiting. */
static bool
dmarc_discover(struct dmarc_ctx *c, struct dmarc_author *a)
{
	struct dmarc_walk w;
	const struct dmarc_record *rec, *org;
	size_t i;

	switch (dmarc_walk(c, a->domain, &w)) {
	case WALK_PENDING:
		return false;
	case WALK_ERROR:
		/* A record at the Author Domain is the one to apply, whatever
		 * lies above it (§4.10.1): an error higher up leaves only the
		 * Organizational Domain unknown (org_domain stays ""), which
		 * identical identifiers do not need. */
		if (w.n == 0 || w.rec[0] == NULL) {
			dmarc_set(a, DMARC_RESULT_TEMPERROR,
			    "DNS error during policy discovery");
			return true;
		}
		break;
	case WALK_DONE:
		dmarc_walk_org(&w, a->org_domain);
		break;
	}
	org = a->org_domain[0] ? dmarc_walk_rec(&w, a->org_domain) : NULL;
	if (w.rec[0] != NULL) {
		rec = w.rec[0];
		snprintf(a->policy_domain, DMARC_DOMAIN_MAX, "%s", a->domain);
		if (org != NULL && org != rec) {
			a->has_org_record = true;
			a->org_record = *org;
		}
	} else if (org != NULL) {
		rec = org;
		snprintf(a->policy_domain, DMARC_DOMAIN_MAX, "%s",
		    a->org_domain);
	} else {
		/* No record at the Organizational Domain: the PSD's. */
		for (rec = NULL, i = 0; i < w.n; i++)
			if (w.rec[i] != NULL && w.rec[i]->psd == DMARC_PSD_Y) {
				rec = w.rec[i];
				snprintf(a->policy_domain, DMARC_DOMAIN_MAX,
				    "%s", w.dom[i]);
			}
	}
	if (rec == NULL) {
		dmarc_set(a, DMARC_RESULT_NONE, "no DMARC policy record");
		return true;
	}
	a->has_record = true;
	a->record = *rec;
	a->testing = dmarc_record_testing(rec);
	if (rec->policy_invalid && rec->nrua == 0)
		dmarc_set(a, DMARC_RESULT_PERMERROR,
		    "policy record without a valid p, sp or np");
	return true;
}

/*
 * After a temperror: may the policy that would apply be reject? Unknown
 * (no record found) counts as yes; with a record, p for the Author Domain
 * itself, else sp (or p) and np, whichever applies once existence is known.
 */
static bool
dmarc_may_reject(const struct dmarc_author *a)
{
	const struct dmarc_record *r = &a->record;
	enum dmarc_policy sub;

	if (!a->has_record)
		return true;
	if (r->policy_invalid || dmarc_record_testing(r))
		return false;
	if (strcmp(a->policy_domain, a->domain) == 0)
		return r->p == DMARC_POLICY_REJECT;
	sub = r->has_sp ? r->sp : r->p;
	return sub == DMARC_POLICY_REJECT ||
	    (r->has_np && r->np == DMARC_POLICY_REJECT);
}

/* Evaluate one Author Domain into a; false while answers are missing. */
static bool
dmarc_eval_author(struct dmarc_ctx *c, size_t idx, struct dmarc_author *a)
{
	bool err;
	int exists;

	memset(a, 0, sizeof(*a));
	snprintf(a->domain, sizeof(a->domain), "%s", c->authors[idx]);
	dmarc_set(a, DMARC_RESULT_NONE, "");
	if (c->author_bad[idx] != NULL) {
		dmarc_set(a, DMARC_RESULT_PERMERROR, c->author_bad[idx]);
		return true;
	}
	if (!dmarc_discover(c, a))
		return false;
	if (!a->has_record || a->result != DMARC_RESULT_NONE)
		return true;
	if (!dmarc_align_all(c, a, &err))
		return false;
	if (a->spf_aligned || a->dkim_aligned) {
		dmarc_set(a, DMARC_RESULT_PASS, a->dkim_aligned ?
		    "aligned DKIM pass" : "aligned SPF pass");
		dmarc_choose_policy(a, -1);
		return true;
	}
	if (err) {
		dmarc_set(a, DMARC_RESULT_TEMPERROR,
		    "DNS error while checking alignment");
		return true;
	}
	exists = 1;
	if (strcmp(a->policy_domain, a->domain) != 0 && a->record.has_np &&
	    !a->record.policy_invalid) {
		exists = dmarc_author_exists(c, a->domain);
		if (exists == -2)
			return false;
		if (exists == -1) {
			dmarc_set(a, DMARC_RESULT_TEMPERROR,
			    "DNS error checking the Author Domain exists");
			return true;
		}
	}
	dmarc_set(a, DMARC_RESULT_FAIL, "no aligned SPF or DKIM pass");
	dmarc_choose_policy(a, exists);
	a->disposition = dmarc_disposition_of(a->policy, a->testing);
	return true;
}

/* ---- verdict --------------------------------------------------------- */

/* Order of "worse" per-domain results for the combined one. */
static int
dmarc_rank(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_FAIL: return 4;
	case DMARC_RESULT_TEMPERROR: return 3;
	case DMARC_RESULT_PERMERROR: return 2;
	case DMARC_RESULT_PASS: return 1;
	case DMARC_RESULT_NONE: return 0;
	}
	return 0;
}

static void
dmarc_combine(struct dmarc_verdict *v)
{
	size_t i;

	v->result = DMARC_RESULT_NONE;
	v->disposition = DMARC_DISPOSITION_NONE;
	for (i = 0; i < v->nauthors; i++) {
		const struct dmarc_author *a = &v->author[i];
		if (dmarc_rank(a->result) > dmarc_rank(v->result))
			v->result = a->result;
		if (a->disposition > v->disposition)
			v->disposition = a->disposition;
	}
}

enum dmarc_step
dmarc_ctx_step(struct dmarc_ctx *c, struct dmarc_need *needs, size_t max,
    size_t *nneeds)
{
	struct dmarc_needs nd = { needs, max, 0, false };
	struct dmarc_verdict *v;
	bool done = true;
	size_t i;

	*nneeds = 0;
	if (c->verdict != NULL)
		return DMARC_STEP_DONE;
	v = xcalloc(1, sizeof(*v));
	c->needs = &nd;
	for (i = 0; i < c->nauthors; i++)
		done &= dmarc_eval_author(c, i, &v->author[i]);
	c->needs = NULL;
	if (!done) {
		free(v);
		*nneeds = nd.n;
		return DMARC_STEP_NEED;
	}
	v->nauthors = c->nauthors;
	for (i = 0; i < v->nauthors; i++)
		v->author[i].may_reject = v->author[i].result ==
		    DMARC_RESULT_TEMPERROR && dmarc_may_reject(&v->author[i]);
	dmarc_combine(v);
	if (c->nauthors == 0 || c->too_many_authors) {
		v->result = DMARC_RESULT_PERMERROR;
		v->disposition = DMARC_DISPOSITION_NONE;
	}
	v->nqueries = c->nqueries;
	c->verdict = v;
	return DMARC_STEP_DONE;
}

struct dmarc_verdict *
dmarc_ctx_take_verdict(struct dmarc_ctx *c)
{
	struct dmarc_verdict *v = c->verdict;

	c->verdict = NULL;
	return v;
}

/* Copy the authors of in: de-duplicated, normalised; a bad name is kept
 * as an author whose evaluation is a permerror. */
static void
dmarc_ctx_authors(struct dmarc_ctx *c, const struct dmarc_input *in)
{
	size_t i, j;

	for (i = 0; i < in->nfrom; i++) {
		char d[DMARC_DOMAIN_MAX];
		const char *why = NULL;
		int rc = in->from_domains[i] == NULL ? -1 :
		    dmarc_domain_norm(in->from_domains[i], d, &why);

		/* Not valid IDNA: reported under the name as written. */
		if (rc != 0)
			snprintf(d, sizeof(d), "%s", rc == -2 ?
			    in->from_domains[i] : "(invalid)");
		for (j = 0; j < c->nauthors; j++)
			if (strcmp(c->authors[j], d) == 0)
				break;
		if (j < c->nauthors)
			continue;
		if (c->nauthors == DMARC_AUTHORS_MAX) {
			c->too_many_authors = true;
			return;
		}
		c->author_bad[c->nauthors] = rc == 0 ? NULL : rc == -2 ?
		    why : "invalid Author Domain";
		snprintf(c->authors[c->nauthors++], DMARC_DOMAIN_MAX, "%s", d);
	}
}

struct dmarc_ctx *
dmarc_ctx_new(const struct dmarc_input *in)
{
	struct dmarc_ctx *c = xcalloc(1, sizeof(*c));
	size_t i, j;

	dmarc_ctx_authors(c, in);
	c->spf_pass = in->spf_pass && in->spf_domain != NULL &&
	    dmarc_domain_norm(in->spf_domain, c->spf_domain, NULL) == 0;
	for (i = 0; i < in->ndkim && c->ndkim < DMARC_DKIM_MAX; i++) {
		char d[DMARC_DOMAIN_MAX];
		if (!in->dkim[i].pass || in->dkim[i].domain == NULL ||
		    dmarc_domain_norm(in->dkim[i].domain, d, NULL) != 0)
			continue;
		for (j = 0; j < c->ndkim && strcmp(c->dkim[j], d) != 0; j++)
			;
		if (j == c->ndkim)
			memcpy(c->dkim[c->ndkim++], d, sizeof(d));
	}
	return c;
}

void
dmarc_ctx_free(struct dmarc_ctx *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlk; i++)
		free(c->lk[i].rec);
	dmarc_verdict_free(c->verdict);
	free(c);
}

bool
dmarc_verdict_may_reject(const struct dmarc_verdict *v)
{
	for (size_t i = 0; v != NULL && i < v->nauthors; i++)
		if (v->author[i].result == DMARC_RESULT_TEMPERROR &&
		    v->author[i].may_reject)
			return true;
	return false;
}

void
dmarc_verdict_free(struct dmarc_verdict *v)
{
	free(v);
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE: return "none";
	case DMARC_RESULT_PASS: return "pass";
	case DMARC_RESULT_FAIL: return "fail";
	case DMARC_RESULT_TEMPERROR: return "temperror";
	case DMARC_RESULT_PERMERROR: return "permerror";
	}
	return "none";
}

const char *
dmarc_disposition_name(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISPOSITION_NONE: return "none";
	case DMARC_DISPOSITION_QUARANTINE: return "quarantine";
	case DMARC_DISPOSITION_REJECT: return "reject";
	}
	return "none";
}

/* ---- Author Domains from the header section -------------------------- */

/* Addresses parsed per From: field; more make the message "too many". */
#define DMARC_FROM_ADDRS_MAX	32

int
dmarc_author_domains(const char *hdrs, size_t len,
    char out[][DMARC_DOMAIN_MAX], size_t max)
{
	struct authres_field f;
	struct addr *addrs = xcalloc(DMARC_FROM_ADDRS_MAX, sizeof(*addrs));
	size_t pos = 0, ndom = 0, i, j;
	int n, rc = 0;

	while (rc == 0 && authres_field_next(hdrs, len, &pos, &f)) {
		if (!authres_field_is(&f, "from"))
			continue;
		/* An Author Domain that is not valid IDNA stays, for
		 * dmarc_ctx_new to report it as a permerror. */
		n = addr_parse_header_list_keep_idn(f.value, f.vlen, addrs,
		    DMARC_FROM_ADDRS_MAX);
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n > DMARC_FROM_ADDRS_MAX) {
			/* Too many to look at: report more than max. */
			ndom = max + 1;
			break;
		}
		for (i = 0; i < (size_t)n; i++) {
			for (j = 0; j < ndom && j < max; j++)
				if (strcasecmp(out[j], addrs[i].domain) == 0)
					break;
			if (j < ndom && j < max)
				continue;
			if (ndom < max)
				snprintf(out[ndom], DMARC_DOMAIN_MAX, "%s",
				    addrs[i].domain);
			ndom++;
		}
	}
	free(addrs);
	return rc == 0 ? (int)ndom : -1;
}

/* ---- asynchronous evaluation ----------------------------------------- */

struct dmarc_pending {
	struct dmarc_eval	*e;
	struct dns_query	*q;	/* NULL once answered */
	char			 name[DMARC_DOMAIN_MAX + 8];
	uint16_t		 type;
};

struct dmarc_eval {
	struct event_base	*base;
	struct dns_resolver	*res;
	struct dmarc_ctx	*ctx;
	dmarc_cb		*cb;
	void			*arg;
	struct dmarc_pending	*pend[DMARC_QUERIES_MAX];
	size_t			 npend;
	struct event		*ev;	/* defers a verdict known at once */
};

static void dmarc_eval_advance(struct dmarc_eval *e);

static void
dmarc_eval_free(struct dmarc_eval *e)
{
	size_t i;

	for (i = 0; i < e->npend; i++) {
		dns_query_cancel(e->pend[i]->q);
		free(e->pend[i]);
	}
	if (e->ev != NULL)
		event_free(e->ev);
	dmarc_ctx_free(e->ctx);
	free(e);
}

/* Hand the verdict over; e is gone afterwards. */
static void
dmarc_eval_finish(struct dmarc_eval *e)
{
	struct dmarc_verdict *v = dmarc_ctx_take_verdict(e->ctx);
	dmarc_cb *cb = e->cb;
	void *arg = e->arg;

	dmarc_eval_free(e);
	cb(v, arg);
}

static void
dmarc_eval_answer(struct dns_answer *ans, void *arg)
{
	struct dmarc_pending *p = arg;
	struct dmarc_eval *e = p->e;

	p->q = NULL;
	dmarc_ctx_feed(e->ctx, p->name, p->type, ans);
	dns_answer_free(ans);
	dmarc_eval_advance(e);
}

static void
dmarc_eval_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dmarc_eval_finish(arg);
}

/* Start the lookups the core needs; finish when it is done. Returns true
 * when the verdict is ready. */
static bool
dmarc_eval_run(struct dmarc_eval *e)
{
	struct dmarc_need needs[8];
	size_t n, i;

	for (;;) {
		if (dmarc_ctx_step(e->ctx, needs, 8, &n) == DMARC_STEP_DONE)
			return true;
		if (n == 0)
			return false;
		for (i = 0; i < n; i++) {
			struct dmarc_pending *p = xcalloc(1, sizeof(*p));

			p->e = e;
			memcpy(p->name, needs[i].name, sizeof(p->name));
			p->type = needs[i].type;
			/* The ctx asks for each name once and holds at
			 * most DMARC_QUERIES_MAX of them. */
			e->pend[e->npend++] = p;
			p->q = dns_query(e->res, p->name, p->type,
			    DMARC_QUERY_TIMEOUT_MS, dmarc_eval_answer, p);
			if (p->q == NULL)
				dmarc_ctx_feed(e->ctx, p->name, p->type, NULL);
		}
	}
}

static void
dmarc_eval_advance(struct dmarc_eval *e)
{
	if (dmarc_eval_run(e))
		dmarc_eval_finish(e);
}

struct dmarc_eval *
dmarc_eval_start(struct event_base *base, struct dns_resolver *res,
    const struct dmarc_input *in, dmarc_cb *cb, void *arg)
{
	struct dmarc_eval *e = xcalloc(1, sizeof(*e));

	e->base = base;
	e->res = res;
	e->cb = cb;
	e->arg = arg;
	e->ctx = dmarc_ctx_new(in);
	if (dmarc_eval_run(e)) {
		/* The callback must come from the loop, after we return. */
		e->ev = evtimer_new(base, dmarc_eval_deferred, e);
		if (e->ev == NULL)
			fatal("dmarc: evtimer_new failed");
		event_active(e->ev, EV_TIMEOUT, 0);
	}
	return e;
}

void
dmarc_eval_cancel(struct dmarc_eval *e)
{
	if (e != NULL)
		dmarc_eval_free(e);
}

struct dmarc_sync {
	struct dmarc_verdict	*v;
	bool			 done;
};

static void
dmarc_sync_cb(struct dmarc_verdict *v, void *arg)
{
	struct dmarc_sync *s = arg;

	s->v = v;
	s->done = true;
}

int
dmarc_eval_sync(const struct conf *conf, const struct dmarc_input *in,
    struct dmarc_verdict **out)
{
	struct dmarc_sync s = { NULL, false };
	struct dns_sync_env env;
	char err[256];

	*out = NULL;
	if (dns_sync_open(&env, conf, err, sizeof(err)) == -1) {
		log_warn("dmarc: resolver: %s", err);
		return -1;
	}
	(void)dmarc_eval_start(env.base, env.res, in, dmarc_sync_cb, &s);
	dns_sync_run(&env, &s.done);
	dns_sync_close(&env);
	if (!s.done)
		return -1;
	*out = s.v;
	return 0;
}
