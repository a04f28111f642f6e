/* SPDX-License-Identifier: ISC */
/*
 * ARC chain validation (RFC 8617 §5.2). The header section is read once in
 * arc_verify_new(): ARC fields are sorted into sets by instance, the
 * structure is checked (steps 1-3), every AMS and AS is parsed with
 * dkim_sig_parse_kind() and its header digest computed; the AMS body
 * hashes run while the body streams in; keys are fetched through dns.h at
 * the end and applied with dkim_verify_apply_answer(), so the key and
 * signature rules are DKIM's.
 *
 * Ownership: the caller owns the struct arc_verify; it owns the parsed
 * signatures, the hash contexts and the DNS query handles; the DNS
 * callback owns its answer and frees it. A key slot's callback reaches v
 * through the slot, which lives inside v: arc_verify_cancel() cancels
 * every pending query before v can go away.
 */
#include "auth/arc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/authres.h"
#include "auth/dkim_canon.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

/* The three fields of a set, in the order §5.1.1 hashes them. */
enum { F_AAR, F_AMS, F_AS, F_KINDS };

static const struct {
	const char	*name;
	size_t		 len;
} field_names[F_KINDS] = {
	{ "ARC-Authentication-Results", 26 },
	{ "ARC-Message-Signature", 21 },
	{ "ARC-Seal", 8 },
};

#define NO_FIELD	((size_t)-1)

/* What the first pass over the ARC fields found (steps 1-3). */
struct arc_scan {
	size_t		 idx[F_KINDS][ARC_INSTANCES_MAX + 1];
	enum arc_cv	 cv[ARC_INSTANCES_MAX + 1];
	bool		 seal_h[ARC_INSTANCES_MAX + 1];
	unsigned	 n;
	bool		 any, too_many, bad;
};

/* One body hash: a canonicaliser feeding SHA-256. */
struct arc_hasher {
	enum dkim_canon_mode	 mode;
	uint64_t		 limit;
	EVP_MD_CTX		*md;
	struct dkim_body_canon	 canon;
	uint8_t			 digest[32];
};

/* One AMS or AS. r points into the public struct arc_set. */
struct arc_sig {
	struct dkim_sig		 sig;
	bool			 parsed, decided;
	uint8_t			 hdigest[32];
	size_t			 key;		/* index in keys, or NO_FIELD */
	struct arc_hasher	*hasher;	/* AMS only */
	struct dkim_result	*r;
};

struct arc_key {
	struct arc_verify	*v;
	char			 name[LIMIT_DOMAIN + 1];
	struct dns_query	*q;
	bool			 done;
};

struct arc_verify {
	time_t			 now;
	enum arc_result		 res;
	enum arc_reason		 reason;
	bool			 final;
	unsigned		 n;		/* N, the highest instance */
	bool			 have_sets;	/* sets[1..n] are filled */
	struct arc_set		 sets[ARC_VERIFY_MAX + 1];
	struct arc_sig		 ams[ARC_VERIFY_MAX + 1], as[ARC_VERIFY_MAX + 1];
	struct arc_hasher	 hashers[ARC_VERIFY_MAX];
	size_t			 nhashers;
	struct arc_key		 keys[ARC_KEYS_MAX];
	size_t			 nkeys;
	bool			 body_done, started;
	unsigned		 pending;
	struct event		*ev;
	arc_verify_cb		*cb;
	void			*arg;
	char			 comment[64];
	char			 oldest[16];
};

static void
set_final(struct arc_verify *v, enum arc_result res, enum arc_reason reason)
{
	v->res = res;
	v->reason = reason;
	v->final = true;
}

static void
sig_decide(struct arc_sig *s, enum dkim_res res, enum dkim_reason reason,
    const char *detail)
{
	s->r->res = res;
	s->r->reason = reason;
	s->r->detail = detail;
	s->decided = true;
}

/* ---- reading instances (§3.9) ---------------------------------------- */

