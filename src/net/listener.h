/* SPDX-License-Identifier: ISC */
/* Listening sockets: bound by the master (as root for ports < 1024) before
 * privileges are dropped, inherited by the SMTP workers. */
#ifndef SEALMAIL_NET_LISTENER_H
#define SEALMAIL_NET_LISTENER_H

#include <stddef.h>

#include "conf/conf.h"

/* One bound socket and the listener configuration it belongs to. */
struct listener_sock {
	int		 fd;
	size_t		 listener;	/* index into conf->listeners */
	char		 text[64];	/* "127.0.0.1:25" */
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
/* Close every socket and free the array. */
void listener_set_clear(struct listener_set *set);

#endif
