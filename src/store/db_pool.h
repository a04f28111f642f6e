/* SPDX-License-Identifier: ISC */
/*
 * Store calls off an event loop: a few threads (core/workpool.h), each
 * using a store connection of its own, opened when first needed and
 * never used by two threads at once. For a store reached over the
 * network (PostgreSQL), whose every call may wait on a server.
 */
#ifndef SEALMAIL_STORE_DB_POOL_H
#define SEALMAIL_STORE_DB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/workpool.h"

struct db;
struct db_pool;
struct event_base;

/* A new connection (on a pool thread); NULL with a message in err. */
typedef struct db *db_pool_open_fn(void *arg, char *err, size_t errlen);
/* The job's store work, on a pool thread. db is NULL when no connection
 * could be opened (the server is down): the job then has its answer,
 * a temporary failure. */
typedef void db_pool_run_fn(struct db *db, void *arg);

/* nthreads threads reporting to base's loop; connections from open(arg),
 * which must be callable from any thread. */
struct db_pool *db_pool_new(struct event_base *base, unsigned nthreads,
    db_pool_open_fn *open, void *arg);
/* Finish the jobs (see workpool_free), close the connections. NULL: no-op. */
void db_pool_free(struct db_pool *p);
/* run(db, arg) on a pool thread, then done(arg, cancelled) on the loop;
 * the handle is workpool_cancel's. */
struct workpool_job *db_pool_submit(struct db_pool *p, db_pool_run_fn *run,
    workpool_done_fn *done, void *arg);

/* The pool's threads, for a job that brings its own connection (one the
 * loop hands over for the job's time). */
struct workpool *db_pool_workpool(struct db_pool *p);

/* The store's change counter (sealmail_changes, which every change of
 * users or aliases bumps: db_schema_pg.c) into *out. PostgreSQL only;
 * DB_ERROR elsewhere or when it cannot be read. */
enum db_result db_changes_counter(struct db *db, int64_t *out);

#endif
