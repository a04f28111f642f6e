/* SPDX-License-Identifier: ISC */
/*
 * DKIM verification (RFC 6376 §6.1, RFC 8463 §3, RFC 8301). The header
 * hash of each signature is computed when the header section is complete;
 * body hashes while the body streams in; keys are fetched asynchronously
 * through dns.h at the end. Everything that comes from the message or the
 * DNS is untrusted and bounded by dkim_sig.h / dkim_key.h.
 *
 * Ownership: the caller owns the struct dkim_verify; each signature slot
 * owns its parsed signature and its DNS query handle; the DNS callback
 * owns the answer and frees it. A slot's callback reaches v through the
 * slot, which lives inside v: dkim_verify_cancel() cancels every pending
 * query before v can go away, so no callback outlives it.
 */
#include "auth/dkim_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/dkim_canon.h"
#include "auth/dkim_key.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

struct dkim_vsig {
	struct dkim_verify	*v;
	struct dkim_sig		 sig;
	bool			 parsed;
	bool			 decided;
	struct dkim_body_hash	*hasher;
	uint8_t			 hdigest[32];	/* SHA-256 of header data */
	char			 keyname[DKIM_KEY_NAME_MAX];
	struct dns_query	*q;
	struct dkim_result	 r;
};

struct dkim_verify {
	time_t			 now;
	struct dkim_vsig	 sigs[DKIM_SIGS_MAX];
	size_t			 nsigs, skipped;
	struct dkim_body_hashes	 hashes;
	bool			 body_done, started;
	unsigned		 pending;
	struct event		*ev;		/* done from the loop */
	dkim_verify_cb		*cb;
	void			*arg;
};

static void
set_res(struct dkim_result *r, enum dkim_res res, enum dkim_reason reason,
    const char *detail)
{
	r->res = res;
	r->reason = reason;
	r->detail = detail;
}

static void
decide(struct dkim_vsig *vs, enum dkim_res res, enum dkim_reason reason,
    const char *detail)
{
	set_res(&vs->r, res, reason, detail);
	vs->decided = true;
}

static void
hasher_out(void *arg, const uint8_t *p, size_t n)
{
	struct dkim_body_hash *h = arg;

	EVP_DigestUpdate(h->md, p, n);
}

