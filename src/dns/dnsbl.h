/* SPDX-License-Identifier: ISC */
/*
 * DNS blocklists (RFC 5782), the pure part: the name to look up for a
 * client address in a zone, and what the A records that come back mean.
 * The lookups, their cache and the RCPT verdict are smtpd/smtpd_dnsbl.c.
 */
#ifndef SEALMAIL_DNS_DNSBL_H
#define SEALMAIL_DNS_DNSBL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"

/*
 * The query name for sa in zone: an IPv4 address (also IPv4-mapped IPv6)
 * as its four octets reversed ("2.0.0.127.zone"), an IPv6 address as its
 * 32 nibbles reversed (RFC 5782 §2.4). 0, or -1 if it does not fit in
 * out or the family is neither.
 */
int dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *out,
    size_t outlen);

enum dnsbl_verdict {
	DNSBL_NOT_LISTED,
	DNSBL_LISTED,
	DNSBL_ERROR,	/* an answer that is no listing: 127.255.255.x (the
			 * lists' "you queried wrongly"), or an address
			 * outside 127/8 (a resolver that rewrites NXDOMAIN) */
};

/*
 * Classify the A records (host order) of an answer for zone z: listed if
 * one is among z's codes, or, when z lists none, in 127.0.0.0/8 other than
 * 127.0.0.1 (RFC 5782 §2.1 reserves it for tests) and 127.255.255.0/24.
 * An error code or an address outside 127/8 makes the whole answer an
 * error. *code (if not NULL) gets the record that decided (0: none).
 */
enum dnsbl_verdict dnsbl_classify(const struct conf_dnsbl *z,
    const uint32_t *a, size_t n, uint32_t *code);

#endif
