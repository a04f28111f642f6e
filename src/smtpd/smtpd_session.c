/* SPDX-License-Identifier: ISC */
/*
 * SMTP session lifecycle: accept, greeting, TLS (implicit and STARTTLS),
 * reading command lines with their length limits, timeouts, replies and
 * closing. Commands are in smtpd_verbs.c, message data in smtpd_txn.c.
 * A session is freed on the loop turn after it ends, never inside a
 * libevent callback of its own bufferevent.
 */
#include "smtpd/smtpd_session.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "net/connlimit.h"
#include "net/tls.h"
#include "net/tls_handshake.h"
#include "queue/spool_commit.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"

/* Input a client may send ahead while its session waits for a check or
 * a commit before reading is paused. */
#define SMTPD_WAIT_INPUT_MAX	65536
/* Replies staged in one loop turn before they go to the bufferevent. */
#define SMTPD_OUT_STAGED_MAX	65536
/* The most we write ourselves: a TLS write that would block must be
 * retried with the same length, and the bufferevent retries with at most
 * one buffer chain of its output, which this always fits in. */
#define SMTPD_OUT_DIRECT_MAX	4096

static void smtpd_read_cb(struct bufferevent *bev, void *arg);
static void smtpd_write_cb(struct bufferevent *bev, void *arg);
static void smtpd_event_cb(struct bufferevent *bev, short what, void *arg);

static void smtpd_discard_output(struct smtpd_session *s);
static int smtpd_starttls_begin(struct smtpd_session *s);
static void smtpd_tls_start(struct smtpd_session *s);

void
smtpd_addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
			    (socklen_t)outlen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, out,
			    (socklen_t)outlen);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)outlen);
	} else
		snprintf(out, outlen, "unknown");
}

/* Idle timeouts for reading (and writing): 0 is none (a deadline
 * rules instead). Under connection pressure they are cut to
 * stress_timeout, as Postfix's stress mode cuts smtpd_timeout. */
static void
smtpd_set_timeout(struct smtpd_session *s, unsigned seconds)
{
	const struct conf *c = s->ctx->conf;
	unsigned wsec = c->command_timeout;

	/* A handshake has no bufferevent yet; its deadline rules. */
	if (s->bev == NULL)
		return;
	if (s->ctx->stress && seconds > c->stress_timeout)
		seconds = c->stress_timeout;
	if (s->ctx->stress && wsec > c->stress_timeout)
		wsec = c->stress_timeout;
	struct timeval rd = { .tv_sec = seconds };
	struct timeval wr = { .tv_sec = wsec };
	bufferevent_set_timeouts(s->bev, seconds ? &rd : NULL,
	    seconds ? &wr : NULL);
}

static void
smtpd_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)fd;
	(void)what;
	if (s->deadline_tls) {
		if (s->state != SMTPD_STATE_TLS_START &&
		    s->state != SMTPD_STATE_TLS_HANDSHAKE)
			return;
		/* No TLS session to say 421 over: drop it now. */
		smtpd_discard_output(s);
		smtpd_close(s, "tls-handshake-timeout");
		return;
	}
	/* Between BDAT chunks the session reads commands, and the message
	 * is still in transfer; after its end the deadline no longer
	 * applies (the checks and the commit have their own bounds). */
	if (s->state != SMTPD_STATE_DATA && s->state != SMTPD_STATE_BDAT &&
	    !(s->state == SMTPD_STATE_CMD && s->bdat_used))
		return;
	smtpd_reply(s, "421 4.4.2 %s Error: message transfer took too long",
	    s->ctx->conf->hostname);
	smtpd_close(s, "data-deadline");
}

/* Start the deadline of a handshake (tls) or a message, unless the same
 * one runs already (STARTTLS then handshake; BDAT chunks). */
static void
smtpd_deadline_start(struct smtpd_session *s, bool tls, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	if (s->deadline == NULL &&
	    (s->deadline = evtimer_new(s->ctx->base, smtpd_deadline_cb, s)) ==
	    NULL)
		fatal("cannot create a session deadline");
	if (evtimer_pending(s->deadline, NULL) && s->deadline_tls == tls)
		return;
	s->deadline_tls = tls;
	evtimer_add(s->deadline, &tv);
}

static void
smtpd_deadline_stop(struct smtpd_session *s)
{
	if (s->deadline != NULL)
		evtimer_del(s->deadline);
}

