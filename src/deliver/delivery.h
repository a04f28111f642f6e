/* SPDX-License-Identifier: ISC */
/*
 * The asynchronous interface every local delivery method implements
 * (STYLE.md §3: variants behind one table of function pointers):
 * maildir.c (file I/O on the caller's work pool, never on the loop) and
 * lmtp.c (RFC 2033 on the smtpc engine, non-blocking on the loop).
 *
 * A method is instantiated once on the caller's event loop (new), then
 * takes jobs: one message and a set of its recipients. start() returns at
 * once; each recipient's outcome is reported through job->rcpt as soon as
 * it is known, then job->end runs once: both on the loop, never from
 * within start(). stop() asks a job to end early (nothing new is begun:
 * no further Maildir copy, no further LMTP transaction; what is under way
 * finishes and is reported); recipients it never reached get no rcpt
 * call, so the caller leaves them pending. cancel() abandons a job at
 * once, without any further callback.
 *
 * Remote SMTP delivery (remote.h) has the same shape (start, per
 * recipient results, end) with its own types: it reports per-attempt TLS
 * and relay details and shares connections between jobs.
 */
#ifndef SEALMAIL_DELIVER_DELIVERY_H
#define SEALMAIL_DELIVER_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "queue/envelope.h"

struct event_base;
struct workpool;

enum delivery_status {
	DELIVERY_OK,		/* delivered: the recipient is done */
	DELIVERY_TEMPFAIL,	/* 4xx, I/O or connection trouble: retry */
	DELIVERY_PERMFAIL,	/* 5xx, unknown mailbox, bad address */
};

/* One recipient's outcome. reply is an SMTP-style "CODE X.Y.Z text" line
 * (no CRLF; as received from an LMTP server, so untrusted: escape it
 * before logging). */
struct delivery_result {
	enum delivery_status	status;
	char			reply[LIMIT_REPLY_LINE + 1];
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
	const char	*name;		/* "maildir", "lmtp": method= */
	/* An instance on setup->base; NULL with err when the setup is
	 * unusable (an LMTP target that does not parse or resolve). */
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
	 * next attempt finds it); an LMTP transaction cut off after its
	 * final dot may have been delivered (at-least-once). */
	void		(*cancel)(struct delivery *d);
};

#endif
