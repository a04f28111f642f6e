/* SPDX-License-Identifier: ISC */
/* Listening sockets: bound by the master (as root for ports < 1024) before
 * privileges are dropped, inherited by the SMTP workers. */
#ifndef SEALMAIL_NET_LISTENER_H
#define SEALMAIL_NET_LISTENER_H

#include <stddef.h>

#include "conf/conf.h"

/* The `listener` of the local submission socket (not in conf->listeners). */
#define LISTENER_LOCAL	((size_t)-1)

/* One bound socket and the listener configuration it belongs to. */
struct listener_sock {
	int		 fd;
	size_t		 listener;	/* index into conf->listeners, or
					 * LISTENER_LOCAL */
	char		 text[128];	/* "127.0.0.1:25", "unix:/run/..." */
};

struct listener_set {
	struct listener_sock	*socks;
	size_t			 nsocks;
};

/*
 * Bind every address of every listener in conf (non-blocking, close-on-exec,
 * SO_REUSEADDR, IPV6_V6ONLY). Sockets of `old` whose address text matches
 * are reused (moved out of old) so a reload keeps accepting without a gap.
 * 0 on success; -1 with a one-line err (everything newly bound is closed).
 */
int listener_bind_all(const struct conf *conf, struct listener_set *old,
    struct listener_set *out, char *err, size_t errlen);
/*
 * Add conf->submit_socket (net/localsock.h) to set, reusing old's socket
 * for the same path. Without it only root and the [server] user can queue
 * local mail (sendmail writes the spool itself), so a failure is logged
 * and is not fatal. Does nothing when the key is empty.
 */
void listener_bind_local(const struct conf *conf, struct listener_set *old,
    struct listener_set *set);
/* The name of the listener a socket belongs to, for logs. */
const char *listener_name(const struct conf *conf,
    const struct listener_sock *ls);
/* Close every socket and free the array. */
void listener_set_clear(struct listener_set *set);

#endif
