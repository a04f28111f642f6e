/* SPDX-License-Identifier: ISC */
/*
 * The milter conversation as a state machine on a bufferevent: each step
 * the caller sends is written, then either answered (with a timer:
 * connect_timeout, command_timeout, or content_timeout for the body and
 * end of message) or, when the milter negotiated not to answer it,
 * "answered" once the output drained (so a large body never piles up in
 * memory). The milter is untrusted: packets are framed and bounded
 * before they are buffered whole, replies are checked against the step
 * and the negotiated actions, and any surprise ends the conversation as
 * MILTER_V_ERROR.
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

struct milter_client {
	const struct conf_milter *m;
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*timer;
	struct event		*done_ev;	/* calls done from the loop */
	milter_client_done	*done;
	void			*arg;
	enum milter_stage	 st;		/* the step in flight */
	bool			 connected, negotiated;
	bool			 over;		/* an error ended it */
	bool			 waiting;	/* for an answer */
	bool			 draining;	/* for the output to drain */
	unsigned		 swallow;	/* answers of aborted steps
						 * still to come (dropped) */
	bool			 in_msg;	/* MAIL sent, message not over */
	bool			 skip_session, skip_msg, skip_body;
	struct milter_neg	 neg;
	struct buf		 out;		/* packets of one step */
	struct milter_result	 res;
};

/* Modification packets kept at most: the message may grow to the body
 * limit plus its header section. */
#define MILTER_MODS_MAX	(LIMIT_MILTER_PACKET * 2 + (size_t)64 * 1024 * 1024)

static void
milter_client_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_client *mc = arg;

	(void)fd;
	(void)what;
	mc->done(mc, mc->arg);
}

/* The step in flight is answered: tell the caller on the loop. */
static void
milter_client_answered(struct milter_client *mc, enum milter_verdict v)
{
	mc->waiting = mc->draining = false;
	evtimer_del(mc->timer);
	mc->res.verdict = v;
	switch (v) {
	case MILTER_V_ACCEPT:
		/* Before MAIL it is about the whole session. */
		if (mc->st <= MILTER_STAGE_HELO)
			mc->skip_session = true;
		else if (mc->st != MILTER_STAGE_UNKNOWN)
			mc->skip_msg = true;
		break;
	case MILTER_V_REJECT: case MILTER_V_TEMPFAIL:
		if (mc->st == MILTER_STAGE_CONNECT)
			mc->skip_session = true;
		else if (mc->st == MILTER_STAGE_MAIL)
			mc->in_msg = false;	/* that transaction failed */
		break;
	case MILTER_V_DISCARD:
		if (mc->st <= MILTER_STAGE_HELO)
			mc->skip_session = true;
		else
			mc->skip_msg = true;
		break;
	default:
		break;
	}
	if (mc->st == MILTER_STAGE_EOM)
		mc->in_msg = false;
	event_active(mc->done_ev, EV_TIMEOUT, 0);
}

/* The conversation is over: close, and tell the caller on the loop. */
static void
milter_client_fail(struct milter_client *mc, const char *why)
{
	if (mc->over)
		return;
	mc->over = true;
	mc->in_msg = false;
	mc->res.error = why;
	if (mc->bev != NULL) {
		bufferevent_free(mc->bev);
		mc->bev = NULL;
	}
	milter_client_answered(mc, MILTER_V_ERROR);
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
	milter_client_fail(mc, !mc->connected ? "connect timeout" :
	    "timeout waiting for the milter");
}

/* Whether the milter answers step st (SMFIP_NR_*). */
static bool
milter_client_replies(const struct milter_client *mc, enum milter_stage st)
{
	static const uint32_t nr[] = {
		[MILTER_STAGE_CONNECT] = MILTER_P_NR_CONN,
		[MILTER_STAGE_HELO] = MILTER_P_NR_HELO,
		[MILTER_STAGE_MAIL] = MILTER_P_NR_MAIL,
		[MILTER_STAGE_RCPT] = MILTER_P_NR_RCPT,
		[MILTER_STAGE_DATA] = MILTER_P_NR_DATA,
		[MILTER_STAGE_HEADER] = MILTER_P_NR_HDR,
		[MILTER_STAGE_EOH] = MILTER_P_NR_EOH,
		[MILTER_STAGE_BODY] = MILTER_P_NR_BODY,
		[MILTER_STAGE_EOM] = 0,
		[MILTER_STAGE_UNKNOWN] = MILTER_P_NR_UNKN,
	};

	return st == MILTER_STAGE_NEG || !(mc->neg.protocol & nr[st]);
}

