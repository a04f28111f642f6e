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

#include "auth/authres.h"
#include "auth/dkim_canon.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

/* The three fields of a set, in the order §5.1.1 hashes them. */
enum { F_AAR, F_AMS, F_AS, F_KINDS };
_Static_assert(F_AAR == (int)ARC_FIELD_AAR && F_AMS == (int)ARC_FIELD_AMS &&
    F_AS == (int)ARC_FIELD_AS && F_KINDS == (int)ARC_FIELD_NONE,
    "arc_field_kind names the same kinds");

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

/* One AMS or AS. r points into the public struct arc_set. */
struct arc_sig {
	struct dkim_sig		 sig;
	bool			 parsed, decided;
	uint8_t			 hdigest[32];
	size_t			 key;		/* index in keys, or NO_FIELD */
	struct dkim_body_hash	*hasher;	/* AMS only */
	struct dkim_result	*r;
};

struct arc_key {
	struct arc_verify	*v;
	char			 name[DKIM_KEY_NAME_MAX];
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
	struct dkim_body_hashes	 hashes;		/* AMS body hashes */
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

static int oldest_pass(const struct arc_verify *);

/* The chain is decided; also prepare the Authentication-Results texts. */
static void
set_final(struct arc_verify *v, enum arc_result res, enum arc_reason reason)
{
	v->res = res;
	v->reason = reason;
	v->final = true;
	if (res == ARC_PASS) {
		snprintf(v->comment, sizeof(v->comment), "i=%u", v->n);
		snprintf(v->oldest, sizeof(v->oldest), "%d", oldest_pass(v));
	} else
		snprintf(v->comment, sizeof(v->comment), "i=%u %s", v->n,
		    arc_reason_name(reason));
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

/* Copy a NUL-terminated string that fits (the parser bounded it). */
static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
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

enum arc_field_kind
arc_field_kind(const struct dkim_field *f, unsigned *instance)
{
	enum arc_cv cv = ARC_CV_NONE;
	bool has_h = false;

	for (int k = 0; k < F_KINDS; k++)
		if (dkim_name_eq(f->name, f->namelen, field_names[k].name,
		    field_names[k].len)) {
			*instance = k == F_AAR ? aar_instance(f->value,
			    f->valuelen) : sig_instance(k, f->value,
			    f->valuelen, &cv, &has_h);
			return (enum arc_field_kind)k;
		}
	*instance = 0;
	return ARC_FIELD_NONE;
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

_Static_assert(ARC_VERIFY_MAX <= DKIM_SIGS_MAX,
    "one body hash per AMS must fit in struct dkim_body_hashes");

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

_Static_assert(F_KINDS * ARC_VERIFY_MAX <= DKIM_SIG_H_MAX,
    "a seal's implicit h= list must fit in struct dkim_sig");

/* ---- parsing the signatures ------------------------------------------- */

/* An AMS h= must not list ARC fields (§4.1.2). */
static bool
ams_h_ok(const struct dkim_sig *sig)
{
	for (size_t k = 0; k < sig->nh; k++)
		for (int f = 0; f < F_KINDS; f++)
			if (dkim_name_eq(sig->h[k].p, sig->h[k].len,
			    field_names[f].name, field_names[f].len))
				return false;
	return true;
}

/* Parse one AMS or AS field; false if it does not parse. */
static bool
parse_sig(struct arc_verify *v, struct arc_sig *s, enum dkim_sig_kind kind,
    const struct dkim_field *f, struct dkim_result *r)
{
	enum dkim_sig_result sr;

	s->r = r;
	sig_decide(s, DKIM_RES_TEMPERROR, DKIM_REASON_CANCELLED,
	    "not finished");
	s->decided = false;
	sr = dkim_sig_parse_kind(f->value, f->valuelen, kind, &s->sig);
	if (sr == DKIM_SIG_OK && kind == DKIM_SIG_KIND_ARC_AMS &&
	    !ams_h_ok(&s->sig)) {
		dkim_sig_clear(&s->sig);
		sig_decide(s, DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX,
		    "h= lists an ARC field");
		return false;
	}
	if (sr != DKIM_SIG_OK) {
		sig_decide(s, DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX,
		    dkim_sig_result_name(sr));
		return false;
	}
	s->parsed = true;
	dkim_verify_copy_ids(&s->sig, r);
	/* The checks DKIM makes before a lookup. */
	if (dkim_verify_precheck(&s->sig, v->now, r))
		s->decided = true;
	return true;
}

/* The key slot for SELECTOR._domainkey.DOMAIN, shared by name. */
static size_t
key_slot(struct arc_verify *v, const struct dkim_sig *sig)
{
	char name[DKIM_KEY_NAME_MAX];

	dkim_verify_key_name(sig, name);
	for (size_t k = 0; k < v->nkeys; k++)
		if (dkim_name_eq(v->keys[k].name, strlen(v->keys[k].name),
		    name, strlen(name)))
			return k;
	if (v->nkeys == ARC_KEYS_MAX)
		panic("arc: more keys than signatures");
	v->keys[v->nkeys].v = v;
	memcpy(v->keys[v->nkeys].name, name, sizeof(name));
	return v->nkeys++;
}

/* Sets 1..n: parse, digest, and pick hashers and keys. */
static void
read_sets(struct arc_verify *v, const struct dkim_field *fields,
    size_t nfields, const struct arc_scan *sc)
{
	v->have_sets = true;
	for (unsigned i = 1; i <= v->n; i++) {
		struct arc_set *set = &v->sets[i];
		struct arc_sig *ams = &v->ams[i], *as = &v->as[i];

		set->instance = i;
		set->cv = sc->cv[i];
		ams->r = &set->ams;
		as->r = &set->as;
		ams->key = as->key = NO_FIELD;
		sig_decide(as, DKIM_RES_TEMPERROR, DKIM_REASON_CANCELLED,
		    "not finished");
		as->decided = false;
		if (parse_sig(v, ams, DKIM_SIG_KIND_ARC_AMS,
		    &fields[sc->idx[F_AMS][i]], &set->ams)) {
			copy_str(set->ams_d, sizeof(set->ams_d), ams->sig.d);
			copy_str(set->ams_s, sizeof(set->ams_s), ams->sig.s);
			if (!ams->decided) {
				dkim_verify_header_digest(&ams->sig, fields,
				    nfields, &fields[sc->idx[F_AMS][i]],
				    ams->hdigest);
				ams->hasher = dkim_body_hashes_get(&v->hashes,
				    ams->sig.bcanon, ams->sig.has_l ?
				    ams->sig.l : DKIM_CANON_NOLIMIT);
			}
		}
		if (sc->seal_h[i])
			sig_decide(as, DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX,
			    "h= in an ARC-Seal");	/* §4.1.3 */
		else if (parse_sig(v, as, DKIM_SIG_KIND_ARC_SEAL,
		    &fields[sc->idx[F_AS][i]], &set->as)) {
			copy_str(set->as_d, sizeof(set->as_d), as->sig.d);
			copy_str(set->as_s, sizeof(set->as_s), as->sig.s);
			if (!as->decided)
				seal_digest(v, i, fields, sc);
		}
	}
}

/* ---- the verdict ------------------------------------------------------ */

static enum arc_reason
sig_reason(const struct arc_sig *s, enum arc_reason dflt)
{
	if (s->r->res == DKIM_RES_TEMPERROR && s->r->reason == DKIM_REASON_DNS)
		return ARC_REASON_DNS;
	if (s->r->reason == DKIM_REASON_SYNTAX)
		return ARC_REASON_SYNTAX;
	return dflt;
}

/*
 * Decide the chain from the signatures decided so far: the newest AMS
 * (step 4), then every seal, newest first (step 6); pass once all are
 * decided, older AMS included (step 5). Until then the chain stays an
 * unfinished fail.
 */
static void
conclude(struct arc_verify *v)
{
	bool all = true;

	if (v->final)
		return;
	if (v->ams[v->n].decided && v->ams[v->n].r->res != DKIM_RES_PASS) {
		set_final(v, ARC_FAIL, sig_reason(&v->ams[v->n],
		    ARC_REASON_AMS));
		return;
	}
	for (unsigned i = v->n; i >= 1; i--) {
		if (v->as[i].decided && v->as[i].r->res != DKIM_RES_PASS) {
			set_final(v, ARC_FAIL, sig_reason(&v->as[i],
			    ARC_REASON_SEAL));
			return;
		}
		all = all && v->as[i].decided && v->ams[i].decided;
	}
	if (all)
		set_final(v, ARC_PASS, ARC_REASON_NONE);
}

struct arc_verify *
arc_verify_new(const char *hdr, size_t len, time_t now)
{
	struct arc_verify *v = xcalloc(1, sizeof(*v));
	struct arc_scan *sc = xmalloc(sizeof(*sc));
	struct dkim_field *fields = NULL, f;
	size_t nfields = 0, cap = 0, pos = 0;

	v->now = now;
	v->res = ARC_FAIL;
	v->reason = ARC_REASON_CANCELLED;
	memset(sc->idx, 0xff, sizeof(sc->idx));
	memset(sc->cv, 0, sizeof(sc->cv));
	memset(sc->seal_h, 0, sizeof(sc->seal_h));
	sc->n = 0;
	sc->any = sc->too_many = sc->bad = false;
	if (len > LIMIT_HEADER_SECTION)
		len = 0;	/* as dkim_verify: no chain at all */
	while (dkim_header_next(hdr, len, &pos, &f) == 1) {
		if (nfields == cap) {
			cap = cap ? cap * 2 : 32;
			fields = xreallocarray(fields, cap, sizeof(*fields));
		}
		fields[nfields++] = f;
		for (int k = 0; k < F_KINDS; k++)
			if (dkim_name_eq(f.name, f.namelen,
			    field_names[k].name, field_names[k].len))
				scan_field(sc, k, &f, nfields - 1);
	}
	if (!check_structure(v, sc)) {
		read_sets(v, fields, nfields, sc);
		conclude(v);
	}
	free(fields);
	free(sc);
	return v;
}

void
arc_verify_body(struct arc_verify *v, const void *data, size_t len)
{
	if (v->body_done)
		return;
	dkim_body_hashes_push(&v->hashes, data, len);
}

void
arc_verify_body_end(struct arc_verify *v)
{
	if (v->body_done)
		return;
	v->body_done = true;
	dkim_body_hashes_finish(&v->hashes);
	for (unsigned i = 1; i <= v->n && v->have_sets; i++) {
		struct arc_sig *s = &v->ams[i];
		if (s->decided || s->hasher == NULL)
			continue;
		s->r->body_len = s->hasher->canon.total;
		if (!dkim_body_hash_matches(s->hasher, s->sig.bh))
			sig_decide(s, DKIM_RES_FAIL, DKIM_REASON_BODY_HASH,
			    "body hash mismatch");
	}
	conclude(v);
	/* Keys are assigned only now, so that a chain already failed (or
	 * an AMS already decided) costs no lookup. */
	if (!v->have_sets || v->final)
		return;
	/* In the order of §5.2: the newest AMS, the seals newest first,
	 * then the older AMS (a caller applying keys in slot order gets the
	 * RFC's failure reason). */
	if (!v->ams[v->n].decided)
		v->ams[v->n].key = key_slot(v, &v->ams[v->n].sig);
	for (unsigned i = v->n; i >= 1; i--)
		if (!v->as[i].decided)
			v->as[i].key = key_slot(v, &v->as[i].sig);
	for (unsigned i = v->n - 1; i >= 1; i--)
		if (!v->ams[i].decided)
			v->ams[i].key = key_slot(v, &v->ams[i].sig);
}

bool
arc_verify_needs_key(const struct arc_verify *v, size_t k, const char **name)
{
	if (v->final || k >= v->nkeys || v->keys[k].done)
		return false;
	*name = v->keys[k].name;
	return true;
}

void
arc_verify_apply_key(struct arc_verify *v, size_t k,
    const struct dns_answer *ans)
{
	if (v->final || k >= v->nkeys || v->keys[k].done)
		return;
	v->keys[k].done = true;
	for (unsigned i = 1; i <= v->n; i++) {
		struct arc_sig *s[2] = { &v->ams[i], &v->as[i] };
		for (int j = 0; j < 2; j++) {
			if (s[j]->decided || s[j]->key != k)
				continue;
			dkim_verify_apply_answer(&s[j]->sig, s[j]->hdigest, ans,
			    s[j]->r);
			s[j]->decided = true;
		}
	}
	conclude(v);
}

/* ---- asynchronous driver --------------------------------------------- */

static void
cancel_queries(struct arc_verify *v)
{
	for (size_t k = 0; k < v->nkeys; k++) {
		dns_query_cancel(v->keys[k].q);
		v->keys[k].q = NULL;
	}
	v->pending = 0;
}

static void
finish(struct arc_verify *v)
{
	arc_verify_cb *cb = v->cb;

	cancel_queries(v);
	v->cb = NULL;
	if (cb != NULL)
		cb(v, v->arg);	/* may free v */
}

static void
dns_done(struct dns_answer *ans, void *arg)
{
	struct arc_key *key = arg;
	struct arc_verify *v = key->v;

	key->q = NULL;
	v->pending--;
	arc_verify_apply_key(v, (size_t)(key - v->keys), ans);
	dns_answer_free(ans);
	if (v->pending == 0 || v->final)
		finish(v);
}

static void
ev_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg);
}

/* A lookup that cannot start is a DNS failure of that key (§5.2.1). */
static void
fail_key(struct arc_verify *v, size_t k)
{
	struct dns_answer *a = dns_answer_new();

	a->rcode = DNS_RCODE_SERVFAIL;
	arc_verify_apply_key(v, k, a);
	dns_answer_free(a);
}

void
arc_verify_start(struct arc_verify *v, struct event_base *base,
    struct dns_resolver *res, arc_verify_cb *cb, void *arg)
{
	const char *name;

