/* SPDX-License-Identifier: ISC */
/*
 * One HTTPS request (GET, or POST of a body) with libcurl, for the MTA-STS
 * policy fetch (sts/sts_fetch.c) and the TLS-RPT https: report upload
 * (report/report_https.c). BLOCKING (up to timeout_ms): run it on a thread
 * pool or in the CLI, never on an event loop. Thread-safe; no state is kept
 * between calls. libcurl is loaded with dlopen on the first request:
 * Debian's libcurl4 pulls in GnuTLS, Kerberos, LDAP and more, about 3 MiB
 * per process, which the SMTP workers and the master must not carry.
 *
 * What it never does, whatever the remote side's DNS or web server say:
 *  - resolve a name: it connects only to the addresses the caller passes
 *    (resolved through our own resolver), pinned with CURLOPT_RESOLVE and
 *    checked again in an open-socket callback;
 *  - connect to a non-public address (core/ipclass.h) unless
 *    allow_private: a remote domain must not make us request internal URLs;
 *  - use a proxy (proxy environment variables are ignored), another
 *    protocol than https, follow a redirect, decompress, or read more than
 *    max_body bytes of answer;
 *  - accept a certificate that does not verify for host against the
 *    system CA store plus the optional extra CA file.
 */
#ifndef SEALMAIL_NET_HTTPS_H
#define SEALMAIL_NET_HTTPS_H

#include <stdbool.h>
#include <stddef.h>

/* Addresses of the host we try at most (in the given order). */
#define HTTPS_ADDRS_MAX		16
/* The longest host name (a 253-character domain plus a prefix). */
#define HTTPS_HOST_MAX		300

struct https_req {
	const char		*host;	/* URL host, SNI, certificate name */
	unsigned		 port;	/* 0: 443 */
	const char		*path;	/* "/..." (with any query) */
	const char *const	*addrs;	/* textual IPv4/IPv6 addresses */
	size_t			 naddrs;
	bool			 allow_private;	/* allow non-public addresses */
	const char		*ca_file;	/* extra CAs (PEM); NULL: none */
	unsigned		 connect_timeout_ms;	/* 0: 10000 */
	unsigned		 timeout_ms;	/* whole request; 0: 60000 */
	size_t			 max_body;	/* answer bytes read at most */
	/* POST when content_type is not NULL: body[0..body_len). */
	const char		*content_type;
	const void		*body;
	size_t			 body_len;
};

enum https_result {
	HTTPS_OK,	/* an HTTP answer was read (any status) */
	HTTPS_ERROR,	/* no usable address, connect, timeout, size, ... */
	HTTPS_WEBPKI,	/* the certificate did not verify */
};

struct https_resp {
	long	 status;	/* HTTP status on HTTPS_OK */
	char	 content_type[128];	/* as sent, "" if none */
	char	*body;		/* NUL-terminated, owned; on HTTPS_OK */
	size_t	 len;
	char	 detail[256];	/* one line on failure, "" on OK */
};

/* Make the request; always fills *out (release with https_resp_clear). */
enum https_result https_request(const struct https_req *r,
    struct https_resp *out);
void https_resp_clear(struct https_resp *out);

#endif
