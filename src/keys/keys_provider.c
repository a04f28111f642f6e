/* SPDX-License-Identifier: ISC */
/*
 * The keys provider (see keys_provider.h): key management that holds a
 * public key and a handle, and signatures (RSA PKCS#1 v1.5 and PSS, ECDSA,
 * Ed25519) that hand the digest to the keyop backend.
 */
#include "keys/keys_provider.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/async.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keyop.h"

/* The import parameter that carries the handle. */
#define KP_PARAM_HANDLE	"sealmail-handle"

enum kp_type {
	KP_RSA,
	KP_RSA_PSS,		/* an RSASSA-PSS key: PSS signatures only */
	KP_EC,
	KP_ED25519,
};

static const char *const kp_type_name[] = {
	[KP_RSA] = "RSA",
	[KP_RSA_PSS] = "RSA-PSS",
	[KP_EC] = "EC",
	[KP_ED25519] = "ED25519",
};

struct kp_key {
	enum kp_type	 type;
	EVP_PKEY	*pub;		/* default provider, public part only */
	uint32_t	 handle;
	bool		 has_handle;
};

struct kp_sig {
	struct kp_key	*key;		/* borrowed from the EVP_PKEY */
	EVP_MD		*md;		/* NULL: Ed25519, or not set yet */
	EVP_MD_CTX	*mdctx;		/* digest_sign_update's running hash */
	EVP_MD		*mgf1;		/* NULL: md */
	int		 pad;		/* RSA_PKCS1_PADDING or _PSS_ */
	int		 saltlen;	/* RSA_PSS_SALTLEN_* or octets */
};

/* A signature on its way back from the backend to a paused job. */
struct kp_wait {
	bool			 done;
	bool			 abandoned;	/* the job went on without it */
	size_t			 siglen;	/* 0: failed */
	ASYNC_callback_fn	 resume;
	void			*resume_arg;
	uint8_t			 sig[KEYOP_SIG_MAX];
};

/* ---- key management ---- */

static struct kp_key *
kp_key_new(enum kp_type type)
{
	struct kp_key *k = calloc(1, sizeof(*k));

	if (k != NULL)
		k->type = type;
	return k;
}

static void *
kp_rsa_new(void *provctx)
{
	(void)provctx;
	return kp_key_new(KP_RSA);
}

static void *
kp_rsa_pss_new(void *provctx)
{
	(void)provctx;
	return kp_key_new(KP_RSA_PSS);
}

static void *
kp_ec_new(void *provctx)
{
	(void)provctx;
	return kp_key_new(KP_EC);
}

static void *
kp_ed25519_new(void *provctx)
{
	(void)provctx;
	return kp_key_new(KP_ED25519);
}

static void
kp_key_free(void *vk)
{
	struct kp_key *k = vk;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

static int
kp_key_has(const void *vk, int selection)
{
	const struct kp_key *k = vk;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->has_handle)
		return 0;
	if ((selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	    OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) && k->pub == NULL)
		return 0;
	return 1;
}

/* Keys match when their public parts do (a handle is not key material). */
static int
kp_key_match(const void *va, const void *vb, int selection)
{
	const struct kp_key *a = va, *b = vb;

	if (a->type != b->type || a->pub == NULL || b->pub == NULL)
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)
		return EVP_PKEY_eq(a->pub, b->pub) == 1;
	if (selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)
		return EVP_PKEY_parameters_eq(a->pub, b->pub) == 1;
	return 1;
}

/* The public part (and the handle, when given): never private material,
 * whatever the exporter offers. */
