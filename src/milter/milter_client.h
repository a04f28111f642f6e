/* SPDX-License-Identifier: ISC */
/*
 * One milter conversation for one SMTP session, asynchronous on a libevent
 * loop (never blocking): connect and negotiate, then one step at a time
 * as the session reaches it (connect, helo, mail, each rcpt, data, each
 * header, eoh, each body chunk, end of message, unknown commands), with
 * a timeout on each wait, and ABORT/QUIT so the milter's state follows
 * the session's. The caller encodes a step's packets (milter_proto.h)
 * into milter_client_out() and sends them; the answer comes back through
 * the callback. Everything the milter sends is decoded by milter_proto.c
 * and bounded; its modification actions are kept as packets for the
 * caller to apply.
 */
#ifndef SEALMAIL_MILTER_MILTER_CLIENT_H
#define SEALMAIL_MILTER_MILTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"
#include "milter/milter_proto.h"

struct event_base;
struct conf_milter;
struct milter_client;

/* The steps of a session, in order (UNKNOWN: any time). */
enum milter_stage {
	MILTER_STAGE_NEG,	/* connect and negotiate (milter_client_new) */
	MILTER_STAGE_CONNECT,
	MILTER_STAGE_HELO,
	MILTER_STAGE_MAIL,
	MILTER_STAGE_RCPT,
	MILTER_STAGE_DATA,
	MILTER_STAGE_HEADER,
	MILTER_STAGE_EOH,
	MILTER_STAGE_BODY,
	MILTER_STAGE_EOM,
	MILTER_STAGE_UNKNOWN,
};

enum milter_verdict {
	MILTER_V_CONTINUE,	/* go on (at EOM: with mods to apply) */
	MILTER_V_ACCEPT,	/* go on without asking it again about this
				 * message (or session, before MAIL) */
	MILTER_V_REJECT,	/* reply (custom, or ours) */
	MILTER_V_TEMPFAIL,	/* reply (custom, or ours) */
	MILTER_V_DISCARD,
	MILTER_V_ERROR,		/* cannot connect, timeout, bad packet: the
				 * conversation is over; [milter] on_error
				 * decides */
};

/* The answer to the last step sent. */
struct milter_result {
	enum milter_verdict	 verdict;
	char			 reply[MILTER_REPLY_MAX];	/* "" or a
						 * sanitised custom reply
						 * (CRLF between lines) */
	const char		*error;		/* MILTER_V_ERROR: why, for
						 * the log (static text) */
	bool			 quarantine;	/* EOM */
	struct buf		 mods;		/* EOM: modification packets */
	size_t			 nmods;
};

typedef void milter_client_done(struct milter_client *mc, void *arg);

/* Connect to milter m and negotiate; done(mc, arg) is called from the
 * loop (never from inside a call here) once negotiated (CONTINUE) or
 * failed (ERROR), and then after each step sent. The caller frees mc. */
struct milter_client *milter_client_new(struct event_base *base,
    const struct conf_milter *m, milter_client_done *done, void *arg);
/* The agreed actions and protocol flags (after NEG). */
const struct milter_neg *milter_client_neg(const struct milter_client *mc);
/* Whether step st is not to be sent: the milter negotiated it away,
 * accepted the message (or session) or skipped the rest of the body,
 * or the conversation is over. */
bool milter_client_skips(const struct milter_client *mc,
    enum milter_stage st);
/* Whether the conversation ended (an error, or a session-wide verdict). */
bool milter_client_over(const struct milter_client *mc);
/* Where the caller encodes the packets of the next step. */
struct buf *milter_client_out(struct milter_client *mc);
/* Send them as step st: done is called when the milter answered, or once
 * they are written if it negotiated not to answer st. */
void milter_client_send(struct milter_client *mc, enum milter_stage st);
/* The message is over for us (RSET, a refusal, a new transaction): ABORT
 * unless the milter already finished it; a pending answer is dropped
 * (done is not called for it). */
void milter_client_abort(struct milter_client *mc);
const struct milter_result *milter_client_result(
    const struct milter_client *mc);
/* QUIT (when it can go without waiting), close and free; no callback
 * after this. NULL is a no-op. */
void milter_client_free(struct milter_client *mc);

#endif
