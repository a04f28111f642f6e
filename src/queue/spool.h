/* SPDX-License-Identifier: ISC */
/*
 * The durable spool under DATA_DIR/spool: tmp/ holds messages being
 * received; queue/ID.msg and queue/ID.env are a committed message, and the
 * .env file's presence is the commit marker (it is renamed in last). A
 * message is acknowledged only after spool_msg_commit() returned 0, which
 * means file data, envelope and directory entries are fsynced.
 */
#ifndef SEALMAIL_QUEUE_SPOOL_H
#define SEALMAIL_QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/envelope.h"

/* Create spool/{tmp,queue} and run/ under data_dir (mode 0700) if missing.
 * -1 with a one-line err on failure. */
int spool_init(const char *data_dir, char *err, size_t errlen);

struct spool_msg;

/* Start receiving message `qid` into spool/tmp. NULL (errno set) on error.
 * The caller owns the result and ends it with commit+free or abort. */
struct spool_msg *spool_msg_new(const char *data_dir, const char *qid);
/* Append message bytes (buffered). -1 on I/O error. */
int spool_msg_write(struct spool_msg *m, const void *p, size_t n);
/* Bytes written so far. */
size_t spool_msg_size(const struct spool_msg *m);
/* Make the message durable with envelope `env` (env->size is set from the
 * bytes written). Returns 0 only when everything is on stable storage; on -1
 * nothing was committed and the tmp file is removed. Frees m either way. */
int spool_msg_commit(struct spool_msg *m, struct envelope *env);
/* Discard an uncommitted message and free m. NULL is a no-op. */
void spool_msg_abort(struct spool_msg *m);

/* Read queue/ID.env into env (envelope_init'ed by the caller). 0, or -1
 * with err. */
int spool_env_load(const char *data_dir, const char *qid, struct envelope *env,
    char *err, size_t errlen);
/* Atomically replace queue/ID.env (write tmp, fsync, rename, fsync dir). */
int spool_env_save(const char *data_dir, const struct envelope *env);
/* Open queue/ID.msg read-only; fd or -1. */
int spool_msg_open(const char *data_dir, const char *qid);
/* Remove a message: .env first (un-commit), then .msg. Not fsynced: a
 * removal lost in a crash means the message is tried again. */
int spool_remove(const char *data_dir, const char *qid);
/* Call cb for each committed queue id, oldest first. Returns the count or
 * -1. Removes orphan .msg files older than an hour (crash leftovers) and
 * clears tmp/ entries older than a day. */
typedef void spool_list_cb(const char *qid, void *arg);
int spool_list(const char *data_dir, spool_list_cb *cb, void *arg);

/* Tell the queue runner (unix datagram socket DATA_DIR/run/queue.sock) that
 * something changed: "new ID" or "flush". Best effort: the runner also
 * scans the queue periodically. */
int spool_nudge(const char *data_dir, const char *msg);

#endif
