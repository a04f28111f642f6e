/* SPDX-License-Identifier: ISC */
/*
 * An asynchronous client of Dovecot's auth-client socket on a libevent
 * loop: one connection, requests multiplexed by id, at most
 * DOVECOT_CLIENT_MAX_REQS outstanding, each with a timeout. When Dovecot
 * is down or the connection breaks, the requests in flight fail as
 * temporary and the client reconnects with a growing wait (1 s doubling
 * to DOVECOT_CLIENT_BACKOFF_MAX); meanwhile new requests are refused.
 * Nothing here blocks: the connect to the unix socket is non-blocking.
 */
#ifndef SEALMAIL_AUTH_DOVECOT_CLIENT_H
#define SEALMAIL_AUTH_DOVECOT_CLIENT_H

#include <stdint.h>

#include <event2/event.h>

#define DOVECOT_CLIENT_MAX_REQS		64
#define DOVECOT_CLIENT_TIMEOUT		10	/* seconds per request */
#define DOVECOT_CLIENT_BACKOFF_MAX	8	/* seconds between connects */

struct dovecot_client;

enum dovecot_client_result {
	DOVECOT_CLIENT_OK,	/* credentials accepted */
	DOVECOT_CLIENT_FAIL,	/* credentials refused */
	DOVECOT_CLIENT_TEMP,	/* no verdict: Dovecot down, slow or failing */
};

/* user: the name Dovecot returned (user=), NULL if it gave none; only
 * with DOVECOT_CLIENT_OK; borrowed for the call. */
typedef void dovecot_client_cb(void *arg, enum dovecot_client_result r,
    const char *user);

/* A client of the socket at path (copied); it connects at once. */
struct dovecot_client *dovecot_client_new(struct event_base *base,
    const char *path);
/* Pending requests are dropped without their callbacks. */
void dovecot_client_free(struct dovecot_client *dc);

/*
 * Ask Dovecot whether user/pass is valid (sent as PLAIN, service=smtp;
 * lip/rip the local and remote addresses, may be NULL). Returns the
 * request's id (non-zero), whose callback runs later on the loop, never
 * from inside this call; or 0 when the request cannot be made now
 * (Dovecot down, too many outstanding requests, invalid credentials
 * length): no callback then, the caller answers a temporary failure.
 */
uint32_t dovecot_client_auth(struct dovecot_client *dc, const char *user,
    const char *pass, const char *lip, const char *rip,
    dovecot_client_cb *cb, void *arg);
/* Forget request id: its callback will not run. Unknown ids are fine. */
void dovecot_client_cancel(struct dovecot_client *dc, uint32_t id);
/* Answer requests made from now on after ms milliseconds instead of
 * DOVECOT_CLIENT_TIMEOUT seconds (the unit test's clock is short). */
void dovecot_client_set_timeout(struct dovecot_client *dc, unsigned ms);

#endif