void
smtpd_deadline_message_end(struct smtpd_session *s)
{
	if (!s->deadline_tls)
		smtpd_deadline_stop(s);
}

void
smtpd_enter(struct smtpd_session *s, enum smtpd_state st)
{
	const struct conf *c = s->ctx->conf;

	s->state = st;
	switch (st) {
	case SMTPD_STATE_TLS_START:
	case SMTPD_STATE_TLS_HANDSHAKE:
		/* A deadline, not an idle timeout: a ClientHello sent a
		 * byte at a time must not hold the slot for hours. */
		smtpd_set_timeout(s, 0);
		smtpd_deadline_start(s, true, c->tls_handshake_timeout);
		break;
	case SMTPD_STATE_DATA:
	case SMTPD_STATE_BDAT:
		smtpd_set_timeout(s, c->data_timeout);
		smtpd_deadline_start(s, false, c->data_total_timeout);
		break;
	case SMTPD_STATE_CMD:
		if (!s->bdat_used)
			smtpd_deadline_stop(s);
		smtpd_set_timeout(s, c->command_timeout);
		break;
	case SMTPD_STATE_AUTH:
	case SMTPD_STATE_PREGREET:
		smtpd_set_timeout(s, c->command_timeout);
		break;
	case SMTPD_STATE_PAUSED:
	case SMTPD_STATE_WAIT:
	case SMTPD_STATE_CLOSING:
		break;
	}
}

/*
 * Connection pressure, judged at each accept: at 80% of max_connections
 * (all workers together) idle timeouts shrink to stress_timeout for this
 * worker's sessions, the waiting ones at once.
 */
static void
smtpd_stress_update(struct smtpd_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	unsigned n = connlimit_total(ctx->limits);
	bool stress = (uint64_t)n * 5 >= (uint64_t)c->max_connections * 4;

	if (stress == ctx->stress)
		return;
	ctx->stress = stress;
	if (stress)
		log_warn("smtp stress on connections=%u max=%u "
		    "idle_timeout=%us", n, c->max_connections,
		    c->stress_timeout);
	else
		log_info("smtp stress off connections=%u max=%u", n,
		    c->max_connections);
	for (struct smtpd_session *s = ctx->sessions; s; s = s->next)
		if (s->state == SMTPD_STATE_CMD ||
		    s->state == SMTPD_STATE_AUTH ||
		    s->state == SMTPD_STATE_DATA ||
		    s->state == SMTPD_STATE_BDAT)
			smtpd_enter(s, s->state);
}

/* A refusal by a connection limit, logged at most once a second per kind
 * in this worker (a flood must not flood the log too). */
static void
smtpd_log_refusal(struct smtpd_ctx *ctx, enum connlimit_result r,
    const struct sockaddr *sa)
{
	struct ratelog *rl = &ctx->refused_log[r == CONNLIMIT_PER_IP ? 0 : 1];
	struct timespec now;
	unsigned held;
	char extra[32] = "", addr[INET6_ADDRSTRLEN];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!ratelog_allow(rl, now.tv_sec, &held))
		return;
	if (held > 0)
		snprintf(extra, sizeof(extra), " suppressed=%u", held);
	smtpd_addr_text(sa, addr, sizeof(addr));
	log_warn("smtp refused addr=%s limit=%s%s", addr,
	    r == CONNLIMIT_PER_IP ? "per-ip" : "total", extra);
}

void
smtpd_wait(struct smtpd_session *s)
{
	/* Pipelined commands wait in the buffer until the answer is ready.
	 * Reading stays on: turning it off and on again would cost two
	 * epoll_ctl for every message. smtpd_process turns it off only if
	 * input beyond SMTPD_WAIT_INPUT_MAX piles up meanwhile. */
	s->state = SMTPD_STATE_WAIT;
}

void
smtpd_resume(struct smtpd_session *s)
{
	if (s->state == SMTPD_STATE_CLOSING)
		return;
	smtpd_enter(s, SMTPD_STATE_CMD);
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process(s);
}

