/* SPDX-License-Identifier: ISC */
/*
 * The HTTPS fetch of an MTA-STS policy (RFC 8461 §3.3): GET
 * https://mta-sts.DOMAIN[:port]/.well-known/mta-sts.txt through
 * net/https.h, whose rules apply (our own resolver's addresses only, no
 * non-public address unless allow_private, no proxy, no redirect: a 3xx
 * is an error, the certificate verified for mta-sts.DOMAIN), reading at
 * most STS_POLICY_BODY_MAX bytes of body. BLOCKING (up to timeout_ms):
 * run it on a thread pool, never on an event loop. Thread-safe.
 * Only a 200 with media type text/plain is a policy; its body is parsed
 * with sts_policy_parse().
 */
#ifndef SEALMAIL_STS_STS_FETCH_H
#define SEALMAIL_STS_STS_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "sts/sts_policy.h"

#include "net/https.h"

/* Addresses of the policy host we try at most (in the given order). */
#define STS_FETCH_ADDRS_MAX	HTTPS_ADDRS_MAX

enum sts_fetch_result {
	STS_FETCH_OK,
	STS_FETCH_ERROR,	/* RFC 8460 sts-policy-fetch-error: no usable
				 * address, connect, timeout, HTTP status,
				 * media type, size */
	STS_FETCH_WEBPKI,	/* sts-webpki-invalid: the certificate did
				 * not verify (chain, name, expiry) */
	STS_FETCH_INVALID,	/* sts-policy-invalid: the body is not a
				 * valid policy */
};

struct sts_fetch_params {
	const char	*ca_file;	/* extra CAs (PEM file); NULL: none */
	bool		 allow_private;	/* allow non-public addresses */
	unsigned	 port;		/* 0: 443 */
	unsigned	 connect_timeout_ms;	/* 0: 10000 */
	unsigned	 timeout_ms;		/* whole request; 0: 60000 */
};

struct sts_fetch_out {
	enum sts_fetch_result	 result;
	char			*body;	/* the body (NUL-terminated) when a
					 * 200 text/plain was read: on OK and
					 * INVALID; owned, else NULL */
	size_t			 len;
	struct sts_policy	 policy;	/* on OK; owned */
	char			 detail[256];	/* one line, "" on OK */
};

/*
 * Fetch the policy of domain (the Policy Domain, without "mta-sts.")
 * from the textual IPv4/IPv6 addresses addrs[0..naddrs) (at most
 * STS_FETCH_ADDRS_MAX are used). Always fills *out (release it with
 * sts_fetch_out_clear()) and returns out->result.
 */
enum sts_fetch_result sts_fetch(const char *domain, const char *const *addrs,
    size_t naddrs, const struct sts_fetch_params *p,
    struct sts_fetch_out *out);
void sts_fetch_out_clear(struct sts_fetch_out *out);

/* The RFC 8460 §4.3 result type of r ("sts-policy-fetch-error",
 * "sts-webpki-invalid", "sts-policy-invalid"), or NULL for STS_FETCH_OK. */
const char *sts_fetch_result_type(enum sts_fetch_result r);

/* Whether a Content-Type header value names text/plain (RFC 8461 §3.2:
 * parameters are ignored; case-insensitive). NULL is false. Pure. */
bool sts_fetch_is_text_plain(const char *content_type);

#endif
