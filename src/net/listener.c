/* SPDX-License-Identifier: ISC */
/* Binding of the configured listening sockets (see listener.h). */
#include "net/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "net/localsock.h"

static int
listener_bind_one(const struct conf_sockaddr *ca, char *err, size_t errlen)
{
	int fd, on = 1;

	fd = socket(ca->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (ca->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&ca->ss, ca->len) == -1)
		goto fail;
	if (listen(fd, 1024) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", ca->text,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* Take a socket bound to `text` out of old, or return -1. */
static int
listener_reuse(struct listener_set *old, const char *text)
{
	if (old == NULL)
		return -1;
	for (size_t i = 0; i < old->nsocks; i++) {
		if (old->socks[i].fd != -1 &&
		    strcmp(old->socks[i].text, text) == 0) {
			int fd = old->socks[i].fd;
			old->socks[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

int
listener_bind_all(const struct conf *conf, struct listener_set *old,
    struct listener_set *out, char *err, size_t errlen)
{
	size_t n = 0;

	for (size_t i = 0; i < conf->nlisteners; i++)
		n += conf->listeners[i].naddrs;
	out->socks = xcalloc(n, sizeof(*out->socks));
	out->nsocks = 0;
	for (size_t i = 0; i < conf->nlisteners; i++) {
		const struct conf_listener *l = &conf->listeners[i];
		for (size_t j = 0; j < l->naddrs; j++) {
			struct listener_sock *ls = &out->socks[out->nsocks];
			ls->fd = listener_reuse(old, l->addrs[j].text);
			if (ls->fd == -1)
				ls->fd = listener_bind_one(&l->addrs[j], err,
				    errlen);
			if (ls->fd == -1) {
				listener_set_clear(out);
				return -1;
			}
			ls->listener = i;
			snprintf(ls->text, sizeof(ls->text), "%s",
			    l->addrs[j].text);
			out->nsocks++;
		}
	}
	return 0;
}

void
listener_bind_local(const struct conf *conf, struct listener_set *old,
    struct listener_set *set)
{
	struct listener_sock *ls;
	char text[sizeof(ls->text)], err[512];
	int fd;

	if (conf->submit_socket == NULL || conf->submit_socket[0] == '\0')
		return;
	snprintf(text, sizeof(text), "unix:%s", conf->submit_socket);
	fd = listener_reuse(old, text);
	if (fd == -1 && (fd = localsock_bind(conf->submit_socket, err,
	    sizeof(err))) == -1) {
		log_warn("local submission off (only root and the sealmail "
		    "user can queue with sendmail): %s", err);
		return;
	}
	set->socks = xreallocarray(set->socks, set->nsocks + 1,
	    sizeof(*set->socks));
	ls = &set->socks[set->nsocks++];
	ls->fd = fd;
	ls->listener = LISTENER_LOCAL;
	memcpy(ls->text, text, sizeof(text));
}

const char *
listener_name(const struct conf *conf, const struct listener_sock *ls)
{
	return ls->listener == LISTENER_LOCAL ? "local" :
	    conf->listeners[ls->listener].name;
}

void
listener_set_clear(struct listener_set *set)
{
	for (size_t i = 0; i < set->nsocks; i++)
		if (set->socks[i].fd != -1)
			close(set->socks[i].fd);
	free(set->socks);
	set->socks = NULL;
	set->nsocks = 0;
}
