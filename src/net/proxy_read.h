/* SPDX-License-Identifier: ISC */
/*
 * Reading a PROXY protocol header (net/proxy_proto.h) off an accepted
 * socket on an event loop, for every listener that takes one (SMTP and
 * HTTP): exactly the header's bytes are taken (peeked, then read), so the
 * TLS or protocol bytes behind it stay in the socket for whoever serves
 * the connection next.
 */
#ifndef SEALMAIL_NET_PROXY_READ_H
#define SEALMAIL_NET_PROXY_READ_H

#include <stdbool.h>
#include <sys/socket.h>

#include "net/proxy_proto.h"

/* Seconds a proxy has to send its whole header: HAProxy sends it with the
 * connection, so this only ends connections that never will. A deadline,
 * not an idle timeout, so a header dribbled a byte at a time cannot hold
 * the connection for as long as its sender likes. */
#define PROXY_READ_TIMEOUT	10

struct event_base;
struct proxy_read;

/* Called once. error NULL: pp holds the header (valid during the call
 * only). Otherwise error names why in a word for a log line ("timeout",
 * "eof", "io-error" or proxy_proto_result_text's). The fd stays the
 * caller's either way; the reader is freed after the call returns. */
typedef void proxy_read_cb(void *arg, const struct proxy_proto *pp,
    const char *error);

/* Start reading the header of connection fd; NULL if libevent fails. */
struct proxy_read *proxy_read_start(struct event_base *base, int fd,
    proxy_read_cb *cb, void *arg);
/* Stop without a callback (the fd stays open, the caller's). */
void proxy_read_cancel(struct proxy_read *r);

/*
 * The client a finished header names, given the proxy's own address peer:
 * true with *client set when it names one; false when the proxy connects
 * for itself: LOCAL (HAProxy's v2 health checks), v1 UNKNOWN, v2 UNSPEC or
 * UNIX (the spec: use the real endpoints), or a header whose source is
 * the proxy's own address (HAProxy's v1 health checks name the check's
 * own endpoints). Such a connection is the proxy's, which must never
 * lend its address's trust to anyone (*client is then peer).
 */
bool proxy_read_client(const struct proxy_proto *pp,
    const struct sockaddr_storage *peer, struct sockaddr_storage *client);

/* The port of a client address (AF_INET or AF_INET6), for the log line
 * that names it. */
unsigned proxy_read_port(const struct sockaddr_storage *ss);

/* What the header was, for a log line: "" for a client, else
 * " command=local", " command=unknown" or " command=proxy-self". */
const char *proxy_read_what(const struct proxy_proto *pp, bool named);

#endif
