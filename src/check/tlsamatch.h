/* SPDX-License-Identifier: ISC */
/*
 * Does a TLSA record (RFC 6698 §2.1) match a certificate chain we serve?
 * For `dns-records --check-tlsa` (and so the certbot hook): the DANE
 * usages SMTP uses (RFC 7672 §3.1): 3 (DANE-EE) against the leaf, 2
 * (DANE-TA) against the other certificates of the chain; selector 0 (whole
 * certificate) or 1 (SubjectPublicKeyInfo); matching type 0 (exact), 1
 * (SHA-256) or 2 (SHA-512). Pure: the certificates come in as DER.
 */
#ifndef SEALMAIL_CHECK_TLSAMATCH_H
#define SEALMAIL_CHECK_TLSAMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One certificate of the chain, leaf first, as DER. */
struct tlsamatch_cert {
	const uint8_t	*cert;
	size_t		 certlen;
	const uint8_t	*spki;
	size_t		 spkilen;
};

/* Whether we can judge a record of this usage, selector and type. */
bool tlsamatch_supported(uint8_t usage, uint8_t selector, uint8_t mtype);

/* Whether the record matches chain[0..n) (n >= 1; chain[0] the leaf). */
bool tlsamatch_rr(uint8_t usage, uint8_t selector, uint8_t mtype,
    const uint8_t *data, size_t len, const struct tlsamatch_cert *chain,
    size_t n);

#endif
