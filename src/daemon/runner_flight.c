/* SPDX-License-Identifier: ISC */
/* Flights (runner_internal.h): a loaded message from its due recipients'
 * selection through its stages, local then remote, each a job of a
 * method behind deliver/delivery.h's asynchronous interface (Maildir
 * writes on the pool of threads, LMTP and SMTP on this loop), to its last
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
	f->idx[RUNNER_LOCAL] = xcalloc(nl + 1, sizeof(size_t));
	memcpy(f->idx[RUNNER_LOCAL], local, nl * sizeof(*local));
	f->n[RUNNER_LOCAL] = nl;
	f->idx[RUNNER_REMOTE] = xcalloc(nr + 1, sizeof(size_t));
	memcpy(f->idx[RUNNER_REMOTE], remote, nr * sizeof(*remote));
	f->n[RUNNER_REMOTE] = nr;
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
	for (size_t s = 0; s < RUNNER_STAGES; s++)
		free(f->idx[s]);
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

/* Recipient i of the stage's job, as an index into f->env.rcpts. */
static size_t
runner_stage_rcpt_index(const struct runner_flight *f, size_t i)
{
	return f->idx[f->stage][i];
}

/* delivery_rcpt_cb: record at once. A remote result is saved at once
 * too, so a crash repeats as little as possible (a remote job may take
 * minutes over its destinations); a local job's are saved at its end,
 * one save for all its recipients (a copy made before a crash is found
 * again: runner.suspect). */
static void
runner_stage_rcpt(size_t i, const struct delivery_result *res, void *arg)
{
	struct runner_flight *f = arg;
	struct runner *r = f->r;
	size_t k = runner_stage_rcpt_index(f, i);

	f->recorded = true;
	if (runner_record(r, &f->env, &f->env.rcpts[k],
	    r->method[f->stage].ops->name, res, time(NULL)))
		f->failed[f->nfailed++] = k;
	if (f->stage == RUNNER_REMOTE &&
	    spool_msg_exists(r->conf->data_dir, f->env.id))
		runner_save(r, &f->env);
}

/* Without the stage's method (the remote engine's setup failed, logged
 * at start) its recipients are deferred with the reason on the retry
 * schedule, and expire like the others. */
static void
runner_stage_defer(struct runner_flight *f)
{
	struct runner *r = f->r;
	const struct runner_method *rm = &r->method[f->stage];
	struct delivery_result res = { .status = DELIVERY_TEMPFAIL };
	time_t now = time(NULL);

	snprintf(res.reply, sizeof(res.reply), "4.3.0 %s delivery "
	    "unavailable: %s", f->stage == RUNNER_LOCAL ? "local" : "remote",
	    rm->err ? rm->err : "?");
	for (size_t i = 0; i < f->n[f->stage]; i++) {
		size_t k = runner_stage_rcpt_index(f, i);

		if (runner_record(r, &f->env, &f->env.rcpts[k], rm->ops->name,
		    &res, now))
			f->failed[f->nfailed++] = k;
	}
	runner_save(r, &f->env);
	runner_flight_bounce(f);
}

static void runner_stage_end(void *arg);

/* Start the first stage from stage on that has due recipients, or finish
 * the message when none is left. A stopping runner begins no remote job:
 * those recipients stay pending for the next runner. */
static void
runner_stage_start(struct runner_flight *f, enum runner_stage stage)
{
	struct runner *r = f->r;
	const struct runner_method *rm;
	struct delivery_job job;

	while (stage < RUNNER_STAGES && f->n[stage] == 0)
		stage++;
	if (stage == RUNNER_STAGES) {
		runner_maybe_finish(r, &f->env, &f->fd);
		runner_flight_end(f);
		return;
	}
	if (stage != RUNNER_LOCAL && atomic_load(&r->stopping)) {
		runner_flight_end(f);
		return;
	}
	f->stage = stage;
	f->recorded = false;
	rm = &r->method[stage];
	if (rm->m == NULL) {
		runner_stage_defer(f);
		runner_stage_start(f, stage + 1);
		return;
	}
	job = (struct delivery_job){
		.env = &f->env,
		.msg_fd = f->fd,
		.rcpts = f->idx[stage],
		.nrcpts = f->n[stage],
		.recheck = f->recheck,
		.rcpt = runner_stage_rcpt,
		.end = runner_stage_end,
		.arg = f,
	};
	f->del = rm->ops->start(rm->m, &job);
}