static void
smtpd_bev_setup(struct smtpd_session *s)
{
	bufferevent_setcb(s->bev, smtpd_read_cb, smtpd_write_cb,
	    smtpd_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

struct smtpd_session *
smtpd_session_start(struct smtpd_ctx *ctx, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct conf_listener *lst)
{
	const struct conf *c = ctx->conf;
	enum connlimit_result lr = CONNLIMIT_TOTAL;
	int on = 1;

	if (!ctx->stopping)
		lr = connlimit_acquire(ctx->limits, ctx->slot, sa,
		    c->max_connections_per_ip, c->max_connections);
	smtpd_stress_update(ctx);
	if (lr != CONNLIMIT_OK) {
		static const char busy[] =
		    "421 4.7.0 Too many connections, try again later\r\n";
		if (!ctx->stopping)
			smtpd_log_refusal(ctx, lr, sa);
		if (lst->tls != CONF_TLS_IMPLICIT &&
		    write(fd, busy, sizeof(busy) - 1) < 0)
			log_debug("smtp refusal not sent: %s",
			    strerror(errno));
		close(fd);
		return NULL;
	}
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->lst = lst;
	s->fd = fd;
	memcpy(&s->peer, sa, salen < sizeof(s->peer) ? salen :
	    sizeof(s->peer));
	ids_sid_new(s->sid);
	smtpd_addr_text(sa, s->addr, sizeof(s->addr));
	s->trusted = conf_is_trusted(c, sa);
	envelope_init(&s->env);
	buf_init(&s->headers, LIMIT_HEADER_SECTION);
	buf_init(&s->out, SMTPD_OUT_STAGED_MAX);
	/* Replies go out at once; the 40 ms Nagle/delayed-ACK stall on
	 * small writes would otherwise hit every TLS handshake. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

	s->next = ctx->sessions;
	if (ctx->sessions)
		ctx->sessions->prev = s;
	ctx->sessions = s;
	ctx->nsessions++;
	return s;
}

void
smtpd_greeting(struct smtpd_session *s)
{
	smtpd_reply(s, "220 %s ESMTP sealmail", s->ctx->conf->hostname);
}

/* Log the connection, start TLS or the command loop, send the greeting. */
void
smtpd_session_greet(struct smtpd_session *s)
{
	const struct conf_listener *lst = s->lst;
	struct smtpd_ctx *ctx = s->ctx;

	if (s->local)
		log_info("sid=%s smtp connect addr=%s listener=%s user=%s "
		    "uid=%lu", s->sid, s->addr, lst->name,
		    s->local_user[0] ? s->local_user : "-",
		    (unsigned long)s->local_uid);
	else
		log_info("sid=%s smtp connect addr=%s listener=%s", s->sid,
		    s->addr, lst->name);
	/* PROXY protocol (issue 16): read the header first, then start
	 * here with the client address it names, so the lookups and the
	 * pregreet wait begin once the header is read. */
	smtpd_dnsbl_start(s);
	if (lst->tls == CONF_TLS_IMPLICIT) {
		s->ssl = tls_server_ssl_new(ctx->tls);
		if (s->ssl == NULL) {
			smtpd_close(s, "tls-init");
			return;
		}
		/* The greeting follows the handshake (smtpd_tls_done). */
		smtpd_tls_start(s);
		return;
	}
	s->bev = bufferevent_socket_new(ctx->base, s->fd, 0);
	smtpd_bev_setup(s);
	smtpd_enter(s, SMTPD_STATE_CMD);
	if (smtpd_pregreet_start(s))
		return;
	smtpd_greeting(s);
}

void
smtpd_session_accept(struct smtpd_ctx *ctx, int fd, const struct sockaddr *sa,
    socklen_t salen, size_t listener)
{
	const struct conf_listener *lst = &ctx->conf->listeners[listener];
	struct smtpd_session *s;

	if (lst->proxy_protocol) {
		smtpd_proxy_accept(ctx, fd, sa, salen, lst);
		return;
	}
	metrics_connection();
	s = smtpd_session_start(ctx, fd, sa, salen, lst);

	if (s != NULL)
		smtpd_session_greet(s);
}

/* Move the staged replies behind whatever the bufferevent still holds. */
static void
smtpd_out_spill(struct smtpd_session *s)
{
	if (s->out.len > 0 && s->bev != NULL)
		evbuffer_add(bufferevent_get_output(s->bev), s->out.data,
		    s->out.len);
	buf_clear(&s->out);
}

/*
 * Send the staged replies. A bufferevent given data arms EPOLLOUT and
 * writes on the next loop turn, then disarms it: two epoll_ctl and an
 * epoll_wait for every reply. When it holds nothing (so no write of its
 * own is pending, and ours keeps the order) and the connection is up, we
 * write at once; whatever does not go out is handed to it. A TLS write
 * that would block is retried by the bufferevent with the same bytes, as
 * OpenSSL requires (it sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 */
static void
smtpd_flush(struct smtpd_session *s)
{
	if (s->bev != NULL && s->out.len > 0 &&
	    s->out.len <= SMTPD_OUT_DIRECT_MAX &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
	    s->state != SMTPD_STATE_TLS_HANDSHAKE &&
	    (s->ssl == NULL || s->tls)) {
		ssize_t n;

		if (s->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(s->ssl, s->out.data, (int)s->out.len);
		} else
			n = send(s->fd, s->out.data, s->out.len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			buf_consume(&s->out, (size_t)n);
	}
	smtpd_out_spill(s);
}

/* One event per worker writes every session's replies at the end of the
 * loop turn that made them, so a multi-line reply or a pipelined burst
 * leaves in one write. */
static void
smtpd_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_ctx *ctx = arg;

	(void)fd;
	(void)what;
	while (ctx->flush != NULL) {
		struct smtpd_session *s = ctx->flush;

		ctx->flush = s->flush_next;
		s->flush_next = NULL;
		s->flush_queued = false;
		smtpd_flush(s);
	}
}

static void
smtpd_flush_later(struct smtpd_session *s)
{
	struct smtpd_ctx *ctx = s->ctx;

	if (s->flush_queued)
		return;
	if (ctx->flush_ev == NULL &&
	    (ctx->flush_ev = event_new(ctx->base, -1, 0, smtpd_flush_cb,
	    ctx)) == NULL)
		fatal("cannot create the reply flush event");
	s->flush_queued = true;
	s->flush_next = ctx->flush;
	ctx->flush = s;
	event_active(ctx->flush_ev, EV_TIMEOUT, 0);
}

/* Take s off the flush list (it is going away). */
static void
smtpd_flush_forget(struct smtpd_session *s)
{
	struct smtpd_session **pp;

	if (!s->flush_queued)
		return;
	for (pp = &s->ctx->flush; *pp != NULL; pp = &(*pp)->flush_next)
		if (*pp == s) {
			*pp = s->flush_next;
			break;
		}
	s->flush_next = NULL;
	s->flush_queued = false;
}

/* Drop every reply not yet written (the connection is broken). */
static void
smtpd_discard_output(struct smtpd_session *s)
{
	if (s->bev != NULL) {
		struct evbuffer *out = bufferevent_get_output(s->bev);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	buf_clear(&s->out);
}

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char line[LIMIT_REPLY_LINE + 3];
	va_list ap;
	int n;

	if (s->bev == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		panic("reply formatting failed");
	/* Replies are ours and short; cut rather than exceed the line
	 * limit of RFC 5321 §4.5.3.1.5 if untrusted text made one long. */
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	/* A pipelined burst may answer many commands in one turn: past the
	 * bound, what is staged goes to the bufferevent first (in order). */
	if (buf_append(&s->out, line, (size_t)n + 2) == -1) {
		smtpd_out_spill(s);
		if (buf_append(&s->out, line, (size_t)n + 2) == -1)
			panic("reply staging failed");
	}
	smtpd_flush_later(s);
	if (line[0] == '5')
		s->errors++;
}

/* Final teardown, one loop turn after the session ended. */
static void
smtpd_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)fd;
	(void)what;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->ssl) {
		SSL_set_quiet_shutdown(s->ssl, 0);
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	if (s->fd != -1)
		close(s->fd);
	free(s);
}

static void
smtpd_free(struct smtpd_session *s)
{
	struct smtpd_ctx *ctx = s->ctx;
	struct timeval now = { 0, 0 };

	if (s->timer) {
		event_free(s->timer);
		s->timer = NULL;
	}
	if (s->deadline) {
		event_free(s->deadline);
		s->deadline = NULL;
	}
	if (s->bev) {
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	}
	if (s->hs != NULL) {
		/* It owns the SSL now (a signature may be on its way). */
		tls_hs_cancel(s->hs);
		s->hs = NULL;
		s->ssl = NULL;
	}
	smtpd_auth_cancel(s);
	smtpd_dnsbl_free(s);
	smtpd_store_cancel(s);
	smtpd_sign_cancel(s);
	smtpd_milter_cancel(s);
	if (s->commit_job) {
		/* Gone before its 250: the message still becomes durable,
		 * as after any lost reply (RFC 5321 §6.1 accepts that). */
		spool_commit_detach(s->commit_job);
		s->commit_job = NULL;
		s->limit_msg_at = 0;	/* and keeps its message slot */
	}
	smtpd_flush_forget(s);
	buf_clear(&s->out);
	smtpd_txn_reset(s);
	envelope_clear(&s->env);
	buf_clear(&s->headers);
	free(s->helo);
	free(s->auth_user);
	if (!s->local)
		metrics_session(s->tls && s->ssl ? SSL_get_version(s->ssl) :
		    NULL);
	connlimit_release(ctx->limits, ctx->slot,
	    (const struct sockaddr *)&s->peer);
	if (s->prev)
		s->prev->next = s->next;
	else
		ctx->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ctx->nsessions--;
	smtpd_stress_update(ctx);
	if (event_base_once(ctx->base, -1, EV_TIMEOUT, smtpd_free_cb, s,
	    &now) == -1)
		fatal("cannot schedule a session free");
}

static void
smtpd_close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtpd_free(arg);
}

void
smtpd_close(struct smtpd_session *s, const char *reason)
{
	char esc[64];

	if (s->state == SMTPD_STATE_CLOSING)
		return;
	log_info("sid=%s smtp disconnect addr=%s reason=%s%s%s", s->sid,
	    s->addr, log_escape(reason, strlen(reason), esc, sizeof(esc)),
	    s->data || s->msg ? " lost=unacknowledged-message" : "",
	    s->tls ? " tls=yes" : "");
	s->state = SMTPD_STATE_CLOSING;
	if (s->timer)
		event_del(s->timer);
	smtpd_flush(s);
	if (s->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		smtpd_free(s);
		return;
	}
	/* Let the last reply drain, but not forever. */
	bufferevent_disable(s->bev, EV_READ);
	if (s->timer == NULL)
		s->timer = evtimer_new(s->ctx->base, smtpd_close_timer_cb, s);
	else
		event_assign(s->timer, s->ctx->base, -1, 0,
		    smtpd_close_timer_cb, s);
	struct timeval tv = { .tv_sec = 5 };
	evtimer_add(s->timer, &tv);
}

static void
smtpd_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (s->state == SMTPD_STATE_TLS_START &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    smtpd_starttls_begin(s) == -1)
		smtpd_close(s, "starttls-failed");
	else if (s->state == SMTPD_STATE_CLOSING)
		smtpd_free(s);
}