bool
milter_client_skips(const struct milter_client *mc, enum milter_stage st)
{
	static const uint32_t no[] = {
		[MILTER_STAGE_CONNECT] = MILTER_P_NOCONNECT,
		[MILTER_STAGE_HELO] = MILTER_P_NOHELO,
		[MILTER_STAGE_MAIL] = MILTER_P_NOMAIL,
		[MILTER_STAGE_RCPT] = MILTER_P_NORCPT,
		[MILTER_STAGE_DATA] = MILTER_P_NODATA,
		[MILTER_STAGE_HEADER] = MILTER_P_NOHDRS,
		[MILTER_STAGE_EOH] = MILTER_P_NOEOH,
		[MILTER_STAGE_BODY] = MILTER_P_NOBODY,
		[MILTER_STAGE_EOM] = 0,
		[MILTER_STAGE_UNKNOWN] = MILTER_P_NOUNKNOWN,
	};

	if (mc->over || !mc->negotiated || mc->skip_session ||
	    st == MILTER_STAGE_NEG || (mc->neg.protocol & no[st]))
		return true;
	/* DATA and UNKNOWN came with version 4 of the protocol. */
	if ((st == MILTER_STAGE_DATA || st == MILTER_STAGE_UNKNOWN) &&
	    mc->neg.version < 4)
		return true;
	if (st >= MILTER_STAGE_RCPT && st <= MILTER_STAGE_EOM && mc->skip_msg)
		return true;
	return st == MILTER_STAGE_BODY && mc->skip_body;
}

bool
milter_client_over(const struct milter_client *mc)
{
	return mc->over || mc->skip_session;
}

const struct milter_neg *
milter_client_neg(const struct milter_client *mc)
{
	return &mc->neg;
}

struct buf *
milter_client_out(struct milter_client *mc)
{
	return &mc->out;
}

void
milter_client_send(struct milter_client *mc, enum milter_stage st)
{
	mc->st = st;
	mc->res.verdict = MILTER_V_CONTINUE;
	mc->res.reply[0] = '\0';
	mc->res.error = NULL;
	/* In a message from its first step on (MAIL may be negotiated
	 * away): an ABORT then follows it if it does not end. */
	if (st >= MILTER_STAGE_MAIL && st <= MILTER_STAGE_EOM)
		mc->in_msg = true;
	if (st == MILTER_STAGE_MAIL)
		mc->skip_msg = mc->skip_body = false;
	if (st == MILTER_STAGE_EOM) {
		mc->res.quarantine = false;
		buf_reset(&mc->res.mods);
		mc->res.nmods = 0;
	}
	if (mc->over) {		/* the caller should have asked skips() */
		buf_reset(&mc->out);
		event_active(mc->done_ev, EV_TIMEOUT, 0);
		return;
	}
	if (bufferevent_write(mc->bev, mc->out.data, mc->out.len) == -1) {
		buf_reset(&mc->out);
		milter_client_fail(mc, "write failed");
		return;
	}
	buf_reset(&mc->out);
	if (milter_client_replies(mc, st)) {
		mc->waiting = true;
		milter_client_arm(mc, st >= MILTER_STAGE_BODY &&
		    st <= MILTER_STAGE_EOM ? mc->m->content_timeout :
		    mc->m->command_timeout);
	} else {
		/* Wait for the output to drain, so that a large body never
		 * piles up in memory. */
		mc->draining = true;
		milter_client_arm(mc, mc->m->command_timeout);
	}
}

void
milter_client_abort(struct milter_client *mc)
{
	if (mc->over || !mc->negotiated)
		return;
	if (mc->waiting)
		mc->swallow++;
	mc->waiting = mc->draining = false;
	evtimer_del(mc->timer);
	event_del(mc->done_ev);
	if (mc->in_msg && (milter_enc_simple(&mc->out, MILTER_CMD_ABORT) ==
	    -1 || bufferevent_write(mc->bev, mc->out.data, mc->out.len) == -1))
		milter_client_fail(mc, "write failed");
	buf_reset(&mc->out);
	mc->in_msg = mc->skip_msg = mc->skip_body = false;
	if (mc->swallow > 0 && !mc->over)	/* a bound on the wait */
		milter_client_arm(mc, mc->m->content_timeout);
}

/* Keep a modification action the milter negotiated. */
static int
milter_client_mod(struct milter_client *mc, uint8_t cmd,
    const uint8_t *data, size_t len)
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
	milter_client_answered(mc, mc->res.reply[0] == '4' ?
	    MILTER_V_TEMPFAIL : MILTER_V_REJECT);
}

/* True for a packet that ends the answer to a step. */
static bool
milter_client_final(uint8_t cmd)
{
	return memchr("cartdys", cmd, 7) != NULL && cmd != 0;
}

