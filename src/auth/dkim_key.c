/* SPDX-License-Identifier: ISC */
/*
 * DKIM key record parsing (RFC 6376 §3.6.1, RFC 8463 §4.2) and public key
 * loading with the RFC 8301 size policy. Input is untrusted DNS text.
 */
#include "auth/dkim_key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "core/xmalloc.h"

/* Does the colon-separated list val contain word (case-insensitive)? */
static bool
list_has(const char *val, size_t len, const char *word)
{
	const char *p = val, *end = val + len;

	while (p <= end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t n = colon ? (size_t)(colon - p) : (size_t)(end - p);

		while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
		    p[n - 1] == '\r' || p[n - 1] == '\n'))
			n--;
		if (dkim_name_eq(p, n, word, strlen(word)))
			return true;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return false;
}

static bool
tag_is(const struct dkim_tag *t, const char *name)
{
	return t->namelen == strlen(name) &&
	    memcmp(t->name, name, t->namelen) == 0;
}

static enum dkim_key_result
key_tag(const struct dkim_tag *t, struct dkim_key *key, bool first,
    bool *have_p)
{
	long n;

	if (tag_is(t, "v")) {
		/* §3.6.1: if present, v= MUST be first and be "DKIM1". */
		return first && t->vallen == 5 && memcmp(t->val, "DKIM1",
		    5) == 0 ? DKIM_KEY_OK : DKIM_KEY_ERR_VERSION;
	} else if (tag_is(t, "k")) {
		if (t->vallen == 3 && memcmp(t->val, "rsa", 3) == 0)
			key->type = DKIM_KEY_RSA;
		else if (t->vallen == 7 && memcmp(t->val, "ed25519", 7) == 0)
			key->type = DKIM_KEY_ED25519;
		else
			return DKIM_KEY_ERR_TYPE;
	} else if (tag_is(t, "h")) {
		key->sha256_ok = list_has(t->val, t->vallen, "sha256");
		key->sha1_ok = list_has(t->val, t->vallen, "sha1");
	} else if (tag_is(t, "s")) {
		if (!list_has(t->val, t->vallen, "*") &&
		    !list_has(t->val, t->vallen, "email"))
			return DKIM_KEY_ERR_SERVICE;
	} else if (tag_is(t, "t")) {
		key->testing = list_has(t->val, t->vallen, "y");
		key->strict = list_has(t->val, t->vallen, "s");
	} else if (tag_is(t, "p")) {
		*have_p = true;
		if (t->vallen == 0) {
			key->revoked = true;
			return DKIM_KEY_OK;
		}
		n = dkim_base64_decode(t->val, t->vallen, key->p,
		    sizeof(key->p));
		if (n <= 0)
			return t->vallen > DKIM_KEY_DER_MAX * 4 / 3 + 4 ?
			    DKIM_KEY_ERR_TOO_BIG : DKIM_KEY_ERR_BASE64;
		key->plen = (size_t)n;
	}
	return DKIM_KEY_OK;
}

enum dkim_key_result
dkim_key_parse(const char *txt, size_t len, struct dkim_key *key)
{
	struct dkim_tag_iter it;
	struct dkim_tag tags[DKIM_TAGS_MAX];
	enum dkim_key_result r;
	size_t ntags = 0;
	bool have_p = false;
	int k;

	memset(key, 0, sizeof(*key));
	key->type = DKIM_KEY_RSA;
	key->sha256_ok = key->sha1_ok = true;
	if (len > DKIM_KEY_RECORD_MAX)
		return DKIM_KEY_ERR_TOO_BIG;
	dkim_tag_init(&it, txt, len);
	while ((k = dkim_tag_next(&it, &tags[ntags])) == 1) {
		for (size_t j = 0; j < ntags; j++)
			if (tags[j].namelen == tags[ntags].namelen &&
			    memcmp(tags[j].name, tags[ntags].name,
			    tags[j].namelen) == 0)
				return DKIM_KEY_ERR_SYNTAX;
		r = key_tag(&tags[ntags], key, ntags == 0, &have_p);
		if (r != DKIM_KEY_OK)
			return r;
		if (++ntags == DKIM_TAGS_MAX)
			return DKIM_KEY_ERR_TOO_BIG;
	}
	if (k == -1)
		return DKIM_KEY_ERR_SYNTAX;
	return have_p ? DKIM_KEY_OK : DKIM_KEY_ERR_MISSING;
}

static EVP_PKEY *
load_rsa(const struct dkim_key *key)
{
	const unsigned char *q = key->p;
	EVP_PKEY *pk;

	pk = d2i_PUBKEY(NULL, &q, (long)key->plen);
	if (pk != NULL && (q != key->p + key->plen ||
	    EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (pk == NULL) {
		/* RFC 6376 §3.6.1 says RSAPublicKey; most publish SPKI. */
		q = key->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)key->plen);
		if (pk != NULL && q != key->p + key->plen) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	return pk;
}

enum dkim_key_result
dkim_key_load(const struct dkim_key *key, void **out)
{
	EVP_PKEY *pk;
	int bits;

	*out = NULL;
	if (key->revoked)
		return DKIM_KEY_ERR_BAD_KEY;
	if (key->type == DKIM_KEY_ED25519) {
		if (key->plen != 32)
			return DKIM_KEY_ERR_BAD_KEY;
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    key->p, key->plen);
		if (pk == NULL)
			return DKIM_KEY_ERR_BAD_KEY;
		*out = pk;
		return DKIM_KEY_OK;
	}
	if ((pk = load_rsa(key)) == NULL)
		return DKIM_KEY_ERR_BAD_KEY;
	bits = EVP_PKEY_get_bits(pk);
	if (bits < DKIM_RSA_BITS_MIN || bits > DKIM_RSA_BITS_MAX) {
		EVP_PKEY_free(pk);
		return bits < DKIM_RSA_BITS_MIN ? DKIM_KEY_ERR_TOO_SMALL :
		    DKIM_KEY_ERR_TOO_BIG;
	}
	*out = pk;
	return DKIM_KEY_OK;
}

const char *
dkim_key_result_name(enum dkim_key_result r)
{
	static const char *names[] = {
		"ok", "key syntax error", "bad key version",
		"unknown key type", "no p= in key", "bad key base64",
		"key not for email", "key too big", "bad key", "key too small",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "unknown";
}

char *
dkim_key_record(const void *pkey)
{
	EVP_PKEY *pk = (EVP_PKEY *)pkey;
	unsigned char *der = NULL, raw[32];
	size_t n = sizeof(raw), cap;
	int id = EVP_PKEY_get_base_id(pk), len;
	char *b64, *rec;

	if (id == EVP_PKEY_RSA) {
		if ((len = i2d_PUBKEY(pk, &der)) <= 0)
			return NULL;
	} else if (id == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1 ||
		    n != sizeof(raw))
			return NULL;
		len = (int)n;
	} else
		return NULL;
	cap = ((size_t)len + 2) / 3 * 4 + 1;
	b64 = xmalloc(cap);
	base64_encode(der != NULL ? der : raw, (size_t)len, b64, cap);
	rec = xasprintf("v=DKIM1; k=%s; p=%s", id == EVP_PKEY_RSA ? "rsa" :
	    "ed25519", b64);
	free(b64);
	OPENSSL_free(der);
	return rec;
}
