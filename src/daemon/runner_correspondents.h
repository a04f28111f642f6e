/* SPDX-License-Identifier: ISC */
/* The domains our users write to, counted into the store by the queue
 * runner (store/db_correspondent.h) for the lookalike check: noted on the
 * loop at each remote delivery, written on a pool thread every few
 * seconds, and once more when the runner stops. */
#ifndef SEALMAIL_DAEMON_RUNNER_CORRESPONDENTS_H
#define SEALMAIL_DAEMON_RUNNER_CORRESPONDENTS_H

struct conf;
struct envelope;
struct event_base;
struct runner_correspondents;
struct workpool;

/* Seconds between writes. */
#define RUNNER_CORRESPONDENTS_INTERVAL	5
/* Distinct domains noted between two writes; more are not counted. */
#define RUNNER_CORRESPONDENTS_MAX	1024

/* pool: as for runner_history_start (freed before this). */
struct runner_correspondents *runner_correspondents_start(
    struct event_base *base, struct workpool *pool, const struct conf *conf);
/* Recipient address was delivered to its remote domain for env: counted
 * when one of our users sent it (authenticated or local submission), not
 * for bounces and other mail we only pass on. */
void runner_correspondents_note(struct runner_correspondents *rc,
    const struct envelope *env, const char *address);
/* The last write, on the caller's thread, then free. NULL: no-op. */
void runner_correspondents_free(struct runner_correspondents *rc);

#endif