/* An answer to the step in flight. */
static void
milter_client_answer(struct milter_client *mc, uint8_t cmd,
    const uint8_t *data, size_t len)
{
	struct milter_reply r;

	if (milter_reply_parse(cmd, data, len, &r) != MILTER_PARSE_OK) {
		milter_client_fail(mc, "malformed packet");
		return;
	}
	if (mc->st == MILTER_STAGE_NEG) {
		if (r.kind != MILTER_R_OPTNEG || milter_negotiate(&r,
		    MILTER_OFFER_ACTIONS, MILTER_OFFER_PROTOCOL, &mc->neg) == -1) {
			milter_client_fail(mc, "option negotiation failed");
			return;
		}
		mc->negotiated = true;
		milter_client_answered(mc, MILTER_V_CONTINUE);
		return;
	}
	switch (r.kind) {
	case MILTER_R_PROGRESS:	/* still working: a new timeout */
		milter_client_arm(mc, mc->m->content_timeout);
		return;
	case MILTER_R_CONTINUE:
		milter_client_answered(mc, MILTER_V_CONTINUE);
		return;
	case MILTER_R_SKIP:
		if (mc->st != MILTER_STAGE_BODY) {
			milter_client_fail(mc, "skip outside the body");
			return;
		}
		mc->skip_body = true;
		milter_client_answered(mc, MILTER_V_CONTINUE);
		return;
	case MILTER_R_ACCEPT:
		milter_client_answered(mc, MILTER_V_ACCEPT);
		return;
	case MILTER_R_REJECT:
		milter_client_answered(mc, MILTER_V_REJECT);
		return;
	case MILTER_R_TEMPFAIL:
		milter_client_answered(mc, MILTER_V_TEMPFAIL);
		return;
	case MILTER_R_DISCARD:
		milter_client_answered(mc, MILTER_V_DISCARD);
		return;
	case MILTER_R_REPLYCODE:
		milter_client_replycode(mc, &r);
		return;
	default:
		break;
	}
	if (mc->st != MILTER_STAGE_EOM ||
	    milter_client_mod(mc, cmd, data, len) == -1)
		milter_client_fail(mc, "unexpected packet");
}

static void
milter_client_read(struct bufferevent *bev, void *arg)
{
	struct milter_client *mc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!mc->over) {
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
		if (mc->swallow > 0) {
			/* The answer to a step we aborted: dropped. */
			if (milter_client_final(cmd) && --mc->swallow == 0 &&
			    !mc->waiting && !mc->draining)
				evtimer_del(mc->timer);
			evbuffer_drain(in, used);
			continue;
		}
		if (!mc->waiting) {
			milter_client_fail(mc, "packet nobody asked for");
			return;
		}
		milter_client_answer(mc, cmd, data, dlen);
		if (mc->over)
			return;	/* bev is gone */
		evbuffer_drain(in, used);
	}
}

static void
milter_client_write(struct bufferevent *bev, void *arg)
{
	struct milter_client *mc = arg;

	(void)bev;
	if (mc->draining)
		milter_client_answered(mc, MILTER_V_CONTINUE);
}

static void
milter_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct milter_client *mc = arg;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) && !mc->connected) {
		mc->connected = true;
		evtimer_del(mc->timer);
		if (milter_enc_optneg(&mc->out, MILTER_VERSION,
		    MILTER_OFFER_ACTIONS, MILTER_OFFER_PROTOCOL) == -1) {
			milter_client_fail(mc, "cannot encode");
			return;
		}
		milter_client_send(mc, MILTER_STAGE_NEG);
		return;
	}
	milter_client_fail(mc, !mc->connected ? "cannot connect" :
	    (what & BEV_EVENT_EOF) ? "connection closed by the milter" :
	    "connection error");
}

struct milter_client *
milter_client_new(struct event_base *base, const struct conf_milter *m,
    milter_client_done *done, void *arg)
{
	struct milter_client *mc = xcalloc(1, sizeof(*mc));
	struct sockaddr_un sun;
	const struct sockaddr *sa;
	socklen_t salen;

	mc->m = m;
	mc->base = base;
	mc->done = done;
	mc->arg = arg;
	mc->st = MILTER_STAGE_NEG;
	buf_init(&mc->out, LIMIT_MILTER_PACKET + 8);
	buf_init(&mc->res.mods, MILTER_MODS_MAX);
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
	static const uint8_t quit[5] = { 0, 0, 0, 1, MILTER_CMD_QUIT };

	if (mc == NULL)
		return;
	if (mc->bev != NULL) {
		/* QUIT, if it can go at once (nothing queued before it);
		 * the milter sees the close anyway. */
		if (mc->negotiated && evbuffer_get_length(
		    bufferevent_get_output(mc->bev)) == 0)
			(void)send(bufferevent_getfd(mc->bev), quit,
			    sizeof(quit), MSG_DONTWAIT | MSG_NOSIGNAL);
		bufferevent_free(mc->bev);
	}
	if (mc->timer != NULL)
		event_free(mc->timer);
	if (mc->done_ev != NULL)
		event_free(mc->done_ev);
	buf_clear(&mc->out);
	buf_clear(&mc->res.mods);
	free(mc);
}
