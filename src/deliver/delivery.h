/* SPDX-License-Identifier: ISC */
/*
 * The asynchronous interface every delivery method implements (STYLE.md
 * §3: variants behind one table of function pointers): maildir.c (file
 * I/O on the caller's work pool, never on the loop), lmtp.c (RFC 2033 on
 * the smtpc engine) and remote.c (SMTP to MX hosts or the relayhost, on
 * the smtpc engine; connections are shared between jobs), the last two
 * non-blocking on the loop.
 *
 * A method is instantiated once on the caller's event loop (new), then
 * takes jobs: one message and a set of its recipients. start() returns at
 * once; each recipient's outcome is reported through job->rcpt as soon as
 * it is known, then job->end runs once: both on the loop, never from
 * within start(). stop() asks a job to end early (nothing new is begun:
 * no further Maildir copy, LMTP transaction or remote destination; what
 * is under way finishes and is reported); recipients it never reached get
 * no rcpt call, so the caller leaves them pending. cancel() abandons a job
 * at once, without any further callback.
 */
#ifndef SEALMAIL_DELIVER_DELIVERY_H
#define SEALMAIL_DELIVER_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "queue/envelope.h"

struct conf;
struct event_base;
struct workpool;

enum delivery_status {
	DELIVERY_OK,		/* delivered: the recipient is done */
	DELIVERY_TEMPFAIL,	/* 4xx, I/O or connection trouble: retry */
	DELIVERY_PERMFAIL,	/* 5xx, unknown mailbox, bad address */
};

/* How a remote recipient's attempt went, for the caller's log line and
 * metrics. */
struct delivery_attempt {
	char	relay[LIMIT_DOMAIN + 64];	/* "HOST[ADDR]:PORT" or "none" */
	char	tls[96];		/* "TLSv1.3/CIPHER" or "none" */
	bool	verified;		/* the peer certificate verified */
	bool	authenticated;		/* ... and the policy required it */
	const char *policy;		/* static: dane | mta-sts | verify |
					 * encrypt | may | none (the relay
					 * host: verify) */
	bool	overridden;		/* TLS-Required: No relaxed it */
};

/* One recipient's outcome. reply is an SMTP-style "CODE X.Y.Z text" line
 * (no CRLF; as received from a server, so untrusted: escape it before
 * logging). */
struct delivery_result {
	enum delivery_status	status;
	char			reply[LIMIT_REPLY_LINE + 1];
	/* Remote delivery's details of the attempt (borrowed like the
	 * result); NULL from the local methods. */
	const struct delivery_attempt *attempt;
};

/* A recipient's outcome; i indexes job->rcpts. res is borrowed for the
 * duration of the call. */
typedef void delivery_rcpt_cb(size_t i, const struct delivery_result *res,
    void *arg);
/* The job is over (every recipient reported, or the job was stopped);
 * its handle is gone, and env, msg_fd and rcpts may be released. */
typedef void delivery_end_cb(void *arg);

/* What a method needs from its caller, borrowed for the method's life. */
struct delivery_setup {
	struct event_base	*base;		/* the caller's loop */
	const struct conf	*conf;		/* remote: [server] hostname,
						 * max_hops, [delivery],
						 * [dns], [policy]...;
						 * unused by the others */
	struct workpool		*pool;		/* for blocking work */
	const char		*data_dir;	/* Maildir paths */
	const char		*hostname;	/* our name (LMTP LHLO) */
	const char		*target;	/* LMTP: "unix:/path" or
						 * "HOST:PORT"; unused by
						 * maildir */
	unsigned		 timeout;	/* seconds per operation */
};

struct delivery_job {
	const struct envelope	*env;		/* sender, flags, prepend;
						 * borrowed until end, not
						 * changed by the caller
						 * meanwhile */
	int			 msg_fd;	/* queue/ID.msg, read with
						 * pread from offset 0 */
	const size_t		*rcpts;		/* indices into env->rcpts
						 * (copied) */
	size_t			 nrcpts;
	bool			 recheck;	/* an earlier runner may
						 * have delivered these:
						 * maildir looks for its
						 * copies (LMTP cannot:
						 * at-least-once) */
	delivery_rcpt_cb	*rcpt;
	delivery_end_cb		*end;
	void			*arg;
};

struct delivery_method;		/* one instance of a method */
struct delivery;		/* one job in flight */

struct delivery_ops {
	const char	*name;		/* "maildir", "lmtp", "smtp":
					 * method= */
	/* An instance on setup->base; NULL with err when the setup is
	 * unusable (an LMTP target that does not parse or resolve, a
	 * remote resolver or TLS context that cannot be set up). */
	struct delivery_method *(*new)(const struct delivery_setup *setup,
	    char *err, size_t errlen);
	/* Cancel every job still in flight, then free; NULL: no-op. Jobs
	 * on the work pool are released when the pool hands them back, so
	 * the pool must outlive this call until it is freed. */
	void		(*free)(struct delivery_method *m);
	/* Start job (nrcpts > 0; the struct is copied). Never fails: a
	 * recipient that cannot be tried gets a TEMPFAIL result. */
	struct delivery	*(*start)(struct delivery_method *m,
	    const struct delivery_job *job);
	/* End d early, as described above; end follows from the loop. */
	void		(*stop)(struct delivery *d);
	/* Abandon d now: no callback after this. A Maildir copy being
	 * written finishes on its thread, unreported (the recheck of the
	 * next attempt finds it); an LMTP or SMTP transaction cut off
	 * after its final dot may have been delivered (at-least-once). A
	 * remote transaction under way is cut off by closing its
	 * connection (which other jobs may have shared: their units go to
	 * another connection). */
	void		(*cancel)(struct delivery *d);
};

#endif
