/* SPDX-License-Identifier: ISC */
/*
 * DKIM signing (RFC 6376 §5, RFC 8463 §3). The body is canonicalised
 * (relaxed) and hashed while it streams; at the end each key signs the
 * SHA-256 of the selected header fields and of its own DKIM-Signature
 * field with b= empty, exactly as the field is then emitted (folding
 * included), so what we hash and what the verifier rebuilds are the same
 * octets.
 */
#include "auth/dkim_sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/dkim_canon.h"
#include "auth/dkim_key.h"
#include "auth/dkim_sig.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keyop.h"

struct dkim_sign_key {
	char		*domain;
	char		*selector;
	EVP_PKEY	*pk;		/* NULL: held by the keys process */
	uint32_t	 handle;	/* its handle there (keyop.h) */
	enum dkim_alg	 alg;
};

struct dkim_sign {
	struct dkim_sign_key	*keys[DKIM_SIGN_KEYS_MAX];
	size_t			 nkeys;
	time_t			 now;
	EVP_MD_CTX		*md;
	struct dkim_body_canon	 canon;
	bool			 finished;
	struct dkim_sign_pending pend[DKIM_SIGN_KEYS_MAX];
	size_t			 npend;	/* begun, not yet ended */
};

/* RFC 6376 §5.4.1's recommended fields; the first five are oversigned. */
static const struct dkim_sign_hname sign_fields[] = {
	{ "from", true }, { "to", true }, { "subject", true },
	{ "date", true }, { "message-id", true }, { "cc", false },
	{ "reply-to", false }, { "in-reply-to", false },
	{ "references", false }, { "mime-version", false },
	{ "content-type", false }, { "content-transfer-encoding", false },
};
#define NSIGN_FIELDS	(sizeof(sign_fields) / sizeof(sign_fields[0]))

/* d= and s= we write must parse back (LDH labels, dkim_sig.c). */
static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LIMIT_DOMAIN - 2 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return strstr(s, "..") == NULL;
}

struct dkim_sign_key *
dkim_sign_key_from_pem(const char *domain, const char *selector,
    const char *pem, size_t len, char *err, size_t errlen)
{
	struct dkim_sign_key *k;
	BIO *bio;
	EVP_PKEY *pk;
	int id;

	if (!valid_name(domain) || !valid_name(selector) ||
	    strchr(domain, '.') == NULL) {
		snprintf(err, errlen, "dkim: bad domain or selector");
		return NULL;
	}
	if (len > 64 * 1024 || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		snprintf(err, errlen, "dkim: key too big");
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		snprintf(err, errlen, "dkim: not a PEM private key");
		return NULL;
	}
	id = EVP_PKEY_get_base_id(pk);
	if ((id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) ||
	    (id == EVP_PKEY_RSA && (EVP_PKEY_get_bits(pk) < DKIM_RSA_BITS_MIN ||
	    EVP_PKEY_get_bits(pk) > DKIM_RSA_BITS_MAX))) {
		snprintf(err, errlen, "dkim: key must be RSA (%d to %d bits) "
		    "or Ed25519", DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
		EVP_PKEY_free(pk);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->domain = xstrdup(domain);
	k->selector = xstrdup(selector);
	k->pk = pk;
	k->alg = id == EVP_PKEY_RSA ? DKIM_ALG_RSA_SHA256 :
	    DKIM_ALG_ED25519_SHA256;
	return k;
}

struct dkim_sign_key *
dkim_sign_key_remote(const char *domain, const char *selector, bool rsa,
    uint32_t handle)
{
	struct dkim_sign_key *k = xcalloc(1, sizeof(*k));

	k->domain = xstrdup(domain);
	k->selector = xstrdup(selector);
	k->handle = handle;
	k->alg = rsa ? DKIM_ALG_RSA_SHA256 : DKIM_ALG_ED25519_SHA256;
	return k;
}

struct dkim_sign_key *
dkim_sign_key_load(const char *domain, const char *selector,
    const char *path, char *err, size_t errlen)
{
	struct dkim_sign_key *k;
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "dkim: cannot open %s", path);
		return NULL;
	}
	buf_init(&b, 64 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) == -1)
			break;
	if (ferror(fp) || !feof(fp)) {
		fclose(fp);
		buf_clear(&b);
		snprintf(err, errlen, "dkim: cannot read %s", path);
		return NULL;
	}
	fclose(fp);
	k = dkim_sign_key_from_pem(domain, selector, buf_cstr(&b), b.len, err,
	    errlen);
	OPENSSL_cleanse(b.data, b.len);
	buf_clear(&b);
	return k;
}

