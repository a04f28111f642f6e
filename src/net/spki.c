/* SPDX-License-Identifier: ISC */
/* SubjectPublicKeyInfo digests for TLSA records (see spki.h). */
#include "net/spki.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

void
spki_sha256_hex(X509 *cert, char out[SPKI_SHA256_HEX_LEN + 1])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);

	out[0] = '\0';
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) == 1 && mdlen == SPKI_SHA256_HEX_LEN / 2)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
}

int
spki_sha256_file(const char *path, char out[SPKI_SHA256_HEX_LEN + 1],
    char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	X509 *cert;

	out[0] = '\0';
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (cert == NULL) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		return -1;
	}
	spki_sha256_hex(cert, out);
	X509_free(cert);
	if (out[0] == '\0') {
		snprintf(err, errlen, "%s: cannot encode the public key", path);
		return -1;
	}
	return 0;
}
