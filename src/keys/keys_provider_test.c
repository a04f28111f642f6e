/* SPDX-License-Identifier: ISC */
/* The keys provider signs through the keyop backend (keyop_local here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "keys/keyop.h"
#include "keys/keyop_local.h"
#include "keys/keys_provider.h"
#include "testcert.h"

enum { KPT_RSA, KPT_EC, KPT_ED25519, KPT_RSA_PSS, KPT_N };

static EVP_PKEY *kpt_key[KPT_N];	/* the real keys, in keyop_local */
static EVP_PKEY *kpt_ref[KPT_N];	/* provider references to them */
static struct keyop_local *kpt_kl;

static int
kpt_setup(void **state)
{
	(void)state;
	kpt_key[KPT_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	kpt_key[KPT_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	kpt_key[KPT_ED25519] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
	assert_int_equal(EVP_PKEY_keygen_init(g), 1);
	assert_int_equal(EVP_PKEY_generate(g, &kpt_key[KPT_RSA_PSS]), 1);
	EVP_PKEY_CTX_free(g);
	kpt_kl = keyop_local_new();
	for (int i = 0; i < KPT_N; i++) {
		assert_non_null(kpt_key[i]);
		assert_int_equal(keyop_local_add(kpt_kl, KEYOP_HANDLE_TLS(i),
		    kpt_key[i]), 0);
		kpt_ref[i] = keys_provider_key_new(KEYOP_HANDLE_TLS(i),
		    kpt_key[i]);
		assert_non_null(kpt_ref[i]);
	}
	/* A handle is held once. */
	assert_int_equal(keyop_local_add(kpt_kl, 0, kpt_key[KPT_EC]), -1);
	keyop_set_backend(keyop_local_backend(kpt_kl));
	return 0;
}

static int
kpt_teardown(void **state)
{
	(void)state;
	keyop_set_backend(NULL);
	keyop_local_free(kpt_kl);
	for (int i = 0; i < KPT_N; i++) {
		EVP_PKEY_free(kpt_ref[i]);
		EVP_PKEY_free(kpt_key[i]);
	}
	return 0;
}

static const unsigned char kpt_msg[] = "the handshake transcript";

/* Sign kpt_msg with ref (md NULL: Ed25519), padding/saltlen set through
 * the EVP_PKEY_CTX as libssl sets them (pad 0: leave the default). */
static int
kpt_sign(EVP_PKEY *ref, const char *md, int pad, const OSSL_PARAM *params,
    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok;

	ok = EVP_DigestSignInit_ex(m, &pc, md, keys_provider_libctx(), NULL,
	    ref, NULL) == 1;
	if (ok && pad != 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, pad) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc,
		    RSA_PSS_SALTLEN_DIGEST) == 1;
	if (ok && params != NULL)
		ok = EVP_PKEY_CTX_set_params(pc, params) == 1;
	if (ok)
		ok = EVP_DigestSign(m, sig, siglen, kpt_msg,
		    sizeof(kpt_msg)) == 1;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok;
}

static bool
kpt_verify(EVP_PKEY *key, const char *md, int pad, int saltlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	bool ok;

	ok = EVP_DigestVerifyInit_ex(m, &pc, md, NULL, NULL, key, NULL) == 1;
	if (ok && pad != 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, pad) == 1 &&
		    (pad != RSA_PKCS1_PSS_PADDING ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, saltlen) == 1);
	ok = ok && EVP_DigestVerify(m, sig, siglen, kpt_msg,
	    sizeof(kpt_msg)) == 1;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok;
}

static void
test_rsa_pkcs1(void **state)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	unsigned long before = keyop_local_count();

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_RSA], "SHA256", 0, NULL, sig,
	    &siglen));
	assert_int_equal(siglen, 256);
	assert_int_equal(keyop_local_count(), before + 1);
	assert_true(kpt_verify(kpt_key[KPT_RSA], "SHA256", RSA_PKCS1_PADDING,
	    0, sig, siglen));
	/* Not PSS, not another digest. */
	assert_false(kpt_verify(kpt_key[KPT_RSA], "SHA384", 0, 0, sig,
	    siglen));
}

static void
test_rsa_pss_int_params(void **state)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_RSA], "SHA384",
	    RSA_PKCS1_PSS_PADDING, NULL, sig, &siglen));
	assert_true(kpt_verify(kpt_key[KPT_RSA], "SHA384",
	    RSA_PKCS1_PSS_PADDING, 48, sig, siglen));
	/* The salt was the digest's length, not the maximum. */
	assert_false(kpt_verify(kpt_key[KPT_RSA], "SHA384",
	    RSA_PKCS1_PSS_PADDING, 256 - 48 - 2, sig, siglen));
}