static int
kp_key_import(void *vk, int selection, const OSSL_PARAM params[])
{
	struct kp_key *k = vk;
	const OSSL_PARAM *p;
	EVP_PKEY_CTX *c;
	EVP_PKEY *pub = NULL;

	if (k == NULL || !(selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	    OSSL_KEYMGMT_SELECT_PRIVATE_KEY)))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, KP_PARAM_HANDLE)) != NULL) {
		if (!OSSL_PARAM_get_uint32(p, &k->handle))
			return 0;
		k->has_handle = true;
	}
	c = EVP_PKEY_CTX_new_from_name(NULL, kp_type_name[k->type],
	    "provider=default");
	if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pub, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) != 1) {
		EVP_PKEY_CTX_free(c);
		return 0;
	}
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k->pub);
	k->pub = pub;
	return 1;
}

static const OSSL_PARAM kp_rsa_import_list[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_uint32(KP_PARAM_HANDLE, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM kp_ec_import_list[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_uint32(KP_PARAM_HANDLE, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM kp_ed25519_import_list[] = {
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_uint32(KP_PARAM_HANDLE, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
kp_rsa_import_types(int selection)
{
	(void)selection;
	return kp_rsa_import_list;
}

/* An RSASSA-PSS key's restrictions (digest, MGF1 digest, minimum salt)
 * come with its public part. */
static const OSSL_PARAM kp_rsa_pss_import_list[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_RSA_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_RSA_PSS_SALTLEN, NULL),
	OSSL_PARAM_uint32(KP_PARAM_HANDLE, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
kp_rsa_pss_import_types(int selection)
{
	(void)selection;
	return kp_rsa_pss_import_list;
}

static const OSSL_PARAM *
kp_ec_import_types(int selection)
{
	(void)selection;
	return kp_ec_import_list;
}

static const OSSL_PARAM *
kp_ed25519_import_types(int selection)
{
	(void)selection;
	return kp_ed25519_import_list;
}

/*
 * Only the public part leaves. Refusing a private export is what makes
 * libcrypto sign with this provider: do_sigver_init() first tries the
 * preferred (default) provider's signature, which needs the key exported
 * to its key management, and falls back to the key's own provider.
 */
static int
kp_key_export(void *vk, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct kp_key *k = vk;
	OSSL_PARAM *params = NULL;
	int ok;

	if (k == NULL || k->pub == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

/* Sizes, group, default digest...: the public key knows them all. */
static int
kp_key_get_params(void *vk, OSSL_PARAM params[])
{
	struct kp_key *k = vk;

	return k != NULL && k->pub != NULL &&
	    EVP_PKEY_get_params(k->pub, params) == 1;
}

static const OSSL_PARAM kp_gettable_list[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
kp_key_gettable_params(void *provctx)
{
	(void)provctx;
	return kp_gettable_list;
}

static const char *
kp_rsa_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
kp_rsa_pss_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
kp_ec_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
kp_ed25519_operation(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

/* The same parameters go in and out: the public part (and the handle). */
#define KP_KEYMGMT(t) \
static const OSSL_DISPATCH kp_##t##_keymgmt[] = { \
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))kp_##t##_new }, \
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))kp_key_free }, \
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))kp_key_has }, \
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))kp_key_match }, \
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))kp_key_import }, \
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, \
	    (void (*)(void))kp_##t##_import_types }, \
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))kp_key_export }, \
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, \
	    (void (*)(void))kp_##t##_import_types }, \
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))kp_key_get_params }, \
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, \
	    (void (*)(void))kp_key_gettable_params }, \
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, \
	    (void (*)(void))kp_##t##_operation }, \
	{ 0, NULL } \
}
KP_KEYMGMT(rsa);
KP_KEYMGMT(rsa_pss);
KP_KEYMGMT(ec);
KP_KEYMGMT(ed25519);

/* ---- forwarding a signature ---- */

static void
kp_wait_done(void *arg, const uint8_t *sig, size_t siglen)
{
	struct kp_wait *w = arg;
	ASYNC_callback_fn resume = w->resume;
	void *resume_arg = w->resume_arg;

	if (w->abandoned) {
		explicit_bzero(w, sizeof(*w));
		free(w);
		return;
	}
	if (sig != NULL && siglen > 0 && siglen <= sizeof(w->sig)) {
		memcpy(w->sig, sig, siglen);
		w->siglen = siglen;
	}
	w->done = true;
	/* Last: the job may run on (and finish) from here. */
	resume(resume_arg);
}

