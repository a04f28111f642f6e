/* SPDX-License-Identifier: ISC */
/* The keys process's private keys (see keys_table.h). */
#include "keys/keys_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/dkim_key.h"
#include "core/xmalloc.h"

struct keys_entry {
	uint32_t		 handle;
	enum keys_key_type	 type;
	EVP_PKEY		*pk;
};

struct keys_table {
	struct keys_entry	*e;
	size_t			 n;
};

struct keys_table *
keys_table_new(void)
{
	return xcalloc(1, sizeof(struct keys_table));
}

void
keys_table_free(struct keys_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		EVP_PKEY_free(t->e[i].pk);
	free(t->e);
	free(t);
}

static const struct keys_entry *
keys_table_find(const struct keys_table *t, uint32_t handle)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].handle == handle)
			return &t->e[i];
	return NULL;
}

static void
keys_table_errstr(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char ebuf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s", what, ebuf);
}

static EVP_PKEY *
keys_table_parse(const uint8_t *pem, size_t len)
{
	BIO *bio;
	EVP_PKEY *pk;

	if (len > KEYS_PROTO_PEM_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return pk;
}

/* The key's type, with the kind's policy; -1 with err when refused. */
static int
keys_table_check(EVP_PKEY *pk, enum keys_key_kind kind,
    const uint8_t *cert, size_t certlen, enum keys_key_type *type,
    char *err, size_t errlen)
{
	int id = EVP_PKEY_get_base_id(pk), bits = EVP_PKEY_get_bits(pk);
	BIO *bio;
	X509 *x;
	int ok;

	/* An RSASSA-PSS key (TLS only; the provider takes its certificate
	 * too) signs as RSA, PSS only: OpenSSL refuses it PKCS#1 v1.5. */
	*type = id == EVP_PKEY_RSA || (id == EVP_PKEY_RSA_PSS &&
	    kind == KEYS_KIND_TLS) ? KEYS_TYPE_RSA : id == EVP_PKEY_EC ?
	    KEYS_TYPE_EC : id == EVP_PKEY_ED25519 ? KEYS_TYPE_ED25519 : 0;
	if (kind == KEYS_KIND_DKIM) {
		if (*type == KEYS_TYPE_ED25519 || (*type == KEYS_TYPE_RSA &&
		    bits >= DKIM_RSA_BITS_MIN && bits <= DKIM_RSA_BITS_MAX))
			return 0;
		snprintf(err, errlen, "dkim: key must be RSA (%d to %d bits) "
		    "or Ed25519", DKIM_RSA_BITS_MIN, DKIM_RSA_BITS_MAX);
		return -1;
	}
	if (*type == 0) {
		snprintf(err, errlen, "key must be RSA, EC or Ed25519");
		return -1;
	}
	/* Its signatures must fit a SIG answer (RSA up to 8192 bits). */
	if (EVP_PKEY_get_size(pk) > KEYOP_SIG_MAX) {
		snprintf(err, errlen, "key too large: signatures of %d "
		    "octets, at most %d", EVP_PKEY_get_size(pk),
		    KEYOP_SIG_MAX);
		return -1;
	}
	if (certlen == 0 || certlen > KEYS_PROTO_PEM_MAX ||
	    (bio = BIO_new_mem_buf(cert, (int)certlen)) == NULL) {
		snprintf(err, errlen, "no certificate to check the key with");
		return -1;
	}
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		keys_table_errstr(err, errlen, "bad certificate");
		return -1;
	}
	ok = X509_check_private_key(x, pk) == 1;
	X509_free(x);
	if (!ok) {
		keys_table_errstr(err, errlen, "key does not match certificate");
		return -1;
	}
	return 0;
}

int
keys_table_load(struct keys_table *t, uint32_t handle,
    enum keys_key_kind kind, const uint8_t *pem, size_t len,
    const uint8_t *cert, size_t certlen, enum keys_key_type *type,
    char *err, size_t errlen)
{
	EVP_PKEY *pk;

	if (keys_table_find(t, handle) != NULL) {
		snprintf(err, errlen, "key %u loaded twice", (unsigned)handle);
		return -1;
	}
	if ((pk = keys_table_parse(pem, len)) == NULL) {
		keys_table_errstr(err, errlen, "not a PEM private key");
		return -1;
	}
	if (keys_table_check(pk, kind, cert, certlen, type, err,
	    errlen) == -1) {
		EVP_PKEY_free(pk);
		return -1;
	}
	t->e = xreallocarray(t->e, t->n + 1, sizeof(*t->e));
	t->e[t->n].handle = handle;
	t->e[t->n].type = *type;
	t->e[t->n].pk = pk;
	t->n++;
	return 0;
}

/* PureEdDSA over the message itself. */
static int
keys_table_sign_ed25519(EVP_PKEY *pk, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	if (md == NULL)
		return -1;
	ok = EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestSign(md, sig, siglen, op->tbs, op->tbslen) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* RSA (PKCS#1 v1.5 or PSS) and ECDSA over a digest made with op->md. */
static int
keys_table_sign_digest(EVP_PKEY *pk, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	EVP_PKEY_CTX *pctx;
	EVP_MD *md;
	int ok;

	if ((md = EVP_MD_fetch(NULL, op->md, NULL)) == NULL)
		return -1;
	/* A tbs that is not a digest of md would be signed as one. */
	if ((size_t)EVP_MD_get_size(md) != op->tbslen ||
	    (pctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL) {
		EVP_MD_free(md);
		return -1;
	}
	ok = EVP_PKEY_sign_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pctx, md) == 1;
	if (ok && op->alg == KEYOP_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
	else if (ok && op->alg == KEYOP_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, op->saltlen) == 1;
	ok = ok && EVP_PKEY_sign(pctx, sig, siglen, op->tbs, op->tbslen) == 1;
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_free(md);
	return ok ? 0 : -1;
}

int
keys_table_sign(const struct keys_table *t, const struct keyop *op,
    uint8_t *sig, size_t *siglen)
{
	const struct keys_entry *e = keys_table_find(t, op->key);
	int r = -1;

	if (e == NULL || op->tbslen == 0 || op->tbslen > KEYOP_TBS_MAX)
		return -1;
	switch (op->alg) {
	case KEYOP_RSA_PKCS1:
	case KEYOP_RSA_PSS:
		if (e->type == KEYS_TYPE_RSA)
			r = keys_table_sign_digest(e->pk, op, sig, siglen);
		break;
	case KEYOP_ECDSA:
		if (e->type == KEYS_TYPE_EC)
			r = keys_table_sign_digest(e->pk, op, sig, siglen);
		break;
	case KEYOP_ED25519:
		if (e->type == KEYS_TYPE_ED25519)
			r = keys_table_sign_ed25519(e->pk, op, sig, siglen);
		break;
	}
	ERR_clear_error();
	return r;
}
