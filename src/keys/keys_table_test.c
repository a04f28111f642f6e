/* SPDX-License-Identifier: ISC */
/* Unit tests for keys/keys_table: each algorithm signs what its public key
 * verifies; the DKIM and TLS policies; a key must match its certificate;
 * an algorithm that does not fit the key is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "keys/keys_table.h"

static EVP_PKEY *
gen(const char *type, const char *arg)
{
	EVP_PKEY *pk = NULL;

	if (strcmp(type, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(arg));
	else if (strcmp(type, "EC") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(pk);
	return pk;
}

/* PEM text of pk's private key (or its self-signed certificate). */
static size_t
pem_of(EVP_PKEY *pk, bool cert, char *out, size_t room)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (!cert)
		assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0,
		    NULL, NULL), 1);
	else {
		X509 *x = X509_new();
		X509_set_version(x, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 3600);
		X509_set_pubkey(x, pk);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		    MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(x));
		assert_true(X509_sign(x, pk, EVP_PKEY_get_base_id(pk) ==
		    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
		X509_free(x);
	}
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0 && (size_t)n < room);
	memcpy(out, p, (size_t)n);
	BIO_free(b);
	return (size_t)n;
}

static void
verify(EVP_PKEY *pk, const struct keyop *op, const uint8_t *sig, size_t n)
{
	EVP_PKEY_CTX *c;

	if (op->alg == KEYOP_ED25519) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk),
		    1);
		assert_int_equal(EVP_DigestVerify(md, sig, n, op->tbs,
		    op->tbslen), 1);
		EVP_MD_CTX_free(md);
		return;
	}
	c = EVP_PKEY_CTX_new(pk, NULL);
	assert_int_equal(EVP_PKEY_verify_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(c,
	    EVP_get_digestbyname(op->md)), 1);
	if (op->alg == KEYOP_RSA_PSS) {
		EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(c, op->saltlen);
	} else if (op->alg == KEYOP_RSA_PKCS1)
		EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
	assert_int_equal(EVP_PKEY_verify(c, sig, n, op->tbs, op->tbslen), 1);
	EVP_PKEY_CTX_free(c);
}