/*
 * Inside an ASYNC job whose wait context has a callback: start the
 * operation, pause the job, and take the result when the callback (on
 * the loop) resumes it. 1 with the result in sig, 0 if it failed, -1 if
 * this cannot wait (then nothing is outstanding).
 */
static int
kp_forward_async(const struct keyop_backend *be, const struct keyop *op,
    uint8_t *sig, size_t *siglen)
{
	ASYNC_JOB *job = ASYNC_get_current_job();
	ASYNC_WAIT_CTX *wctx;
	struct kp_wait *w;
	int ok;

	if (job == NULL || be->start == NULL ||
	    (wctx = ASYNC_get_wait_ctx(job)) == NULL)
		return -1;
	w = xcalloc(1, sizeof(*w));
	if (!ASYNC_WAIT_CTX_get_callback(wctx, &w->resume, &w->resume_arg) ||
	    w->resume == NULL || be->start(be->be, op, kp_wait_done, w) == -1) {
		free(w);
		return -1;
	}
	ASYNC_pause_job();
	if (!w->done) {
		/* Pausing is blocked here (or we were resumed early): the
		 * result will be dropped when it comes; sign now. */
		w->abandoned = true;
		return -1;
	}
	ok = w->siglen > 0 && w->siglen <= *siglen;
	if (ok) {
		memcpy(sig, w->sig, w->siglen);
		*siglen = w->siglen;
	}
	explicit_bzero(w, sizeof(*w));
	free(w);
	return ok;
}

static int
kp_forward(const struct keyop *op, uint8_t *sig, size_t *siglen)
{
	const struct keyop_backend *be = keyop_backend();
	int r;

	if (be == NULL) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED,
		    "no key backend");
		return 0;
	}
	if ((r = kp_forward_async(be, op, sig, siglen)) >= 0)
		return r;
	return be->sync != NULL && be->sync(be->be, op, sig, siglen) == 0;
}

/* PSS salt length in octets, as the default provider reads the special
 * values when it signs. */
static int
kp_pss_saltlen(const struct kp_sig *c)
{
	int mdlen = EVP_MD_get_size(c->md);
	int emlen = (EVP_PKEY_get_bits(c->key->pub) - 1 + 7) / 8;

	switch (c->saltlen) {
	case RSA_PSS_SALTLEN_DIGEST:
		return mdlen;
	case RSA_PSS_SALTLEN_MAX:
	case RSA_PSS_SALTLEN_AUTO:
		return emlen - mdlen - 2;
	default:
		return c->saltlen;
	}
}

/* Sign tbs (a digest made with c->md, or Ed25519's message). */
static int
kp_sign_tbs(struct kp_sig *c, uint8_t *sig, size_t *siglen, size_t sigsize,
    const uint8_t *tbs, size_t tbslen)
{
	struct keyop op;
	size_t max = (size_t)EVP_PKEY_get_size(c->key->pub);

	if (sig == NULL) {
		*siglen = max;
		return 1;
	}
	if (!c->key->has_handle || sigsize < max || tbslen > KEYOP_TBS_MAX)
		return 0;
	memset(&op, 0, sizeof(op));
	op.key = c->key->handle;
	op.tbs = tbs;
	op.tbslen = tbslen;
	if (c->key->type == KP_ED25519) {
		op.alg = KEYOP_ED25519;
	} else {
		const char *sn;
		if (c->md == NULL ||
		    (size_t)EVP_MD_get_size(c->md) != tbslen ||
		    (sn = OBJ_nid2sn(EVP_MD_get_type(c->md))) == NULL ||
		    strlen(sn) >= sizeof(op.md))
			return 0;
		memcpy(op.md, sn, strlen(sn) + 1);
		if (c->key->type == KP_EC)
			op.alg = KEYOP_ECDSA;
		else if (c->pad == RSA_PKCS1_PADDING &&
		    c->key->type == KP_RSA)
			op.alg = KEYOP_RSA_PKCS1;
		else if (c->pad == RSA_PKCS1_PSS_PADDING) {
			/* The keyop names one digest for both: MGF1 is md. */
			if (c->mgf1 != NULL && !EVP_MD_is_a(c->mgf1, sn))
				return 0;
			op.alg = KEYOP_RSA_PSS;
			if ((op.saltlen = kp_pss_saltlen(c)) < 0)
				return 0;
		} else
			return 0;
	}
	*siglen = sigsize < KEYOP_SIG_MAX ? sigsize : KEYOP_SIG_MAX;
	return kp_forward(&op, sig, siglen);
}

