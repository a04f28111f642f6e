/* SPDX-License-Identifier: ISC */
/*
 * The Sender Rewriting Scheme for forwarded mail, in the form libsrs2,
 * postsrsd and Exim use, so that SPF passes at the next hop and bounces
 * come back to us:
 *
 *	SRS0=HHHHHH=TT=orig-domain=orig-local@forwarding-domain
 *	SRS1=HHHHHH=first-forwarder==HHHHHH=TT=orig-domain=orig-local@ours
 *
 * HHHHHH is the first SRS_HASH_LEN characters of the base64 HMAC-SHA256
 * (key: the store's secret) of the fields that follow it, TT the day
 * (Unix days modulo 1024) in two base32 characters. An address that is
 * already SRS0 of another forwarder becomes SRS1 (its bounces go straight
 * back to that forwarder), an SRS1 is re-wrapped with our hash.
 *
 * Differences from libsrs2, all on our own addresses (we only ever verify
 * what we made): the HMAC is SHA-256 over the lower-cased fields joined by
 * NUL bytes (libsrs2: SHA-1 over the bare concatenation, where "a.b" +
 * "cuser" and "a.bc" + "user" hash alike and a valid hash could be moved
 * to another address). The hash compares case-insensitively, in constant
 * time, because relays may fold the case of a local part.
 *
 * Pure (no I/O, the time is a parameter); the address to reverse is
 * untrusted (any RCPT TO of a local domain) and parsed with explicit
 * bounds: a local part over LIMIT_LOCAL_PART octets is refused as our SMTP
 * server refuses it.
 */
#ifndef SEALMAIL_MSG_SRS_H
#define SEALMAIL_MSG_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The secret's size as generated (it is stored in the store). */
#define SRS_SECRET_LEN	32
/* Characters of the hash: 6 base64 characters, about 31 bits once case
 * is folded; libsrs2 uses 4. Longer hashes leave less room for the
 * original address in 64 octets. */
#define SRS_HASH_LEN	6
/* Days of the timestamp's cycle (two base32 characters). */
#define SRS_TIME_CYCLE	1024

enum srs_result {
	SRS_OK = 0,
	SRS_NOT_SRS,		/* reverse: the local part is not SRS0/SRS1 */
	SRS_ERR_SYNTAX,		/* malformed, or cannot be written as a
				 * plain local part (a quoted local part,
				 * an address literal) */
	SRS_ERR_TOO_LONG,	/* the local part would exceed 64 octets */
	SRS_ERR_HASH,		/* reverse: the hash does not verify */
	SRS_ERR_EXPIRED,	/* reverse: older than the maximum age */
};

/*
 * Rewrite sender ("local@domain", checked and put in the canonical form of
 * msg/addr.h first; not null) for a copy forwarded by forwarding_domain at
 * time now (Unix seconds): SRS0 of it, or SRS1 when it is an SRS0 or SRS1
 * address already. Writes the address into out (outlen > LIMIT_PATH). SRS_ERR_TOO_LONG when the
 * local part would exceed 64 octets (RFC 5321 §4.5.3.1.1: a bounce to it
 * would be refused, ours included), SRS_ERR_SYNTAX when the sender cannot
 * be wrapped; the caller then keeps the sender as it is.
 */
enum srs_result srs_forward(const uint8_t *key, size_t keylen,
    const char *sender, const char *forwarding_domain, long long now,
    char *out, size_t outlen);

/*
 * Reverse address (an RCPT TO text, untrusted, at most LIMIT_PATH bytes
 * read): the domain is not looked at (the caller checks that it is one of
 * ours). For SRS0: hash and age (at most max_age_days days, in the
 * modulo-1024 cycle) must verify; out gets the original sender. For SRS1:
 * the hash must verify (SRS1 carries no timestamp: the SRS0 inside is
 * checked by its own forwarder); out gets the SRS0 address at the first
 * forwarder. out (outlen > LIMIT_PATH) gets the canonical form of
 * msg/addr.h; it is written only on SRS_OK.
 */
enum srs_result srs_reverse(const uint8_t *key, size_t keylen,
    const char *address, long long now, unsigned max_age_days, char *out,
    size_t outlen);

/* True if the local part of address (text up to its last '@') starts
 * with SRS0 or SRS1 and a separator ('=', '+' or '-'), in any case. */
bool srs_is_srs(const char *address);

/* A short English text for r ("hash does not verify", ...). */
const char *srs_result_text(enum srs_result r);

#endif
