/* SPDX-License-Identifier: ISC */
/*
 * The connection to Dovecot's auth-client socket (see dovecot_client.h).
 * The server's lines go through dovecot_proto_parse; anything it cannot
 * make sense of drops the connection (requests in flight fail as
 * temporary) and a reconnect follows after the backoff.
 */
#include "account/dovecot_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "account/dovecot_proto.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* An AUTH line: the PLAIN message of two LIMIT_SASL_FIELD strings in
 * base64 plus the fields around it. */
#define DOVECOT_REQ_LINE_MAX	2048

enum dovecot_state {
	DOVECOT_DOWN,		/* waiting for the retry timer */
	DOVECOT_CONNECTING,
	DOVECOT_HANDSHAKE,	/* our handshake sent, the server's coming */
	DOVECOT_READY,
};

struct dovecot_req {
	struct dovecot_req	*next;
	struct dovecot_client	*dc;
	uint32_t		 id;
	struct event		*timer;
	dovecot_client_cb	*cb;
	void			*arg;
	/* The AUTH line until it is sent (after the handshake); it holds
	 * the password in base64, so it is wiped. */
	struct buf		 line;
};

struct dovecot_client {
	struct event_base	*base;
	char			*path;
	enum dovecot_state	 state;
	struct bufferevent	*bev;
	struct event		*retry;
	unsigned		 backoff;	/* seconds before the next connect */
	bool			 plain;		/* server offers PLAIN */
	bool			 warned;	/* "down" logged since the last up */
	uint32_t		 next_id;
	struct timeval		 timeout;	/* per request */
	struct dovecot_req	*reqs;		/* outstanding, newest first */
	unsigned		 nreqs;
};

static void dovecot_connect(struct dovecot_client *dc);