struct dkim_body_hash *
dkim_body_hashes_get(struct dkim_body_hashes *bh, enum dkim_canon_mode mode,
    uint64_t limit)
{
	struct dkim_body_hash *h;

	for (size_t i = 0; i < bh->n; i++)
		if (bh->h[i].mode == mode && bh->h[i].limit == limit)
			return &bh->h[i];
	if (bh->n == DKIM_SIGS_MAX)
		panic("dkim: more body hashes than signatures");
	h = &bh->h[bh->n++];
	h->mode = mode;
	h->limit = limit;
	if ((h->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		fatal("dkim: cannot set up SHA-256");
	dkim_body_canon_init(&h->canon, mode, limit, hasher_out, h);
	return h;
}

void
dkim_body_hashes_push(struct dkim_body_hashes *bh, const void *data,
    size_t len)
{
	for (size_t i = 0; i < bh->n; i++)
		dkim_body_canon_push(&bh->h[i].canon, data, len);
}

void
dkim_body_hashes_finish(struct dkim_body_hashes *bh)
{
	unsigned n;

	for (size_t i = 0; i < bh->n; i++) {
		dkim_body_canon_finish(&bh->h[i].canon);
		EVP_DigestFinal_ex(bh->h[i].md, bh->h[i].digest, &n);
	}
}

void
dkim_body_hashes_clear(struct dkim_body_hashes *bh)
{
	for (size_t i = 0; i < bh->n; i++)
		EVP_MD_CTX_free(bh->h[i].md);
	bh->n = 0;
}

bool
dkim_body_hash_matches(const struct dkim_body_hash *h, const uint8_t bh[32])
{
	return CRYPTO_memcmp(h->digest, bh, 32) == 0;
}

/* Canonicalise one field into scratch and hash it; trim drops the final
 * CRLF (the DKIM-Signature field itself, §3.7). */
static void
hash_field(EVP_MD_CTX *md, enum dkim_canon_mode mode, const char *p,
    size_t len, bool trim, struct buf *scratch)
{
	buf_reset(scratch);
	if (dkim_canon_header(mode, p, len, scratch) == -1)
		panic("dkim: canonical field over its bound");
	if (trim && scratch->len >= 2)
		scratch->len -= 2;
	EVP_DigestUpdate(md, scratch->data, scratch->len);
}

/*
 * §5.4.2: each h= name takes the last instance of that field not yet used
 * by an earlier h= entry; a name with no instance left adds nothing.
 */
static void
hash_signed_fields(const struct dkim_sig *sig, const struct dkim_field *fields,
    size_t nfields, EVP_MD_CTX *md, struct buf *scratch)
{
	bool *used = xcalloc(nfields ? nfields : 1, sizeof(bool));

	for (size_t k = 0; k < sig->nh; k++) {
		const struct dkim_name *n = &sig->h[k];
		for (size_t j = nfields; j-- > 0;) {
			if (used[j] || !dkim_name_eq(fields[j].name,
			    fields[j].namelen, n->p, n->len))
				continue;
			used[j] = true;
			hash_field(md, sig->hcanon, fields[j].field,
			    fields[j].len, false, scratch);
			break;
		}
	}
	free(used);
}

/* The signature field with its b= value blanked (§3.7), last, no CRLF. */
static void
hash_sig_field(const struct dkim_sig *sig, const struct dkim_field *f,
    EVP_MD_CTX *md, struct buf *scratch)
{
	size_t pre = (size_t)(f->value - f->field) + sig->b_start;
	size_t post = (size_t)(f->value - f->field) + sig->b_end;
	char *tmp = xmalloc(f->len);

	memcpy(tmp, f->field, pre);
	memcpy(tmp + pre, f->field + post, f->len - post);
	hash_field(md, sig->hcanon, tmp, f->len - (post - pre), true,
	    scratch);
	free(tmp);
}

void
dkim_verify_header_digest(const struct dkim_sig *sig,
    const struct dkim_field *fields, size_t nfields,
    const struct dkim_field *self, uint8_t out[32])
{
	/* A relaxed field is never longer than the raw one plus CRLF. */
	struct buf scratch;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned n = 0;

	buf_init(&scratch, LIMIT_HEADER_SECTION + 2);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatal("dkim: cannot set up SHA-256");
	if (fields != NULL)
		hash_signed_fields(sig, fields, nfields, md, &scratch);
	hash_sig_field(sig, self, md, &scratch);
	EVP_DigestFinal_ex(md, out, &n);
	EVP_MD_CTX_free(md);
	buf_clear(&scratch);
}

void
dkim_verify_copy_ids(const struct dkim_sig *sig, struct dkim_result *r)
{
	snprintf(r->d, sizeof(r->d), "%s", sig->d);
	snprintf(r->s, sizeof(r->s), "%s", sig->s);
	snprintf(r->b, sizeof(r->b), "%s", sig->b_prefix);
	r->alg = sig->alg;
	r->has_l = sig->has_l;
	r->l = sig->l;
}

/* i= is DKIM's only: ARC's is an instance. */
static void
copy_auid(struct dkim_result *r, const struct dkim_sig *sig)
{
	size_t n = strnlen(sig->i, sizeof(r->i) - 1);

	/* Not snprintf: gcc's -Wrestrict cannot tell r and sig apart here. */
	memcpy(r->i, sig->i, n);
	r->i[n] = '\0';
}

/* Both parts are bounded by the parser and their sum by the precheck, so
 * the name always fits. */
void
dkim_verify_key_name(const struct dkim_sig *sig, char out[DKIM_KEY_NAME_MAX])
{
	size_t sl = strlen(sig->s), dl = strlen(sig->d);

	memcpy(out, sig->s, sl);
	memcpy(out + sl, "._domainkey.", 12);
	memcpy(out + sl + 12, sig->d, dl + 1);
}

bool
dkim_verify_precheck(const struct dkim_sig *sig, time_t now,
    struct dkim_result *r)
{
	if (sig->alg == DKIM_ALG_RSA_SHA1)
		set_res(r, DKIM_RES_POLICY, DKIM_REASON_SHA1,
		    "rsa-sha1 is not accepted (RFC 8301)");
	else if (sig->has_x && (uint64_t)now > sig->x)
		set_res(r, DKIM_RES_FAIL, DKIM_REASON_EXPIRED,
		    "signature expired");
	else if (sig->has_t && sig->t > (uint64_t)now + DKIM_CLOCK_SKEW)
		set_res(r, DKIM_RES_FAIL, DKIM_REASON_FUTURE,
		    "signature timestamp in the future");
	else if (strlen(sig->s) + 12 + strlen(sig->d) > LIMIT_DOMAIN - 2)
		/* RFC 1035 §2.3.4: the query name could not exist. */
		set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX,
		    "key name too long");
	else
		return false;
	return true;
}

/* Parse one DKIM-Signature and decide what can be decided now. */
static void
add_sig(struct dkim_verify *v, const struct dkim_field *f,
    const struct dkim_field *fields, size_t nfields)
{
	struct dkim_vsig *vs = &v->sigs[v->nsigs++];
	enum dkim_sig_result sr;

	vs->v = v;
	decide(vs, DKIM_RES_TEMPERROR, DKIM_REASON_CANCELLED, "not finished");
	vs->decided = false;
	if ((sr = dkim_sig_parse(f->value, f->valuelen, &vs->sig)) !=
	    DKIM_SIG_OK) {
		decide(vs, DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX,
		    dkim_sig_result_name(sr));
		return;
	}
	vs->parsed = true;
	dkim_verify_copy_ids(&vs->sig, &vs->r);
	copy_auid(&vs->r, &vs->sig);
	if (dkim_verify_precheck(&vs->sig, v->now, &vs->r)) {
		vs->decided = true;
		return;
	}
	dkim_verify_key_name(&vs->sig, vs->keyname);
	dkim_verify_header_digest(&vs->sig, fields, nfields, f, vs->hdigest);
	vs->hasher = dkim_body_hashes_get(&v->hashes, vs->sig.bcanon,
	    vs->sig.has_l ? vs->sig.l : DKIM_CANON_NOLIMIT);
}

struct dkim_verify *
dkim_verify_new(const char *hdr, size_t len, time_t now)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));
	struct dkim_field *fields = NULL, f;
	size_t nfields = 0, cap = 0, pos = 0;

	v->now = now;
	if (len > LIMIT_HEADER_SECTION)
		return v;
	while (dkim_header_next(hdr, len, &pos, &f) == 1) {
		if (nfields == cap) {
			cap = cap ? cap * 2 : 32;
			fields = xreallocarray(fields, cap, sizeof(*fields));
		}
		fields[nfields++] = f;
	}
	for (size_t j = 0; j < nfields; j++) {
		if (!dkim_name_eq(fields[j].name, fields[j].namelen,
		    "DKIM-Signature", 14))
			continue;
		if (v->nsigs == DKIM_SIGS_MAX)
			v->skipped++;
		else
			add_sig(v, &fields[j], fields, nfields);
	}
	free(fields);
	return v;
}