void
dkim_sign_key_free(struct dkim_sign_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	free(k->domain);
	free(k->selector);
	free(k);
}

bool
dkim_sign_key_is_rsa(const struct dkim_sign_key *k)
{
	return k->alg == DKIM_ALG_RSA_SHA256;
}

char *
dkim_sign_key_record(const struct dkim_sign_key *k)
{
	return k->pk != NULL ? dkim_key_record(k->pk) : NULL;
}

static void
sign_hash_out(void *arg, const uint8_t *p, size_t n)
{
	EVP_DigestUpdate(arg, p, n);
}

struct dkim_sign *
dkim_sign_new(struct dkim_sign_key *const *keys, size_t nkeys, time_t now)
{
	struct dkim_sign *s = xcalloc(1, sizeof(*s));

	if (nkeys > DKIM_SIGN_KEYS_MAX)
		nkeys = DKIM_SIGN_KEYS_MAX;
	if (nkeys > 0)
		memcpy(s->keys, keys, nkeys * sizeof(keys[0]));
	s->nkeys = nkeys;
	s->now = now;
	if ((s->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		fatal("dkim: cannot set up SHA-256");
	dkim_body_canon_init(&s->canon, DKIM_CANON_RELAXED,
	    DKIM_CANON_NOLIMIT, sign_hash_out, s->md);
	return s;
}

void
dkim_sign_body(struct dkim_sign *s, const void *data, size_t len)
{
	dkim_body_canon_push(&s->canon, data, len);
}

void
dkim_sign_free(struct dkim_sign *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->npend; i++)
		dkim_sign_field_clear(&s->pend[i]);
	EVP_MD_CTX_free(s->md);
	free(s);
}

/* Folding writer: a token goes on the current line if it fits in
 * DKIM_SIGN_COLUMNS, else on a new line starting with a TAB. */
struct fold {
	struct buf	*b;
	size_t		 col;
	int		 err;
};

static void
fold_add(struct fold *f, const char *tok, size_t len, bool space)
{
	if (f->col + len + (space ? 1 : 0) > DKIM_SIGN_COLUMNS && f->col > 1) {
		f->err |= buf_append(f->b, "\r\n\t", 3);
		f->col = 1;
	} else if (space) {
		f->err |= buf_append(f->b, " ", 1);
		f->col++;
	}
	f->err |= buf_append(f->b, tok, len);
	f->col += len;
}

static void
fold_str(struct fold *f, const char *tok, bool space)
{
	fold_add(f, tok, strlen(tok), space);
}

/* Base64 text cut to fit the lines (FWS is allowed inside b=, §3.5). */
static void
fold_base64(struct fold *f, const char *b64)
{
	size_t n = strlen(b64);

	while (n > 0) {
		size_t room = f->col < DKIM_SIGN_COLUMNS ?
		    DKIM_SIGN_COLUMNS - f->col : 0;
		if (room == 0) {
			f->err |= buf_append(f->b, "\r\n\t", 3);
			f->col = 1;
			continue;
		}
		if (room > n)
			room = n;
		f->err |= buf_append(f->b, b64, room);
		f->col += room;
		b64 += room;
		n -= room;
	}
}

/* The header fields h= names, in hash order (§5.4.2: each name's
 * instances bottom-up) into *out (allocated), their count returned; each
 * name's count of instances (the h= entries besides oversigning) in
 * counts[]. */
static size_t
select_fields(const char *hdr, size_t len, const struct dkim_sign_hname *h,
    size_t nh, size_t *counts, struct dkim_field **out)
{
	struct dkim_field *fields = NULL, *sel, f;
	size_t nfields = 0, cap = 0, pos = 0, nsel = 0;

	while (dkim_header_next(hdr, len, &pos, &f) == 1) {
		if (nfields == cap) {
			cap = cap ? cap * 2 : 32;
			fields = xreallocarray(fields, cap, sizeof(*fields));
		}
		fields[nfields++] = f;
	}
	/* Each field matches at most one name: nfields bounds the result. */
	sel = xreallocarray(NULL, nfields + 1, sizeof(*sel));
	for (size_t k = 0; k < nh; k++) {
		counts[k] = 0;
		for (size_t j = nfields; j-- > 0;)
			if (dkim_name_eq(fields[j].name, fields[j].namelen,
			    h[k].name, strlen(h[k].name))) {
				sel[nsel++] = fields[j];
				counts[k]++;
			}
	}
	free(fields);
	*out = sel;
	return nsel;
}

/* The field up to "b=" with the folding it will be sent with. */
static int
sig_prefix(const struct dkim_sign_key *k, time_t t,
    const struct dkim_sign_spec *sp, const size_t *counts, struct fold *f)
{
	char tmp[LIMIT_DOMAIN + 64];
	bool first = true;

	fold_str(f, sp->head, false);
	snprintf(tmp, sizeof(tmp), "a=%s;", dkim_alg_name(k->alg));
	fold_str(f, tmp, true);
	if (sp->h != NULL)
		fold_str(f, "c=relaxed/relaxed;", true);
	snprintf(tmp, sizeof(tmp), "d=%s;", k->domain);
	fold_str(f, tmp, true);
	snprintf(tmp, sizeof(tmp), "s=%s;", k->selector);
	fold_str(f, tmp, true);
	snprintf(tmp, sizeof(tmp), "t=%lld;", (long long)t);
	fold_str(f, tmp, true);
	if (sp->h != NULL) {
		for (size_t i = 0; i < sp->nh; i++) {
			size_t n = counts[i] + (sp->h[i].over ? 1 : 0);
			for (size_t j = 0; j < n; j++) {
				snprintf(tmp, sizeof(tmp), "%s%s:",
				    first ? "h=" : "", sp->h[i].name);
				fold_str(f, tmp, first);
				first = false;
			}
		}
		/* h= must not be empty (it lists From, oversigned). */
		if (first)
			return -1;
		/* Replace the last ":" by ";". */
		f->b->data[f->b->len - 1] = ';';
		snprintf(tmp, sizeof(tmp), "bh=%s;", sp->bh64);
		fold_str(f, tmp, true);
	}
	fold_str(f, "b=", true);
	return f->err ? -1 : 0;
}

/* Hash fields[0..n) then the signature field itself without its CRLF
 * (§3.7), all relaxed. */
static int
header_hash(const struct dkim_field *fields, size_t n,
    const struct buf *sigfield, uint8_t digest[32])
{
	struct buf scratch;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned dl = 0;
	int r = -1;

	buf_init(&scratch, LIMIT_HEADER_SECTION + 2);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t j = 0; j < n; j++) {
		buf_reset(&scratch);
		if (dkim_canon_header(DKIM_CANON_RELAXED, fields[j].field,
		    fields[j].len, &scratch) == -1)
			goto out;
		EVP_DigestUpdate(md, scratch.data, scratch.len);
	}
	buf_reset(&scratch);
	if (dkim_canon_header(DKIM_CANON_RELAXED, (const char *)sigfield->data,
	    sigfield->len, &scratch) == -1)
		goto out;
	EVP_DigestUpdate(md, scratch.data, scratch.len - 2);
	r = EVP_DigestFinal_ex(md, digest, &dl) == 1 ? 0 : -1;
out:
	EVP_MD_CTX_free(md);
	buf_clear(&scratch);
	return r;
}

