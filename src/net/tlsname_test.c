/* SPDX-License-Identifier: ISC */
/* Unit tests for the RFC 9525 name checks (tlsname.h), on certificates
 * made here: DNS-IDs only, wildcards only as the whole leftmost label,
 * never the CN, IP SANs for address literals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/tlsname.h"

/* A self-signed certificate with subject CN cn and the SAN text san
 * ("DNS:a.example, IP:192.0.2.1") or none. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	X509_set_pubkey(x, key);
	if (san != NULL) {
		X509_EXTENSION *e;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

/* Verification with tlsname_set: the certificate is its own anchor, so
 * only the name decides. */
static bool
verifies(X509 *x, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	bool ok;

	X509_STORE_add_cert(st, x);
	assert_int_equal(X509_STORE_CTX_init(vc, st, x, NULL), 1);
	assert_int_equal(tlsname_set(X509_STORE_CTX_get0_param(vc), host), 0);
	ok = X509_verify_cert(vc) == 1;
	X509_STORE_CTX_free(vc);
	X509_STORE_free(st);
	return ok;
}

static void
check(X509 *x, const char *host, bool want)
{
	if (tlsname_match(x, host) != want || verifies(x, host) != want)
		fail_msg("%s: expected %s", host, want ? "a match" : "none");
}

static void
test_names(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x;

	(void)state;
	assert_non_null(key);
	x = make_cert(key, "cn-only.example",
	    "DNS:mx1.example.com, DNS:*.mail.example.net, "
	    "DNS:m*.partial.example, IP:192.0.2.25");
	check(x, "mx1.example.com", true);
	check(x, "MX1.Example.COM", true);	/* case does not matter */
	check(x, "mx1.example.com.", true);	/* FQDN form */
	check(x, "mx2.example.com", false);
	check(x, "example.com", false);
	/* A wildcard stands for exactly one whole leftmost label. */
	check(x, "a.mail.example.net", true);
	check(x, "a.b.mail.example.net", false);
	check(x, "mail.example.net", false);
	/* No partial wildcards (RFC 9525 §6.3). */
	check(x, "mx.partial.example", false);
	/* The CN is never a reference identifier when SANs exist... */
	check(x, "cn-only.example", false);
	/* ...an address literal matches IP SANs only. */
	check(x, "192.0.2.25", true);
	check(x, "192.0.2.26", false);
	X509_free(x);

	/* ...nor without SANs (RFC 9525 drops CN-ID). */
	x = make_cert(key, "mx1.example.com", NULL);
	check(x, "mx1.example.com", false);
	X509_free(x);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
