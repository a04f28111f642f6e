/* SPDX-License-Identifier: ISC */
/*
 * DANE for SMTP (RFC 7672) on the client side: which TLSA records of an MX
 * host are usable, and handing them to OpenSSL's DANE verifier for one
 * connection. Classification is pure (records in, records out); the SSL
 * part only calls OpenSSL.
 */
#ifndef SEALMAIL_SMTPC_SMTPC_DANE_H
#define SEALMAIL_SMTPC_SMTPC_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "dns/dns_rr.h"

/* At most this many usable records are kept per host: more are dropped
 * (a real host publishes two or three, for key rollover). */
#define SMTPC_DANE_MAX		8
/* The longest association we accept: a full certificate (matching type
 * 0) can be large, but not larger than a DNS record. */
#define SMTPC_DANE_DATA_MAX	4096

/* One usable TLSA record (owned data). */
struct smtpc_tlsa {
	uint8_t		 usage, selector, mtype;
	uint8_t		*data;
	size_t		 len;
};

/* How a host's TLSA RRset decides its TLS (RFC 7672 §2.2). */
enum smtpc_dane_state {
	SMTPC_DANE_NONE,	/* insecure or no records: no DANE */
	SMTPC_DANE_USABLE,	/* secure, usable records: authenticate */
	SMTPC_DANE_UNUSABLE,	/* secure records, none usable: TLS
				 * required, unauthenticated (§2.2) */
	SMTPC_DANE_FAILED,	/* bogus, or the lookup failed: do not use
				 * this host for this attempt (§2.2) */
};

/*
 * Classify a TLSA answer: usages DANE-TA(2) and DANE-EE(3) with selectors
 * 0/1 and matching types 0/1/2 of the right length are usable; PKIX usages
 * 0/1 are not (RFC 7672 §3.1.3). Usable records are copied into out (at
 * most max; the caller frees them with smtpc_dane_clear) and counted in
 * *n. A NULL ans is a failed lookup.
 */
enum smtpc_dane_state smtpc_dane_classify(const struct dns_answer *ans,
    struct smtpc_tlsa *out, size_t max, size_t *n);

/* Free the data of n records. */
void smtpc_dane_clear(struct smtpc_tlsa *t, size_t n);

/* Deep copy of n records into out (same bound). */
void smtpc_dane_copy(struct smtpc_tlsa *out, const struct smtpc_tlsa *in,
    size_t n);

/* "3 1 1 0123ab..." into out (truncated to outlen, always terminated). */
void smtpc_dane_text(const struct smtpc_tlsa *t, char *out, size_t outlen);

/*
 * Turn DANE on for ssl (whose context had SSL_CTX_dane_enable): base is
 * the TLSA base domain, the primary reference identifier and the SNI name
 * (RFC 7672 §3.2.2, §8.1); nexthop, if not NULL, is also accepted as a
 * name for DANE-TA. DANE-EE matches ignore names and validity dates
 * (§3.1.1). 0, or -1 if OpenSSL refused (no record taken).
 */
int smtpc_dane_apply(SSL *ssl, const struct smtpc_tlsa *t, size_t n,
    const char *base, const char *nexthop);

#endif
