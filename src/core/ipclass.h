/* SPDX-License-Identifier: ISC */
/*
 * What kind of address an IP address is (IANA IPv4/IPv6 Special-Purpose
 * Address Registries, RFC 6890 and its updates), so code that connects to
 * addresses taken from remote DNS (MTA-STS policy fetches, TLS-RPT https
 * reports) can refuse anything but the public Internet: a remote domain
 * must not make the server request internal URLs. Pure.
 *
 * IPv6 forms that carry an IPv4 address (v4-mapped ::ffff:0:0/96, the NAT64
 * prefix 64:ff9b::/96, 6to4 2002::/16) are classed by the embedded IPv4
 * address, since a connection to them may end at that address.
 */
#ifndef SEALMAIL_CORE_IPCLASS_H
#define SEALMAIL_CORE_IPCLASS_H

#include <stdbool.h>

struct sockaddr;

enum ipclass {
	IPCLASS_PUBLIC,
	IPCLASS_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	IPCLASS_LOOPBACK,	/* 127/8, ::1 */
	IPCLASS_PRIVATE,	/* RFC 1918, ULA fc00::/7, site-local fec0::/10,
				 * local NAT64 64:ff9b:1::/48 */
	IPCLASS_LINKLOCAL,	/* 169.254/16, fe80::/10 */
	IPCLASS_CGNAT,		/* 100.64/10 (RFC 6598) */
	IPCLASS_MULTICAST,	/* 224/4, ff00::/8 */
	IPCLASS_DOCUMENTATION,	/* TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20 */
	IPCLASS_RESERVED,	/* other special-purpose or unallocated space */
};

/* Class of a 4-byte IPv4 address in network order. */
enum ipclass ipclass_v4(const unsigned char a[4]);
/* Class of a 16-byte IPv6 address. */
enum ipclass ipclass_v6(const unsigned char a[16]);
/* Class of an AF_INET or AF_INET6 socket address; other families are
 * IPCLASS_RESERVED. */
enum ipclass ipclass_of_sockaddr(const struct sockaddr *sa);
/* Class of a textual address (inet_pton); IPCLASS_RESERVED if it is not
 * an IPv4 or IPv6 literal. */
enum ipclass ipclass_of_text(const char *addr);

/* Whether cls may be connected to for remote-controlled fetches. */
bool ipclass_is_public(enum ipclass cls);
/* "public", "loopback", "private", ... ; never NULL. */
const char *ipclass_name(enum ipclass cls);

#endif