static void
smtpd_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)fd;
	(void)what;
	if (s->state != SMTPD_STATE_PAUSED)
		return;
	if (s->pause_reply) {
		smtpd_reply(s, "%s", s->pause_reply);
		s->pause_reply = NULL;
	}
	smtpd_enter(s, SMTPD_STATE_CMD);
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process(s);
}

void
smtpd_pause(struct smtpd_session *s, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	if (s->timer == NULL)
		s->timer = evtimer_new(s->ctx->base, smtpd_pause_cb, s);
	else
		event_assign(s->timer, s->ctx->base, -1, 0, smtpd_pause_cb, s);
	s->state = SMTPD_STATE_PAUSED;
	/* Pipelined input waits in the buffer until the pause ends. */
	bufferevent_disable(s->bev, EV_READ);
	evtimer_add(s->timer, &tv);
}

/* The longest line the command starting the input may have. */
static size_t
smtpd_line_limit(struct smtpd_session *s, struct evbuffer *in)
{
	char head[5];

	if (s->state == SMTPD_STATE_AUTH)
		return LIMIT_SMTP_AUTH_LINE;
	if (evbuffer_copyout(in, head, sizeof(head)) != sizeof(head))
		return LIMIT_SMTP_LINE;
	if (strncasecmp(head, "AUTH ", 5) == 0)
		return LIMIT_SMTP_AUTH_LINE;
	if (strncasecmp(head, "MAIL ", 5) == 0 ||
	    strncasecmp(head, "RCPT ", 5) == 0)
		return LIMIT_SMTP_PARAM_LINE;
	return LIMIT_SMTP_LINE;
}