static void
test_rsa_pss_string_params(void **state)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_string("pad-mode", "pss", 0),
		OSSL_PARAM_utf8_string("saltlen", "max", 0),
		OSSL_PARAM_utf8_string("mgf1-digest", "SHA256", 0),
		OSSL_PARAM_END
	};

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_RSA], "SHA256", 0, p, sig,
	    &siglen));
	assert_true(kpt_verify(kpt_key[KPT_RSA], "SHA256",
	    RSA_PKCS1_PSS_PADDING, 256 - 32 - 2, sig, siglen));
	/* A numeric string too. */
	OSSL_PARAM q[] = {
		OSSL_PARAM_utf8_string("pad-mode", "pss", 0),
		OSSL_PARAM_utf8_string("saltlen", "20", 0),
		OSSL_PARAM_END
	};
	siglen = sizeof(sig);
	assert_true(kpt_sign(kpt_ref[KPT_RSA], "SHA256", 0, q, sig,
	    &siglen));
	assert_true(kpt_verify(kpt_key[KPT_RSA], "SHA256",
	    RSA_PKCS1_PSS_PADDING, 20, sig, siglen));
	/* MGF1 with another digest than the signature's is refused (the
	 * keyop names one digest), not signed wrongly. */
	OSSL_PARAM r[] = {
		OSSL_PARAM_utf8_string("pad-mode", "pss", 0),
		OSSL_PARAM_utf8_string("mgf1-digest", "SHA384", 0),
		OSSL_PARAM_END
	};
	siglen = sizeof(sig);
	assert_false(kpt_sign(kpt_ref[KPT_RSA], "SHA256", 0, r, sig,
	    &siglen));
}

/* An RSASSA-PSS key signs PSS only, whatever the caller asks. */
static void
test_rsa_pss_key(void **state)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_RSA_PSS], "SHA256", 0, NULL, sig,
	    &siglen));
	assert_true(kpt_verify(kpt_key[KPT_RSA_PSS], "SHA256",
	    RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_AUTO, sig, siglen));
	OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_string("pad-mode", "pkcs1", 0),
		OSSL_PARAM_END
	};
	siglen = sizeof(sig);
	assert_false(kpt_sign(kpt_ref[KPT_RSA_PSS], "SHA256", 0, p, sig,
	    &siglen));
}

static void
test_ecdsa(void **state)
{
	unsigned char sig[256];
	size_t siglen = sizeof(sig);

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_EC], "SHA256", 0, NULL, sig,
	    &siglen));
	assert_true(kpt_verify(kpt_key[KPT_EC], "SHA256", 0, 0, sig, siglen));
	char group[32];
	assert_int_equal(EVP_PKEY_get_group_name(kpt_ref[KPT_EC], group,
	    sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
}

static void
test_ed25519(void **state)
{
	unsigned char sig[128];
	size_t siglen = sizeof(sig);

	(void)state;
	assert_true(kpt_sign(kpt_ref[KPT_ED25519], NULL, 0, NULL, sig,
	    &siglen));
	assert_int_equal(siglen, 64);
	assert_true(kpt_verify(kpt_key[KPT_ED25519], NULL, 0, 0, sig,
	    siglen));
}

static void
test_params_follow_public_key(void **state)
{
	(void)state;
	assert_int_equal(EVP_PKEY_get_bits(kpt_ref[KPT_RSA]), 2048);
	assert_int_equal(EVP_PKEY_get_size(kpt_ref[KPT_RSA]), 256);
	assert_int_equal(EVP_PKEY_get_security_bits(kpt_ref[KPT_RSA]), 112);
	assert_int_equal(EVP_PKEY_get_bits(kpt_ref[KPT_EC]), 256);
	assert_true(EVP_PKEY_eq(kpt_ref[KPT_RSA], kpt_key[KPT_RSA]) == 1);
	assert_true(EVP_PKEY_eq(kpt_ref[KPT_EC], kpt_key[KPT_RSA]) != 1);
	/* No private material leaves: a private export is refused. */
	OSSL_PARAM *p = NULL;
	assert_int_equal(EVP_PKEY_todata(kpt_ref[KPT_RSA], EVP_PKEY_KEYPAIR,
	    &p), 0);
	assert_int_equal(EVP_PKEY_todata(kpt_ref[KPT_RSA],
	    EVP_PKEY_PUBLIC_KEY, &p), 1);
	assert_null(OSSL_PARAM_locate(p, "d"));
	OSSL_PARAM_free(p);
	ERR_clear_error();
}

/* A handle naming another key, or none, fails cleanly. */
static void
test_mismatched_handle_fails(void **state)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	unsigned long before = keyop_local_count();
	EVP_PKEY *wrong = keys_provider_key_new(KEYOP_HANDLE_TLS(KPT_EC),
	    kpt_key[KPT_RSA]);
	EVP_PKEY *none = keys_provider_key_new(77, kpt_key[KPT_EC]);

	(void)state;
	assert_non_null(wrong);
	assert_non_null(none);
	assert_false(kpt_sign(wrong, "SHA256", 0, NULL, sig, &siglen));
	siglen = sizeof(sig);
	assert_false(kpt_sign(none, "SHA256", 0, NULL, sig, &siglen));
	assert_int_equal(keyop_local_count(), before);
	EVP_PKEY_free(wrong);
	EVP_PKEY_free(none);
	/* Without a backend: a failure, no crash. */
	keyop_set_backend(NULL);
	siglen = sizeof(sig);
	assert_false(kpt_sign(kpt_ref[KPT_EC], "SHA256", 0, NULL, sig,
	    &siglen));
	keyop_set_backend(keyop_local_backend(kpt_kl));
}

