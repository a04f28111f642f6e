/* SPDX-License-Identifier: ISC */
/*
 * The milter conversation as a state machine on a bufferevent: each step
 * writes its packets, then either waits for the milter's answer (with a
 * timer: connect_timeout, command_timeout, or content_timeout for the body
 * and end of message) or, when the milter negotiated not to answer it,
 * waits for the output to drain before the next step (so a large body
 * never piles up in memory). The milter is untrusted: packets are framed
 * and bounded before they are buffered whole, replies are checked against
 * the step and the negotiated actions, and any surprise ends the
 * conversation as MILTER_V_ERROR.
 */
#include "milter/milter_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "milter/milter_proto.h"
#include "msg/rfc5322_headers.h"

enum milter_step {
	MILTER_ST_CONNECTING,
	MILTER_ST_OPTNEG,
	MILTER_ST_CONNECT,
	MILTER_ST_HELO,
	MILTER_ST_MAIL,
	MILTER_ST_RCPT,
	MILTER_ST_HEADER,
	MILTER_ST_EOH,
	MILTER_ST_BODY,
	MILTER_ST_EOM,
	MILTER_ST_DONE,
};

struct milter_client {
	const struct conf_milter *m;
	const struct milter_msg	*msg;
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*timer;
	struct event		*done_ev;	/* calls done from the loop */
	milter_client_done	*done;
	void			*arg;
	enum milter_step	 st;
	bool			 waiting;	/* for an answer */
	bool			 draining;	/* for the output to drain */
	struct milter_neg	 neg;
	size_t			 idx;		/* recipient of ST_RCPT */
	struct rfc5322_headers	 hdrs;		/* ST_HEADER's walk */
	uint64_t		 body_sent;
	struct buf		 out;		/* packets of one step */
	struct milter_result	 res;
};

/* Modification packets kept at most: the message may grow to the body
 * limit plus its header section. */
#define MILTER_MODS_MAX	(LIMIT_MILTER_PACKET * 2 + (size_t)64 * 1024 * 1024)

static void milter_client_step(struct milter_client *mc);

static void
milter_client_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_client *mc = arg;

	(void)fd;
	(void)what;
	mc->done(mc, mc->arg);
}

/* The conversation is over: close, and tell the caller on the loop. */
static void
milter_client_finish(struct milter_client *mc, enum milter_verdict v,
    const char *error)
{
	if (mc->st == MILTER_ST_DONE)
		return;
	mc->st = MILTER_ST_DONE;
	mc->res.verdict = v;
	mc->res.error = error;
	evtimer_del(mc->timer);
	if (mc->bev != NULL) {
		bufferevent_free(mc->bev);
		mc->bev = NULL;
	}
	event_active(mc->done_ev, EV_TIMEOUT, 0);
}

static void
milter_client_fail(struct milter_client *mc, const char *why)
{
	milter_client_finish(mc, MILTER_V_ERROR, why);
}

static void
milter_client_arm(struct milter_client *mc, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	evtimer_add(mc->timer, &tv);
}

static void
milter_client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct milter_client *mc = arg;

	(void)fd;
	(void)what;
	milter_client_fail(mc, mc->st == MILTER_ST_CONNECTING ?
	    "connect timeout" : "timeout waiting for the milter");
}

/* Send what the step wrote into mc->out; then wait for the answer if
 * reply, else for the output to drain. */
static void
milter_client_send(struct milter_client *mc, bool reply)
{
	if (bufferevent_write(mc->bev, mc->out.data, mc->out.len) == -1) {
		milter_client_fail(mc, "write failed");
		return;
	}
	buf_reset(&mc->out);
	if (reply) {
		mc->waiting = true;
		milter_client_arm(mc, mc->st >= MILTER_ST_BODY ?
		    mc->m->content_timeout : mc->m->command_timeout);
	} else {
		mc->draining = true;
		milter_client_arm(mc, mc->m->command_timeout);
	}
}