static void
test_sign_each_alg(void **state)
{
	static char pem[16384], crt[16384];
	EVP_PKEY *rsa = gen("RSA", "2048"), *ec = gen("EC", "P-256");
	EVP_PKEY *ed = gen("ED25519", NULL);
	struct keys_table *t = keys_table_new();
	enum keys_key_type type;
	uint8_t tbs[48], sig[KEYOP_SIG_MAX];
	size_t n, siglen;
	char err[256];

	(void)state;
	memset(tbs, 7, sizeof(tbs));
	n = pem_of(rsa, false, pem, sizeof(pem));
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_DKIM0, KEYS_KIND_DKIM,
	    (uint8_t *)pem, n, NULL, 0, &type, err, sizeof(err)), 0);
	assert_int_equal(type, KEYS_TYPE_RSA);
	n = pem_of(ed, false, pem, sizeof(pem));
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_DKIM0 + 1,
	    KEYS_KIND_DKIM, (uint8_t *)pem, n, NULL, 0, &type, err,
	    sizeof(err)), 0);
	assert_int_equal(type, KEYS_TYPE_ED25519);
	n = pem_of(ec, false, pem, sizeof(pem));
	size_t cn = pem_of(ec, true, crt, sizeof(crt));
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_TLS(0), KEYS_KIND_TLS,
	    (uint8_t *)pem, n, (uint8_t *)crt, cn, &type, err, sizeof(err)),
	    0);
	assert_int_equal(type, KEYS_TYPE_EC);

	const struct {
		struct keyop	 op;
		EVP_PKEY	*pk;
	} ok[] = {
		{ { KEYOP_HANDLE_DKIM0, KEYOP_RSA_PKCS1, "SHA256", 0, tbs, 32 },
		    rsa },
		{ { KEYOP_HANDLE_DKIM0, KEYOP_RSA_PSS, "SHA384", 48, tbs, 48 },
		    rsa },
		{ { KEYOP_HANDLE_DKIM0 + 1, KEYOP_ED25519, "", 0, tbs, 32 },
		    ed },
		{ { KEYOP_HANDLE_TLS(0), KEYOP_ECDSA, "SHA256", 0, tbs, 32 },
		    ec },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		siglen = sizeof(sig);
		assert_int_equal(keys_table_sign(t, &ok[i].op, sig, &siglen),
		    0);
		verify(ok[i].pk, &ok[i].op, sig, siglen);
	}
	/* Refused: an EC key asked for RSA, an unknown handle, a tbs that
	 * is not a SHA-256, a room too small. */
	const struct keyop bad[] = {
		{ KEYOP_HANDLE_TLS(0), KEYOP_RSA_PKCS1, "SHA256", 0, tbs, 32 },
		{ 42, KEYOP_RSA_PKCS1, "SHA256", 0, tbs, 32 },
		{ KEYOP_HANDLE_DKIM0, KEYOP_RSA_PKCS1, "SHA256", 0, tbs, 31 },
		{ KEYOP_HANDLE_DKIM0, KEYOP_RSA_PKCS1, "NOPE", 0, tbs, 32 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		siglen = sizeof(sig);
		assert_int_equal(keys_table_sign(t, &bad[i], sig, &siglen), -1);
	}
	siglen = 16;
	assert_int_equal(keys_table_sign(t, &ok[0].op, sig, &siglen), -1);
	keys_table_free(t);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

static void
test_load_refusals(void **state)
{
	static char pem[16384], crt[16384];
	EVP_PKEY *a = gen("EC", "P-256"), *b = gen("EC", "P-256");
	EVP_PKEY *small = gen("RSA", "512");
	struct keys_table *t = keys_table_new();
	enum keys_key_type type;
	char err[256];
	size_t n, cn;

	(void)state;
	n = pem_of(a, false, pem, sizeof(pem));
	cn = pem_of(b, true, crt, sizeof(crt));
	assert_int_equal(keys_table_load(t, 0, KEYS_KIND_TLS, (uint8_t *)pem,
	    n, (uint8_t *)crt, cn, &type, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key does not match certificate"));
	/* A TLS key without its certificate is not taken on trust. */
	assert_int_equal(keys_table_load(t, 0, KEYS_KIND_TLS, (uint8_t *)pem,
	    n, NULL, 0, &type, err, sizeof(err)), -1);
	/* DKIM: EC is not a DKIM algorithm; RSA-512 is too small. */
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_DKIM0, KEYS_KIND_DKIM,
	    (uint8_t *)pem, n, NULL, 0, &type, err, sizeof(err)), -1);
	n = pem_of(small, false, pem, sizeof(pem));
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_DKIM0, KEYS_KIND_DKIM,
	    (uint8_t *)pem, n, NULL, 0, &type, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RSA"));
	assert_int_equal(keys_table_load(t, 1, KEYS_KIND_DKIM,
	    (const uint8_t *)"junk", 4, NULL, 0, &type, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a PEM private key"));
	/* The matching pair loads, once. */
	n = pem_of(b, false, pem, sizeof(pem));
	assert_int_equal(keys_table_load(t, 0, KEYS_KIND_TLS, (uint8_t *)pem,
	    n, (uint8_t *)crt, cn, &type, err, sizeof(err)), 0);
	assert_int_equal(keys_table_load(t, 0, KEYS_KIND_TLS, (uint8_t *)pem,
	    n, (uint8_t *)crt, cn, &type, err, sizeof(err)), -1);
	keys_table_free(t);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(small);
}

/* An RSASSA-PSS certificate's key (which check-config and the provider
 * accept) loads for TLS and makes PSS signatures; it used to be refused,
 * so serve would not start with a configuration check-config passed. */
static void
test_rsa_pss_tls_key(void **state)
{
	static char pem[16384], crt[16384];
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
	EVP_PKEY *pss = NULL;
	struct keys_table *t = keys_table_new();
	enum keys_key_type type;
	uint8_t tbs[32], sig[KEYOP_SIG_MAX];
	size_t n, cn, siglen = sizeof(sig);
	char err[256];
	struct keyop op = { KEYOP_HANDLE_TLS(0), KEYOP_RSA_PSS, "SHA256", 32,
	    tbs, 32 };

	(void)state;
	assert_non_null(kc);
	assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
	assert_int_equal(EVP_PKEY_keygen(kc, &pss), 1);
	EVP_PKEY_CTX_free(kc);
	memset(tbs, 9, sizeof(tbs));
	n = pem_of(pss, false, pem, sizeof(pem));
	cn = pem_of(pss, true, crt, sizeof(crt));
	if (keys_table_load(t, KEYOP_HANDLE_TLS(0), KEYS_KIND_TLS,
	    (uint8_t *)pem, n, (uint8_t *)crt, cn, &type, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(type, KEYS_TYPE_RSA);
	assert_int_equal(keys_table_sign(t, &op, sig, &siglen), 0);
	verify(pss, &op, sig, siglen);
	/* PKCS#1 v1.5 is not what such a key makes. */
	op.alg = KEYOP_RSA_PKCS1;
	siglen = sizeof(sig);
	assert_int_equal(keys_table_sign(t, &op, sig, &siglen), -1);
	/* Nor is it a DKIM key. */
	assert_int_equal(keys_table_load(t, KEYOP_HANDLE_DKIM0, KEYS_KIND_DKIM,
	    (uint8_t *)pem, n, NULL, 0, &type, err, sizeof(err)), -1);
	keys_table_free(t);
	EVP_PKEY_free(pss);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_each_alg),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_rsa_pss_tls_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