	if (v->started)
		panic("arc_verify_start called twice");
	v->started = true;
	v->cb = cb;
	v->arg = arg;
	arc_verify_body_end(v);
	for (size_t k = 0; k < v->nkeys; k++) {
		if (!arc_verify_needs_key(v, k, &name))
			continue;
		v->keys[k].q = dns_query(res, name, DNS_T_TXT, 0, dns_done,
		    &v->keys[k]);
		if (v->keys[k].q == NULL)
			fail_key(v, k);
		else
			v->pending++;
	}
	if (v->pending > 0 && !v->final)
		return;
	cancel_queries(v);
	/* Nothing to wait for: still answer from the loop, after we return. */
	if ((v->ev = evtimer_new(base, ev_done, v)) == NULL)
		fatal("arc: cannot schedule an event");
	event_active(v->ev, EV_TIMEOUT, 0);
}

void
arc_verify_cancel(struct arc_verify *v)
{
	cancel_queries(v);
	v->cb = NULL;
	if (v->ev != NULL)
		event_free(v->ev);
	v->ev = NULL;
	if (!v->final)
		set_final(v, ARC_FAIL, ARC_REASON_CANCELLED);
}

void
arc_verify_free(struct arc_verify *v)
{
	if (v == NULL)
		return;
	arc_verify_cancel(v);
	for (unsigned i = 1; i <= v->n && v->have_sets; i++) {
		dkim_sig_clear(&v->ams[i].sig);
		dkim_sig_clear(&v->as[i].sig);
	}
	dkim_body_hashes_clear(&v->hashes);
	free(v);
}

/* ---- results ---------------------------------------------------------- */

enum arc_result
arc_verify_result(const struct arc_verify *v)
{
	return v->final ? v->res : ARC_FAIL;
}

enum arc_reason
arc_verify_reason(const struct arc_verify *v)
{
	return v->final ? v->reason : ARC_REASON_CANCELLED;
}

unsigned
arc_verify_count(const struct arc_verify *v)
{
	return v->n;
}

/* §5.2 step 5, once every AMS is decided. */
static int
oldest_pass(const struct arc_verify *v)
{
	for (unsigned m = v->n - 1; m >= 1; m--)
		if (v->ams[m].r->res != DKIM_RES_PASS)
			return (int)m + 1;
	return 0;
}

int
arc_verify_oldest_pass(const struct arc_verify *v)
{
	return arc_verify_result(v) == ARC_PASS ? oldest_pass(v) : -1;
}

const struct arc_set *
arc_verify_set(const struct arc_verify *v, unsigned i)
{
	if (!v->have_sets || i < 1 || i > v->n)
		return NULL;
	return &v->sets[i];
}

void
arc_verify_authres(const struct arc_verify *v, const char *remote_ip,
    struct authres_result *r)
{
	enum arc_result res = arc_verify_result(v);