/* ---- signature ---- */

static void *
kp_sig_newctx(void *provctx, const char *propq)
{
	struct kp_sig *c = calloc(1, sizeof(*c));

	(void)provctx;
	(void)propq;
	if (c != NULL) {
		c->pad = RSA_PKCS1_PADDING;
		c->saltlen = RSA_PSS_SALTLEN_AUTO;
	}
	return c;
}

static void
kp_sig_freectx(void *vc)
{
	struct kp_sig *c = vc;

	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->mdctx);
	EVP_MD_free(c->md);
	EVP_MD_free(c->mgf1);
	free(c);
}

static void *
kp_sig_dupctx(void *vc)
{
	struct kp_sig *c = vc, *d = malloc(sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *c;
	d->mdctx = NULL;
	if ((d->md != NULL && !EVP_MD_up_ref(d->md)) ||
	    (d->mgf1 != NULL && !EVP_MD_up_ref(d->mgf1))) {
		free(d);
		return NULL;
	}
	if (c->mdctx != NULL && ((d->mdctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_MD_CTX_copy_ex(d->mdctx, c->mdctx))) {
		kp_sig_freectx(d);
		return NULL;
	}
	return d;
}

static int
kp_sig_set_md(EVP_MD **slot, const char *name)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, "provider=default");

	if (md == NULL)
		return 0;
	EVP_MD_free(*slot);
	*slot = md;
	return 1;
}

static const struct {
	const char	*name;
	int		 value;
} kp_pad_names[] = {
	{ OSSL_PKEY_RSA_PAD_MODE_PKCSV15, RSA_PKCS1_PADDING },
	{ OSSL_PKEY_RSA_PAD_MODE_PSS, RSA_PKCS1_PSS_PADDING },
	{ OSSL_PKEY_RSA_PAD_MODE_NONE, RSA_NO_PADDING },
	{ OSSL_PKEY_RSA_PAD_MODE_X931, RSA_X931_PADDING },
}, kp_saltlen_names[] = {
	{ OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST, RSA_PSS_SALTLEN_DIGEST },
	{ OSSL_PKEY_RSA_PSS_SALT_LEN_MAX, RSA_PSS_SALTLEN_MAX },
	{ OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO, RSA_PSS_SALTLEN_AUTO },
};

/* An int parameter EVP_PKEY_CTX_set_rsa_* may send as a number or as
 * one of its names (or a decimal string). */
