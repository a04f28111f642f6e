/* SPDX-License-Identifier: ISC */
/*
 * The queue runner's report schedule (runner_reports.h). The job blocks
 * (DNS, SQLite, fsync), so it runs on a one-thread pool; the loop only
 * arms timers. The store's claim and watermark keep a restarted runner
 * and `sealmail reports send` from sending a period twice.
 */
#include "daemon/runner_reports.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "report/report.h"
#include "report/report_job.h"

/* The first run after a start, once the daemon has settled. */
#define RUNNER_REPORTS_FIRST	10
/* Failure reports waiting in the store are sent this often. */
#define RUNNER_REPORTS_FAILURES	60

struct runner_reports {
	const struct conf	*conf;
	struct dkim_keys	*keys;		/* the master's; only the pool
						 * thread signs with them */
	struct workpool		*pool;
	struct event		*daily_ev, *minute_ev;
	bool			 busy;		/* a job is on the pool */
};

/* workpool_run_fn: the periodic job. */
static void
runner_reports_run(void *arg)
{
	struct runner_reports *rr = arg;
	char err[512];

	if (report_job_run_keys(rr->conf, rr->keys, (long long)time(NULL), 0,
	    NULL, err, sizeof(err)) == -1)
		log_warn("reports: %s", err);
}

/* workpool_run_fn: failure reports (RFC 9991) waiting in the store. */
static void
runner_reports_failures(void *arg)
{
	struct runner_reports *rr = arg;

	report_job_failures(rr->conf, rr->keys, (long long)time(NULL));
}

static void
runner_reports_done(void *arg, bool cancelled)
{
	struct runner_reports *rr = arg;

	(void)cancelled;
	rr->busy = false;
}

/* Arm the daily timer for the next report_job_next() time. */
static void
runner_reports_arm(struct runner_reports *rr, long long delay)
{
	struct timeval tv = { (time_t)(delay > 0 ? delay : 1), 0 };

	evtimer_add(rr->daily_ev, &tv);
}

static void
runner_reports_daily_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_reports *rr = arg;
	long long now = (long long)time(NULL);

	(void)fd;
	(void)what;
	if (!rr->busy) {
		rr->busy = true;
		workpool_submit(rr->pool, runner_reports_run,
		    runner_reports_done, rr);
		runner_reports_arm(rr, report_job_next(rr->conf, now) - now);
	} else		/* a long run still going: look again soon */
		runner_reports_arm(rr, RUNNER_REPORTS_FIRST);
}

static void
runner_reports_minute_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_reports *rr = arg;

	(void)fd;
	(void)what;
	if (!rr->busy) {
		rr->busy = true;
		workpool_submit(rr->pool, runner_reports_failures,
		    runner_reports_done, rr);
	}
}

struct runner_reports *
runner_reports_start(struct event_base *base, const struct conf *conf,
    struct dkim_keys *keys)
{
	const struct timeval minute = { RUNNER_REPORTS_FAILURES, 0 };
	struct runner_reports *rr;

	if (!conf->reports_dmarc_aggregate && !conf->reports_tlsrpt &&
	    !conf->reports_dmarc_failure)
		return NULL;
	rr = xcalloc(1, sizeof(*rr));
	rr->conf = conf;
	rr->keys = keys;
	rr->pool = workpool_new(base, 1, "reports");
	rr->daily_ev = evtimer_new(base, runner_reports_daily_cb, rr);
	rr->minute_ev = event_new(base, -1, EV_PERSIST,
	    runner_reports_minute_cb, rr);
	if (rr->daily_ev == NULL || rr->minute_ev == NULL)
		fatal("reports: cannot create timers");
	if (conf->reports_dmarc_aggregate || conf->reports_tlsrpt)
		runner_reports_arm(rr, RUNNER_REPORTS_FIRST);
	if (conf->reports_dmarc_failure)
		event_add(rr->minute_ev, &minute);
	return rr;
}

void
runner_reports_free(struct runner_reports *rr)
{
	if (rr == NULL)
		return;
	event_free(rr->daily_ev);
	event_free(rr->minute_ev);
	workpool_free(rr->pool);
	free(rr);
}
