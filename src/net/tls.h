/* SPDX-License-Identifier: ISC */
/*
 * Server-side TLS contexts (OpenSSL 3): every configured certificate
 * loaded, RSA and ECDSA pairs for the same names served from one
 * context (OpenSSL picks by the client's signature algorithms), pairs for
 * other names selected by SNI. Loaded by the master before privileges are
 * dropped; workers inherit the contexts across fork. The contexts hold no
 * private key: pair i's key is a keys-provider reference to
 * KEYOP_HANDLE_TLS(i), whose signatures the keyop backend makes.
 */
#ifndef SEALMAIL_NET_TLS_H
#define SEALMAIL_NET_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/conf.h"

struct tls_server;

/* Build the contexts from conf's [tls]. NULL with a one-line err naming
 * the file on failure. The caller frees with tls_server_free. */
struct tls_server *tls_server_new(const struct conf *conf, char *err,
    size_t errlen);
void tls_server_free(struct tls_server *ts);

/* "WHAT FILE: OpenSSL's oldest queued error" into err; clears the queue. */
void tls_errstr(char *err, size_t errlen, const char *what,
    const char *file);

/* A new server-side SSL for one connection; NULL on failure. */
SSL *tls_server_ssl_new(struct tls_server *ts);

/* What a finished handshake negotiated, for logs and Received. The strings
 * are static or owned by the SSL. */
struct tls_info {
	const char	*version;	/* "TLSv1.3" */
	const char	*cipher;	/* IANA name, "TLS_AES_256_GCM_SHA384" */
	const char	*group;		/* "x25519", or NULL */
	int		 bits;
	int		 alg_bits;
};
void tls_info_get(SSL *ssl, struct tls_info *out);

#endif