/*
 * Take one line off the input into line (capacity LIMIT_SMTP_AUTH_LINE+1).
 * Returns 1 with a line, 0 if more input is needed, -1 if an overlong line
 * was discarded (the 500 reply is already sent). The limit is checked
 * before a whole line has arrived (STYLE.md §7), so a client cannot make
 * the input buffer grow without bound.
 */
static int
smtpd_read_line(struct smtpd_session *s, char *line, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t eol_len = 0, limit = smtpd_line_limit(s, in);
	struct evbuffer_ptr p;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (p.pos < 0) {
		size_t avail = evbuffer_get_length(in);
		if (avail > limit) {
			evbuffer_drain(in, avail);
			s->skip_line = true;
		}
		return 0;
	}
	if (s->skip_line || (size_t)p.pos + 2 > limit) {
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		s->skip_line = false;
		smtpd_reply(s, "500 5.5.6 Line too long");
		return -1;
	}
	evbuffer_remove(in, line, (size_t)p.pos);
	evbuffer_drain(in, eol_len);
	line[p.pos] = '\0';
	*len = (size_t)p.pos;
	return 1;
}

void
smtpd_process(struct smtpd_session *s)
{
	char line[LIMIT_SMTP_AUTH_LINE + 1];
	const struct conf *c = s->ctx->conf;
	size_t len;
	int r;

	for (;;) {
		if (s->errors >= c->max_errors &&
		    s->state != SMTPD_STATE_CLOSING) {
			smtpd_reply(s, "421 4.7.0 %s Too many errors",
			    c->hostname);
			smtpd_close(s, "too-many-errors");
		}
		switch (s->state) {
		case SMTPD_STATE_CMD:
		case SMTPD_STATE_AUTH:
			if (s->ctx->stopping && s->state == SMTPD_STATE_CMD) {
				smtpd_reply(s, "421 4.3.2 %s Service shutting "
				    "down", c->hostname);
				smtpd_close(s, "shutdown");
				return;
			}
			r = smtpd_read_line(s, line, &len);
			if (r == 0)
				return;
			if (r < 0)
				continue;
			if (s->state == SMTPD_STATE_AUTH)
				smtpd_auth_line(s, line, len);
			else
				smtpd_verb_dispatch(s, line, len);
			explicit_bzero(line, len);
			break;
		case SMTPD_STATE_DATA:
		case SMTPD_STATE_BDAT: {
			enum smtpd_state before = s->state;
			size_t avail = evbuffer_get_length(
			    bufferevent_get_input(s->bev));
			smtpd_txn_input(s);
			if (s->state == before && evbuffer_get_length(
			    bufferevent_get_input(s->bev)) == avail)
				return;
			break;
		}
		case SMTPD_STATE_PREGREET:
			smtpd_pregreet_input(s);
			return;
		default:
			if (s->state == SMTPD_STATE_WAIT &&
			    evbuffer_get_length(bufferevent_get_input(s->bev)) >
			    SMTPD_WAIT_INPUT_MAX)
				bufferevent_disable(s->bev, EV_READ);
			return;
		}
	}
}

