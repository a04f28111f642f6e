/* SPDX-License-Identifier: ISC */
/* This node's row in the cluster's node registry (store/db_node.h),
 * written by the queue runner, which knows the queue: every
 * CLUSTER_BEAT_EVERY seconds on a pool thread, never on its loop. */
#ifndef SEALMAIL_DAEMON_RUNNER_HEARTBEAT_H
#define SEALMAIL_DAEMON_RUNNER_HEARTBEAT_H

struct conf;
struct event_base;
struct runner_heartbeat;
struct workpool;

/*
 * Before the sandbox: read the SHA-256 of each [tls] certificate's public
 * key (a file the sandboxed runner may not open; a new runner starts on
 * every reload, so renewed certificates are read again). A certificate
 * that cannot be read is left out and logged.
 */
struct runner_heartbeat *runner_heartbeat_new(const struct conf *conf);
/*
 * Beat now and then every CLUSTER_BEAT_EVERY seconds (the tests shorten it
 * with the environment variable SEALMAIL_TEST_HEARTBEAT_SECONDS, 1..3600;
 * not a configuration key; the row records the period, so readers know
 * when the node is late). pool: as for runner_history_start (freed before
 * runner_heartbeat_free).
 */
void runner_heartbeat_start(struct runner_heartbeat *hb,
    struct event_base *base, struct workpool *pool);
/* NULL: no-op. No last beat: a stopped node goes stale like a dead one. */
void runner_heartbeat_free(struct runner_heartbeat *hb);

#endif
