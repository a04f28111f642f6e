/* SPDX-License-Identifier: ISC */
/*
 * DKIM key records (RFC 6376 §3.6.1, RFC 8463 §4.2, RFC 8301 §3.2): the
 * TXT record at SELECTOR._domainkey.DOMAIN, parsed into a struct, then
 * turned into an OpenSSL public key with the size policy applied. No I/O.
 *
 * The record is untrusted DNS data; it is bounded by DKIM_KEY_RECORD_MAX
 * and the decoded key by DKIM_KEY_DER_MAX before anything is decoded.
 */
#ifndef SEALMAIL_AUTH_DKIM_KEY_H
#define SEALMAIL_AUTH_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/dkim_sig.h"

/* A key record we read; an 8192-bit RSA key is ~1.5 KB of base64. */
#define DKIM_KEY_RECORD_MAX	4096
/* DER SubjectPublicKeyInfo of an 8192-bit RSA key is ~1.1 KB. */
#define DKIM_KEY_DER_MAX	2048
/* RFC 8301 §3.2: verifiers MUST NOT accept RSA keys under 1024 bits; we
 * refuse above 8192 too (verification cost grows with the key). */
#define DKIM_RSA_BITS_MIN	1024
#define DKIM_RSA_BITS_MAX	8192

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

struct dkim_key {
	enum dkim_key_type	 type;
	bool			 revoked;	/* p= empty (§3.6.1) */
	bool			 testing;	/* t=y */
	bool			 strict;	/* t=s: i= domain must equal d= */
	bool			 sha256_ok;	/* h= absent or lists sha256 */
	bool			 sha1_ok;
	uint8_t			 p[DKIM_KEY_DER_MAX];
	size_t			 plen;
};

enum dkim_key_result {
	DKIM_KEY_OK,
	DKIM_KEY_ERR_SYNTAX,	/* not a tag-list, or a duplicate tag */
	DKIM_KEY_ERR_VERSION,	/* v= present and not DKIM1 first */
	DKIM_KEY_ERR_TYPE,	/* unknown k= */
	DKIM_KEY_ERR_MISSING,	/* no p= */
	DKIM_KEY_ERR_BASE64,	/* p= is not base64 */
	DKIM_KEY_ERR_SERVICE,	/* s= excludes email */
	DKIM_KEY_ERR_TOO_BIG,	/* record or key over the limits */
	DKIM_KEY_ERR_BAD_KEY,	/* p= does not decode as a key of k= */
	DKIM_KEY_ERR_TOO_SMALL,	/* RSA < DKIM_RSA_BITS_MIN (policy) */
};

/* Parse a key record (TXT strings already concatenated). Pure. */
enum dkim_key_result dkim_key_parse(const char *txt, size_t len,
    struct dkim_key *key);

/*
 * Make an OpenSSL EVP_PKEY (returned as void * so this header needs no
 * OpenSSL include; the caller EVP_PKEY_free()s it) from a parsed,
 * non-revoked key: RSA from a DER SubjectPublicKeyInfo or a bare PKCS#1
 * RSAPublicKey (both are seen in the wild), Ed25519 from the raw 32 octets
 * (RFC 8463 §4.2). Applies the RSA size policy. *out is NULL on failure.
 */
enum dkim_key_result dkim_key_load(const struct dkim_key *key, void **out);

const char *dkim_key_result_name(enum dkim_key_result r);

/*
 * The key record to publish for the public half of pkey (an EVP_PKEY *,
 * private or public; RSA or Ed25519): "v=DKIM1; k=rsa; p=<base64 DER
 * SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519; p=<base64 of the raw 32
 * octets>" (RFC 8463 §4.2). What `dkim keygen`, `init` and `dns-records`
 * print. Heap string; NULL for another key type or if OpenSSL fails.
 */
char *dkim_key_record(const void *pkey);

#endif
