/* SPDX-License-Identifier: ISC */
/*
 * A server-side TLS handshake driven on an event loop with SSL_MODE_ASYNC:
 * when the keys provider waits for a signature, the handshake's ASYNC job
 * pauses and the loop serves other connections until the signature comes
 * (libevent's bufferevent_openssl knows nothing of SSL_ERROR_WANT_ASYNC).
 * After the handshake the SSL leaves async mode, for a bufferevent in
 * BUFFEREVENT_SSL_OPEN state.
 */
#ifndef SEALMAIL_NET_TLS_HANDSHAKE_H
#define SEALMAIL_NET_TLS_HANDSHAKE_H

#include <event2/event.h>
#include <openssl/ssl.h>

/* At most this many handshakes of a process wait for a signature at
 * once (each holds an ASYNC job and its stack); the others queue. */
#define TLS_HS_JOBS_MAX	16

enum tls_hs_result {
	TLS_HS_OK,
	TLS_HS_EOF,		/* the client closed */
	TLS_HS_TLS_ERROR,	/* detail: OpenSSL's reason */
	TLS_HS_IO_ERROR,	/* detail: strerror */
};

struct tls_hs;

/* Called once, on the loop, never from inside tls_hs_start; detail is
 * valid during the call. The tls_hs is gone by then. */
typedef void tls_hs_done_cb(void *arg, enum tls_hs_result r,
    const char *detail);

/* Accept a handshake on fd (the caller keeps it) with ssl (the caller
 * keeps it too, unless it cancels). NULL if nothing can be allocated. */
struct tls_hs *tls_hs_start(struct event_base *base, int fd, SSL *ssl,
    tls_hs_done_cb *cb, void *arg);

/*
 * Give up (timeout, shutdown): no callback follows, and the handshake
 * takes over the SSL and frees it, at once or, when a signature is
 * outstanding, once it has come (its job must finish first; the SSL
 * then names no fd, BIO_get_fd says -1). The fd is no longer touched:
 * the caller may close it.
 */
void tls_hs_cancel(struct tls_hs *hs);

#endif