/*
 * The stage is over: save what was recorded, bounce what failed, then
 * the next stage. When the runner is going away (cancelled: its loop has
 * ended) deliveries that were made are still saved, since dropping their
 * results would deliver them again after a restart (LMTP cannot tell).
 */
static void
runner_stage_over(struct runner_flight *f, bool cancelled)
{
	struct runner *r = f->r;

	if (!spool_msg_exists(r->conf->data_dir, f->env.id)) {
		if (cancelled)		/* deleted meanwhile */
			runner_flight_free(f);
		else
			runner_flight_end(f);
		return;
	}
	/* Remote results were saved one by one. */
	if (f->stage == RUNNER_LOCAL)
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
	runner_stage_start(f, f->stage + 1);
}

/* Whether a recipient delivered now wants the inreport hook (reports
 * mailed to our rua/ruf inbox: local recipients only). */
static bool
runner_local_hook_wanted(const struct runner_flight *f)
{
	if (f->stage != RUNNER_LOCAL)
		return false;
	for (size_t i = 0; i < f->n[RUNNER_LOCAL]; i++) {
		size_t k = f->idx[RUNNER_LOCAL][i];

		if (f->env.rcpts[k].state == ENVELOPE_RCPT_DELIVERED &&
		    inreport_hook_wants(f->r->conf, &f->env, k))
			return true;
	}
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
	runner_stage_over(arg, cancelled);
}

/* Whether a local job is in flight. */
bool
runner_local_busy(const struct runner *r)
{
	for (const struct runner_flight *f = r->flights; f != NULL;
	    f = f->next)
		if (f->del != NULL && f->stage == RUNNER_LOCAL)
			return true;
	return false;
}

/* delivery_end_cb: the hook if wanted, then the rest. A job that a stop
 * kept from trying anyone leaves its recipients pending. */
static void
runner_stage_end(void *arg)
{
	struct runner_flight *f = arg;
	struct runner *r = f->r;

	f->del = NULL;
	if (r->grace_over && !runner_local_busy(r))
		event_base_loopexit(r->base, NULL);
	if (!f->recorded) {
		if (r->closing)
			runner_flight_free(f);
		else
			runner_flight_end(f);
		return;
	}
	if (!runner_local_hook_wanted(f))
		runner_stage_over(f, r->closing);
	else if (r->closing) {
		runner_local_hook(f);	/* no loop left to wait on */
		runner_stage_over(f, true);
	} else
		workpool_submit(r->pool, runner_local_hook,
		    runner_local_hook_done, f);
}

/* SIGTERM: jobs begin nothing new; what is under way finishes. */
void
runner_flights_stop(struct runner *r)
{
	for (struct runner_flight *f = r->flights; f != NULL; f = f->next)
		if (f->del != NULL)
			r->method[f->stage].ops->stop(f->del);
}

/* The loop has ended: jobs on the pool report as it drains, the others
 * (LMTP and SMTP sessions) are cut off; what they had recorded is saved
 * (remote results already were) and what failed bounced. */
void
runner_flights_close(struct runner *r)
{
	struct runner_flight *f, *next;

	r->closing = true;
	workpool_free(r->pool);
	r->pool = NULL;
	for (f = r->flights; f != NULL; f = next) {
		next = f->next;
		if (f->del == NULL)
			continue;
		r->method[f->stage].ops->cancel(f->del);
		f->del = NULL;
		if (f->recorded)
			runner_stage_over(f, true);
	}
	for (size_t s = 0; s < RUNNER_STAGES; s++) {
		if (r->method[s].ops != NULL)
			r->method[s].ops->free(r->method[s].m);
		r->method[s].m = NULL;
	}
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
	runner_stage_start(f, RUNNER_LOCAL);
out:
	if (fd != -1)
		close(fd);
	free(local);
	free(remote);
	envelope_clear(&env);
}
