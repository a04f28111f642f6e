/* SPDX-License-Identifier: ISC */
/*
 * The HTTP server of one SMTP worker: the https (our MTA-STS policy,
 * web_sts.h) and admin (web_access.h, then web_admin_serve) listeners on
 * libevent's evhttp, over the worker's TLS contexts when tls = implicit.
 *
 * Bounds, so that no client can hold the worker's memory or its HTTP
 * connections for long (slow-loris): request line and headers together
 * at most WEB_HEADERS_SIZE bytes and WEB_HEADERS_COUNT fields; no body
 * (GET and HEAD only); WEB_IDLE_TIME seconds without progress and
 * WEB_REQUEST_TIME seconds from accept to a complete request; one
 * request per connection (every answer says Connection: close); at most
 * WEB_CONNS_PER_IP connections per client address (IPv6: per /64) and
 * worker (loopback and trusted_networks excepted), beyond which the
 * newest is closed; at
 * most WEB_CONNS_MAX connections per worker, beyond which the worker
 * stops accepting on its HTTP sockets (the kernel's backlog holds
 * newcomers, other workers keep accepting) until one ends. SMTP
 * connections are counted apart (net/connlimit.h) and are not affected.
 */
#ifndef SEALMAIL_WEB_WEB_SERVER_H
#define SEALMAIL_WEB_WEB_SERVER_H

#include <stddef.h>

#define WEB_HEADERS_SIZE	8192
#define WEB_HEADERS_COUNT	40
#define WEB_IDLE_TIME		5
#define WEB_REQUEST_TIME	10
#define WEB_CONNS_PER_IP	8
#define WEB_CONNS_MAX		64

struct conf;
struct connlimit;
struct event_base;
struct tls_server;
struct db;
struct web_server;
struct keys_client;

/* The server for a worker's loop; nothing is borrowed beyond what the
 * worker owns for its whole life. keys checks the admin pages'
 * passwords (keys_client.h). */
struct web_server *web_server_new(struct event_base *base,
    const struct conf *conf, struct tls_server *tls, struct db *db,
    struct keys_client *keys, struct connlimit *limits);
/* Serve HTTP on the listening socket fd of conf->listeners[listener]
 * (whose role is https or admin). The fd stays the caller's. An admin
 * listener's password_file is read here; when it cannot be, the error is
 * logged and only loopback and trusted_networks clients get in. 0, or -1
 * when libevent fails. */
int web_server_listen(struct web_server *ws, int fd, size_t listener);
/* Close every HTTP connection and listener (answers still owed are not
 * sent) and free. NULL: no-op. Call before keys is freed. */
void web_server_free(struct web_server *ws);

#endif
