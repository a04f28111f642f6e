/* SPDX-License-Identifier: ISC */
/*
 * A pool of threads for blocking work (fsync, file copies) that an
 * event loop must not wait for: run() executes on a pool thread, done()
 * later on the loop's thread, so only the loop touches the loop's state.
 */
#ifndef SEALMAIL_CORE_WORKPOOL_H
#define SEALMAIL_CORE_WORKPOOL_H

#include <stdbool.h>

struct event_base;
struct workpool;
struct workpool_job;

/* The job's work, on a pool thread. It may touch only what arg owns. */
typedef void workpool_run_fn(void *arg);
/* On the loop thread once run() has returned; cancelled is true when
 * the submitter cancelled the job (or the pool is being freed), and then
 * done() only releases what arg owns. Called exactly once per job. */
typedef void workpool_done_fn(void *arg, bool cancelled);

/* nthreads threads (1..64) reporting to base's loop; `what` names the
 * pool in fatal errors. Fatal on failure to start. */
struct workpool *workpool_new(struct event_base *base, unsigned nthreads,
    const char *what);
/* Run every queued job to its end, stop the threads, call done(arg,
 * true) for the jobs whose done() had not run yet, free. NULL: no-op. */
void workpool_free(struct workpool *p);
/* Queue run(arg); done(arg, …) follows on the loop. The handle is valid
 * until done() is called. */
struct workpool_job *workpool_submit(struct workpool *p, workpool_run_fn *run,
    workpool_done_fn *done, void *arg);
/* workpool_submit on p, or with p NULL run(arg) then done(arg, false)
 * now on the caller's thread (a caller whose work may block only on some
 * configurations: one function either way); NULL then. */
struct workpool_job *workpool_submit_or_run(struct workpool *p,
    workpool_run_fn *run, workpool_done_fn *done, void *arg);
/* The submitter no longer wants the result: run() still happens (it
 * cannot be stopped halfway), done() gets cancelled = true. Loop thread
 * only. */
void workpool_cancel(struct workpool_job *j);

#endif
