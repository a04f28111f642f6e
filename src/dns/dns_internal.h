/* SPDX-License-Identifier: ISC */
/* Internals of the dns module shared by its files (dns.c, dns_probe.c);
 * nothing outside src/dns includes this header. */
#ifndef SEALMAIL_DNS_DNS_INTERNAL_H
#define SEALMAIL_DNS_DNS_INTERNAL_H

struct dns_resolver;
struct ub_ctx;

/* res's libunbound context (borrowed), for queries dns_query() does not
 * offer (the DNSKEY lookup of the DNSSEC probe). */
struct ub_ctx *dns_resolver_ub(struct dns_resolver *res);

#endif