static int
kp_param_int(const OSSL_PARAM *p, const void *names, size_t nnames, int *out)
{
	const struct { const char *name; int value; } *tab = names;
	char *end;
	long v;

	if (p->data_type != OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_get_int(p, out);
	if (p->data == NULL)
		return 0;
	for (size_t i = 0; i < nnames; i++)
		if (strcmp(p->data, tab[i].name) == 0) {
			*out = tab[i].value;
			return 1;
		}
	v = strtol(p->data, &end, 10);
	if (end == p->data || *end != '\0' || v < -3 || v > 0xffff)
		return 0;
	*out = (int)v;
	return 1;
}

static int
kp_sig_set_ctx_params(void *vc, const OSSL_PARAM params[])
{
	struct kp_sig *c = vc;
	const OSSL_PARAM *p;
	const char *s;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
	    (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
	    c->key == NULL || c->key->type == KP_ED25519 ||
	    !kp_sig_set_md(&c->md, s)))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
	    !kp_param_int(p, kp_pad_names, sizeof(kp_pad_names) /
	    sizeof(kp_pad_names[0]), &c->pad))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
	    !kp_param_int(p, kp_saltlen_names, sizeof(kp_saltlen_names) /
	    sizeof(kp_saltlen_names[0]), &c->saltlen))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL &&
	    (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
	    !kp_sig_set_md(&c->mgf1, s)))
		return 0;
	return 1;
}

static const OSSL_PARAM kp_settable_list[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
kp_sig_settable_ctx_params(void *vc, void *provctx)
{
	(void)vc;
	(void)provctx;
	return kp_settable_list;
}

static int
kp_sig_init(void *vc, void *vk, const OSSL_PARAM params[])
{
	struct kp_sig *c = vc;
	struct kp_key *k = vk;

	if (k == NULL || !k->has_handle || k->pub == NULL)
		return 0;
	c->key = k;
	if (k->type == KP_RSA_PSS)
		c->pad = RSA_PKCS1_PSS_PADDING;
	return kp_sig_set_ctx_params(c, params);
}

static int
kp_sig_sign(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize,
    const unsigned char *tbs, size_t tbslen)
{
	struct kp_sig *c = vc;

	return c->key != NULL &&
	    kp_sign_tbs(c, sig, siglen, sigsize, tbs, tbslen);
}

static int
kp_sig_digest_sign_init(void *vc, const char *mdname, void *vk,
    const OSSL_PARAM params[])
{
	struct kp_sig *c = vc;
	struct kp_key *k = vk;

	if (!kp_sig_init(c, k, params))
		return 0;
	EVP_MD_CTX_free(c->mdctx);
	c->mdctx = NULL;
	if (k->type == KP_ED25519)
		return mdname == NULL || mdname[0] == '\0';
	if (mdname == NULL || mdname[0] == '\0')
		mdname = "SHA256";
	if (!kp_sig_set_md(&c->md, mdname) ||
	    (c->mdctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex2(c->mdctx, c->md, NULL))
		return 0;
	return 1;
}

static int
kp_sig_digest_sign_update(void *vc, const unsigned char *data, size_t len)
{
	struct kp_sig *c = vc;

	return c->mdctx != NULL && EVP_DigestUpdate(c->mdctx, data, len);
}

static int
kp_sig_digest_sign_final(void *vc, unsigned char *sig, size_t *siglen,
    size_t sigsize)
{
	struct kp_sig *c = vc;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->mdctx == NULL)
		return 0;
	if (sig == NULL)
		return kp_sign_tbs(c, NULL, siglen, sigsize, NULL, 0);
	if (!EVP_DigestFinal_ex(c->mdctx, dgst, &dlen))
		return 0;
	return kp_sign_tbs(c, sig, siglen, sigsize, dgst, dlen);
}

/* One shot: Ed25519 signs the message, the others its digest. */
static int
kp_sig_digest_sign(void *vc, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct kp_sig *c = vc;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->key == NULL)
		return 0;
	if (c->key->type == KP_ED25519 || sig == NULL)
		return kp_sign_tbs(c, sig, siglen, sigsize, tbs, tbslen);
	if (c->md == NULL || !EVP_Digest(tbs, tbslen, dgst, &dlen, c->md, NULL))
		return 0;
	return kp_sign_tbs(c, sig, siglen, sigsize, dgst, dlen);
}

