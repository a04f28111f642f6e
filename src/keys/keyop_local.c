/* SPDX-License-Identifier: ISC */
/* In-process private-key backend (see keyop_local.h). */
#include "keys/keyop_local.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "net/tls.h"

struct keyop_local_key {
	uint32_t	 handle;
	EVP_PKEY	*pk;
};

struct keyop_local {
	struct keyop_local_key	*keys;
	size_t			 nkeys;
	struct keyop_backend	 backend;
};

/* An operation on its way to the loop: start never calls back itself,
 * and signs there, not on the caller's (maybe an ASYNC job's) stack. */
struct keyop_local_pending {
	struct keyop_local *kl;
	struct keyop	 op;		/* op.tbs points to tbs */
	uint8_t		 tbs[KEYOP_TBS_MAX];
	keyop_done_cb	*cb;
	void		*arg;
	uint8_t		 sig[KEYOP_SIG_MAX];
};

static struct event_base *keyop_local_base;
static unsigned long keyop_local_signed, keyop_local_started;

static EVP_PKEY *
keyop_local_find(const struct keyop_local *kl, uint32_t handle)
{
	for (size_t i = 0; i < kl->nkeys; i++)
		if (kl->keys[i].handle == handle)
			return kl->keys[i].pk;
	return NULL;
}

/* Ed25519 signs the message itself (PureEdDSA): no digest, no context. */
static int
keyop_local_sign_ed25519(EVP_PKEY *pk, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = md != NULL && EVP_PKEY_is_a(pk, "ED25519") &&
	    EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, pk, NULL) == 1 &&
	    EVP_DigestSign(md, sig, siglen, op->tbs, op->tbslen) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* RSA and ECDSA sign a digest made with op->md. */
static int
keyop_local_sign_digest(EVP_PKEY *pk, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	EVP_PKEY_CTX *c = NULL;
	EVP_MD *md = NULL;
	bool rsa = op->alg == KEYOP_RSA_PKCS1 || op->alg == KEYOP_RSA_PSS;
	int ok = 0;

	if (memchr(op->md, '\0', sizeof(op->md)) == NULL ||
	    (md = EVP_MD_fetch(NULL, op->md, NULL)) == NULL ||
	    (size_t)EVP_MD_get_size(md) != op->tbslen ||
	    !(rsa ? EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS") :
	    EVP_PKEY_is_a(pk, "EC")) ||
	    (c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_sign_init(c) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, md) != 1)
		goto done;
	if (op->alg == KEYOP_RSA_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1)
		goto done;
	if (op->alg == KEYOP_RSA_PSS &&
	    (op->saltlen < 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, op->saltlen) != 1))
		goto done;
	ok = EVP_PKEY_sign(c, sig, siglen, op->tbs, op->tbslen) == 1;
done:
	EVP_PKEY_CTX_free(c);
	EVP_MD_free(md);
	return ok ? 0 : -1;
}

static int
keyop_local_sync(void *be, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	struct keyop_local *kl = be;
	EVP_PKEY *pk = keyop_local_find(kl, op->key);
	int r;

	if (pk == NULL || op->tbslen > KEYOP_TBS_MAX ||
	    (size_t)EVP_PKEY_get_size(pk) > *siglen)
		return -1;
	switch (op->alg) {
	case KEYOP_RSA_PKCS1:
	case KEYOP_RSA_PSS:
	case KEYOP_ECDSA:
		r = keyop_local_sign_digest(pk, op, sig, siglen);
		break;
	case KEYOP_ED25519:
		r = keyop_local_sign_ed25519(pk, op, sig, siglen);
		break;
	default:
		r = -1;
		break;
	}
	ERR_clear_error();
	if (r == 0)
		keyop_local_signed++;
	return r;
}

static void
keyop_local_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct keyop_local_pending *p = arg;
	size_t siglen = sizeof(p->sig);
	bool ok;

	(void)fd;
	(void)what;
	ok = keyop_local_sync(p->kl, &p->op, p->sig, &siglen) == 0;
	p->cb(p->arg, ok ? p->sig : NULL, ok ? siglen : 0);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

static int
keyop_local_start(void *be, const struct keyop *op, keyop_done_cb *cb,
    void *arg)
{
	struct keyop_local_pending *p;
	const struct timeval now = { 0, 0 };

	if (keyop_local_base == NULL || op->tbslen > KEYOP_TBS_MAX)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->kl = be;
	p->op = *op;
	memcpy(p->tbs, op->tbs, op->tbslen);
	p->op.tbs = p->tbs;
	p->cb = cb;
	p->arg = arg;
	if (event_base_once(keyop_local_base, -1, EV_TIMEOUT,
	    keyop_local_deliver, p, &now) == -1) {
		free(p);
		return -1;
	}
	keyop_local_started++;
	return 0;
}

struct keyop_local *
keyop_local_new(void)
{
	struct keyop_local *kl = xcalloc(1, sizeof(*kl));

	kl->backend.start = keyop_local_start;
	kl->backend.sync = keyop_local_sync;
	kl->backend.be = kl;
	return kl;
}

void
keyop_local_free(struct keyop_local *kl)
{
	if (kl == NULL)
		return;
	for (size_t i = 0; i < kl->nkeys; i++)
		EVP_PKEY_free(kl->keys[i].pk);
	free(kl->keys);
	free(kl);
}

int
keyop_local_add(struct keyop_local *kl, uint32_t handle, EVP_PKEY *pk)
{
	if (keyop_local_find(kl, handle) != NULL || !EVP_PKEY_up_ref(pk))
		return -1;
	kl->keys = xreallocarray(kl->keys, kl->nkeys + 1, sizeof(*kl->keys));
	kl->keys[kl->nkeys].handle = handle;
	kl->keys[kl->nkeys].pk = pk;
	kl->nkeys++;
	return 0;
}

/* One pair's key, checked against the first certificate of its file. */
static EVP_PKEY *
keyop_local_read_pair(const struct conf_certpair *cp, char *err,
    size_t errlen)
{
	FILE *fp;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;

	if ((fp = fopen(cp->cert, "r")) == NULL) {
		snprintf(err, errlen, "cannot read certificate %s", cp->cert);
		return NULL;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL) {
		tls_errstr(err, errlen, "bad certificate", cp->cert);
		return NULL;
	}
	if ((fp = fopen(cp->key, "r")) != NULL) {
		pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if (pk == NULL)
		tls_errstr(err, errlen, "cannot load key", cp->key);
	else if (X509_check_private_key(x, pk) != 1) {
		tls_errstr(err, errlen,
		    "key does not match certificate", cp->key);
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	X509_free(x);
	return pk;
}

struct keyop_local *
keyop_local_load_tls(const struct conf *conf, char *err, size_t errlen)
{
	struct keyop_local *kl = keyop_local_new();

	for (size_t i = 0; i < conf->ncerts; i++) {
		EVP_PKEY *pk = keyop_local_read_pair(&conf->certs[i], err,
		    errlen);
		int r = pk != NULL ? keyop_local_add(kl,
		    KEYOP_HANDLE_TLS(i), pk) : -1;

		EVP_PKEY_free(pk);
		if (r == -1) {
			keyop_local_free(kl);
			return NULL;
		}
	}
	return kl;
}

const struct keyop_backend *
keyop_local_backend(struct keyop_local *kl)
{
	return &kl->backend;
}

void
keyop_local_set_base(struct event_base *base)
{
	keyop_local_base = base;
}

unsigned long
keyop_local_count(void)
{
	return keyop_local_signed;
}

unsigned long
keyop_local_count_async(void)
{
	return keyop_local_started;
}