void
dkim_verify_body(struct dkim_verify *v, const void *data, size_t len)
{
	if (v->body_done)
		return;
	dkim_body_hashes_push(&v->hashes, data, len);
}

void
dkim_verify_body_end(struct dkim_verify *v)
{
	if (v->body_done)
		return;
	v->body_done = true;
	dkim_body_hashes_finish(&v->hashes);
	for (size_t i = 0; i < v->nsigs; i++) {
		struct dkim_vsig *vs = &v->sigs[i];
		if (vs->decided || vs->hasher == NULL)
			continue;
		vs->r.body_len = vs->hasher->canon.total;
		if (!dkim_body_hash_matches(vs->hasher, vs->sig.bh))
			decide(vs, DKIM_RES_FAIL, DKIM_REASON_BODY_HASH,
			    "body hash mismatch");
	}
}

bool
dkim_verify_needs_key(const struct dkim_verify *v, size_t i,
    const char **name)
{
	if (i >= v->nsigs || v->sigs[i].decided || !v->sigs[i].parsed)
		return false;
	*name = v->sigs[i].keyname;
	return true;
}

/* Key record vs signature (§3.6.1, §6.1.2): type, hash, t=s. */
static bool
key_fits(const struct dkim_sig *sig, const struct dkim_key *key,
    struct dkim_result *r)
{
	const char *at = strrchr(sig->i, '@');
	enum dkim_key_type want = sig->alg == DKIM_ALG_ED25519_SHA256 ?
	    DKIM_KEY_ED25519 : DKIM_KEY_RSA;

