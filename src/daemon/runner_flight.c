/* SPDX-License-Identifier: ISC */
/* Flights (runner_internal.h): a loaded message from its due recipients'
 * selection through the local stage (pool threads) and the remote stage
 * (the asynchronous engine) to its last result. */
#include "daemon/runner_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "deliver/remote.h"
#include "queue/spool.h"
#include "report/inreport_hook.h"
#include "sched/sched.h"

static struct runner_flight *
runner_flight_find(const struct runner *r, const char *qid)
{
	struct runner_flight *f;

	for (f = r->flights; f != NULL; f = f->next)
		if (strcmp(f->env.id, qid) == 0)
			return f;
	return NULL;
}

/* A flight for *env (taken: env is left empty) and fd, with the due
 * local and remote recipient indices copied. */
static struct runner_flight *
runner_flight_new(struct runner *r, struct envelope *env, int fd,
    const size_t *local, size_t nl, const size_t *remote, size_t nr)
{
	struct runner_flight *f = xcalloc(1, sizeof(*f));

	f->r = r;
	f->env = *env;
	envelope_init(env);
	f->fd = fd;
	f->lidx = xcalloc(nl + 1, sizeof(*f->lidx));
	memcpy(f->lidx, local, nl * sizeof(*local));
	f->nl = nl;
	f->lres = xcalloc(nl + 1, sizeof(*f->lres));
	f->ridx = xcalloc(nr + 1, sizeof(*f->ridx));
	memcpy(f->ridx, remote, nr * sizeof(*remote));
	f->nr = nr;
	f->failed = xcalloc(f->env.nrcpts + 1, sizeof(*f->failed));
	f->next = r->flights;
	r->flights = f;
	r->nflights++;
	return f;
}

/* Forget f; the runner exits when SIGTERM is waiting for the last one,
 * and otherwise goes on with queued work. */
void
runner_flight_free(struct runner_flight *f)
{
	struct runner *r = f->r;
	struct runner_flight **pp;

	for (pp = &r->flights; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			r->nflights--;
			break;
		}
	if (f->fd != -1)
		close(f->fd);
	envelope_clear(&f->env);
	free(f->lidx);
	free(f->lres);
	free(f->ridx);
	free(f->failed);
	free(f);
}

static void
runner_flight_end(struct runner_flight *f)
{
	struct runner *r = f->r;
	const struct timeval later = { RUNNER_TRIM_AFTER, 0 };

	runner_flight_free(f);
	if (r->stopping && r->nflights == 0)
		event_base_loopexit(r->base, NULL);
	else if (r->urgent.pos < r->urgent.n || r->scan.pos < r->scan.n)
		runner_kick(r);
	else if (r->nflights == 0 && r->busy)
		evtimer_add(r->trim_ev, &later);
}

/* Bounce the recipients that failed in the stage just ended. */
static void
runner_flight_bounce(struct runner_flight *f)
{
	runner_bounce(f->r, &f->env, f->failed, f->nfailed);
	f->nfailed = 0;
}

/* remote_rcpt_cb: record and save at once, so a crash repeats as little
 * as possible. */
static void
runner_remote_rcpt(size_t i, const struct delivery_result *res,
    const struct remote_attempt *at, void *arg)
{
	struct runner_flight *f = arg;
	time_t now = time(NULL);

	if (runner_record(f->r, &f->env, &f->env.rcpts[f->ridx[i]], "smtp",
	    res, at, now))
		f->failed[f->nfailed++] = f->ridx[i];
	if (spool_msg_exists(f->r->conf->data_dir, f->env.id))
		runner_save(f->r, &f->env);
}

/* remote_done_cb: bounce, maybe remove the message, forget the flight. */
static void
runner_remote_done(void *arg)
{
	struct runner_flight *f = arg;

	if (spool_msg_exists(f->r->conf->data_dir, f->env.id)) {
		runner_flight_bounce(f);
		runner_maybe_finish(f->r, &f->env, &f->fd);
	}
	runner_flight_end(f);
}

/* Without a remote engine (its setup failed, logged at start) remote
 * recipients are deferred with the reason on the retry schedule, and
 * expire like the others. */
static void
runner_defer_remote(struct runner_flight *f)
{
	struct runner *r = f->r;
	struct delivery_result res = { .status = DELIVERY_TEMPFAIL };
	time_t now = time(NULL);

	snprintf(res.reply, sizeof(res.reply), "4.3.0 remote delivery "
	    "unavailable: %s", r->remote_err ? r->remote_err : "?");
	for (size_t i = 0; i < f->nr; i++)
		if (runner_record(r, &f->env, &f->env.rcpts[f->ridx[i]],
		    "smtp", &res, NULL, now))
			f->failed[f->nfailed++] = f->ridx[i];
	runner_save(r, &f->env);
	runner_flight_bounce(f);
}

/* The remote stage: hand the due remote recipients to the engine, or
 * finish the message here. A stopping runner starts no remote session:
 * those recipients stay pending for the next runner. */