/* Move bytes between two memory BIO pairs until both ends are done. */
static void
kpt_handshake(SSL_CTX *sctx, int version, int sigtype)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *s = SSL_new(sctx), *c;
	int sr = 0, cr = 0;

	assert_non_null(s);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	c = SSL_new(cctx);
	BIO *sb, *cb;
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 20 && (sr != 1 || cr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(c);
		if (sr != 1)
			sr = SSL_do_handshake(s);
	}
	assert_int_equal(sr, 1);
	assert_int_equal(cr, 1);
	assert_int_equal(SSL_version(c), version);
	int nid = 0;
	assert_int_equal(SSL_get_peer_signature_type_nid(c, &nid), 1);
	assert_int_equal(nid, sigtype);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
}

/* libssl takes the reference for the certificate's key and signs every
 * handshake through it, TLS 1.2 and 1.3. */
static void
test_ssl_ctx_handshakes(void **state)
{
	(void)state;
	for (int k = 0; k < KPT_N; k++) {
		SSL_CTX *sctx = SSL_CTX_new_ex(keys_provider_libctx(), NULL,
		    TLS_server_method());
		X509 *x = testcert_self_signed(kpt_key[k], "mx.test");
		unsigned long before = keyop_local_count();

		assert_int_equal(SSL_CTX_use_certificate(sctx, x), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(sctx, kpt_ref[k]), 1);
		assert_int_equal(SSL_CTX_check_private_key(sctx), 1);
		int sigtype = k == KPT_EC ? EVP_PKEY_EC : k == KPT_ED25519 ?
		    EVP_PKEY_ED25519 : EVP_PKEY_RSA_PSS;
		kpt_handshake(sctx, TLS1_2_VERSION, sigtype);
		kpt_handshake(sctx, TLS1_3_VERSION, sigtype);
		assert_int_equal(keyop_local_count(), before + 2);
		X509_free(x);
		SSL_CTX_free(sctx);
	}
}

/* A reference to another key does not pass for the certificate's. */
static void
test_ssl_ctx_refuses_other_key(void **state)
{
	SSL_CTX *sctx = SSL_CTX_new_ex(keys_provider_libctx(), NULL,
	    TLS_server_method());
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ref = keys_provider_key_new(KEYOP_HANDLE_TLS(KPT_EC),
	    other);
	X509 *x = testcert_self_signed(kpt_key[KPT_EC], "mx.test");

	(void)state;
	assert_int_equal(SSL_CTX_use_certificate(sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, ref), 0);
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(ref);
	EVP_PKEY_free(other);
	SSL_CTX_free(sctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_pkcs1),
		cmocka_unit_test(test_rsa_pss_int_params),
		cmocka_unit_test(test_rsa_pss_string_params),
		cmocka_unit_test(test_rsa_pss_key),
		cmocka_unit_test(test_ecdsa),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_params_follow_public_key),
		cmocka_unit_test(test_mismatched_handle_fails),
		cmocka_unit_test(test_ssl_ctx_handshakes),
		cmocka_unit_test(test_ssl_ctx_refuses_other_key),
	};

	return cmocka_run_group_tests(tests, kpt_setup, kpt_teardown);
}
