/* SPDX-License-Identifier: ISC */
/*
 * The DNS records an operator publishes for this server (`sealmail
 * dns-records`, and the end of `init`): built from the configuration plus
 * facts the CLI gathers (interface addresses, DKIM public keys, the
 * certificates' key digests) into zone-file lines. Pure: no I/O, so every
 * rule (which address goes where, 255-octet strings, what becomes a
 * `;` comment) is unit-tested.
 */
#ifndef SEALMAIL_CHECK_DNSREC_H
#define SEALMAIL_CHECK_DNSREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* One address of a network interface of this machine (getifaddrs). */
struct dnsrec_ifaddr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network order; 4 used for AF_INET */
	char		 ifname[32];
};

/* The public DKIM key record of one [domain] dkim_selector, or why not. */
struct dnsrec_dkim {
	const char	*domain;
	const char	*selector;
	const char	*record;	/* "v=DKIM1; k=...; p=...", or NULL */
	const char	*error;		/* when record is NULL: one line */
};

/* The TLSA 3 1 1 data of one [tls] cert file, or why not. */
struct dnsrec_cert {
	const char	*path;
	const char	*spki;		/* 64 hex digits, or NULL */
	const char	*error;		/* when spki is NULL: one line */
};

/* Another node of the cluster, as the store's registry has it. */
struct dnsrec_node {
	const char	*name;
	const char	*mx;		/* the MX host name it answers as */
	const char	*spki;		/* its keys' TLSA 3 1 1 data, 64 hex
					 * digits each, space-separated */
	bool		 stale;		/* stopped beating */
};

struct dnsrec_facts {
	const struct dnsrec_ifaddr	*ifaddrs;
	size_t				 nifaddrs;
	const struct dnsrec_dkim	*dkim;
	size_t				 ndkim;
	const struct dnsrec_cert	*certs;
	size_t				 ncerts;
	/* The registry's nodes (this one's row included or not): their MX
	 * lines and MTA-STS mx lines for domains without mta_sts_mx, and
	 * the TLSA records of the others' keys. */
	const struct dnsrec_node	*nodes;
	size_t				 nnodes;
};

/* The output: lines without "\n", each a record, a `;` comment or a
 * $ORIGIN / $TTL directive. Free with dnsrec_out_clear(). */
struct dnsrec_out {
	char	**line;
	size_t	  n;
};

/* The TTL of the records (printed in each line, or as $TTL with zone). */
#define DNSREC_TTL	3600
/* RFC 1035 §3.3: a character-string holds at most 255 octets. */
#define DNSREC_TXT_CHUNK	255
/* A reverse name: 32 nibbles "x." plus "ip6.arpa.". */
#define DNSREC_REVERSE_MAX	80

/*
 * The records of c's local domains (only `domain`, which must be one of
 * them, when not NULL) into out (zeroed by the caller). zone: a `$ORIGIN
 * D.` and `$TTL` header per domain, owners relative to it, and records
 * that belong to another zone turned into comments; else absolute owners
 * with their TTL, ready to paste.
 */
void dnsrec_build(const struct conf *c, const struct dnsrec_facts *f,
    const char *domain, bool zone, struct dnsrec_out *out);
void dnsrec_out_clear(struct dnsrec_out *out);

/*
 * value as TXT RDATA in zone-file syntax: character-strings of at most
 * DNSREC_TXT_CHUNK octets each, quoted, separated by a space, with '"'
 * and '\\' escaped (RFC 1035 §5.1). "" gives "\"\"". Heap string.
 */
char *dnsrec_txt_rdata(const char *value);

/* Whether an address may be published: not loopback, link-local,
 * private (RFC 1918, RFC 4193), shared (RFC 6598) or unspecified. */
bool dnsrec_addr_is_public(int family, const uint8_t *addr);

/* The PTR owner of an address ("4.3.2.1.in-addr.arpa.", nibbles under
 * ip6.arpa.). */
void dnsrec_reverse_name(int family, const uint8_t *addr,
    char out[DNSREC_REVERSE_MAX]);

#endif
