/* SPDX-License-Identifier: ISC */
/* The https: reporting URI of a TLS-RPT record (RFC 8460 §3), split for
 * report_https_post (report.h). Pure; the URI is untrusted DNS text. */
#ifndef SEALMAIL_REPORT_REPORT_HTTPS_H
#define SEALMAIL_REPORT_REPORT_HTTPS_H

#include <stddef.h>

/* Longest path (with query) we POST to. */
#define REPORT_HTTPS_PATH_MAX	1024

/*
 * "https://HOST[:PORT][/PATH]" into host (a domain name, lower case; no
 * userinfo, no IP literal), *port (443 if absent) and path ("/" if
 * absent; printable ASCII without spaces; a fragment is dropped). -1 for
 * anything else.
 */
int report_https_url(const char *url, char *host, size_t hostlen,
    unsigned *port, char *path, size_t pathlen);

#endif
