/* SPDX-License-Identifier: ISC */
/* Reading a PROXY header off a socket on a loop (see proxy_read.h). */
#include "net/proxy_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/xmalloc.h"

/* Bytes peeked at once; a longer v2 header (TLVs) is read in turns. */
#define PROXY_READ_PEEK	512

struct proxy_read {
	int			 fd;
	struct event		*ev;
	time_t			 deadline;	/* monotonic seconds */
	proxy_read_cb		*cb;
	void			*arg;
	struct proxy_proto	 pp;
};

static time_t
proxy_read_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec;
}

void
proxy_read_cancel(struct proxy_read *r)
{
	if (r == NULL)
		return;
	event_free(r->ev);
	free(r);
}

static void
proxy_read_end(struct proxy_read *r, const char *error)
{
	r->cb(r->arg, error == NULL ? &r->pp : NULL, error);
	proxy_read_cancel(r);
}

static void
proxy_read_arm(struct proxy_read *r)
{
	time_t left = r->deadline - proxy_read_now();
	struct timeval tv = { .tv_sec = left > 0 ? left : 0 };

	event_add(r->ev, &tv);
}

static void
proxy_read_cb_ev(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_read *r = arg;
	uint8_t buf[PROXY_READ_PEEK];

	if (what & EV_TIMEOUT) {
		proxy_read_end(r, "timeout");
		return;
	}
	for (;;) {
		size_t want = proxy_proto_want(&r->pp), used;
		enum proxy_proto_result res;
		ssize_t n;

		if (want > sizeof(buf))
			want = sizeof(buf);
		n = recv(fd, buf, want, MSG_PEEK);
		if (n == 0) {
			proxy_read_end(r, "eof");
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				proxy_read_arm(r);
				return;
			}
			proxy_read_end(r, "io-error");
			return;
		}
		res = proxy_proto_feed(&r->pp, buf, (size_t)n, &used);
		if (res != PROXY_PROTO_MORE && res != PROXY_PROTO_DONE) {
			proxy_read_end(r, proxy_proto_result_text(res));
			return;
		}
		/* Take exactly the header's bytes: they are in the socket
		 * already (just peeked), so this read cannot fall short. */
		if (used > 0 && recv(fd, buf, used, 0) != (ssize_t)used) {
			proxy_read_end(r, "io-error");
			return;
		}
		if (res == PROXY_PROTO_DONE) {
			proxy_read_end(r, NULL);
			return;
		}
		/* All of it was ours: wait for more unless more was there. */
		if ((size_t)n < want) {
			proxy_read_arm(r);
			return;
		}
	}
}

struct proxy_read *
proxy_read_start(struct event_base *base, int fd, proxy_read_cb *cb,
    void *arg)
{
	struct proxy_read *r = xcalloc(1, sizeof(*r));

	r->fd = fd;
	r->cb = cb;
	r->arg = arg;
	proxy_proto_init(&r->pp);
	r->ev = event_new(base, fd, EV_READ | EV_PERSIST, proxy_read_cb_ev, r);
	if (r->ev == NULL) {
		free(r);
		return NULL;
	}
	r->deadline = proxy_read_now() + PROXY_READ_TIMEOUT;
	proxy_read_arm(r);
	return r;
}

/* The IPv4 address of a (an AF_INET or a v4-mapped AF_INET6 one) into
 * *v4; false for any other. */
static bool
proxy_read_v4(const struct sockaddr_storage *a, struct in_addr *v4)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;

	if (a->ss_family == AF_INET) {
		*v4 = ((const struct sockaddr_in *)a)->sin_addr;
		return true;
	}
	if (a->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(v4, &s6->sin6_addr.s6_addr[12], sizeof(*v4));
		return true;
	}
	return false;
}

/* The same host, ports aside; a v4-mapped IPv6 address (a dual-stack
 * socket's peer) is its IPv4 one. */
static bool
proxy_read_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	struct in_addr a4, b4;
	bool va = proxy_read_v4(a, &a4), vb = proxy_read_v4(b, &b4);

	if (va || vb)
		return va && vb && a4.s_addr == b4.s_addr;
	return a->ss_family == AF_INET6 && b->ss_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

bool
proxy_read_client(const struct proxy_proto *pp,
    const struct sockaddr_storage *peer, struct sockaddr_storage *client)
{
	if (!pp->has_addr || proxy_read_same_host(&pp->src, peer)) {
		*client = *peer;
		return false;
	}
	*client = pp->src;
	return true;
}

unsigned
proxy_read_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

const char *
proxy_read_what(const struct proxy_proto *pp, bool named)
{
	if (named)
		return "";
	if (!pp->has_addr)
		return pp->local ? " command=local" : " command=unknown";
	return " command=proxy-self";
}
