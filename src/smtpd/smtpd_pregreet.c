/* SPDX-License-Identifier: ISC */
/*
 * The pregreet test ([server] pregreet_wait), as Postfix's postscreen does
 * it: on plaintext and STARTTLS mx listeners the greeting's first line
 * ("220-") goes out, then the session waits; a client that talks before
 * the final "220 " is a bot that does not wait for the server, and is
 * answered 554 5.5.1 and disconnected. A client that waited is remembered
 * by address for a day (net/connlimit.h), so it waits once.
 */
#include <event2/buffer.h>
#include <event2/event.h>

#include "core/log.h"
#include "net/connlimit.h"
#include "smtpd/smtpd_internal.h"

static void
smtpd_pregreet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)fd;
	(void)what;
	if (s->state != SMTPD_STATE_PREGREET)
		return;
	connlimit_pregreet_pass(s->ctx->limits,
	    (const struct sockaddr *)&s->peer);
	smtpd_greeting(s);
	smtpd_enter(s, SMTPD_STATE_CMD);
	smtpd_process(s);
}

bool
smtpd_pregreet_start(struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;
	struct timeval tv = { .tv_sec = c->pregreet_wait };

	/* Implicit TLS: the client must speak first (the ClientHello);
	 * submission clients are people's programs, not bots; trusted
	 * networks are ours; a load balancer's health check (a PROXY header
	 * without a client) takes "220-" for a failure (HAProxy's smtpchk). */
	if (c->pregreet_wait == 0 || s->local || s->trusted || s->proxy_own ||
	    s->lst->role != CONF_ROLE_MX || s->lst->tls == CONF_TLS_IMPLICIT ||
	    connlimit_pregreet_passed(s->ctx->limits,
	    (const struct sockaddr *)&s->peer))
		return false;
	if (s->timer == NULL)
		s->timer = evtimer_new(s->ctx->base, smtpd_pregreet_cb, s);
	else
		event_assign(s->timer, s->ctx->base, -1, 0, smtpd_pregreet_cb,
		    s);
	if (s->timer == NULL)
		return false;
	smtpd_reply(s, "220-%s ESMTP sealmail", c->hostname);
	smtpd_enter(s, SMTPD_STATE_PREGREET);
	evtimer_add(s->timer, &tv);
	return true;
}

void
smtpd_pregreet_input(struct smtpd_session *s)
{
	size_t n = evbuffer_get_length(bufferevent_get_input(s->bev));

	if (n == 0)
		return;
	log_info("sid=%s smtp pregreet addr=%s bytes=%zu: talked before the "
	    "greeting", s->sid, s->addr, n);
	evbuffer_drain(bufferevent_get_input(s->bev), n);
	smtpd_reply(s, "554 5.5.1 %s Protocol error: talking before the "
	    "greeting", s->ctx->conf->hostname);
	smtpd_close(s, "pregreet");
}
