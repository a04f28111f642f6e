/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol on [listen] proxy_protocol = yes: before the session
 * exists, read the v1 or v2 header (net/proxy_proto.h) that the load
 * balancer sends first, taking exactly its bytes off the socket (peek,
 * then read what belonged to it) so that the TLS ClientHello or SMTP
 * behind it stays for the session. Then the session starts with the
 * client address the header names, which is the one address every check
 * uses (connection limits, trusted_networks, pregreet, DNSBL, SPF, AUTH
 * delays, logs, Received, DMARC rows). Only peers in proxy_from may send a
 * header; anyone else, a malformed header or none within
 * PROXY_READ_TIMEOUT is dropped (net/proxy_read.h reads it). The state
 * lives in a struct of its own, allocated per connection on such
 * listeners only, and is gone once the session starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "net/proxy_read.h"
#include "smtpd/smtpd_internal.h"

struct smtpd_proxy_wait {
	struct smtpd_ctx	*ctx;
	struct smtpd_proxy_wait	*next, *prev;	/* ctx->proxy_waits */
	const struct conf_listener *lst;
	int			 fd;
	struct sockaddr_storage	 peer;		/* the proxy */
	char			 sid[IDS_SID_LEN + 1];	/* the session's */
	char			 addr[64];	/* the proxy, as text */
	struct proxy_read	*rd;
};

static void
smtpd_proxy_free(struct smtpd_proxy_wait *w)
{
	struct smtpd_ctx *ctx = w->ctx;

	if (w->prev)
		w->prev->next = w->next;
	else
		ctx->proxy_waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	proxy_read_cancel(w->rd);
	free(w);
}

/* Drop the connection: nothing is said (a client that is no proxy has
 * no session to be answered in, and TLS may be what follows). */
static void
smtpd_proxy_drop(struct smtpd_proxy_wait *w, const char *reason)
{
	log_info("sid=%s smtp proxy dropped proxy=%s listener=%s reason=%s",
	    w->sid, w->addr, w->lst->name, reason);
	close(w->fd);
	smtpd_proxy_free(w);
}

static socklen_t
smtpd_proxy_salen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/* The header is read (error NULL): the session starts as the client it
 * names. */
static void
smtpd_proxy_read_done(void *arg, const struct proxy_proto *pp,
    const char *error)
{
	struct smtpd_proxy_wait *w = arg;
	struct smtpd_ctx *ctx = w->ctx;
	struct sockaddr_storage client;
	struct smtpd_session *s;
	char sid[sizeof(w->sid)], proxy[sizeof(w->addr)];
	const char *what;
	int version, fd = w->fd;
	bool named;

	w->rd = NULL;	/* frees itself after this call */
	if (error != NULL) {
		smtpd_proxy_drop(w, error);
		return;
	}
	named = proxy_read_client(pp, &w->peer, &client);
	what = proxy_read_what(pp, named);
	version = pp->version;
	memcpy(sid, w->sid, sizeof(sid));
	memcpy(proxy, w->addr, sizeof(proxy));
	metrics_connection();
	s = smtpd_session_start(ctx, fd, (const struct sockaddr *)&client,
	    smtpd_proxy_salen(&client), w->lst);
	smtpd_proxy_free(w);
	if (s == NULL)
		return;
	memcpy(s->sid, sid, sizeof(s->sid));
	if (!named) {
		/* The proxy's address is never trusted: the client behind
		 * it could be anyone. A health check gets the whole greeting
		 * at once (HAProxy's smtpchk takes "220-" for a failure). */
		s->trusted = false;
		s->proxy_own = true;
	}
	log_info("sid=%s smtp proxy addr=%s port=%u proxy=%s version=%d%s",
	    s->sid, s->addr, proxy_read_port(&s->peer), proxy, version, what);
	smtpd_session_greet(s);
}

static time_t
smtpd_proxy_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec;
}

/* A refusal of a peer outside proxy_from, logged at most once a second
 * in this worker: anyone can connect, so anyone could flood the log. */
static void
smtpd_proxy_log_refusal(struct smtpd_ctx *ctx, const char *addr,
    const char *listener)
{
	char extra[32] = "";
	unsigned held;

	if (!ratelog_allow(&ctx->proxy_log, smtpd_proxy_now(), &held))
		return;
	if (held > 0)
		snprintf(extra, sizeof(extra), " suppressed=%u", held);
	log_warn("smtp proxy refused addr=%s listener=%s reason=not-in-"
	    "proxy_from%s", addr, listener, extra);
}

void
smtpd_proxy_accept(struct smtpd_ctx *ctx, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct conf_listener *lst)
{
	struct smtpd_proxy_wait *w;
	char addr[64];

	smtpd_addr_text(sa, addr, sizeof(addr));
	if (ctx->stopping) {
		close(fd);
		return;
	}
	if (!conf_networks_match(lst->proxy_from, lst->nproxy_from, sa)) {
		smtpd_proxy_log_refusal(ctx, addr, lst->name);
		close(fd);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->ctx = ctx;
	w->lst = lst;
	w->fd = fd;
	memcpy(&w->peer, sa, salen < sizeof(w->peer) ? salen :
	    sizeof(w->peer));
	memcpy(w->addr, addr, sizeof(w->addr));
	ids_sid_new(w->sid);
	w->rd = proxy_read_start(ctx->base, fd, smtpd_proxy_read_done, w);
	if (w->rd == NULL)
		fatal("cannot create a PROXY header event");
	w->next = ctx->proxy_waits;
	if (ctx->proxy_waits)
		ctx->proxy_waits->prev = w;
	ctx->proxy_waits = w;
}

void
smtpd_proxy_stop(struct smtpd_ctx *ctx)
{
	while (ctx->proxy_waits != NULL)
		smtpd_proxy_drop(ctx->proxy_waits, "shutdown");
}