/* The request for p's signature: ed25519-sha256 signs the SHA-256 itself
 * (RFC 8463 §3), so it is always 32 octets. */
void
dkim_sign_field_op(const struct dkim_sign_pending *p, struct keyop *op)
{
	memset(op, 0, sizeof(*op));
	op->key = p->k->handle;
	op->alg = p->k->alg == DKIM_ALG_ED25519_SHA256 ? KEYOP_ED25519 :
	    KEYOP_RSA_PKCS1;
	op->tbs = p->digest;
	op->tbslen = sizeof(p->digest);
	if (p->k->alg != DKIM_ALG_ED25519_SHA256)
		snprintf(op->md, sizeof(op->md), "SHA256");
}

bool
dkim_sign_field_remote(const struct dkim_sign_pending *p)
{
	return p->k->pk == NULL;
}

/* b= over the digest: PKCS#1 v1.5 SHA-256, or Ed25519 (RFC 8463 §3); a
 * key the keys process holds through the blocking call (the runner's
 * report thread, the tools; the worker asks asynchronously,
 * smtpd_sign.c). */
int
dkim_sign_field_sign(struct dkim_sign_pending *p)
{
	const struct dkim_sign_key *k = p->k;
	const struct keyop_backend *be;
	uint8_t sig[DKIM_SIG_B_MAX];
	size_t siglen = sizeof(sig);
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *md;
	struct keyop op;
	int ok;

	if (k->pk == NULL) {
		be = keyop_backend();
		dkim_sign_field_op(p, &op);
		ok = be != NULL && be->sync != NULL &&
		    be->sync(be->be, &op, sig, &siglen) == 0;
	} else if (k->alg == DKIM_ALG_ED25519_SHA256) {
		if ((md = EVP_MD_CTX_new()) == NULL)
			return -1;
		ok = EVP_DigestSignInit(md, NULL, NULL, NULL, k->pk) == 1 &&
		    EVP_DigestSign(md, sig, &siglen, p->digest, 32) == 1;
		EVP_MD_CTX_free(md);
	} else {
		if ((pctx = EVP_PKEY_CTX_new(k->pk, NULL)) == NULL)
			return -1;
		ok = EVP_PKEY_sign_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) ==
		    1 && EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) ==
		    1 && EVP_PKEY_sign(pctx, sig, &siglen, p->digest, 32) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok ? dkim_sign_field_put(p, sig, siglen) : -1;
}

