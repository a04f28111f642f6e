/* SPDX-License-Identifier: ISC */
/* The runner's work lists (runner_internal.h): what to look at next, the
 * queue scans that fill them, and the timer that starts a batch per turn. */
#include "daemon/runner_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "queue/spool.h"

static void
runner_list_push(struct runner_list *l, const char *qid)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xreallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	memcpy(l->ids[l->n++], qid, IDS_QID_LEN + 1);
}

/* Forget l's ids and give back their array (force is kept). */
void
runner_list_release(struct runner_list *l)
{
	free(l->ids);
	l->ids = NULL;
	l->n = l->pos = l->cap = 0;
}

/* Next id of l or NULL; the list is emptied when fully consumed. */
static const char *
runner_list_next(struct runner_list *l)
{
	if (l->pos < l->n)
		return l->ids[l->pos++];
	l->n = l->pos = 0;
	return NULL;
}

void
runner_kick(struct runner *r)
{
	const struct timeval now = { 0, 0 };

	/* A timer, not event_active: active events run before the next
	 * poll, so a long queue would starve signals and the socket. */
	evtimer_add(r->work_ev, &now);
}

/*
 * A burst of mail leaves the runner's heap megabytes larger (envelopes,
 * flights, the id lists) but mostly free; once no work has come for
 * RUNNER_TRIM_AFTER, the lists are released and the free pages given
 * back (malloc_trim), so an idle runner does not keep the peak.
 */
void
runner_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	(void)fd;
	(void)what;
	if (r->nflights > 0 || r->urgent.pos < r->urgent.n ||
	    r->scan.pos < r->scan.n)
		return;		/* busy again: the next idle moment retries */
	runner_list_release(&r->urgent);
	runner_list_release(&r->scan);
	r->busy = false;
	malloc_trim(0);
}

static void
runner_scan_cb_list(const char *qid, void *arg)
{
	runner_list_push(arg, qid);
}

/* List the queue for work. A periodic scan is skipped while the previous
 * one is still being worked through; a forced one (start, flush)
 * replaces it. */
void
runner_scan(struct runner *r, bool force)
{
	if (!force && r->scan.pos < r->scan.n)
		return;
	r->scan.n = r->scan.pos = 0;
	r->scan.force = force;
	if (spool_list(r->conf->data_dir, runner_scan_cb_list, &r->scan) == -1)
		log_warn("queue scan failed: %s", strerror(errno));
	if (r->scan.n > 0)
		runner_kick(r);
}

void
runner_work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char qid[IDS_QID_LEN + 1];
	const char *next;

	(void)fd;
	(void)what;
	/* Each flight holds an fd and an envelope: past the bound, wait for
	 * one to land (runner_flight_end kicks again). */
	for (int i = 0; i < RUNNER_BATCH; i++) {
		bool force = false;

		if (atomic_load(&r->stopping) ||
		    r->nflights >= RUNNER_FLIGHTS_MAX)
			return;
		if ((next = runner_list_next(&r->urgent)) == NULL) {
			if ((next = runner_list_next(&r->scan)) == NULL) {
				if (r->rescan) {
					r->rescan = false;
					runner_scan(r, false);
				}
				return;
			}
			force = r->scan.force;
		}
		memcpy(qid, next, sizeof(qid));
		runner_process(r, qid, force);
	}
	if (r->urgent.pos < r->urgent.n || r->scan.pos < r->scan.n)
		runner_kick(r);
}

void
runner_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	metrics_rss_update();
	runner_scan(arg, false);
}

/* A message just committed: try it now (bounded list; past the bound the
 * periodic scan finds it). */
void
runner_urgent(struct runner *r, const char *qid)
{
	if (r->urgent.n - r->urgent.pos < RUNNER_URGENT_MAX)
		runner_list_push(&r->urgent, qid);
	runner_kick(r);
}
