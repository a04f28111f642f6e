/* SPDX-License-Identifier: ISC */
/* Self-signed test certificates (see testcert.h). */
#include "testcert.h"

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

X509 *
testcert_self_signed(EVP_PKEY *key, const char *name)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_NAME *subject;
	char san[300];
	/* Ed25519 and Ed448 sign without a separate digest. */
	const EVP_MD *md = EVP_PKEY_is_a(key, "ED25519") ||
	    EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();

	if (x == NULL)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	subject = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, subject);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s", name);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1) ||
	    X509_sign(x, key, md) <= 0) {
		X509_EXTENSION_free(ext);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(ext);
	return x;
}