int
dkim_sign_field_begin(const struct dkim_sign_key *k, time_t t,
    const struct dkim_sign_spec *sp, const char *hdr, size_t len,
    struct dkim_sign_pending *p)
{
	size_t nsel = sp->nfields;
	size_t *counts = NULL;
	struct dkim_field *sel = NULL;
	const struct dkim_field *hashed = sp->fields;
	struct fold f;
	int r = -1;

	memset(p, 0, sizeof(*p));
	p->k = k;
	buf_init(&p->field, 64 * 1024);
	if (sp->h != NULL) {
		counts = xcalloc(sp->nh + 1, sizeof(*counts));
		nsel = select_fields(hdr, len, sp->h, sp->nh, counts, &sel);
		hashed = sel;
	}
	f.b = &p->field;
	f.col = 0;
	f.err = 0;
	if (sig_prefix(k, t, sp, counts, &f) == 0 &&
	    header_hash(hashed, nsel, &p->field, p->digest) == 0)
		r = 0;
	p->col = f.col;
	free(sel);
	free(counts);
	if (r == -1)
		dkim_sign_field_clear(p);
	return r;
}

int
dkim_sign_field_put(struct dkim_sign_pending *p, const uint8_t *sig,
    size_t siglen)
{
	if (sig == NULL || siglen == 0 || siglen > sizeof(p->sig))
		return -1;
	memcpy(p->sig, sig, siglen);
	p->siglen = siglen;
	return 0;
}

