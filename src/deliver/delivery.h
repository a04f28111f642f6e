/* SPDX-License-Identifier: ISC */
/*
 * The interface every delivery method implements (STYLE.md §3: variants
 * behind one table of function pointers). maildir.c and lmtp.c provide one
 * each; remote SMTP delivery joins later with the same shape.
 *
 * The queue runner hands a method one message and a set of its recipients
 * (a "job"); the method reports each recipient's outcome through the job's
 * done callback as soon as it is known, so the runner can record state
 * per recipient right away. Methods run synchronously and bound every wait
 * with job->timeout.
 */
#ifndef SEALMAIL_DELIVER_DELIVERY_H
#define SEALMAIL_DELIVER_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "queue/envelope.h"

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

/* Called once per recipient of the job; i indexes job->rcpts. The result
 * is borrowed for the duration of the call. */
typedef void delivery_done_cb(size_t i, const struct delivery_result *res,
    void *arg);

struct delivery_job {
	const char		*data_dir;	/* for Maildir paths */
	const char		*hostname;	/* our name (LMTP LHLO) */
	const char		*target;	/* LMTP: "unix:/path" or
						 * "HOST:PORT"; unused by
						 * maildir */
	unsigned		 timeout;	/* seconds per operation */
	const struct envelope	*env;		/* sender, flags,
						 * prepend */
	int			 msg_fd;	/* queue/ID.msg, read with
						 * pread from offset 0 */
	const size_t		*rcpts;		/* indices into
						 * env->rcpts */
	size_t			 nrcpts;
	bool			 recheck;	/* an earlier runner may
						 * have delivered these:
						 * maildir looks for its
						 * copies (LMTP cannot:
						 * at-least-once) */
	delivery_done_cb	*done;
	void			*arg;
};

struct delivery_ops {
	const char	*name;		/* "maildir", "lmtp": method= */
	/*
	 * Deliver the job. Calls job->done exactly once for every recipient
	 * in job->rcpts, whatever happens. Returns 0, or -1 when the method
	 * could not run at all (connection failed, ...): then every
	 * recipient was reported as DELIVERY_TEMPFAIL with the reason.
	 */
	int		(*deliver)(const struct delivery_job *job);
};

#endif
