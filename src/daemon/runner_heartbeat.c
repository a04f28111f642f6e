/* SPDX-License-Identifier: ISC */
/* This node's heartbeat (runner_heartbeat.h): the timer fires on the
 * runner's loop, the queue is counted and the row written on a pool
 * thread, since a busy store (a CLI holding the lock, another node's
 * transaction) may make the write wait seconds. */
#include "daemon/runner_heartbeat.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "cluster/cluster_node.h"
#include "conf/conf.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/version.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "net/spki.h"
#include "queue/spool.h"
#include "store/db.h"
#include "store/db_node.h"

struct runner_heartbeat {
	const struct conf	*conf;
	struct workpool		*pool;		/* the runner's */
	struct event		*ev;
	long long		 every;
	char			*spki;		/* space-separated */
	char			 instance[IDS_SID_LEN + 1];	/* this
						 * runner's, random */
	long long		 last;		/* our last beat written */
	bool			 busy;		/* a beat is on the pool */
	bool			 failing;	/* the last beat failed */
	bool			 clashing;	/* another node beats as we */
};

struct runner_heartbeat *
runner_heartbeat_new(const struct conf *conf)
{
	struct runner_heartbeat *hb = xcalloc(1, sizeof(*hb));
	char hex[SPKI_SHA256_HEX_LEN + 1], err[PATH_MAX + 128];
	struct buf b;

	hb->conf = conf;
	hb->every = CLUSTER_BEAT_EVERY;
	ids_sid_new(hb->instance);
	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < conf->ncerts; i++) {
		if (spki_sha256_file(conf->certs[i].cert, hex, err,
		    sizeof(err)) == -1) {
			log_warn("queue runner: heartbeat without a key: %s",
			    err);
			continue;
		}
		buf_printf(&b, "%s%s", b.len > 0 ? " " : "", hex);
	}
	hb->spki = buf_take(&b);
	return hb;
}

/* Two nodes with one hostname overwrite one row: the registry, the
 * policy and the records would miss one of them. Said once a spell. */
static void
runner_heartbeat_clash(struct runner_heartbeat *hb, bool clash)
{
	if (clash && !hb->clashing)
		log_warn("queue runner: another node writes the heartbeat of "
		    "%s: every node of a cluster needs its own [server] "
		    "hostname", hb->conf->hostname);
	hb->clashing = clash;
}

/* workpool_run_fn: count the queue, write the row. */
static void
runner_heartbeat_run(void *arg)
{
	struct runner_heartbeat *hb = arg;
	char err[512];
	long long oldest = 0;
	size_t n = 0;
	struct db *db;
	bool clash = false;
	struct db_node row = {
		.name = hb->conf->hostname, .mx = hb->conf->hostname,
		.version = SEALMAIL_VERSION, .spki = hb->spki,
		.every = hb->every, .instance = hb->instance,
	};

	row.queue_messages = spool_count(hb->conf->data_dir, &n, &oldest) ==
	    0 ? (long long)n : -1;
	row.queue_oldest = oldest;
	row.heartbeat = (long long)time(NULL);
	if ((db = store_open(hb->conf, false, err, sizeof(err))) == NULL ||
	    db_node_beat(db, &row, hb->last, &clash) != DB_OK) {
		/* Once per spell of failures, not every few seconds. */
		if (!hb->failing)
			log_warn("queue runner: heartbeat not written: %s",
			    db ? db_error(db) : err);
		hb->failing = true;
	} else {
		if (hb->failing)
			log_info("queue runner: heartbeat written again");
		hb->failing = false;
		hb->last = row.heartbeat;
		runner_heartbeat_clash(hb, clash);
	}
	db_close(db);
}

/* workpool_done_fn */
static void
runner_heartbeat_done(void *arg, bool cancelled)
{
	struct runner_heartbeat *hb = arg;

	(void)cancelled;
	hb->busy = false;
}

static void
runner_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_heartbeat *hb = arg;

	(void)fd;
	(void)what;
	if (hb->busy)		/* the last one still waits for the store */
		return;
	hb->busy = true;
	workpool_submit(hb->pool, runner_heartbeat_run, runner_heartbeat_done,
	    hb);
}

void
runner_heartbeat_start(struct runner_heartbeat *hb, struct event_base *base,
    struct workpool *pool)
{
	const char *v = getenv("SEALMAIL_TEST_HEARTBEAT_SECONDS");
	struct timeval every;

	if (v != NULL) {
		long s = strtol(v, NULL, 10);

		if (s >= 1 && s <= 3600)
			hb->every = s;
	}
	every.tv_sec = (time_t)hb->every;
	every.tv_usec = 0;
	hb->pool = pool;
	hb->ev = event_new(base, -1, EV_PERSIST, runner_heartbeat_cb, hb);
	if (hb->ev == NULL)
		fatal("queue runner: cannot create the heartbeat timer");
	event_add(hb->ev, &every);
	runner_heartbeat_cb(-1, 0, hb);
}

void
runner_heartbeat_free(struct runner_heartbeat *hb)
{
	if (hb == NULL)
		return;
	if (hb->ev != NULL)
		event_free(hb->ev);
	free(hb->spki);
	free(hb);
}