static void
smtpd_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtpd_process(arg);
}

static void
smtpd_tls_done(struct smtpd_session *s)
{
	struct tls_info ti;

	tls_info_get(s->ssl, &ti);
	s->tls = true;
	log_info("sid=%s smtp tls version=%s cipher=%s bits=%d group=%s "
	    "resumed=%s", s->sid, ti.version, ti.cipher, ti.bits,
	    ti.group ? ti.group : "none",
	    SSL_session_reused(s->ssl) ? "yes" : "no");
	smtpd_enter(s, SMTPD_STATE_CMD);
	if (s->lst->tls == CONF_TLS_IMPLICIT)
		smtpd_greeting(s);
	smtpd_process(s);
}

static void
smtpd_tls_hs_done(void *arg, enum tls_hs_result r, const char *detail)
{
	struct smtpd_session *s = arg;

	s->hs = NULL;
	switch (r) {
	case TLS_HS_OK:
		break;
	case TLS_HS_EOF:
		smtpd_close(s, "eof");
		return;
	default:
		log_info("sid=%s smtp tls handshake failed: %s", s->sid,
		    detail);
		smtpd_close(s, r == TLS_HS_TLS_ERROR ? "tls-error" :
		    "io-error");
		return;
	}
	s->bev = bufferevent_openssl_socket_new(s->ctx->base, s->fd, s->ssl,
	    BUFFEREVENT_SSL_OPEN, 0);
	if (s->bev == NULL) {
		smtpd_close(s, "tls-init");
		return;
	}
	smtpd_bev_setup(s);
	smtpd_tls_done(s);
}

