/* SPDX-License-Identifier: ISC */
/*
 * The SHA-256 of a certificate's SubjectPublicKeyInfo, the data of a
 * "3 1 1" TLSA record (RFC 6698 §2.1, RFC 7671 §5.1): one function for
 * check-domain's probe, dns-records and the certbot hook's check.
 */
#ifndef SEALMAIL_NET_SPKI_H
#define SEALMAIL_NET_SPKI_H

#include <stddef.h>

#include <openssl/x509.h>

#define SPKI_SHA256_HEX_LEN	64

/* Lower-case hex into out; out is "" if the key cannot be encoded. */
void spki_sha256_hex(X509 *cert, char out[SPKI_SHA256_HEX_LEN + 1]);

/*
 * The same for the first certificate (the leaf) of the PEM file at path.
 * 0 on success; -1 with a one-line err naming the file.
 */
int spki_sha256_file(const char *path, char out[SPKI_SHA256_HEX_LEN + 1],
    char *err, size_t errlen);

#endif