/* The macros of stage cmd (those with a value). */
static int
milter_client_macros(struct milter_client *mc, char cmd,
    const enum milter_macro *which, size_t n)
{
	static const char *const names[MILTER_M_COUNT] = {
		[MILTER_M_J] = "j", [MILTER_M_UNDERSCORE] = "_",
		[MILTER_M_DAEMON_NAME] = "{daemon_name}",
		[MILTER_M_IF_ADDR] = "{if_addr}",
		[MILTER_M_TLS_VERSION] = "{tls_version}",
		[MILTER_M_CIPHER] = "{cipher}",
		[MILTER_M_AUTH_AUTHEN] = "{auth_authen}",
		[MILTER_M_QUEUE_ID] = "i",
	};
	const char *nv[MILTER_M_COUNT], *vv[MILTER_M_COUNT];
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (mc->msg->macros[which[i]] != NULL) {
			nv[k] = names[which[i]];
			vv[k++] = mc->msg->macros[which[i]];
		}
	if (k == 0)
		return 0;
	return milter_enc_macro(&mc->out, cmd, nv, vv, k);
}

/* One header field: name and value, the value without its leading blank
 * and with folds as LF (as Postfix sends them). */
static int
milter_client_header(struct milter_client *mc, const struct rfc5322_field *f)
{
	struct buf v;
	size_t i = 0;
	int rc;

	buf_init(&v, f->value_len + 1);
	if (i < f->value_len && (f->value[i] == ' ' || f->value[i] == '\t'))
		i++;
	for (; i < f->value_len; i++) {
		if (f->value[i] == '\r' && i + 1 < f->value_len &&
		    f->value[i + 1] == '\n')
			continue;
		if (f->value[i] == '\0')
			continue;	/* the protocol's separator */
		buf_append(&v, &f->value[i], 1);
	}
	rc = milter_enc_header(&mc->out, f->name, f->name_len,
	    (const char *)v.data, v.len);
	buf_clear(&v);
	return rc;
}

/* The next body chunk into mc->out; 0 with nothing written at the end. */
static int
milter_client_body(struct milter_client *mc)
{
	const struct milter_msg *msg = mc->msg;
	static uint8_t chunk[MILTER_CHUNK];
	uint64_t left;
	size_t n;

	if (msg->body_buf != NULL) {
		left = msg->body_buf->len - mc->body_sent;
		n = left < MILTER_CHUNK ? (size_t)left : MILTER_CHUNK;
		if (n == 0)
			return 0;
		mc->body_sent += n;
		return milter_enc_body(&mc->out, msg->body_buf->data +
		    mc->body_sent - n, n);
	}
	left = msg->body_len - mc->body_sent;
	n = left < MILTER_CHUNK ? (size_t)left : MILTER_CHUNK;
	if (n == 0)
		return 0;
	/* A bounded read of our own spool file, as the spool's writes are. */
	ssize_t r = pread(msg->body_fd, chunk, n,
	    (off_t)(msg->body_off + mc->body_sent));
	if (r <= 0)
		return -1;
	mc->body_sent += (size_t)r;
	return milter_enc_body(&mc->out, chunk, (size_t)r);
}

/* Write the packets of the current step; *reply says whether the milter
 * answers it; false when the step has nothing to send (skipped). */