static void
runner_flight_remote(struct runner_flight *f)
{
	struct runner *r = f->r;
	struct remote_job job;

	if (f->nr > 0 && atomic_load(&r->stopping)) {
		runner_flight_end(f);
		return;
	}
	if (f->nr > 0 && r->remote != NULL) {
		job = (struct remote_job){
			.env = &f->env,
			.msg_fd = f->fd,
			.rcpts = f->ridx,
			.nrcpts = f->nr,
			.rcpt_cb = runner_remote_rcpt,
			.done = runner_remote_done,
			.arg = f,
		};
		if (remote_deliver(r->remote, &job) == 0)
			return;		/* runner_remote_done follows */
	}
	if (f->nr > 0)
		runner_defer_remote(f);
	runner_maybe_finish(r, &f->env, &f->fd);
	runner_flight_end(f);
}

/* delivery_done_cb, on a pool thread: only keep the result. */
static void
runner_local_result(size_t i, const struct delivery_result *res, void *arg)
{
	struct runner_flight *f = arg;

	f->lres[i] = *res;
}

/* workpool_run_fn: deliver the local recipients. The thread reads only
 * the flight (not touched by the loop meanwhile) and the configuration. */
static void
runner_local_run(void *arg)
{
	struct runner_flight *f = arg;
	struct runner *r = f->r;
	struct delivery_job job = {
		.data_dir = r->conf->data_dir,
		.hostname = r->conf->hostname,
		.target = r->target,
		.timeout = RUNNER_OP_TIMEOUT,
		.env = &f->env,
		.msg_fd = f->fd,
		.rcpts = f->lidx,
		.nrcpts = f->nl,
		.recheck = f->recheck,
		.done = runner_local_result,
		.arg = f,
	};

	/* Queued before a SIGTERM: not started, so the stop does not wait
	 * for it (its recipients stay pending, nothing was delivered). */
	if (atomic_load(&r->stopping)) {
		f->skipped = true;
		return;
	}
	r->local->deliver(&job);
	f->ran = true;
	/* Reports mailed to our rua/ruf inbox: parsed here, after the
	 * delivery (which they never change), since it blocks. */
	for (size_t i = 0; i < f->nl; i++)
		if (f->lres[i].status == DELIVERY_OK &&
		    inreport_hook_wants(r->conf, &f->env, f->lidx[i])) {
			inreport_hook_run(r->conf, &f->env, f->fd);
			break;
		}
}

/*
 * workpool_done_fn: record the local results, then the remote stage.
 * Deliveries that were made are recorded even when the runner is going
 * away (cancelled: the pool is being freed after the stop's grace time),
 * since dropping their results would deliver them again after a restart.
 */
static void
runner_local_done(void *arg, bool cancelled)
{
	struct runner_flight *f = arg;
	struct runner *r = f->r;
	time_t now = time(NULL);

	if (f->skipped || !f->ran) {
		if (cancelled)
			runner_flight_free(f);
		else
			runner_flight_end(f);
		return;
	}
	for (size_t i = 0; i < f->nl; i++)
		if (runner_record(r, &f->env, &f->env.rcpts[f->lidx[i]],
		    r->local->name, &f->lres[i], NULL, now))
			f->failed[f->nfailed++] = f->lidx[i];
	if (!spool_msg_exists(r->conf->data_dir, f->env.id)) {
		if (cancelled)		/* deleted meanwhile */
			runner_flight_free(f);
		else
			runner_flight_end(f);
		return;
	}
	switch (runner_save(r, &f->env)) {
	case 1:
		qidset_del(&r->suspect, f->env.id);
		break;
	case -1:
		qidset_add(&r->suspect, f->env.id);
		break;
	}
	runner_flight_bounce(f);
	if (cancelled) {
		runner_maybe_finish(r, &f->env, &f->fd);
		runner_flight_free(f);
		return;
	}
	runner_flight_remote(f);
}

void
runner_process(struct runner *r, const char *qid, bool force)
{
	struct envelope env;
	char err[256], esc[300];
	size_t *local = NULL, *remote = NULL, nl, nr;
	struct runner_flight *f;
	int fd = -1;

	if (runner_flight_find(r, qid) != NULL)
		return;		/* results will come; seen again later */
	envelope_init(&env);
	if (spool_env_open(r->conf->data_dir, qid, &env, &fd, err,
	    sizeof(err)) == -1) {
		/* ENOENT: delivered or deleted since it was listed. */
		if (errno != ENOENT)
			log_warn("qid=%s queue envelope unusable: %s", qid,
			    log_escape(err, strlen(err), esc, sizeof(esc)));
		goto out;
	}
	local = xcalloc(env.nrcpts + 1, sizeof(*local));
	remote = xcalloc(env.nrcpts + 1, sizeof(*remote));
	sched_due(r->conf, &env, force, time(NULL), local, &nl, remote, &nr);
	if (nl + nr == 0) {
		runner_maybe_finish(r, &env, &fd);
		goto out;
	}
	f = runner_flight_new(r, &env, fd, local, nl, remote, nr);
	fd = -1;		/* the flight's now */
	f->recheck = qidset_has(&r->suspect, qid);
	r->busy = true;
	if (nl > 0)
		workpool_submit(r->pool, runner_local_run, runner_local_done,
		    f);
	else
		runner_flight_remote(f);
out:
	if (fd != -1)
		close(fd);
	free(local);
	free(remote);
	envelope_clear(&env);
}