static void
dovecot_req_free(struct dovecot_req *r)
{
	if (r->line.data != NULL)
		explicit_bzero(r->line.data, r->line.cap);
	buf_clear(&r->line);
	/* NULL when the AUTH line could not be made (event_free would
	 * dereference it). */
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* Take request id out of the list; NULL if there is none. */
static struct dovecot_req *
dovecot_req_take(struct dovecot_client *dc, uint32_t id)
{
	for (struct dovecot_req **p = &dc->reqs; *p != NULL;
	    p = &(*p)->next) {
		struct dovecot_req *r = *p;
		if (r->id == id) {
			*p = r->next;
			dc->nreqs--;
			return r;
		}
	}
	return NULL;
}

/* Answer request r (already out of the list) and free it. */
static void
dovecot_req_answer(struct dovecot_req *r, enum dovecot_client_result res,
    const char *user)
{
	dovecot_client_cb *cb = r->cb;
	void *arg = r->arg;

	dovecot_req_free(r);
	cb(arg, res, user);
}

static void
dovecot_send(struct dovecot_client *dc, const void *p, size_t n)
{
	if (bufferevent_write(dc->bev, p, n) == -1)
		log_warn("dovecot auth: cannot queue %zu bytes", n);
}

/* Tell the server to stop working on request id (sent, not answered). */
static void
dovecot_send_cancel(struct dovecot_client *dc, uint32_t id)
{
	struct buf cancel;

	buf_init(&cancel, 64);
	if (dovecot_proto_cancel(&cancel, id) == 0)
		dovecot_send(dc, cancel.data, cancel.len);
	buf_clear(&cancel);
}

static void
dovecot_req_send(struct dovecot_client *dc, struct dovecot_req *r)
{
	dovecot_send(dc, r->line.data, r->line.len);
	explicit_bzero(r->line.data, r->line.cap);
	buf_clear(&r->line);
}

/*
 * The connection is gone or unusable: every request in flight fails as
 * temporary (each is taken off the list before its callback, which may
 * cancel or add requests), and a reconnect is scheduled.
 */
static void
dovecot_down(struct dovecot_client *dc, const char *why)
{
	struct timeval tv = { (time_t)dc->backoff, 0 };
	struct dovecot_req *r;

	if (!dc->warned)
		log_warn("dovecot auth %s unavailable: %s; retrying every "
		    "%u s at most", dc->path, why, DOVECOT_CLIENT_BACKOFF_MAX);
	dc->warned = true;
	if (dc->bev != NULL)
		bufferevent_free(dc->bev);
	dc->bev = NULL;
	dc->state = DOVECOT_DOWN;
	evtimer_add(dc->retry, &tv);
	dc->backoff = dc->backoff * 2 > DOVECOT_CLIENT_BACKOFF_MAX ?
	    DOVECOT_CLIENT_BACKOFF_MAX : dc->backoff * 2;
	while ((r = dc->reqs) != NULL) {
		dc->reqs = r->next;
		dc->nreqs--;
		dovecot_req_answer(r, DOVECOT_CLIENT_TEMP, NULL);
	}
}

/* One server line in the handshake; -1 drops the connection. */
static int
dovecot_handshake_line(struct dovecot_client *dc,
    const struct dovecot_proto_reply *rep, const char **why)
{
	switch (rep->kind) {
	case DOVECOT_PROTO_VERSION:
		if (rep->major != DOVECOT_PROTO_MAJOR) {
			*why = "unsupported protocol version";
			return -1;
		}
		return 0;
	case DOVECOT_PROTO_MECH:
		dc->plain = dc->plain || rep->plain;
		return 0;
	case DOVECOT_PROTO_OTHER:
		return 0;
	case DOVECOT_PROTO_DONE:
		if (!dc->plain) {
			*why = "the PLAIN mechanism is not offered "
			    "(auth_mechanisms)";
			return -1;
		}
		dc->state = DOVECOT_READY;
		dc->backoff = 1;
		if (dc->warned)
			log_info("dovecot auth %s available again", dc->path);
		dc->warned = false;
		for (struct dovecot_req *r = dc->reqs; r != NULL; r = r->next)
			if (r->line.len > 0)
				dovecot_req_send(dc, r);
		return 0;
	default:
		*why = "unexpected line in the handshake";
		return -1;
	}
}

/* One server line once ready; -1 drops the connection. */
static int
dovecot_reply_line(struct dovecot_client *dc,
    const struct dovecot_proto_reply *rep, const char **why)
{
	struct dovecot_req *r;

	switch (rep->kind) {
	case DOVECOT_PROTO_BAD:
		*why = "malformed line";
		return -1;
	case DOVECOT_PROTO_OK:
	case DOVECOT_PROTO_FAIL:
	case DOVECOT_PROTO_CONT:
		break;
	default:
		return 0;
	}
	/* An id we timed out or cancelled: its answer is late. */
	if ((r = dovecot_req_take(dc, rep->id)) == NULL)
		return 0;
	if (rep->kind == DOVECOT_PROTO_OK)
		dovecot_req_answer(r, DOVECOT_CLIENT_OK,
		    rep->user[0] ? rep->user : NULL);
	else if (rep->kind == DOVECOT_PROTO_FAIL)
		dovecot_req_answer(r, rep->temp ? DOVECOT_CLIENT_TEMP :
		    DOVECOT_CLIENT_FAIL, NULL);
	else {
		/* PLAIN went with its initial response: a challenge means
		 * the server did not take it, no fault of the client's. */
		log_warn("dovecot auth %s: unexpected CONT for request %lu",
		    dc->path, (unsigned long)rep->id);
		dovecot_send_cancel(dc, rep->id);
		dovecot_req_answer(r, DOVECOT_CLIENT_TEMP, NULL);
	}
	return 0;
}

static void
dovecot_read_cb(struct bufferevent *bev, void *arg)
{
	struct dovecot_client *dc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct dovecot_proto_reply rep;
	const char *why = NULL;

	while (dc->bev == bev) {
		size_t eol_len = 0, n;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL,
		    &eol_len, EVBUFFER_EOL_LF);

		if (eol.pos < 0) {
			/* Checked before the line is complete, so a server
			 * cannot make us buffer without bound. */
			if (evbuffer_get_length(in) > DOVECOT_PROTO_LINE_MAX)
				dovecot_down(dc, "line too long");
			return;
		}
		n = (size_t)eol.pos;
		if (n > DOVECOT_PROTO_LINE_MAX) {
			dovecot_down(dc, "line too long");
			return;
		}
		const char *line = (const char *)evbuffer_pullup(in,
		    (ev_ssize_t)(n + 1));
		(void)dovecot_proto_parse(line, n, &rep);
		evbuffer_drain(in, n + 1);
		if ((dc->state == DOVECOT_READY ?
		    dovecot_reply_line(dc, &rep, &why) :
		    dovecot_handshake_line(dc, &rep, &why)) == -1) {
			dovecot_down(dc, why);
			return;
		}
	}
}

static void
dovecot_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dovecot_client *dc = arg;
	struct buf hs;
	char err[128];

	if (what & BEV_EVENT_CONNECTED) {
		dc->state = DOVECOT_HANDSHAKE;
		dc->plain = false;
		buf_init(&hs, 128);
		if (dovecot_proto_handshake(&hs, (unsigned long)getpid()) == 0)
			dovecot_send(dc, hs.data, hs.len);
		buf_clear(&hs);
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_EOF)
		dovecot_down(dc, "connection closed");
	else {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		dovecot_down(dc, err);
	}
}

