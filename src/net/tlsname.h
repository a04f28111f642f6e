/* SPDX-License-Identifier: ISC */
/*
 * Which names a server certificate must carry (RFC 9525, which obsoletes
 * RFC 6125; RFC 7817 for SMTP): the reference identifier is a DNS name
 * matched against DNS-IDs only, never the subject's CN; a wildcard only as
 * the whole leftmost label ("*.example.com", never "m*.example.com"); an
 * address literal is matched against IP-address SANs. One set of rules for
 * every place that checks a peer: the SMTP client, DANE-TA, check-domain
 * and check-config.
 */
#ifndef SEALMAIL_NET_TLSNAME_H
#define SEALMAIL_NET_TLSNAME_H

#include <stdbool.h>

#include <openssl/x509v3.h>

#define TLSNAME_FLAGS	(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | \
			 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)

/* Make verification with vp require host (a DNS name, final dot allowed,
 * or an IPv4/IPv6 address literal). 0, or -1 if OpenSSL refused it. */
int tlsname_set(X509_VERIFY_PARAM *vp, const char *host);

/* Whether cert names host under the same rules (no chain checks). */
bool tlsname_match(X509 *cert, const char *host);

#endif
