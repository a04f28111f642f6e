/* SPDX-License-Identifier: ISC */
/* Store threads with a connection each (see db_pool.h). */
#include "store/db.h"
#include "store/db_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/db_internal.h"

/* Past a failed open, the next attempt waits this long (ms): during an
 * outage every job would otherwise try a connection of its own, and
 * sql_pg already backs off the connections it holds. */
#define DB_POOL_RETRY_MS	500

struct db_pool {
	struct workpool	*wp;
	db_pool_open_fn	*open;
	void		*arg;
	pthread_mutex_t	 lock;
	struct db	**idle;		/* connections no job uses */
	size_t		 nidle, cap;
	uint64_t	 retry_at;	/* no open before (ms, monotonic) */
};

struct db_pool_job {
	struct db_pool	*p;
	db_pool_run_fn	*run;
	workpool_done_fn *done;
	void		*arg;
};

static uint64_t
db_pool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An idle connection, or a new one; NULL when none can be had. */
static struct db *
db_pool_take(struct db_pool *p)
{
	struct db *db = NULL;
	char err[512];
	bool try;

	/* Each thread holds one connection at most, so opens here (one
	 * per thread at the same time at most) never exceed nthreads. */
	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		db = p->idle[--p->nidle];
	try = db == NULL && db_pool_now_ms() >= p->retry_at;
	pthread_mutex_unlock(&p->lock);
	if (db != NULL || !try)
		return db;
	if ((db = p->open(p->arg, err, sizeof(err))) == NULL) {
		log_warn("store connection failed: %s", err);
		pthread_mutex_lock(&p->lock);
		p->retry_at = db_pool_now_ms() + DB_POOL_RETRY_MS;
		pthread_mutex_unlock(&p->lock);
	}
	return db;
}

static void
db_pool_give(struct db_pool *p, struct db *db)
{
	if (db == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nidle == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4;
		p->idle = xreallocarray(p->idle, p->cap, sizeof(*p->idle));
	}
	p->idle[p->nidle++] = db;
	pthread_mutex_unlock(&p->lock);
}

static void
db_pool_run(void *arg)
{
	struct db_pool_job *j = arg;
	struct db *db = db_pool_take(j->p);

	j->run(db, j->arg);
	db_pool_give(j->p, db);
}

static void
db_pool_done(void *arg, bool cancelled)
{
	struct db_pool_job *j = arg;

	j->done(j->arg, cancelled);
	free(j);
}

struct db_pool *
db_pool_new(struct event_base *base, unsigned nthreads, db_pool_open_fn *open,
    void *arg)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));

	p->open = open;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	p->wp = workpool_new(base, nthreads, "store");
	return p;
}

void
db_pool_free(struct db_pool *p)
{
	if (p == NULL)
		return;
	workpool_free(p->wp);
	for (size_t i = 0; i < p->nidle; i++)
		db_close(p->idle[i]);
	free(p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct workpool_job *
db_pool_submit(struct db_pool *p, db_pool_run_fn *run, workpool_done_fn *done,
    void *arg)
{
	struct db_pool_job *j = xcalloc(1, sizeof(*j));

	j->p = p;
	j->run = run;
	j->done = done;
	j->arg = arg;
	return workpool_submit(p->wp, db_pool_run, db_pool_done, j);
}

struct workpool *
db_pool_workpool(struct db_pool *p)
{
	return p->wp;
}

enum db_result
db_changes_counter(struct db *db, int64_t *out)
{
	struct sql_stmt *st;
	enum db_result r;

	if (sql_backend(db->sql) != SQL_POSTGRESQL) {
		db_seterr(db, "no change counter in this store");
		return DB_ERROR;
	}
	if ((st = sql_prepare(db->sql, "SELECT counter FROM "
	    "sealmail_changes")) == NULL)
		return db_fail(db, "prepare");
	if (sql_step(st) == SQL_ROW) {
		*out = sql_column_int64(st, 0);
		r = DB_OK;
	} else
		r = db_fail(db, "read the change counter");
	sql_finalize(st);
	return r;
}