	memset(r, 0, sizeof(*r));
	r->method = "arc";
	r->result = arc_result_name(res);
	if (res == ARC_PASS) {
		r->props[r->nprops].ptype = "header";
		r->props[r->nprops].property = "oldest-pass";
		r->props[r->nprops++].value = v->oldest;
	}
	if (res != ARC_NONE)
		r->comment = v->final ? v->comment : "not finished";
	if (remote_ip != NULL) {
		r->props[r->nprops].ptype = "smtp";
		r->props[r->nprops].property = "remote-ip";
		r->props[r->nprops++].value = remote_ip;
	}
}

static void
sync_done(struct arc_verify *v, void *arg)
{
	(void)v;
	*(bool *)arg = true;
}

int
arc_verify_run_sync(struct arc_verify *v, const struct conf *conf,
    char *err, size_t errlen)
{
	struct dns_sync_env env;
	bool done = false;

	if (dns_sync_open(&env, conf, err, errlen) == -1)
		return -1;
	arc_verify_start(v, env.base, env.res, sync_done, &done);
	dns_sync_run(&env, &done);
	arc_verify_cancel(v);
	dns_sync_close(&env);
	return 0;
}

const char *
arc_result_name(enum arc_result r)
{
	static const char *names[] = { "none", "pass", "fail" };

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "fail";
}

const char *
arc_reason_name(enum arc_reason r)
{
	static const char *names[] = {
		"ok", "more than 50 sets", "chain too long to verify",
		"newest seal says cv=fail", "broken set structure",
		"wrong cv sequence", "bad ARC signature field",
		"newest ARC-Message-Signature did not validate",
		"ARC-Seal did not validate", "key lookup failed",
		"not finished",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "unknown";
}
