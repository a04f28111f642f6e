/* SPDX-License-Identifier: ISC */
/*
 * The durable spool under DATA_DIR/spool: tmp/ holds messages being
 * received; queue/ID.msg is a committed message (its bytes, then the
 * envelope as committed and a trailer) and its presence is the commit
 * marker; queue/ID.env, once the queue runner has recorded an attempt,
 * holds the envelope's current state. A message is acknowledged only after
 * spool_msg_commit() returned 0, which means the file and the directory
 * entry are fsynced.
 */
#ifndef SEALMAIL_QUEUE_SPOOL_H
#define SEALMAIL_QUEUE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

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
/* Of those, the bytes already in the tmp file (a reader sees them), and
 * writing out the rest (-1 on I/O error): a content filter (milter)
 * reads the message while it arrives. */
size_t spool_msg_flushed(const struct spool_msg *m);
int spool_msg_flush(struct spool_msg *m);
/* Make the message durable with envelope `env` (env->id and env->size are
 * set from m). Returns 0 only when everything is on stable storage, and
 * then has sent the runner "new ID" (spool_nudge); on -1 nothing was
 * committed and the tmp file is removed. Frees m either way.
 * Blocking (one file and one directory fsync): run it off the event loop. */
int spool_msg_commit(struct spool_msg *m, struct envelope *env);
/* What was written so far, flushed to the tmp file, for reading: a new
 * read-only descriptor the caller closes, or -1 (errno). For a content
 * filter (milter) that reads the message before the commit. */
int spool_msg_reader(struct spool_msg *m);
/* Start the message over: the bytes written so far stay readable through
 * the descriptor returned (the caller closes it) while m writes a new,
 * empty file in their place (same id); -1 (errno; m is failed then). For
 * a filter that rewrites headers or body. */
int spool_msg_restart(struct spool_msg *m);
/* Discard an uncommitted message and free m. NULL is a no-op. */
void spool_msg_abort(struct spool_msg *m);

/* Load message ID's envelope into env (envelope_init'ed by the caller):
 * queue/ID.env if the runner saved one, else the one committed in
 * queue/ID.msg. 0, or -1 with err and errno (ENOENT: no such message, also
 * when it was delivered or deleted while being read). */
int spool_env_load(const char *data_dir, const char *qid, struct envelope *env,
    char *err, size_t errlen);
/* spool_env_load that keeps the message file open: *fd (the caller's to
 * close) reads queue/ID.msg, as spool_msg_open's does. */
int spool_env_open(const char *data_dir, const char *qid,
    struct envelope *env, int *fd, char *err, size_t errlen);
/* Atomically replace queue/ID.env (write tmp, fsync, rename, fsync dir)
 * and set env->state_saved; -1 (ENOENT) if the message is gone. */
int spool_env_save(const char *data_dir, struct envelope *env);
/* Open queue/ID.msg read-only; fd or -1. The message is its first
 * env->size bytes: read it with spool_msg_pread. */
int spool_msg_open(const char *data_dir, const char *qid);
/* Whether message ID is still committed (true also when that cannot be
 * told: the caller then acts as if it were). */
bool spool_msg_exists(const char *data_dir, const char *qid);
/* DATA_DIR/spool/queue into out; -1 (ENAMETOOLONG) if it does not fit. */
int spool_queue_dir(const char *data_dir, char *out, size_t outlen);
/* Whether a file name in spool/queue is a committed message ("ID.msg");
 * its id into qid (IDS_QID_LEN + 1 bytes). */
bool spool_committed_name(const char *name, char *qid);
/* pread from the message of size `size` in fd: at most n bytes at off,
 * 0 at the message's end, -1 on error (EIO if the file ends early). */
ssize_t spool_msg_pread(int fd, uint64_t size, void *buf, size_t n,
    uint64_t off);
/* The same, retried until n bytes are read or the message ends: fewer
 * than n only at its end. */
ssize_t spool_pread_full(int fd, uint64_t size, void *buf, size_t n,
    uint64_t off);
/* Remove a message: .msg first (un-commit), then its state. -1 (ENOENT)
 * if it was not there. Not fsynced: a removal lost in a crash means the
 * message is tried again. */
int spool_remove(const char *data_dir, const char *qid);
/* Remove what the runner saved of a message (.env, .env.tmp) whose
 * message file has gone: never with the .msg still there. */
void spool_remove_state(const char *data_dir, const char *qid);
/* Remove a message the queue runner has finished with: like spool_remove,
 * but the file is emptied and then kept in spool/free for a new message to
 * reuse; its saved state goes too if env->state_saved says there is any.
 * The caller must have closed its descriptors of the message: once the
 * file is in free/ another process may own it. -1 (ENOENT) if not there. */
int spool_recycle(const char *data_dir, const struct envelope *env);
/* Call cb for each committed queue id, oldest first. Returns the count or
 * -1. Removes orphan .env files older than an hour (crash leftovers) and
 * clears tmp/ entries older than a day. */
typedef void spool_list_cb(const char *qid, void *arg);
int spool_list(const char *data_dir, spool_list_cb *cb, void *arg);
/* Count the committed messages without changing anything (any process
 * may call it); *oldest is the oldest one's arrival time (0: none). */
int spool_count(const char *data_dir, size_t *n, long long *oldest);

/* The address of the queue runner's socket, DATA_DIR/run/queue.sock, into
 * *sun; -1 (ENAMETOOLONG) if the path does not fit a unix address. */
int spool_sock_addr(const char *data_dir, struct sockaddr_un *sun);
/* Tell the queue runner (unix datagram socket DATA_DIR/run/queue.sock) that
 * something changed: "new ID" or "flush". Best effort: the runner also
 * scans the queue periodically. */
int spool_nudge(const char *data_dir, const char *msg);

#endif