/* Skip CFWS (RFC 5322 §3.2.2): WSP, folding CRLF, nested comments. */
static size_t
skip_cfws(const char *p, size_t len, size_t i)
{
	unsigned depth = 0;

	while (i < len) {
		char c = p[i];
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
		    c != '\n')
			break;
		else if (depth > 0 && c == '\\' && i + 1 < len)
			i++;
		i++;
	}
	return i;
}

/* position = 1*2DIGIT (§3.9); 0 if not, 51..99 are returned (too many). */
static unsigned
position(const char *p, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 2)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v;
}

/* AAR: arc-info = instance [CFWS] ";" authres-payload (§4.1.1). */
static unsigned
aar_instance(const char *p, size_t len)
{
	size_t i = skip_cfws(p, len, 0), start;

	if (i >= len || p[i] != 'i')
		return 0;
	i = skip_cfws(p, len, i + 1);
	if (i >= len || p[i] != '=')
		return 0;
	start = i = skip_cfws(p, len, i + 1);
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (skip_cfws(p, len, i) >= len || p[skip_cfws(p, len, i)] != ';')
		return 0;
	return position(p + start, i - start);
}

static bool
tag_is(const struct dkim_tag *t, const char *name)
{
	return t->namelen == strlen(name) && memcmp(t->name, name,
	    t->namelen) == 0;
}

static int
cv_value(const struct dkim_tag *t, enum arc_cv *cv)
{
	if (dkim_name_eq(t->val, t->vallen, "none", 4))
		*cv = ARC_CV_NONE;
	else if (dkim_name_eq(t->val, t->vallen, "pass", 4))
		*cv = ARC_CV_PASS;
	else if (dkim_name_eq(t->val, t->vallen, "fail", 4))
		*cv = ARC_CV_FAIL;
	else
		return -1;
	return 0;
}

/* AMS / AS: i= (and cv=, h= for a seal) from the tag-list; 0 if the list
 * or i= is bad, or a seal's cv= is missing or bad. */
static unsigned
sig_instance(int kind, const char *p, size_t len, enum arc_cv *cv,
    bool *has_h)
{
	struct dkim_tag_iter it;
	struct dkim_tag t;
	unsigned inst = 0, ntags = 0;
	bool have_cv = false;
	int k;

	dkim_tag_init(&it, p, len);
	while ((k = dkim_tag_next(&it, &t)) == 1) {
		if (++ntags > DKIM_TAGS_MAX)
			return 0;
		if (tag_is(&t, "i")) {
			if (inst != 0 || (inst = position(t.val, t.vallen)) ==
			    0)
				return 0;
		} else if (kind == F_AS && tag_is(&t, "cv")) {
			if (have_cv || cv_value(&t, cv) == -1)
				return 0;
			have_cv = true;
		} else if (kind == F_AS && tag_is(&t, "h"))
			*has_h = true;
	}
	if (k != 0 || (kind == F_AS && !have_cv))
		return 0;
	return inst;
}

/* Record one ARC field of kind at fields[j] in the scan. */
static void
scan_field(struct arc_scan *sc, int kind, const struct dkim_field *f,
    size_t j)
{
	enum arc_cv cv = ARC_CV_NONE;
	bool has_h = false;
	unsigned inst;

	sc->any = true;
	inst = kind == F_AAR ? aar_instance(f->value, f->valuelen) :
	    sig_instance(kind, f->value, f->valuelen, &cv, &has_h);
	if (inst == 0) {
		sc->bad = true;
		return;
	}
	if (inst > ARC_INSTANCES_MAX) {
		sc->too_many = true;
		return;
	}
	if (sc->idx[kind][inst] != NO_FIELD)
		sc->bad = true;		/* §4.2.1: exactly one per set */
	sc->idx[kind][inst] = j;
	if (kind == F_AS) {
		sc->cv[inst] = cv;
		sc->seal_h[inst] = has_h;
	}
	if (inst > sc->n)
		sc->n = inst;
}

