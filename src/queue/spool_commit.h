/* SPDX-License-Identifier: ISC */
/*
 * Asynchronous commits: spool_msg_commit() (fsync of message, envelope
 * and directory) run by a small pool of threads, so an SMTP worker's event
 * loop keeps serving other sessions while the disk works, and the
 * file system batches the fsyncs of concurrent commits into shared journal
 * commits (group commit). Only the pool's threads touch the files of a job;
 * only the loop thread runs callbacks.
 */
#ifndef SEALMAIL_QUEUE_SPOOL_COMMIT_H
#define SEALMAIL_QUEUE_SPOOL_COMMIT_H

#include "queue/envelope.h"

struct event_base;
struct spool_msg;
struct spool_committer;
struct spool_commit_job;

/* Result of a commit: rc 0 (durable) or -1 with err (errno); env is the
 * committed envelope (size and id set), borrowed for the call. */
typedef void spool_commit_cb(int rc, int err, const struct envelope *env,
    void *arg);

/* A pool of nthreads threads reporting to base's loop. Fatal on failure. */
struct spool_committer *spool_committer_new(struct event_base *base,
    unsigned nthreads);
/* Finish every queued commit (callbacks are not called any more), stop
 * the threads and free. NULL is a no-op. */
void spool_committer_free(struct spool_committer *c);

/*
 * Commit m with *env: takes m and the contents of *env (env is left
 * envelope_init'ed). cb(arg) runs later on the loop unless the job is
 * detached first. Returns the job handle, valid until cb runs.
 */
struct spool_commit_job *spool_commit_submit(struct spool_committer *c,
    struct spool_msg *m, struct envelope *env, spool_commit_cb *cb,
    void *arg);
/* The submitter is going away: the commit still completes, cb is not
 * called. */
void spool_commit_detach(struct spool_commit_job *j);

#endif
