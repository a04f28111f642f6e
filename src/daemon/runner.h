/* SPDX-License-Identifier: ISC */
/*
 * The queue runner process (DESIGN.md §3): the only process that changes a
 * committed envelope or removes a message. It scans spool/queue at start
 * (every pending recipient is tried at once: a restart resumes, and flushes,
 * the queue) and every 30 seconds, watches spool/queue with inotify (a
 * message file renamed in is a new message, tried now; if the kernel drops
 * events it scans), and listens on the datagram socket DATA/run/queue.sock
 * for "new ID" (try that message now) and "flush" (try every pending
 * recipient now).
 *
 * Recipients in a [domain] of the configuration are delivered with the
 * configured local method (Maildir on a pool of threads, LMTP on the
 * loop), several messages at once (each wait bounded by
 * RUNNER_OP_TIMEOUT); the other recipients then go to the remote method
 * (deliver/remote.h: MX or relayhost over SMTP, on the loop). Both are
 * deliver/delivery.h's asynchronous interface; results are recorded on
 * the loop, the runner never waits for delivery I/O, and a message in
 * flight is not picked again until every due recipient has a result.
 * Outcomes are saved with spool_env_save as they are recorded; temporary
 * failures are retried on [delivery] retry_schedule until queue_lifetime;
 * recipients that fail permanently (5xx, null MX, expiry, unknown local
 * mailbox) get a DSN through bounce_enqueue (queue/bounce.h); a message
 * leaves the queue when no recipient is pending.
 *
 * SIGTERM: no new work, and deliveries in flight begin nothing new; local
 * ones under way finish, remote ones get a few seconds and are then
 * abandoned (their recipients stay pending).
 */
#ifndef SEALMAIL_DAEMON_RUNNER_H
#define SEALMAIL_DAEMON_RUNNER_H

#include "conf/conf.h"

/* Seconds between periodic scans of the queue. */
#define RUNNER_SCAN_INTERVAL	30
/* Bound on each delivery operation (connect, one reply, one write). */
#define RUNNER_OP_TIMEOUT	30

/*
 * Run until SIGTERM or SIGINT; returns 0 then. Returns 1 (logged) if the
 * runner cannot start (event base, socket). Called in the forked child,
 * already privilege-dropped; conf and keys (the DKIM keys the master
 * loaded, which sign report mail; may be NULL) are borrowed for the whole
 * run.
 */
struct dkim_keys;
int runner_main(const struct conf *conf, struct dkim_keys *keys);

#endif
