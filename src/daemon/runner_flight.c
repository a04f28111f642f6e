/* SPDX-License-Identifier: ISC */
/* Flights (runner_internal.h): a loaded message from its due recipients'
 * selection through the local stage (deliver/delivery.h's asynchronous
 * interface: Maildir writes on the pool of threads, LMTP on this loop) and
 * the remote stage (the asynchronous engine, deliver/remote.h) to its last
 * result. */
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

/* delivery_rcpt_cb: record at once (the save follows at the job's end,
 * one for all its recipients). */
static void
runner_local_rcpt(size_t i, const struct delivery_result *res, void *arg)
{
	struct runner_flight *f = arg;

	f->lrecorded = true;
	if (runner_record(f->r, &f->env, &f->env.rcpts[f->lidx[i]],
	    f->r->local->name, res, NULL, time(NULL)))
		f->failed[f->nfailed++] = f->lidx[i];
}

/*
 * The local stage is over: save what was recorded, then the remote
 * stage. When the runner is going away (cancelled: its loop has ended)
 * deliveries that were made are still saved, since dropping their results
 * would deliver them again after a restart (LMTP cannot tell).
 */
static void
runner_local_finish(struct runner_flight *f, bool cancelled)
{
	struct runner *r = f->r;

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

/* Whether a recipient delivered now wants the inreport hook. */
static bool
runner_local_hook_wanted(const struct runner_flight *f)
{
	for (size_t i = 0; i < f->nl; i++)
		if (f->env.rcpts[f->lidx[i]].state ==
		    ENVELOPE_RCPT_DELIVERED &&
		    inreport_hook_wants(f->r->conf, &f->env, f->lidx[i]))
			return true;
	return false;
}

/* workpool_run_fn: reports mailed to our rua/ruf inbox are parsed after
 * the delivery (which they never change), on a thread since it blocks.
 * The loop does not touch the flight meanwhile. */
static void
runner_local_hook(void *arg)
{
	struct runner_flight *f = arg;

	inreport_hook_run(f->r->conf, &f->env, f->fd);
}

static void
runner_local_hook_done(void *arg, bool cancelled)
{
	runner_local_finish(arg, cancelled);
}

/* Whether a local job is in flight. */
bool
runner_local_busy(const struct runner *r)
{
	for (const struct runner_flight *f = r->flights; f != NULL;
	    f = f->next)
		if (f->ldel != NULL)
			return true;
	return false;
}

/* delivery_end_cb: the hook if wanted, then the rest. A job that a stop
 * kept from trying anyone leaves its recipients pending. */
static void
runner_local_end(void *arg)
{
	struct runner_flight *f = arg;
	struct runner *r = f->r;

	f->ldel = NULL;
	if (r->grace_over && !runner_local_busy(r))
		event_base_loopexit(r->base, NULL);
	if (!f->lrecorded) {
		if (r->closing)
			runner_flight_free(f);
		else
			runner_flight_end(f);
		return;
	}
	if (!runner_local_hook_wanted(f))
		runner_local_finish(f, r->closing);
	else if (r->closing) {
		runner_local_hook(f);	/* no loop left to wait on */
		runner_local_finish(f, true);
	} else
		workpool_submit(r->pool, runner_local_hook,
		    runner_local_hook_done, f);
}

/* Start the local stage of f on the loop. */
static void
runner_local_start(struct runner_flight *f)
{
	struct runner *r = f->r;
	const struct delivery_job job = {
		.env = &f->env,
		.msg_fd = f->fd,
		.rcpts = f->lidx,
		.nrcpts = f->nl,
		.recheck = f->recheck,
		.rcpt = runner_local_rcpt,
		.end = runner_local_end,
		.arg = f,
	};

	f->ldel = r->local->start(r->lmethod, &job);
}

/* SIGTERM: local jobs try no one new; what is under way finishes. */
void
runner_local_stop(struct runner *r)
{
	for (struct runner_flight *f = r->flights; f != NULL; f = f->next)
		if (f->ldel != NULL)
			r->local->stop(f->ldel);
}

/* The loop has ended: jobs on the pool report as it drains, the others
 * (LMTP sessions) are cut off; what they had recorded is saved. */
void
runner_local_close(struct runner *r)
{
	struct runner_flight *f, *next;

	r->closing = true;
	workpool_free(r->pool);
	r->pool = NULL;
	for (f = r->flights; f != NULL; f = next) {
		next = f->next;
		if (f->ldel == NULL)
			continue;
		r->local->cancel(f->ldel);
		f->ldel = NULL;
		if (f->lrecorded)
			runner_local_finish(f, true);
	}
	r->local->free(r->lmethod);
	r->lmethod = NULL;
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
		runner_local_start(f);
	else
		runner_flight_remote(f);
out:
	if (fd != -1)
		close(fd);
	free(local);
	free(remote);
	envelope_clear(&env);
}
