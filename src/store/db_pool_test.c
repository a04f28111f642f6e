/* SPDX-License-Identifier: ISC */
/* Unit tests of the store threads (db_pool.c) on an SQLite store: every
 * job gets a connection no other job holds at the same time, at most one
 * per thread is opened (also while another thread's open is under way); a failed open gives NULL and is not tried again
 * at once; of the loop-side recipient cache (db_rcache.h); and of the
 * DMARC rows a failed db_dmarc_flush_keep keeps for the next write. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "store/db.h"
#include "store/db_pool.h"
#include "store/db_internal.h"
#include "store/db_rcache.h"

#define NJOBS		40
#define NTHREADS	3

struct pool_test {
	char		 path[64];
	pthread_mutex_t	 lock;
	int		 opens;
	bool		 fail;
	struct db	*busy[NJOBS];	/* handles in use now */
	int		 nbusy;
	int		 remaining;
	struct event_base *base;
};

struct job {
	struct pool_test *t;
	struct db	*db;
	bool		 shared;	/* met another job's handle */
	enum db_result	 r;
};

static struct db *
test_open(void *arg, char *err, size_t errlen)
{
	struct pool_test *t = arg;

	pthread_mutex_lock(&t->lock);
	t->opens++;
	pthread_mutex_unlock(&t->lock);
	/* As slow as a connection over the network: the other threads'
	 * first jobs arrive meanwhile and open their own. */
	usleep(50000);
	if (t->fail) {
		snprintf(err, errlen, "refused");
		return NULL;
	}
	return db_open(t->path, false, NULL, err, errlen);
}

static void
job_run(struct db *db, void *arg)
{
	struct job *j = arg;
	struct pool_test *t = j->t;
	int64_t c;

	j->db = db;
	if (db == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->nbusy; i++)
		j->shared |= t->busy[i] == db;
	t->busy[t->nbusy++] = db;
	pthread_mutex_unlock(&t->lock);
	j->r = db_user_exists(db, "alice@example.org");
	usleep(2000);
	/* No change counter in SQLite: an error, not a number. */
	assert_int_equal(db_changes_counter(db, &c), DB_ERROR);
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->nbusy; i++)
		if (t->busy[i] == db) {
			t->busy[i] = t->busy[--t->nbusy];
			break;
		}
	pthread_mutex_unlock(&t->lock);
}

static void
job_done(void *arg, bool cancelled)
{
	struct job *j = arg;

	assert_false(cancelled);
	if (--j->t->remaining == 0)
		event_base_loopexit(j->t->base, NULL);
}

static void
pool_test_init(struct pool_test *t)
{
	char err[256];
	struct db *db;
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/db_pool_test.XXXXXX");
	assert_true((fd = mkstemp(t->path)) != -1);
	close(fd);
	unlink(t->path);
	db = db_open(t->path, true, NULL, err, sizeof(err));
	assert_non_null(db);
	db_close(db);
	pthread_mutex_init(&t->lock, NULL);
	t->base = event_base_new();
}

static void
pool_test_clear(struct pool_test *t)
{
	char j[80];

	event_base_free(t->base);
	pthread_mutex_destroy(&t->lock);
	snprintf(j, sizeof(j), "%s-journal", t->path);
	unlink(j);
	unlink(t->path);
}

static void
test_own_connection_per_job(void **unused)
{
	struct pool_test t;
	struct job jobs[NJOBS] = { 0 };
	struct db_pool *p;

	(void)unused;
	pool_test_init(&t);
	p = db_pool_new(t.base, NTHREADS, test_open, &t);
	t.remaining = NJOBS;
	for (int i = 0; i < NJOBS; i++) {
		jobs[i].t = &t;
		db_pool_submit(p, job_run, job_done, &jobs[i]);
	}
	event_base_dispatch(t.base);
	for (int i = 0; i < NJOBS; i++) {
		assert_non_null(jobs[i].db);
		assert_false(jobs[i].shared);
		assert_int_equal(jobs[i].r, DB_NOTFOUND);
	}
	assert_true(t.opens >= 1 && t.opens <= NTHREADS);
	db_pool_free(p);
	pool_test_clear(&t);
}