	if (key->type != want) {
		set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_KEY_MISMATCH,
		    "key type does not match a=");
		return false;
	}
	if (!key->sha256_ok) {
		set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_KEY_MISMATCH,
		    "key h= excludes sha256");
		return false;
	}
	if (key->strict && at != NULL && !dkim_name_eq(at + 1,
	    strlen(at + 1), sig->d, strlen(sig->d))) {
		set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_KEY_MISMATCH,
		    "key t=s forbids an i= subdomain");
		return false;
	}
	return true;
}

/* Check b= over the header digest: RSASSA-PKCS1-v1_5 with SHA-256, or
 * PureEdDSA over the 32-octet SHA-256 digest (RFC 8463 §3). */
static bool
sig_ok(const struct dkim_sig *sig, const uint8_t hdigest[32], EVP_PKEY *pk)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md;
	bool ok = false;

	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		if ((md = EVP_MD_CTX_new()) == NULL)
			return false;
		ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestVerify(md, sig->b, sig->blen, hdigest, 32) == 1;
		EVP_MD_CTX_free(md);
		return ok;
	}
	if ((pctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return false;
	ok = EVP_PKEY_verify_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
	    EVP_PKEY_verify(pctx, sig->b, sig->blen, hdigest, 32) == 1;
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static void
verify_with_key(const struct dkim_sig *sig, const uint8_t hdigest[32],
    const struct dkim_key *key, struct dkim_result *r)
{
	enum dkim_key_result kr;
	void *pk;

	r->testing = key->testing;
	if (key->revoked) {
		set_res(r, DKIM_RES_FAIL, DKIM_REASON_KEY_REVOKED,
		    "key revoked");
		return;
	}
	if (!key_fits(sig, key, r))
		return;
	if ((kr = dkim_key_load(key, &pk)) != DKIM_KEY_OK) {
		if (kr == DKIM_KEY_ERR_TOO_SMALL)
			set_res(r, DKIM_RES_POLICY, DKIM_REASON_KEY_TOO_SMALL,
			    "RSA key under 1024 bits (RFC 8301)");
		else
			set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_KEY_SYNTAX,
			    dkim_key_result_name(kr));
		return;
	}
	if (sig_ok(sig, hdigest, pk))
		set_res(r, DKIM_RES_PASS, DKIM_REASON_NONE, "ok");
	else
		set_res(r, DKIM_RES_FAIL, DKIM_REASON_SIGNATURE,
		    "signature did not verify");
	EVP_PKEY_free(pk);
}

void
dkim_verify_apply_answer(const struct dkim_sig *sig,
    const uint8_t hdigest[32], const struct dns_answer *ans,
    struct dkim_result *r)
{
	struct dkim_key key;
	enum dkim_key_result kr = DKIM_KEY_ERR_SYNTAX;

	if (ans->rcode == DNS_RCODE_SERVFAIL || ans->rcode ==
	    DNS_RCODE_TIMEOUT || ans->sec == DNS_SEC_BOGUS) {
		set_res(r, DKIM_RES_TEMPERROR, DKIM_REASON_DNS,
		    "key lookup failed");
		return;
	}
	if (ans->rcode == DNS_RCODE_NXDOMAIN || ans->nrr == 0) {
		set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_NO_KEY,
		    "no key record");
		return;
	}
	for (size_t k = 0; k < ans->nrr && k < DKIM_KEY_RECORDS_MAX; k++) {
		if (ans->rr[k].type != DNS_T_TXT)
			continue;
		kr = dkim_key_parse(ans->rr[k].u.txt.text, ans->rr[k].u.txt.len,
		    &key);
		if (kr == DKIM_KEY_OK) {
			verify_with_key(sig, hdigest, &key, r);
			return;
		}
	}
	set_res(r, DKIM_RES_PERMERROR, DKIM_REASON_KEY_SYNTAX,
	    dkim_key_result_name(kr));
}

