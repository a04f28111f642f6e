/* SPDX-License-Identifier: ISC */
/*
 * The inbound authentication pipeline of one message: SPF for the MAIL FROM
 * identity, DKIM and ARC over the streamed message, then DMARC, then BIMI
 * when DMARC allows it, and the Authentication-Results (RFC 8601) and
 * BIMI-Location fields that record them. One implementation serves the SMTP
 * session (asynchronous on a worker's loop) and `sealmail check-auth` (on a
 * loop of its own), so both always agree.
 */
#ifndef SEALMAIL_AUTH_AUTHCHECK_H
#define SEALMAIL_AUTH_AUTHCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "auth/dmarc.h"
#include "auth/spf.h"
#include "core/buf.h"

struct event_base;
struct dns_resolver;
struct dkim_verify;
struct arc_verify;
struct bimi_outcome;
struct authcheck;

struct authcheck_params {
	const char		*authserv_id;	/* our [server] hostname */
	const struct sockaddr	*ip;		/* the SMTP client */
	const char		*helo;		/* may be NULL */
	const char		*mail_from;	/* "" for the null sender */
};

/* Called once from the event loop, never inside an authcheck_* call. */
typedef void authcheck_cb(struct authcheck *ac, void *arg);

/*
 * Start checking a message: SPF begins at once. base and res must outlive
 * ac (or ac must be freed first). Strings are copied. Never NULL.
 */
struct authcheck *authcheck_new(struct event_base *base,
    struct dns_resolver *res, const struct authcheck_params *p);
/* Cancel whatever is pending and free; NULL is a no-op. */
void authcheck_free(struct authcheck *ac);

/* cb(ac) once the SPF result is known (for a reject at MAIL FROM). */
void authcheck_wait_spf(struct authcheck *ac, authcheck_cb *cb, void *arg);
/* The SPF outcome; valid once authcheck_wait_spf's callback ran. */
const struct spf_outcome *authcheck_spf(const struct authcheck *ac);

/* The message's header section (CRLF lines, without the empty line), as
 * received, once, before any body bytes. Not kept. */
void authcheck_headers(struct authcheck *ac, const char *hdr, size_t len);
/* Body octets in order (after the empty line), any chunking. */
void authcheck_body(struct authcheck *ac, const void *p, size_t n);
/* End of message: run DKIM key lookups, DMARC and BIMI; cb(ac) when all
 * are decided. Call once. */
void authcheck_finish(struct authcheck *ac, authcheck_cb *cb, void *arg);

/* After finish's callback: the DMARC verdict (NULL if none was made) and
 * the disposition DMARC asks for. */
const struct dmarc_verdict *authcheck_dmarc(const struct authcheck *ac);
enum dmarc_disposition authcheck_disposition(const struct authcheck *ac);
const struct dkim_verify *authcheck_dkim(const struct authcheck *ac);
const struct arc_verify *authcheck_arc(const struct authcheck *ac);
const struct bimi_outcome *authcheck_bimi(const struct authcheck *ac);

/* Append our Authentication-Results field and, when BIMI passed, the
 * BIMI-Location field. -1 if out is full. */
int authcheck_format(const struct authcheck *ac, struct buf *out);

/* One line summary for logs: "spf=pass dkim=pass dmarc=pass ... from=D",
 * D the (first) Author Domain, an IDN in both forms ("bücher.example
 * (xn--bcher-kva.example)"), quoted; then reason=R for a permerror. */
void authcheck_summary(const struct authcheck *ac, char *out, size_t outlen);

#endif