static bool
milter_client_build(struct milter_client *mc, bool *reply, int *rc)
{
	static const enum milter_macro conn_m[] = { MILTER_M_J,
	    MILTER_M_UNDERSCORE, MILTER_M_DAEMON_NAME, MILTER_M_IF_ADDR };
	static const enum milter_macro helo_m[] = { MILTER_M_TLS_VERSION,
	    MILTER_M_CIPHER };
	static const enum milter_macro mail_m[] = { MILTER_M_AUTH_AUTHEN,
	    MILTER_M_QUEUE_ID };
	static const enum milter_macro eom_m[] = { MILTER_M_QUEUE_ID };
	const struct milter_msg *msg = mc->msg;
	uint32_t p = mc->neg.protocol;
	struct rfc5322_field f;

	*rc = 0;
	switch (mc->st) {
	case MILTER_ST_CONNECT:
		if (p & MILTER_P_NOCONNECT)
			return false;
		*rc = milter_client_macros(mc, MILTER_CMD_CONNECT, conn_m, 4) |
		    milter_enc_connect(&mc->out, msg->client_host, msg->family,
		    msg->client_port, msg->client_addr);
		*reply = !(p & MILTER_P_NR_CONN);
		return true;
	case MILTER_ST_HELO:
		if ((p & MILTER_P_NOHELO) || msg->helo == NULL)
			return false;
		*rc = milter_client_macros(mc, MILTER_CMD_HELO, helo_m, 2) |
		    milter_enc_helo(&mc->out, msg->helo);
		*reply = !(p & MILTER_P_NR_HELO);
		return true;
	case MILTER_ST_MAIL:
		if (p & MILTER_P_NOMAIL)
			return false;
		*rc = milter_client_macros(mc, MILTER_CMD_MAIL, mail_m, 2) |
		    milter_enc_args(&mc->out, MILTER_CMD_MAIL, &msg->mail_from,
		    1);
		*reply = !(p & MILTER_P_NR_MAIL);
		return true;
	case MILTER_ST_RCPT:
		if ((p & MILTER_P_NORCPT) || mc->idx >= msg->nrcpts)
			return false;
		*rc = milter_enc_args(&mc->out, MILTER_CMD_RCPT,
		    &msg->rcpts[mc->idx++], 1);
		*reply = !(p & MILTER_P_NR_RCPT);
		return true;
	case MILTER_ST_HEADER:
		if ((p & MILTER_P_NOHDRS) ||
		    rfc5322_headers_next(&mc->hdrs, &f) != RFC5322_HEADERS_FIELD)
			return false;
		*rc = milter_client_header(mc, &f);
		*reply = !(p & MILTER_P_NR_HDR);
		return true;
	case MILTER_ST_EOH:
		if (p & MILTER_P_NOEOH)
			return false;
		*rc = milter_enc_simple(&mc->out, MILTER_CMD_EOH);
		*reply = !(p & MILTER_P_NR_EOH);
		return true;
	case MILTER_ST_BODY:
		if (p & MILTER_P_NOBODY)
			return false;
		*rc = milter_client_body(mc);
		if (*rc == 0 && mc->out.len == 0)
			return false;
		*reply = !(p & MILTER_P_NR_BODY);
		return true;
	case MILTER_ST_EOM:
		*rc = milter_client_macros(mc, MILTER_CMD_BODYEOB, eom_m, 1) |
		    milter_enc_simple(&mc->out, MILTER_CMD_BODYEOB);
		*reply = true;
		return true;
	default:
		return false;
	}
}

/* Steps that repeat (recipients, headers, body chunks) stay until they
 * have nothing more to send. */
static bool
milter_client_repeats(enum milter_step st)
{
	return st == MILTER_ST_RCPT || st == MILTER_ST_HEADER ||
	    st == MILTER_ST_BODY;
}

static void
milter_client_step(struct milter_client *mc)
{
	bool reply;
	int rc;

	while (mc->st != MILTER_ST_DONE) {
		if (milter_client_build(mc, &reply, &rc)) {
			if (rc != 0) {
				milter_client_fail(mc, "cannot encode");
				return;
			}
			milter_client_send(mc, reply);
			if (!milter_client_repeats(mc->st) &&
			    mc->st != MILTER_ST_EOM)
				mc->st++;
			return;
		}
		if (rc != 0) {
			milter_client_fail(mc, "cannot read the message");
			return;
		}
		mc->st++;
	}
}

/* Keep a modification action the milter negotiated. */
static int
milter_client_mod(struct milter_client *mc, uint8_t cmd,
    const struct milter_reply *r, const uint8_t *data, size_t len)
{
	static const struct { uint8_t cmd; uint32_t act; } need[] = {
		{ MILTER_R_ADDHEADER, MILTER_ACT_ADDHDRS },
		{ MILTER_R_INSHEADER, MILTER_ACT_ADDHDRS },
		{ MILTER_R_CHGHEADER, MILTER_ACT_CHGHDRS },
		{ MILTER_R_REPLBODY, MILTER_ACT_CHGBODY },
		{ MILTER_R_ADDRCPT, MILTER_ACT_ADDRCPT },
		{ MILTER_R_ADDRCPT_PAR, MILTER_ACT_ADDRCPT_PAR },
		{ MILTER_R_DELRCPT, MILTER_ACT_DELRCPT },
		{ MILTER_R_CHGFROM, MILTER_ACT_CHGFROM },
		{ MILTER_R_QUARANTINE, MILTER_ACT_QUARANTINE },
	};
	uint8_t h[5] = { (uint8_t)((len + 1) >> 24), (uint8_t)((len + 1) >> 16),
	    (uint8_t)((len + 1) >> 8), (uint8_t)(len + 1), cmd };
	size_t i = 0;

	(void)r;
	while (i < sizeof(need) / sizeof(need[0]) && need[i].cmd != cmd)
		i++;
	if (i == sizeof(need) / sizeof(need[0]) ||
	    !(mc->neg.actions & need[i].act))
		return -1;	/* an action it did not ask for */
	if (cmd == MILTER_R_QUARANTINE) {
		mc->res.quarantine = true;
		return 0;
	}
	if (++mc->res.nmods > LIMIT_MILTER_ACTIONS ||
	    buf_append(&mc->res.mods, h, sizeof(h)) == -1 ||
	    buf_append(&mc->res.mods, data, len) == -1)
		return -1;
	return 0;
}

