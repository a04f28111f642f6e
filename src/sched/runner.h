/* SPDX-License-Identifier: ISC */
/*
 * The queue runner process (DESIGN.md §3): the only process that changes a
 * committed envelope or removes a message. It scans spool/queue at start
 * (every pending recipient is tried at once: a restart resumes, and flushes,
 * the queue) and every 30 seconds, and listens on the datagram socket
 * DATA/run/queue.sock for "new ID" (try that message now) and "flush"
 * (try every pending recipient now).
 *
 * Recipients in a [domain] of the configuration are delivered with the
 * configured local method (Maildir or LMTP); each recipient's outcome is
 * saved with spool_env_save right after its attempt, temporary failures
 * are retried on [delivery] retry_schedule until queue_lifetime, and a
 * message leaves the queue when no recipient is pending. Remote recipients
 * wait (remote delivery is not implemented yet): they stay pending on the
 * retry schedule and expire like the others.
 *
 * Deliveries run synchronously inside libevent callbacks, one message per
 * loop turn so signals and nudges are seen between messages; local disk
 * and a local LMTP socket bound each wait (30 s per operation). That is
 * acceptable for local delivery; remote delivery will need async I/O.
 */
#ifndef SEALMAIL_SCHED_RUNNER_H
#define SEALMAIL_SCHED_RUNNER_H

#include "conf/conf.h"

/* Seconds between periodic scans of the queue. */
#define RUNNER_SCAN_INTERVAL	30
/* Bound on each delivery operation (connect, one reply, one write). */
#define RUNNER_OP_TIMEOUT	30

/*
 * Run until SIGTERM or SIGINT; returns 0 then. Returns 1 (logged) if the
 * runner cannot start (event base, socket). Called in the forked child,
 * already privilege-dropped; conf is borrowed for the whole run.
 */
int runner_main(const struct conf *conf);

#endif