/* The handshake runs on its own (tls_handshake.c: signatures wait
 * asynchronously) until smtpd_tls_hs_done hands the SSL to a
 * bufferevent. */
static void
smtpd_tls_start(struct smtpd_session *s)
{
	s->hs = tls_hs_start(s->ctx->base, s->fd, s->ssl, smtpd_tls_hs_done,
	    s);
	smtpd_enter(s, SMTPD_STATE_TLS_HANDSHAKE);
	if (s->hs == NULL)
		smtpd_close(s, "tls-init");
}

static void
smtpd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->ctx->conf->hostname);
		smtpd_close(s, "timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		/* Nothing can be sent on a broken connection. */
		smtpd_discard_output(s);
		smtpd_close(s, e ? "tls-error" : "io-error");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		smtpd_discard_output(s);
		smtpd_close(s, "eof");
	}
}

/* The 220 to STARTTLS is on the wire (nothing plaintext is left to
 * write): the connection becomes TLS. */
static int
smtpd_starttls_begin(struct smtpd_session *s)
{
	s->ssl = tls_server_ssl_new(s->ctx->tls);
	if (s->ssl == NULL)
		return -1;
	/* Its input was drained at STARTTLS: nothing plaintext survives. */
	bufferevent_free(s->bev);
	s->bev = NULL;
	/* Forget everything learnt before TLS (RFC 3207 §4.2). */
	smtpd_txn_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	smtpd_tls_start(s);
	return 0;
}

int
smtpd_starttls(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t pipelined = evbuffer_get_length(in);

	/* RFC 3207 §4.2 / CVE-2011-0411: plaintext the client sent after
	 * STARTTLS must never be executed once TLS is up. */
	if (pipelined > 0) {
		log_warn("sid=%s smtp starttls discarded %zu pipelined "
		    "plaintext bytes addr=%s", s->sid, pipelined, s->addr);
		evbuffer_drain(in, pipelined);
	}
	/* What arrives from now on is the ClientHello, for the TLS
	 * bufferevent to read. */
	bufferevent_disable(s->bev, EV_READ);
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	/* The 220 must precede the handshake on the wire. It mostly leaves
	 * at once; if not, the bufferevent writes it and smtpd_write_cb
	 * starts TLS when it is out. Nothing waits on the loop: a client
	 * that does not read holds its own session only, until the
	 * handshake deadline (which starts now). */
	smtpd_flush(s);
	smtpd_enter(s, SMTPD_STATE_TLS_START);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return 0;
	return smtpd_starttls_begin(s);
}

static void
smtpd_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_ctx *ctx = arg;

	(void)fd;
	(void)what;
	for (struct smtpd_session *s = ctx->sessions, *n; s; s = n) {
		n = s->next;
		if (s->state == SMTPD_STATE_CLOSING)
			continue;
		smtpd_reply(s, "421 4.3.2 %s Service shutting down",
		    ctx->conf->hostname);
		smtpd_close(s, "shutdown");
	}
}

void
smtpd_sessions_stop(struct smtpd_ctx *ctx, int grace)
{
	/* A reload only stops accepting (the worker does that): sessions in
	 * flight finish with the configuration they started with. */
	if (grace < 0)
		return;
	ctx->stopping = true;
	smtpd_proxy_stop(ctx);
	for (struct smtpd_session *s = ctx->sessions, *n; s; s = n) {
		n = s->next;
		bool tls = s->state == SMTPD_STATE_TLS_HANDSHAKE ||
		    s->state == SMTPD_STATE_TLS_START;

		if (s->state == SMTPD_STATE_CMD ||
		    s->state == SMTPD_STATE_PAUSED ||
		    s->state == SMTPD_STATE_PREGREET || tls) {
			if (!tls)
				smtpd_reply(s, "421 4.3.2 %s Service shutting "
				    "down", ctx->conf->hostname);
			smtpd_close(s, "shutdown");
		}
	}
	struct timeval tv = { .tv_sec = grace };
	if (ctx->grace_timer == NULL)
		ctx->grace_timer = evtimer_new(ctx->base, smtpd_grace_cb, ctx);
	evtimer_add(ctx->grace_timer, &tv);
}
