/* SPDX-License-Identifier: ISC */
/* Self-signed certificates for unit tests that run TLS handshakes. */
#ifndef SEALMAIL_TESTS_TESTCERT_H
#define SEALMAIL_TESTS_TESTCERT_H

#include <openssl/x509.h>

/* A certificate for name (CN and SAN dNSName), valid for an hour either
 * side of now, signed by key itself; NULL on failure. */
X509 *testcert_self_signed(EVP_PKEY *key, const char *name);

#endif