int
dkim_sign_field_end(struct dkim_sign_pending *p, struct buf *out)
{
	char b64[DKIM_SIG_B_MAX * 4 / 3 + 8];
	struct fold f = { &p->field, p->col, 0 };
	int r = -1;

	if (p->siglen > 0 &&
	    base64_encode(p->sig, p->siglen, b64, sizeof(b64)) >= 0) {
		fold_base64(&f, b64);
		f.err |= buf_append(&p->field, "\r\n", 2);
		if (f.err == 0 && buf_append(out, p->field.data,
		    p->field.len) == 0)
			r = 0;
	}
	dkim_sign_field_clear(p);
	return r;
}

void
dkim_sign_field_clear(struct dkim_sign_pending *p)
{
	buf_clear(&p->field);
	explicit_bzero(p->sig, sizeof(p->sig));
	p->siglen = 0;
}

int
dkim_sign_field(const struct dkim_sign_key *k, time_t t,
    const struct dkim_sign_spec *sp, const char *hdr, size_t len,
    struct buf *out)
{
	struct dkim_sign_pending p;

	if (dkim_sign_field_begin(k, t, sp, hdr, len, &p) == -1)
		return -1;
	if (dkim_sign_field_sign(&p) == -1) {
		dkim_sign_field_clear(&p);
		return -1;
	}
	return dkim_sign_field_end(&p, out);
}

int
dkim_sign_body_end(struct dkim_sign *s, char bh64[DKIM_SIGN_BH64])
{
	uint8_t bh[32];
	unsigned n = 0;

	if (s->finished)
		return -1;
	s->finished = true;
	dkim_body_canon_finish(&s->canon);
	if (EVP_DigestFinal_ex(s->md, bh, &n) != 1 ||
	    base64_encode(bh, sizeof(bh), bh64, DKIM_SIGN_BH64) < 0)
		return -1;
	return 0;
}

int
dkim_sign_start(struct dkim_sign *s, const char *hdr, size_t len, char *err,
    size_t errlen)
{
	char bh64[DKIM_SIGN_BH64];
	struct dkim_sign_spec sp = {
		.head = "DKIM-Signature: v=1;",
		.h = sign_fields,
		.nh = NSIGN_FIELDS,
		.bh64 = bh64,
	};

	if (s->finished || len > LIMIT_HEADER_SECTION) {
		snprintf(err, errlen, "dkim: header section too big");
		return -1;
	}
	if (dkim_sign_body_end(s, bh64) == -1) {
		snprintf(err, errlen, "dkim: body hash failed");
		return -1;
	}
	for (size_t i = 0; i < s->nkeys; i++) {
		if (dkim_sign_field_begin(s->keys[i], s->now, &sp, hdr, len,
		    &s->pend[i]) == -1) {
			snprintf(err, errlen, "dkim: signing with %s/%s failed",
			    s->keys[i]->domain, s->keys[i]->selector);
			return -1;
		}
		s->npend = i + 1;
	}
	return (int)s->nkeys;
}

struct dkim_sign_pending *
dkim_sign_pending(struct dkim_sign *s, size_t i)
{
	return i < s->npend ? &s->pend[i] : NULL;
}

int
dkim_sign_end(struct dkim_sign *s, struct buf *out, char *err, size_t errlen)
{
	size_t start = out->len;

	for (size_t i = 0; i < s->npend; i++)
		if (dkim_sign_field_end(&s->pend[i], out) == -1) {
			snprintf(err, errlen, "dkim: signing with %s/%s failed",
			    s->keys[i]->domain, s->keys[i]->selector);
			buf_truncate(out, start);
			return -1;
		}
	s->npend = 0;
	return 0;
}

int
dkim_sign_finish(struct dkim_sign *s, const char *hdr, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	if (dkim_sign_start(s, hdr, len, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < s->npend; i++)
		if (dkim_sign_field_sign(&s->pend[i]) == -1) {
			snprintf(err, errlen, "dkim: signing with %s/%s failed",
			    s->keys[i]->domain, s->keys[i]->selector);
			return -1;
		}
	return dkim_sign_end(s, out, err, errlen);
}
