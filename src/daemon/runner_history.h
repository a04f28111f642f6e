/* SPDX-License-Identifier: ISC */
/* The status page's history saved into the store by the queue runner: once
 * a minute on a pool thread, and once more when the runner stops. */
#ifndef SEALMAIL_DAEMON_RUNNER_HISTORY_H
#define SEALMAIL_DAEMON_RUNNER_HISTORY_H

struct conf;
struct event_base;
struct runner_history;
struct workpool;

/* Every RUNNER_HISTORY_INTERVAL seconds (the tests shorten it with the
 * environment variable SEALMAIL_TEST_HISTORY_SECONDS, 1..3600; not a
 * configuration key), a snapshot of the shared metrics is taken on the
 * loop (a copy of a few KiB) and written on pool, a thread pool on base
 * that outlives nothing of ours: it must be freed before
 * runner_history_free. */
#define RUNNER_HISTORY_INTERVAL	60
struct runner_history *runner_history_start(struct event_base *base,
    struct workpool *pool, const struct conf *conf);
/* The last save, on the caller's thread (the runner is stopping; its
 * loop has ended), then free. NULL: no-op. */
void runner_history_free(struct runner_history *h);

#endif