void
dkim_verify_apply_key(struct dkim_verify *v, size_t i,
    const struct dns_answer *ans)
{
	struct dkim_vsig *vs;

	if (i >= v->nsigs || v->sigs[i].decided || !v->sigs[i].parsed)
		return;
	vs = &v->sigs[i];
	dkim_verify_apply_answer(&vs->sig, vs->hdigest, ans, &vs->r);
	vs->decided = true;
}

static void
finish(struct dkim_verify *v)
{
	dkim_verify_cb *cb = v->cb;

	v->cb = NULL;
	if (cb != NULL)
		cb(v, v->arg);	/* may free v */
}

static void
dns_done(struct dns_answer *ans, void *arg)
{
	struct dkim_vsig *vs = arg;
	struct dkim_verify *v = vs->v;

	vs->q = NULL;
	dkim_verify_apply_key(v, (size_t)(vs - v->sigs), ans);
	dns_answer_free(ans);
	if (--v->pending == 0)
		finish(v);
}

static void
ev_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg);
}

void
dkim_verify_start(struct dkim_verify *v, struct event_base *base,
    struct dns_resolver *res, dkim_verify_cb *cb, void *arg)
{
	const char *name;

	if (v->started)
		panic("dkim_verify_start called twice");
	v->started = true;
	v->cb = cb;
	v->arg = arg;
	dkim_verify_body_end(v);
	for (size_t i = 0; i < v->nsigs; i++) {
		struct dkim_vsig *vs = &v->sigs[i];
		if (!dkim_verify_needs_key(v, i, &name))
			continue;
		vs->q = dns_query(res, name, DNS_T_TXT, 0, dns_done, vs);
		if (vs->q == NULL)
			decide(vs, DKIM_RES_TEMPERROR, DKIM_REASON_DNS,
			    "key lookup could not start");
		else
			v->pending++;
	}
	if (v->pending > 0)
		return;
	/* Nothing to wait for: still answer from the loop, after we return. */
	if ((v->ev = evtimer_new(base, ev_done, v)) == NULL)
		fatal("dkim: cannot schedule an event");
	event_active(v->ev, EV_TIMEOUT, 0);
}

void
dkim_verify_cancel(struct dkim_verify *v)
{
	for (size_t i = 0; i < v->nsigs; i++) {
		dns_query_cancel(v->sigs[i].q);
		v->sigs[i].q = NULL;
	}
	v->pending = 0;
	v->cb = NULL;
	if (v->ev != NULL)
		event_free(v->ev);
	v->ev = NULL;
}

void
dkim_verify_free(struct dkim_verify *v)
{
	if (v == NULL)
		return;
	dkim_verify_cancel(v);
	for (size_t i = 0; i < v->nsigs; i++)
		dkim_sig_clear(&v->sigs[i].sig);
	dkim_body_hashes_clear(&v->hashes);
	free(v);
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

size_t
dkim_verify_skipped(const struct dkim_verify *v)
{
	return v->skipped;
}

const struct dkim_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->nsigs ? &v->sigs[i].r : NULL;
}

static void
sync_done(struct dkim_verify *v, void *arg)
{
	(void)v;
	*(bool *)arg = true;
}

int
dkim_verify_run_sync(struct dkim_verify *v, const struct conf *conf,
    char *err, size_t errlen)
{
	struct dns_sync_env env;
	bool done = false;

	if (dns_sync_open(&env, conf, err, errlen) == -1)
		return -1;
	dkim_verify_start(v, env.base, env.res, sync_done, &done);
	dns_sync_run(&env, &done);
	dkim_verify_cancel(v);
	dns_sync_close(&env);
	return 0;
}

const char *
dkim_res_name(enum dkim_res r)
{
	static const char *names[] = { "pass", "fail", "neutral", "policy",
	    "temperror", "permerror" };

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "permerror";
}