/* REPLYCODE: a 4xx is a tempfail, a 5xx a reject, anything else bad. */
static void
milter_client_replycode(struct milter_client *mc, const struct milter_reply *r)
{
	if (milter_reply_sanitize(r->name, r->name_len, mc->res.reply,
	    sizeof(mc->res.reply)) == -1) {
		mc->res.reply[0] = '\0';
		milter_client_fail(mc, "bad reply code");
		return;
	}
	milter_client_finish(mc, mc->res.reply[0] == '4' ? MILTER_V_TEMPFAIL :
	    MILTER_V_REJECT, NULL);
}

/* An answer to the step just sent (mc->st is the next one, or EOM). */
static void
milter_client_answer(struct milter_client *mc, uint8_t cmd,
    const uint8_t *data, size_t len)
{
	struct milter_reply r;

	if (milter_reply_parse(cmd, data, len, &r) != MILTER_PARSE_OK) {
		milter_client_fail(mc, "malformed packet");
		return;
	}
	if (mc->st == MILTER_ST_OPTNEG) {
		if (r.kind != MILTER_R_OPTNEG || milter_negotiate(&r,
		    MILTER_OFFER_ACTIONS, MILTER_OFFER_PROTOCOL, &mc->neg) == -1) {
			milter_client_fail(mc, "option negotiation failed");
			return;
		}
		mc->waiting = false;
		evtimer_del(mc->timer);
		mc->st = MILTER_ST_CONNECT;
		milter_client_step(mc);
		return;
	}
	switch (r.kind) {
	case MILTER_R_PROGRESS:	/* still working: a new timeout */
		milter_client_arm(mc, mc->m->content_timeout);
		return;
	case MILTER_R_CONTINUE:
		if (mc->st == MILTER_ST_EOM) {
			milter_client_finish(mc, MILTER_V_CONTINUE, NULL);
			return;
		}
		mc->waiting = false;
		evtimer_del(mc->timer);
		milter_client_step(mc);
		return;
	case MILTER_R_SKIP:
		if (mc->st != MILTER_ST_BODY) {
			milter_client_fail(mc, "skip outside the body");
			return;
		}
		mc->waiting = false;
		evtimer_del(mc->timer);
		mc->st = MILTER_ST_EOM;
		milter_client_step(mc);
		return;
	case MILTER_R_ACCEPT:
		/* Before the end: no more of this message for it, and no
		 * modifications either. */
		milter_client_finish(mc, MILTER_V_CONTINUE, NULL);
		return;
	case MILTER_R_REJECT:
		milter_client_finish(mc, MILTER_V_REJECT, NULL);
		return;
	case MILTER_R_TEMPFAIL:
		milter_client_finish(mc, MILTER_V_TEMPFAIL, NULL);
		return;
	case MILTER_R_DISCARD:
		milter_client_finish(mc, MILTER_V_DISCARD, NULL);
		return;
	case MILTER_R_REPLYCODE:
		milter_client_replycode(mc, &r);
		return;
	default:
		break;
	}
	if (mc->st != MILTER_ST_EOM ||
	    milter_client_mod(mc, cmd, &r, data, len) == -1)
		milter_client_fail(mc, "unexpected packet");
}