static void
test_failed_open_not_retried_at_once(void **unused)
{
	struct pool_test t;
	struct job jobs[4] = { 0 };
	struct db_pool *p;

	(void)unused;
	pool_test_init(&t);
	t.fail = true;
	p = db_pool_new(t.base, 1, test_open, &t);
	t.remaining = 4;
	for (int i = 0; i < 4; i++) {
		jobs[i].t = &t;
		db_pool_submit(p, job_run, job_done, &jobs[i]);
	}
	event_base_dispatch(t.base);
	for (int i = 0; i < 4; i++)
		assert_null(jobs[i].db);
	assert_int_equal(t.opens, 1);
	/* Once the delay has passed, the next job connects. */
	usleep(600000);
	t.fail = false;
	t.remaining = 1;
	db_pool_submit(p, job_run, job_done, &jobs[0]);
	event_base_dispatch(t.base);
	assert_non_null(jobs[0].db);
	assert_int_equal(t.opens, 2);
	db_pool_free(p);
	pool_test_clear(&t);
}

static void
test_rcache(void **unused)
{
	struct db_rcache *c = db_rcache_new();
	char *v[] = { "a@example.org", "b@example.net" };
	char **out = NULL;
	size_t n = 0;
	enum db_result r;

	(void)unused;
	assert_false(db_rcache_find(c, "x@example.org", &r, &out, &n));
	db_rcache_add(c, "x@example.org", DB_OK, v, 2);
	db_rcache_add(c, "gone@example.org", DB_NOTFOUND, NULL, 0);
	/* A failure is no answer: never remembered. */
	db_rcache_add(c, "err@example.org", DB_ERROR, NULL, 0);
	assert_true(db_rcache_find(c, "x@example.org", &r, &out, &n));
	assert_int_equal(r, DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[1], "b@example.net");
	db_strv_free(out, n);
	assert_true(db_rcache_find(c, "gone@example.org", &r, &out, &n));
	assert_int_equal(r, DB_NOTFOUND);
	assert_int_equal(n, 0);
	assert_false(db_rcache_find(c, "err@example.org", &r, &out, &n));
	db_rcache_clear(c);
	assert_false(db_rcache_find(c, "x@example.org", &r, &out, &n));
	db_rcache_delete(c);
	db_rcache_delete(NULL);
}

static void
test_dmarc_rows_kept(void **unused)
{
	struct pool_test t;
	struct db_dmarc_row row = {
		.time = 1700000000, .source_ip = "192.0.2.1",
		.header_from = "example.net", .policy_domain = "example.net",
		.policy = "none", .disposition = "none", .result = "pass",
		.pub = { .p = "none" },
	};
	/* The server refuses the rows (here: a trigger). */
	static const char refuse[] = "CREATE TRIGGER refuse BEFORE INSERT ON "
	    "dmarc_results BEGIN SELECT RAISE(ABORT, 'refused'); END";
	long long oldest;
	char err[256];
	struct db *db;

	(void)unused;
	pool_test_init(&t);
	db = db_open(t.path, false, NULL, err, sizeof(err));
	assert_non_null(db);
	for (int i = 0; i < 3; i++)
		assert_int_equal(db_dmarc_defer(db, &row), DB_OK);
	assert_int_equal(db_exec(db, refuse, "trigger"), 0);
	assert_int_equal(db_dmarc_flush_keep(db), DB_ERROR);
	assert_int_equal(db_dmarc_pending(db), 3);
	assert_int_equal(db_exec(db, "DROP TRIGGER refuse", "trigger"), 0);
	assert_int_equal(db_dmarc_flush_keep(db), DB_OK);
	assert_int_equal(db_dmarc_pending(db), 0);
	assert_int_equal(db_dmarc_oldest(db, &oldest), DB_OK);
	assert_int_equal(oldest, 1700000000);
	/* db_dmarc_flush still drops them, as it always did. */
	assert_int_equal(db_dmarc_defer(db, &row), DB_OK);
	assert_int_equal(db_exec(db, refuse, "trigger"), 0);
	assert_int_equal(db_dmarc_flush(db), DB_ERROR);
	assert_int_equal(db_dmarc_pending(db), 0);
	db_close(db);
	pool_test_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_connection_per_job),
		cmocka_unit_test(test_failed_open_not_retried_at_once),
		cmocka_unit_test(test_rcache),
		cmocka_unit_test(test_dmarc_rows_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
