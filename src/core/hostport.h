/* SPDX-License-Identifier: ISC */
/* Splitting "HOST[:PORT]" and "[IPv6][:PORT]" text (configuration values,
 * LMTP targets, relay hosts); what the parts must be is the caller's. */
#ifndef SEALMAIL_CORE_HOSTPORT_H
#define SEALMAIL_CORE_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Split s into host (brackets removed, NUL-terminated, at most hostlen
 * bytes with the NUL) and *port, which points into s after the colon
 * (possibly ""), or is NULL when there is no port. *bracketed says whether
 * the host was an [IPv6] literal. An unbracketed host ends at the last
 * colon. -1 if s is malformed: an unclosed '[', anything after ']' but
 * ":PORT", an empty host, or a host that does not fit.
 */
int hostport_split(const char *s, char *host, size_t hostlen,
    const char **port, bool *bracketed);

#endif