static void
milter_client_read(struct bufferevent *bev, void *arg)
{
	struct milter_client *mc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (mc->st != MILTER_ST_DONE) {
		size_t avail = evbuffer_get_length(in), used, dlen;
		const uint8_t *p, *data;
		uint8_t cmd;
		enum milter_frame fr;

		if (avail < 4)
			return;
		/* The length word first: a packet is buffered whole only
		 * once its length passed the bound. */
		p = evbuffer_pullup(in, 4);
		fr = milter_frame_next(p, 4, &cmd, &data, &dlen, &used);
		if (fr == MILTER_FRAME_MORE) {
			uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3];
			if (avail - 4 < n)
				return;
			p = evbuffer_pullup(in, (ev_ssize_t)n + 4);
			fr = milter_frame_next(p, n + 4, &cmd, &data, &dlen,
			    &used);
		}
		if (fr != MILTER_FRAME_OK) {
			milter_client_fail(mc, "bad packet length");
			return;
		}
		if (!mc->waiting) {
			milter_client_fail(mc, "packet nobody asked for");
			return;
		}
		milter_client_answer(mc, cmd, data, dlen);
		if (mc->st == MILTER_ST_DONE)
			return;	/* bev is gone */
		evbuffer_drain(in, used);
	}
}

static void
milter_client_write(struct bufferevent *bev, void *arg)
{
	struct milter_client *mc = arg;

	(void)bev;
	if (!mc->draining)
		return;
	mc->draining = false;
	evtimer_del(mc->timer);
	milter_client_step(mc);
}

static void
milter_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct milter_client *mc = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		evtimer_del(mc->timer);
		mc->st = MILTER_ST_OPTNEG;
		if (milter_enc_optneg(&mc->out, MILTER_VERSION,
		    MILTER_OFFER_ACTIONS, MILTER_OFFER_PROTOCOL) == -1) {
			milter_client_fail(mc, "cannot encode");
			return;
		}
		milter_client_send(mc, true);
		return;
	}
	milter_client_fail(mc, mc->st == MILTER_ST_CONNECTING ?
	    "cannot connect" : (what & BEV_EVENT_EOF) ?
	    "connection closed by the milter" : "connection error");
}

struct milter_client *
milter_client_start(struct event_base *base, const struct conf_milter *m,
    const struct milter_msg *msg, milter_client_done *done, void *arg)
{
	struct milter_client *mc = xcalloc(1, sizeof(*mc));
	struct sockaddr_un sun;
	const struct sockaddr *sa;
	socklen_t salen;

	mc->m = m;
	mc->msg = msg;
	mc->base = base;
	mc->done = done;
	mc->arg = arg;
	buf_init(&mc->out, LIMIT_MILTER_PACKET + 8);
	buf_init(&mc->res.mods, MILTER_MODS_MAX);
	rfc5322_headers_init(&mc->hdrs, (const char *)msg->headers,
	    msg->headers_len);
	mc->timer = evtimer_new(base, milter_client_timeout, mc);
	mc->done_ev = event_new(base, -1, 0, milter_client_done_cb, mc);
	if (mc->timer == NULL || mc->done_ev == NULL)
		fatal("milter: cannot make events");
	mc->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (mc->bev == NULL) {
		milter_client_fail(mc, "cannot make a socket");
		return mc;
	}
	bufferevent_setcb(mc->bev, milter_client_read, milter_client_write,
	    milter_client_event, mc);
	bufferevent_enable(mc->bev, EV_READ | EV_WRITE);
	if (m->is_unix) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, m->path, strlen(m->path) + 1);
		sa = (const struct sockaddr *)&sun;
		salen = sizeof(sun);
	} else {
		sa = (const struct sockaddr *)&m->inet.ss;
		salen = m->inet.len;
	}
	milter_client_arm(mc, m->connect_timeout);
	/* A connect refused at once is reported through the event
	 * callback or here; either way the caller hears of it later. */
	if (bufferevent_socket_connect(mc->bev, sa, (int)salen) == -1)
		milter_client_fail(mc, "cannot connect");
	return mc;
}

const struct milter_result *
milter_client_result(const struct milter_client *mc)
{
	return &mc->res;
}

void
milter_client_free(struct milter_client *mc)
{
	if (mc == NULL)
		return;
	if (mc->bev != NULL)
		bufferevent_free(mc->bev);
	if (mc->timer != NULL)
		event_free(mc->timer);
	if (mc->done_ev != NULL)
		event_free(mc->done_ev);
	buf_clear(&mc->out);
	buf_clear(&mc->res.mods);
	free(mc);
}