/* §5.2 steps 1-3 and our bound; true if the chain is decided here. */
static bool
check_structure(struct arc_verify *v, const struct arc_scan *sc)
{
	v->n = sc->n;
	if (!sc->any) {
		set_final(v, ARC_NONE, ARC_REASON_NONE);
		return true;
	}
	if (sc->too_many)
		set_final(v, ARC_FAIL, ARC_REASON_TOO_MANY);
	else if (sc->n > 0 && sc->idx[F_AS][sc->n] != NO_FIELD &&
	    sc->cv[sc->n] == ARC_CV_FAIL)
		set_final(v, ARC_FAIL, ARC_REASON_CV_FAIL);
	if (v->final)
		return true;
	for (unsigned i = 1; i <= sc->n && !sc->bad; i++)
		for (int k = 0; k < F_KINDS; k++)
			if (sc->idx[k][i] == NO_FIELD)
				return set_final(v, ARC_FAIL,
				    ARC_REASON_STRUCTURE), true;
	if (sc->bad || sc->n == 0)
		return set_final(v, ARC_FAIL, ARC_REASON_STRUCTURE), true;
	for (unsigned i = 1; i <= sc->n; i++)
		if (sc->cv[i] != (i == 1 ? ARC_CV_NONE : ARC_CV_PASS))
			return set_final(v, ARC_FAIL, ARC_REASON_CV), true;
	if (sc->n > ARC_VERIFY_MAX)
		return set_final(v, ARC_FAIL, ARC_REASON_TOO_LONG), true;
	return false;
}

/* ---- hashing ---------------------------------------------------------- */

static void
hasher_out(void *arg, const uint8_t *p, size_t n)
{
	struct arc_hasher *h = arg;

	EVP_DigestUpdate(h->md, p, n);
}

/* The body hasher for (mode, limit), shared between AMS. */
static struct arc_hasher *
hasher_get(struct arc_verify *v, enum dkim_canon_mode mode, uint64_t limit)
{
	struct arc_hasher *h;

	for (size_t i = 0; i < v->nhashers; i++)
		if (v->hashers[i].mode == mode && v->hashers[i].limit == limit)
			return &v->hashers[i];
	h = &v->hashers[v->nhashers++];
	h->mode = mode;
	h->limit = limit;
	if ((h->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		fatal("arc: cannot set up SHA-256");
	dkim_body_canon_init(&h->canon, mode, limit, hasher_out, h);
	return h;
}

/*
 * §5.1.1: the seal of instance i signs the sets 1..i in increasing order,
 * each AAR, AMS, AS, relaxed; its own AS comes last with b= blanked and no
 * CRLF. That is a DKIM header hash with an implicit h= list ("aar : ams :
 * as" per set, the last AS being the seal itself) over the fields laid out
 * newest set first, since h= takes each name's instances from the bottom
 * up (RFC 6376 §5.4.2). So dkim_verify_header_digest() computes it, and
 * the order is the instances', whatever the fields' order in the message.
 */
static void
seal_digest(struct arc_verify *v, unsigned i, const struct dkim_field *fields,
    const struct arc_scan *sc)
{
	struct dkim_field sel[F_KINDS * ARC_VERIFY_MAX];
	struct dkim_sig *sig = &v->as[i].sig;
	size_t nsel = 0;

	sig->nh = 0;
	for (unsigned j = i; j >= 1; j--)
		for (int k = 0; k < F_KINDS; k++)
			if (j < i || k != F_AS)
				sel[nsel++] = fields[sc->idx[k][j]];
	for (unsigned j = 1; j <= i; j++)
		for (int k = 0; k < F_KINDS; k++)
			if (j < i || k != F_AS) {
				sig->h[sig->nh].p = field_names[k].name;
				sig->h[sig->nh++].len = field_names[k].len;
			}
	dkim_verify_header_digest(sig, sel, nsel, &fields[sc->idx[F_AS][i]],
	    v->as[i].hdigest);
}
