/* SPDX-License-Identifier: ISC */
/* Counting the domains our users write to (runner_correspondents.h): a
 * small table of counts on the loop, handed whole to a pool thread that
 * writes it in one transaction, since a busy store may make it wait. */
#include "daemon/runner_correspondents.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "msg/addr.h"
#include "queue/envelope.h"
#include "store/db_correspondent.h"

/* Domains and their counts. */
struct rc_batch {
	char		*domain[RUNNER_CORRESPONDENTS_MAX];
	unsigned	 n[RUNNER_CORRESPONDENTS_MAX];
	size_t		 count;
};

struct runner_correspondents {
	const struct conf	*conf;
	struct workpool		*pool;
	struct event		*ev;
	bool			 busy;		/* job is on the pool */
	struct rc_batch		 noted;		/* on the loop */
	struct rc_batch		 job;		/* owned by the pool thread
						 * while busy */
};

static void
rc_batch_clear(struct rc_batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->domain[i]);
	b->count = 0;
}

/* Write b (on whichever thread owns it) and empty it. */
static void
rc_save(const struct conf *conf, struct rc_batch *b)
{
	char err[512];
	struct db *db;

	if (b->count == 0)
		return;
	if ((db = store_open(conf, true, err, sizeof(err))) == NULL)
		log_warn("correspondents not counted: %s", err);
	else if (db_correspondent_add(db, (const char *const *)b->domain,
	    b->n, b->count, (long long)time(NULL)) != DB_OK)
		log_warn("correspondents not counted: %s", db_error(db));
	db_close(db);
	rc_batch_clear(b);
}

/* workpool_run_fn */
static void
rc_run(void *arg)
{
	struct runner_correspondents *rc = arg;

	rc_save(rc->conf, &rc->job);
}

/* workpool_done_fn */
static void
rc_done(void *arg, bool cancelled)
{
	struct runner_correspondents *rc = arg;

	(void)cancelled;
	rc->busy = false;
}

static void
rc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_correspondents *rc = arg;

	(void)fd;
	(void)what;
	if (rc->busy || rc->noted.count == 0)
		return;
	rc->job = rc->noted;
	rc->noted.count = 0;
	rc->busy = true;
	workpool_submit(rc->pool, rc_run, rc_done, rc);
}

struct runner_correspondents *
runner_correspondents_start(struct event_base *base, struct workpool *pool,
    const struct conf *conf)
{
	struct timeval every = { RUNNER_CORRESPONDENTS_INTERVAL, 0 };
	struct runner_correspondents *rc = xcalloc(1, sizeof(*rc));

	rc->conf = conf;
	rc->pool = pool;
	rc->ev = event_new(base, -1, EV_PERSIST, rc_cb, rc);
	if (rc->ev == NULL)
		fatal("queue runner: cannot create the correspondents timer");
	event_add(rc->ev, &every);
	return rc;
}

void
runner_correspondents_note(struct runner_correspondents *rc,
    const struct envelope *env, const char *address)
{
	const char *domain = addr_text_domain(address);
	struct rc_batch *b = &rc->noted;
	size_t i;

	/* Bounces (null reverse-path) and mail relayed for others (a
	 * network client without AUTH) are not our users writing; local
	 * users (`sealmail sendmail`) are. */
	if (env->mail_from == NULL || env->mail_from[0] == '\0' ||
	    (env->auth_user == NULL && !envelope_from_local_user(env)) ||
	    domain == NULL || domain[0] == '\0' || domain[0] == '[')
		return;
	for (i = 0; i < b->count; i++)
		if (strcasecmp(b->domain[i], domain) == 0)
			break;
	if (i == b->count) {
		if (b->count == RUNNER_CORRESPONDENTS_MAX)
			return;
		b->domain[b->count] = xstrdup(domain);
		b->n[b->count++] = 0;
	}
	if (b->n[i] < UINT_MAX)
		b->n[i]++;
}

void
runner_correspondents_free(struct runner_correspondents *rc)
{
	if (rc == NULL)
		return;
	event_free(rc->ev);
	/* The pool is gone, so no job holds job. */
	rc_save(rc->conf, &rc->job);
	rc_save(rc->conf, &rc->noted);
	free(rc);
}