static const OSSL_DISPATCH kp_signature[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))kp_sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))kp_sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))kp_sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))kp_sig_init },
	{ OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))kp_sig_sign },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	    (void (*)(void))kp_sig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
	    (void (*)(void))kp_sig_digest_sign_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
	    (void (*)(void))kp_sig_digest_sign_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN,
	    (void (*)(void))kp_sig_digest_sign },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))kp_sig_set_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))kp_sig_settable_ctx_params },
	{ 0, NULL }
};

/* ---- the provider ---- */

#define KP_PROPS	"provider=" KEYS_PROVIDER_NAME

/* The names are the default provider's, so that libssl's EVP_PKEY_is_a()
 * checks (rsaEncryption, id-ecPublicKey, ED25519) accept our keys. */
static const OSSL_ALGORITHM kp_keymgmt_algs[] = {
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", KP_PROPS,
	    kp_rsa_keymgmt, "RSA key held by the keys backend" },
	{ "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", KP_PROPS,
	    kp_rsa_pss_keymgmt, "RSA-PSS key held by the keys backend" },
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", KP_PROPS,
	    kp_ec_keymgmt, "EC key held by the keys backend" },
	{ "ED25519:1.3.101.112", KP_PROPS, kp_ed25519_keymgmt,
	    "Ed25519 key held by the keys backend" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM kp_signature_algs[] = {
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", KP_PROPS, kp_signature,
	    NULL },
	{ "ECDSA", KP_PROPS, kp_signature, NULL },
	{ "ED25519:1.3.101.112", KP_PROPS, kp_signature, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
kp_query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (op) {
	case OSSL_OP_KEYMGMT:
		return kp_keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return kp_signature_algs;
	default:
		return NULL;
	}
}

static void
kp_teardown(void *provctx)
{
	(void)provctx;
}

static const OSSL_DISPATCH kp_provider[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))kp_query },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))kp_teardown },
	{ 0, NULL }
};

static int
kp_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	static int ctx;

	(void)handle;
	(void)in;
	*out = kp_provider;
	*provctx = &ctx;
	return 1;
}

OSSL_LIB_CTX *
keys_provider_libctx(void)
{
	static OSSL_LIB_CTX *lc;

	if (lc != NULL)
		return lc;
	if ((lc = OSSL_LIB_CTX_new()) == NULL)
		return NULL;
	/* Everything but our keys' signatures comes from the default
	 * provider: ECDHE key generation must not find our EC key
	 * management first. */
	if (!OSSL_PROVIDER_add_builtin(lc, KEYS_PROVIDER_NAME, kp_init) ||
	    OSSL_PROVIDER_load(lc, "default") == NULL ||
	    OSSL_PROVIDER_load(lc, KEYS_PROVIDER_NAME) == NULL ||
	    !EVP_set_default_properties(lc, "?provider=default")) {
		OSSL_LIB_CTX_free(lc);
		lc = NULL;
	}
	return lc;
}

EVP_PKEY *
keys_provider_key_new(uint32_t handle, EVP_PKEY *pub)
{
	OSSL_LIB_CTX *lc = keys_provider_libctx();
	OSSL_PARAM *pp = NULL, *all = NULL;
	OSSL_PARAM h[] = {
		OSSL_PARAM_uint32(KP_PARAM_HANDLE, &handle),
		OSSL_PARAM_END
	};
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	const char *type = NULL;

	for (size_t i = 0; i < sizeof(kp_type_name) / sizeof(*kp_type_name);
	    i++)
		if (EVP_PKEY_is_a(pub, kp_type_name[i]))
			type = kp_type_name[i];
	if (lc == NULL || type == NULL ||
	    EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &pp) != 1 ||
	    (all = OSSL_PARAM_merge(pp, h)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(lc, type, KP_PROPS)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEYPAIR, all) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(all);
	OSSL_PARAM_free(pp);
	return pk;
}
