/* SPDX-License-Identifier: ISC */
/*
 * The envelope of a queued message: sender, recipients with their delivery
 * state, DSN parameters, and the trace headers to prepend on delivery. It is
 * serialised as a small line-oriented text file (spool/queue/ID.env); the
 * parser treats that file as untrusted and bounds everything.
 */
#ifndef SEALMAIL_QUEUE_ENVELOPE_H
#define SEALMAIL_QUEUE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/ids.h"

enum envelope_rcpt_state {
	ENVELOPE_RCPT_PENDING,		/* not yet delivered; retried at next_attempt */
	ENVELOPE_RCPT_DELIVERED,
	ENVELOPE_RCPT_FAILED,		/* permanent failure (bounce due/sent) */
};

enum envelope_body {
	ENVELOPE_BODY_UNSPEC,
	ENVELOPE_BODY_7BIT,
	ENVELOPE_BODY_8BITMIME,
	ENVELOPE_BODY_BINARYMIME,
};

enum envelope_ret {
	ENVELOPE_RET_UNSPEC,
	ENVELOPE_RET_FULL,
	ENVELOPE_RET_HDRS,
};

/* RFC 3461 §4.1 NOTIFY bits; 0 means not given. */
#define ENVELOPE_NOTIFY_NEVER	0x1
#define ENVELOPE_NOTIFY_SUCCESS	0x2
#define ENVELOPE_NOTIFY_FAILURE	0x4
#define ENVELOPE_NOTIFY_DELAY	0x8

struct envelope_rcpt {
	char			*address;	/* where to deliver (after alias expansion) */
	char			*orig;		/* as given in RCPT TO */
	char			*orcpt;		/* RFC 3461 ORCPT, "type;xtext", or NULL */
	unsigned		 notify;
	enum envelope_rcpt_state state;
	unsigned		 attempts;
	time_t			 next_attempt;	/* 0: now */
	char			*last_reply;	/* last result text, or NULL */
};

struct envelope {
	char			 id[IDS_QID_LEN + 1];
	time_t			 created;
	char			*mail_from;	/* "" for the null reverse-path */
	size_t			 size;		/* message file size in bytes */
	enum envelope_body	 body;
	bool			 smtputf8;
	enum envelope_ret	 ret;
	char			*envid;		/* RFC 3461 ENVID (xtext) or NULL */
	char			*auth_user;	/* authenticated user or NULL */
	char			*helo;		/* client's HELO/EHLO name or NULL */
	char			*client_addr;	/* client IP text, ENVELOPE_LOCAL_CLIENT
						 * "NAME uid N" (the submit
						 * socket), or NULL (the CLI
						 * wrote the spool) */
	char			*prepend;	/* header lines (CRLF) written before
						 * the message on delivery; or NULL */
	char			*arc;		/* ARC set (header lines, CRLF)
						 * sealed for forwarding: put
						 * only on the copies sent on
						 * for an alias; or NULL */
	bool			 quarantine;	/* deliver locally into Junk */
	bool			 requiretls;	/* MAIL ... REQUIRETLS (RFC 8689):
						 * relay only over authenticated
						 * TLS, DSNs withhold the body */
	char			*dmarc_reject;	/* the Author Domain whose DMARC
						 * p=reject the message failed
						 * (accepted as dmarc_enforce =
						 * no): never forwarded; or NULL */
	struct envelope_rcpt	*rcpts;
	size_t			 nrcpts;
	bool			 state_saved;	/* queue/ID.env exists (set by
						 * the spool, not serialised) */
};

/* client_addr's prefix for a message a local user handed to the submit
 * socket (`sealmail sendmail`). */
#define ENVELOPE_LOCAL_CLIENT	"local user "

/* Whether a local user wrote env (the submit socket or the CLI), not a
 * network client. */
bool envelope_from_local_user(const struct envelope *env);

/* Embedded lifecycle; envelope_clear frees every string and the array. */
void envelope_init(struct envelope *env);
void envelope_clear(struct envelope *env);

/* Append a recipient (strings copied; orcpt may be NULL). */
void envelope_add_rcpt(struct envelope *env, const char *address,
    const char *orig, const char *orcpt, unsigned notify);

/* Serialise into out; -1 only if out's bound is exceeded. */
int envelope_to_text(const struct envelope *env, struct buf *out);

/*
 * Parse the text form (len bytes, untrusted). On success fills *env (which
 * the caller has envelope_init'ed) and returns 0; on malformed input returns
 * -1 with a one-line reason in err, and *env must still be cleared.
 */
int envelope_from_text(const char *text, size_t len, struct envelope *env,
    char *err, size_t errlen);

#endif
