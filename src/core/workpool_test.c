/* SPDX-License-Identifier: ISC */
/* Unit tests of the work pool: every job runs on a thread and is reported
 * once on the loop; a cancelled job still runs and is reported cancelled;
 * freeing the pool drains queued jobs and reports them cancelled. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/workpool.h"

#define NJOBS	50

struct job {
	struct event_base	*base;
	pthread_t		 loop;
	int			 ran, done, cancelled;
	int			*remaining;
	bool			 slow;
};

static void
job_run(void *arg)
{
	struct job *j = arg;

	if (j->slow)
		usleep(20000);
	j->ran++;
}

static void
job_done(void *arg, bool cancelled)
{
	struct job *j = arg;

	assert_true(pthread_equal(pthread_self(), j->loop));
	assert_int_equal(j->ran, 1);	/* done only after run */
	j->done++;
	j->cancelled += cancelled;
	if (--*j->remaining == 0)
		event_base_loopexit(j->base, NULL);
}

static void
test_jobs(void **unused)
{
	struct event_base *base = event_base_new();
	struct workpool *p = workpool_new(base, 4, "test pool");
	struct job jobs[NJOBS] = { 0 };
	struct workpool_job *h[NJOBS];
	int remaining = NJOBS;

	(void)unused;
	for (int i = 0; i < NJOBS; i++) {
		jobs[i] = (struct job){ .base = base, .loop = pthread_self(),
		    .remaining = &remaining };
		h[i] = workpool_submit(p, job_run, job_done, &jobs[i]);
	}
	workpool_cancel(h[7]);
	event_base_dispatch(base);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(jobs[i].ran, 1);
		assert_int_equal(jobs[i].done, 1);
		assert_int_equal(jobs[i].cancelled, i == 7);
	}
	workpool_free(p);
	event_base_free(base);
}

static void
test_free_drains(void **unused)
{
	struct event_base *base = event_base_new();
	struct workpool *p = workpool_new(base, 2, "test pool");
	struct job jobs[8] = { 0 };
	int remaining = 8;

	(void)unused;
	for (int i = 0; i < 8; i++) {
		jobs[i] = (struct job){ .base = base, .loop = pthread_self(),
		    .remaining = &remaining, .slow = true };
		workpool_submit(p, job_run, job_done, &jobs[i]);
	}
	workpool_free(p);	/* the loop never ran: all cancelled */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(jobs[i].ran, 1);
		assert_int_equal(jobs[i].done, 1);
		assert_int_equal(jobs[i].cancelled, 1);
	}
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_free_drains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
