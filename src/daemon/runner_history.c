/* SPDX-License-Identifier: ISC */
/* Saving the status page's history (runner_history.h): the snapshot is
 * taken on the runner's loop, the SQLite transaction runs on a pool thread,
 * since a busy store (a CLI holding the lock) may make it wait seconds. */
#include "daemon/runner_history.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "store/db.h"

struct runner_history {
	const struct conf	*conf;
	struct workpool		*pool;		/* the runner's */
	struct event		*ev;
	bool			 busy;		/* snap is on the pool */
	struct metrics_snapshot	 snap;		/* owned by the pool
						 * thread while busy */
};

/* Write h->snap; on whichever thread owns it. */
static void
runner_history_save(struct runner_history *h)
{
	char err[512];
	struct db *db;

	if ((db = store_open(h->conf, true, err, sizeof(err))) == NULL)
		log_warn("status page history not saved: %s", err);
	else if (db_metrics_save(db, &h->snap) != DB_OK)
		log_warn("status page history not saved: %s", db_error(db));
	db_close(db);
}

/* workpool_run_fn */
static void
runner_history_run(void *arg)
{
	runner_history_save(arg);
}

/* workpool_done_fn */
static void
runner_history_done(void *arg, bool cancelled)
{
	struct runner_history *h = arg;

	(void)cancelled;
	h->busy = false;
}

static void
runner_history_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_history *h = arg;

	(void)fd;
	(void)what;
	if (h->busy)		/* the last one still waits for the store */
		return;
	h->busy = true;
	metrics_snapshot(&h->snap, (long long)time(NULL));
	workpool_submit(h->pool, runner_history_run, runner_history_done, h);
}

struct runner_history *
runner_history_start(struct event_base *base, struct workpool *pool,
    const struct conf *conf)
{
	struct timeval every = { RUNNER_HISTORY_INTERVAL, 0 };
	const char *v = getenv("SEALMAIL_TEST_HISTORY_SECONDS");
	struct runner_history *h;

	if (v != NULL) {
		long s = strtol(v, NULL, 10);

		if (s >= 1 && s <= 3600)
			every.tv_sec = s;
	}
	h = xcalloc(1, sizeof(*h));
	h->conf = conf;
	h->pool = pool;
	h->ev = event_new(base, -1, EV_PERSIST, runner_history_cb, h);
	if (h->ev == NULL)
		fatal("queue runner: cannot create the history timer");
	event_add(h->ev, &every);
	return h;
}

void
runner_history_free(struct runner_history *h)
{
	if (h == NULL)
		return;
	event_free(h->ev);
	/* The pool is gone, so no job holds snap. */
	metrics_snapshot(&h->snap, (long long)time(NULL));
	runner_history_save(h);
	free(h);
}