static void
dovecot_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dovecot_connect(arg);
}

static void
dovecot_connect(struct dovecot_client *dc)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char err[128];
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, sizeof(err), "socket: %s", strerror(errno));
		dovecot_down(dc, err);
		return;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", dc->path);
	dc->bev = bufferevent_socket_new(dc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (dc->bev == NULL) {
		close(fd);
		dovecot_down(dc, "cannot create a bufferevent");
		return;
	}
	bufferevent_setcb(dc->bev, dovecot_read_cb, NULL, dovecot_event_cb,
	    dc);
	dc->state = DOVECOT_CONNECTING;
	if (bufferevent_socket_connect(dc->bev, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		snprintf(err, sizeof(err), "connect: %s", strerror(errno));
		dovecot_down(dc, err);
	}
}

struct dovecot_client *
dovecot_client_new(struct event_base *base, const char *path)
{
	struct dovecot_client *dc = xcalloc(1, sizeof(*dc));

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		fatal("dovecot auth socket path too long: %s", path);
	dc->base = base;
	dc->path = xstrdup(path);
	dc->backoff = 1;
	dc->timeout.tv_sec = DOVECOT_CLIENT_TIMEOUT;
	dc->retry = evtimer_new(base, dovecot_retry_cb, dc);
	if (dc->retry == NULL)
		fatal("cannot create the dovecot auth timer");
	dovecot_connect(dc);
	return dc;
}

void
dovecot_client_free(struct dovecot_client *dc)
{
	struct dovecot_req *r;

	if (dc == NULL)
		return;
	while ((r = dc->reqs) != NULL) {
		dc->reqs = r->next;
		dovecot_req_free(r);
	}
	if (dc->bev != NULL)
		bufferevent_free(dc->bev);
	event_free(dc->retry);
	free(dc->path);
	free(dc);
}

static void
dovecot_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dovecot_req *r = arg;
	struct dovecot_client *dc = r->dc;

	(void)fd;
	(void)what;
	/* A server that does not finish its handshake in time is as good
	 * as down. */
	if (dc->state != DOVECOT_READY) {
		dovecot_down(dc, "no handshake in time");
		return;
	}
	(void)dovecot_req_take(dc, r->id);
	log_warn("dovecot auth %s: no answer to request %lu in %ld ms",
	    dc->path, (unsigned long)r->id, (long)dc->timeout.tv_sec * 1000 +
	    (long)dc->timeout.tv_usec / 1000);
	dovecot_send_cancel(dc, r->id);
	dovecot_req_answer(r, DOVECOT_CLIENT_TEMP, NULL);
}

uint32_t
dovecot_client_auth(struct dovecot_client *dc, const char *user,
    const char *pass, const char *lip, const char *rip,
    dovecot_client_cb *cb, void *arg)
{
	struct dovecot_req *r;

	if (dc->state == DOVECOT_DOWN || dc->nreqs >= DOVECOT_CLIENT_MAX_REQS)
		return 0;
	r = xcalloc(1, sizeof(*r));
	buf_init(&r->line, DOVECOT_REQ_LINE_MAX);
	if (++dc->next_id == 0)
		dc->next_id = 1;
	r->id = dc->next_id;
	if (dovecot_proto_auth_plain(&r->line, r->id, "smtp", lip, rip, user,
	    pass) == -1) {
		dovecot_req_free(r);
		return 0;
	}
	r->dc = dc;
	r->cb = cb;
	r->arg = arg;
	r->timer = evtimer_new(dc->base, dovecot_timeout_cb, r);
	if (r->timer == NULL)
		fatal("cannot create a dovecot auth timer");
	evtimer_add(r->timer, &dc->timeout);
	r->next = dc->reqs;
	dc->reqs = r;
	dc->nreqs++;
	if (dc->state == DOVECOT_READY)
		dovecot_req_send(dc, r);
	return r->id;
}

void
dovecot_client_cancel(struct dovecot_client *dc, uint32_t id)
{
	struct dovecot_req *r = dovecot_req_take(dc, id);

	if (r == NULL)
		return;
	/* Sent already: tell the server to stop working on it. */
	if (dc->state == DOVECOT_READY && r->line.len == 0) {
		dovecot_send_cancel(dc, id);
	}
	dovecot_req_free(r);
}

void
dovecot_client_set_timeout(struct dovecot_client *dc, unsigned ms)
{
	dc->timeout.tv_sec = ms / 1000;
	dc->timeout.tv_usec = (suseconds_t)(ms % 1000) * 1000;
}
