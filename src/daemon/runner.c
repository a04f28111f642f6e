/* SPDX-License-Identifier: ISC */
/*
 * The queue runner (see runner.h). Work is kept as two FIFO lists of queue
 * ids: "urgent" (nudged by "new ID": just accepted, tried first) and
 * "scan" (from the last scan). A zero-delay timer starts a few messages
 * per loop turn, so SIGTERM and nudges are handled between them.
 * Envelopes on disk are the only state: a message is loaded and becomes a
 * "flight", which owns the loaded envelope and the message fd until every
 * due recipient has a result. Its due local recipients are delivered on a
 * pool of threads (core/workpool.h: Maildir and LMTP block on the disk
 * or a socket, and concurrent deliveries share the disk's flushes), then
 * its due remote recipients go to the asynchronous remote engine
 * (deliver/remote.h). A message in flight is skipped when it comes up
 * again, so no two attempts of one message overlap.
 */
#include "daemon/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "deliver/lmtp.h"
#include "deliver/maildir.h"
#include "deliver/remote.h"
#include "keys/keys_client.h"
#include "proc/sandbox.h"
#include "queue/spool.h"
#include "report/inreport_hook.h"
#include "queue/qidset.h"
#include "queue/suspects.h"
#include "sched/sched.h"
#include "daemon/runner_history.h"
#include "daemon/runner_reports.h"

#if defined(__has_include)
#if __has_include("queue/bounce.h")
#include "queue/bounce.h"
#define RUNNER_HAVE_BOUNCE_H
#endif
#endif
#ifndef RUNNER_HAVE_BOUNCE_H
/*
 * Declared here until src/queue/bounce.h (written by another helper) is in
 * the tree: queue a DSN (RFC 3464) to env's sender for the FAILED
 * recipients failed[0..nfailed); 0, or -1 with err.
 */
struct conf;
int bounce_enqueue(const struct conf *conf, const struct envelope *env,
    const size_t *failed, size_t nfailed, char *err, size_t errlen);
#endif
/* Datagrams handled per wakeup, so a flood cannot starve the work. */
#define RUNNER_NUDGE_BURST	256
/* Nudged ids waiting; past this the periodic scan picks messages up. */
#define RUNNER_URGENT_MAX	100000
/* Without the inotify watch: how often queue/ is checked for change. */
#define RUNNER_POLL_MS		200
/* Messages in flight (each holds an open fd). */
#define RUNNER_FLIGHTS_MAX	256
/* Messages started per loop turn. */
#define RUNNER_BATCH		32
/* Threads delivering locally at once. */
#define RUNNER_LOCAL_THREADS	4
/* Seconds in-flight deliveries get after SIGTERM. */
#define RUNNER_STOP_GRACE	5
/* Seconds without work after which a busy spell's memory is returned. */
#define RUNNER_TRIM_AFTER	1

struct runner_list {
	char	(*ids)[IDS_QID_LEN + 1];
	size_t	  n, pos, cap;
	bool	  force;	/* every pending recipient is due */
};

/* A message being delivered: first its due local recipients (on the
 * pool), then its due remote ones (with the remote engine). */
struct runner_flight {
	struct runner_flight		*next;
	struct runner			*r;
	struct envelope			 env;
	int				 fd;
	size_t				*lidx, nl;	/* local rcpts of env */
	struct delivery_result		*lres;	/* their results */
	size_t				*ridx, nr;	/* remote rcpts */
	size_t				*failed;	/* became FAILED */
	size_t				 nfailed;
	/* Set on the pool thread, read by the loop after the job's done():
	 * the local stage was skipped (stopping) / has run to its end. */
	bool				 skipped, ran;
	bool				 recheck;	/* in suspect */
};

struct runner {
	const struct conf		*conf;
	struct event_base		*base;
	struct event			*nudge_ev, *scan_ev, *work_ev;
	struct event			*watch_ev;	/* inotify */
	struct event			*poll_ev;	/* no watch: queue/
							 * checked for change */
	struct timespec			 queue_mtime;	/* seen by poll_ev */
	int				 watch_fd;
	bool				 rescan;	/* events lost */
	struct event			*sig_ev[3];
	int				 sock;
	struct sockaddr_un		 sun;
	struct stat			 sun_st;	/* the bound path */
	const struct delivery_ops	*local;
	char				*target;	/* LMTP or NULL */
	struct runner_list		 urgent, scan;
	struct workpool			*pool;	/* local deliveries */
	struct remote			*remote;	/* NULL: unavailable */
	char				*remote_err;	/* why */
	struct runner_flight		*flights;
	size_t				 nflights;
	atomic_bool			 stopping;	/* SIGTERM seen; read
							 * by pool threads */
	struct event			*stop_ev;	/* grace deadline */
	struct event			*trim_ev;	/* idle: give memory back */
	bool				 busy;		/* flights since the trim */
	struct runner_reports		*reports;	/* the report job */
	struct runner_history		*history;	/* status page's */
	/*
	 * Exactly-once local delivery: the messages whose state on disk may
	 * lag behind deliveries already made, whose Maildir copies must be
	 * looked for before they are written (deliver/maildir.h). A runner
	 * killed between a delivery and the save of its result leaves such
	 * messages; they are all still queued when the next runner has
	 * taken the lock, so the set starts as the queue listed at start.
	 * Messages committed later have only ever been attempted by this
	 * runner, which records each result before the next attempt (a
	 * flight at a time per message), so they are looked up in vain in
	 * the empty set and cost nothing more: no scan of a large cur/, and
	 * no mark written and synced before every attempt. A message leaves
	 * the set once its results are on disk (saved, or the message
	 * removed), and joins it when that fails.
	 */
	struct qidset			 suspect;
};

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
static void
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

static void
runner_kick(struct runner *r)
{
	const struct timeval now = { 0, 0 };

	/* A timer, not event_active: active events run before the next
	 * poll, so a long queue would starve signals and the socket. */
	evtimer_add(r->work_ev, &now);
}

/* --- recording results -------------------------------------------------- */

static void
runner_log_attempt(const struct envelope *env, const struct envelope_rcpt *rc,
    const char *method, const struct remote_attempt *at, const char *result,
    const char *reply, time_t now)
{
	char addr[300], text[600], relay[300] = "";

	if (at != NULL) {
		char esc[sizeof(at->relay) * 4];

		snprintf(relay, sizeof(relay), " relay=%s tls=%s verified=%s "
		    "policy=%s authenticated=%s%s",
		    log_escape(at->relay, strlen(at->relay), esc, sizeof(esc)),
		    at->tls, at->verified ? "yes" : "no",
		    at->policy ? at->policy : "none",
		    at->authenticated ? "yes" : "no",
		    at->overridden ? " overridden=tls-required-no" : "");
	}
	log_info("qid=%s delivery rcpt=%s method=%s%s result=%s "
	    "reply=%s delay=%llds", env->id,
	    log_quote(rc->address, strlen(rc->address), addr, sizeof(addr)),
	    method, relay, result, log_quote(reply, strlen(reply), text,
	    sizeof(text)), (long long)(now - env->created));
}

/* Count an attempt's outcome; failures keep their reply for the status
 * page. */
static void
runner_count(const struct envelope_rcpt *rc, const struct remote_attempt *at,
    const char *result)
{
	enum metrics_result mr = result[0] == 'd' && result[2] == 'l' ?
	    METRICS_DELIVERED : result[0] == 'f' ? METRICS_BOUNCED :
	    METRICS_DEFERRED;

	metrics_delivery(mr, at ? (at->policy ? at->policy : "none") : NULL,
	    at && strcmp(at->tls, "none") != 0 && at->tls[0] != '\0',
	    at && at->authenticated);
	if (mr != METRICS_DELIVERED)
		metrics_delivery_failure(mr, rc->address, rc->last_reply);
}

/* Apply one attempt's outcome to recipient rc (sched_record) and log it
 * (at: remote details, or NULL). Returns true if rc has just become
 * FAILED. */
static bool
runner_record(struct runner *r, struct envelope *env,
    struct envelope_rcpt *rc, const char *method,
    const struct delivery_result *res, const struct remote_attempt *at,
    time_t now)
{
	static const char *const result[] = {
		[SCHED_DELIVERED] = "delivered",
		[SCHED_DEFERRED] = "deferred",
		[SCHED_FAILED] = "failed",
	};
	enum sched_outcome o = sched_record(r->conf, env, rc, res, now);

	runner_log_attempt(env, rc, method, at, result[o], rc->last_reply,
	    now);
	runner_count(rc, at, result[o]);
	return o == SCHED_FAILED;
}

/* Save env after a result. When no recipient is pending any more the
 * message is about to be removed (after its bounces are queued): the save
 * (two fsyncs) is skipped, since a crash before the removal repeats the
 * attempts either way (never a loss; local Maildir copies are then found
 * again, see runner.suspect). 1 saved, 0 skipped, -1 failed. */
static int
runner_save(struct runner *r, struct envelope *env)
{
	if (sched_pending(env, NULL, NULL) == 0)
		return 0;
	if (spool_env_save(r->conf->data_dir, env) == -1) {
		log_warn("qid=%s queue envelope save failed: %s", env->id,
		    strerror(errno));
		return -1;
	}
	return 1;
}

/* Send the DSN for the recipients that have just failed. The sender gets
 * it unless it is the null path (bounce_enqueue checks that, and NOTIFY).
 * A crash between the save of FAILED and this call loses the DSN, never
 * a message. */
static void
runner_bounce(struct runner *r, const struct envelope *env,
    const size_t *failed, size_t nfailed)
{
	char err[256], esc[300];

	if (nfailed == 0)
		return;
	if (bounce_enqueue(r->conf, env, failed, nfailed, err,
	    sizeof(err)) == -1)
		log_warn("qid=%s bounce failed: %s", env->id,
		    log_escape(err, strnlen(err, sizeof(err)), esc,
		    sizeof(esc)));
}

/* Remove the message if no recipient is pending any more. *fd, the
 * caller's descriptor of the message, is closed first: once recycled the
 * file may belong to another process (spool_recycle). */
static void
runner_maybe_finish(struct runner *r, const struct envelope *env, int *fd)
{
	size_t delivered, failed;

	if (sched_pending(env, &delivered, &failed) > 0)
		return;
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
	if (spool_recycle(r->conf->data_dir, env) == -1) {
		if (errno != ENOENT) {
			log_warn("qid=%s queue remove failed: %s", env->id,
			    strerror(errno));
			qidset_add(&r->suspect, env->id);
		}
		return;
	}
	qidset_del(&r->suspect, env->id);
	log_info("qid=%s queue removed delivered=%zu failed=%zu", env->id,
	    delivered, failed);
}

/* --- flights ---------------------------------------------------------- */

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
static void
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

/*
 * A burst of mail leaves the runner's heap megabytes larger (envelopes,
 * flights, the id lists) but mostly free; once no work has come for
 * RUNNER_TRIM_AFTER, the lists are released and the free pages given
 * back (malloc_trim), so an idle runner does not keep the peak.
 */
static void
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

static void
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

/* --- events ----------------------------------------------------------- */

static void
runner_scan_cb_list(const char *qid, void *arg)
{
	runner_list_push(arg, qid);
}

/* List the queue for work. A periodic scan is skipped while the previous
 * one is still being worked through; a forced one (start, flush)
 * replaces it. */
static void
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

static void
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

static void
runner_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	runner_scan(arg, false);
}

/*
 * Without the inotify watch (inotify instances are a per-user limit,
 * fs.inotify.max_user_instances, 128 by default) new mail must still be
 * taken at once: queue/ is checked every RUNNER_POLL_MS and scanned when
 * its modification time moved (every commit renames into it). One stat
 * per poll, and nothing on the writers' side.
 */
static void
runner_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char path[PATH_MAX];
	struct stat st;

	(void)fd;
	(void)what;
	if (spool_queue_dir(r->conf->data_dir, path, sizeof(path)) == -1 ||
	    stat(path, &st) == -1 ||
	    (st.st_mtim.tv_sec == r->queue_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == r->queue_mtime.tv_nsec))
		return;
	r->queue_mtime = st.st_mtim;
	if (r->scan.pos < r->scan.n)
		r->rescan = true;
	else
		runner_scan(r, false);
}

/* A message just committed: try it now (bounded list; past the bound the
 * periodic scan finds it). */
static void
runner_urgent(struct runner *r, const char *qid)
{
	if (r->urgent.n - r->urgent.pos < RUNNER_URGENT_MAX)
		runner_list_push(&r->urgent, qid);
	runner_kick(r);
}

/* One datagram: "new ID" or "flush". */
static void
runner_nudge(struct runner *r, const char *msg, size_t n)
{
	char esc[100];

	if (n == 5 && memcmp(msg, "flush", 5) == 0) {
		log_info("queue flush requested");
		runner_scan(r, true);
	} else if (n == 4 + IDS_QID_LEN && memcmp(msg, "new ", 4) == 0 &&
	    ids_qid_valid(msg + 4)) {
		runner_urgent(r, msg + 4);
	} else
		log_warn("queue runner ignored nudge \"%s\"",
		    log_escape(msg, n, esc, sizeof(esc)));
}

/*
 * inotify on spool/queue: every message file renamed in (a commit by an
 * SMTP worker, sendmail or a bounce) is work. This needs nothing from the
 * writers, and unlike datagram nudges (a Unix datagram socket queues only
 * net.unix.max_dgram_qlen = 10 by default, so a burst loses them) the
 * kernel says when it dropped events: then the queue is scanned.
 */
static void
runner_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	const size_t hdr = sizeof(struct inotify_event);

	(void)what;
	for (int burst = 0; burst < RUNNER_NUDGE_BURST; burst++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t off = 0; off + hdr <= (size_t)n; ) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(buf + off);
			size_t len = strnlen(ev->name, ev->len);

			off += hdr + ev->len;
			if (off > (size_t)n)
				break;
			if (ev->mask & IN_Q_OVERFLOW) {
				log_info("queue watch overflowed, scanning");
				if (r->scan.pos < r->scan.n)
					r->rescan = true;
				else
					runner_scan(r, false);
				continue;
			}
			char name[NAME_MAX + 1], qid[IDS_QID_LEN + 1];

			if (len >= sizeof(name))
				continue;
			memcpy(name, ev->name, len);
			name[len] = '\0';
			if (spool_committed_name(name, qid))
				runner_urgent(r, qid);
		}
	}
}

/* Watch spool/queue; without the watch, nudges and scans still work. */
static void
runner_watch(struct runner *r)
{
	char path[PATH_MAX];

	r->watch_fd = -1;
	if (spool_queue_dir(r->conf->data_dir, path, sizeof(path)) == -1)
		return;
	r->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->watch_fd == -1 ||
	    inotify_add_watch(r->watch_fd, path, IN_MOVED_TO) == -1) {
		log_warn("queue runner: cannot watch %s: %s (checking it "
		    "every %d ms instead)", path, strerror(errno),
		    RUNNER_POLL_MS);
		if (r->watch_fd != -1)
			close(r->watch_fd);
		r->watch_fd = -1;
		return;
	}
	r->watch_ev = event_new(r->base, r->watch_fd, EV_READ | EV_PERSIST,
	    runner_watch_cb, r);
	event_add(r->watch_ev, NULL);
}

static void
runner_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	char msg[64];

	(void)what;
	for (int i = 0; i < RUNNER_NUDGE_BURST; i++) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		msg[n] = '\0';
		runner_nudge(arg, msg, (size_t)n);
	}
}

static void
runner_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	(void)fd;
	(void)what;
	log_info("queue runner grace time over, %zu deliveries in flight "
	    "(remote ones are abandoned and tried again later)", r->nflights);
	event_base_loopexit(r->base, NULL);
}

/*
 * SIGTERM/SIGINT: stop taking work. Local deliveries not yet started are
 * skipped; those under way finish and their results are saved, whenever
 * they end, so a restart never delivers a message twice. Remote
 * deliveries in flight get RUNNER_STOP_GRACE seconds (the master kills us
 * after 10), then they are abandoned: their recipients stay pending, since
 * state is written only from results. A repeated signal changes nothing:
 * under systemd (KillMode=control-group) every process of the service gets
 * SIGTERM, and the master sends its own as well.
 */
static void
runner_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;
	const struct timeval grace = { RUNNER_STOP_GRACE, 0 };

	(void)what;
	if (sig == SIGHUP) {
		/* The master reloads by starting a new runner. */
		log_info("queue runner ignores SIGHUP");
		return;
	}
	if (atomic_load(&r->stopping))
		return;
	atomic_store(&r->stopping, true);
	if (r->nflights == 0) {
		event_base_loopexit(r->base, NULL);
		return;
	}
	if (r->nudge_ev)
		event_del(r->nudge_ev);
	if (r->watch_ev)
		event_del(r->watch_ev);
	event_del(r->scan_ev);
	if (r->poll_ev)
		event_del(r->poll_ev);
	log_info("queue runner stopping, waiting for %zu deliveries in flight",
	    r->nflights);
	r->stop_ev = evtimer_new(r->base, runner_stop_cb, r);
	evtimer_add(r->stop_ev, &grace);
}

/* --- setup ------------------------------------------------------------ */

static void
runner_select_method(struct runner *r)
{
	const struct conf *c = r->conf;

	switch (c->delivery_local) {
	case CONF_LOCAL_LMTP_UNIX:
		r->local = &lmtp_delivery_ops;
		r->target = xasprintf("unix:%s", c->delivery_lmtp_target);
		break;
	case CONF_LOCAL_LMTP_INET:
		r->local = &lmtp_delivery_ops;
		r->target = xstrdup(c->delivery_lmtp_target);
		break;
	default:
		r->local = &maildir_delivery_ops;
		break;
	}
}

/* The remote engine; without it remote recipients are deferred with the
 * reason (the runner still delivers locally). */
static void
runner_start_remote(struct runner *r)
{
	char err[256], esc[300];

	r->remote = remote_new(r->base, r->conf, err, sizeof(err));
	if (r->remote == NULL) {
		r->remote_err = xstrdup(err);
		log_warn("queue runner: remote delivery unavailable: %s",
		    log_escape(err, strlen(err), esc, sizeof(esc)));
	}
}

/*
 * Only one runner may work on the queue: on reload the master starts a new
 * one while the old one finishes its current message, and two runners on
 * one message would deliver it twice. The lock on DATA/run/runner.lock is
 * held (by the open fd) until exit; returns the fd or -1.
 */
static int
runner_lock(const struct conf *c)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/run/runner.lock", c->data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		log_warn("queue runner: %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_info("queue runner waiting for the previous runner to "
		    "finish");
		if (flock(fd, LOCK_EX) == -1) {
			log_warn("queue runner: lock: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Bind DATA/run/queue.sock (a stale one is removed first). Without it the
 * runner still works from its periodic scans, so failure only warns. */
static void
runner_bind(struct runner *r)
{
	struct sockaddr_un *sun = &r->sun;

	if (spool_sock_addr(r->conf->data_dir, sun) == -1) {
		log_warn("queue runner: socket path too long, no nudges");
		sun->sun_path[0] = '\0';
		return;
	}
	unlink(sun->sun_path);
	r->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (r->sock == -1 || bind(r->sock, (struct sockaddr *)sun,
	    sizeof(*sun)) == -1) {
		log_warn("queue runner: bind %s: %s", sun->sun_path,
		    strerror(errno));
		if (r->sock != -1)
			close(r->sock);
		r->sock = -1;
		sun->sun_path[0] = '\0';
		return;
	}
	chmod(sun->sun_path, 0600);
	if (stat(sun->sun_path, &r->sun_st) == -1)
		memset(&r->sun_st, 0, sizeof(r->sun_st));
	r->nudge_ev = event_new(r->base, r->sock, EV_READ | EV_PERSIST,
	    runner_sock_cb, r);
	event_add(r->nudge_ev, NULL);
}

static void
runner_add_events(struct runner *r)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	const struct timeval every = { RUNNER_SCAN_INTERVAL, 0 };

	r->work_ev = evtimer_new(r->base, runner_work_cb, r);
	r->trim_ev = evtimer_new(r->base, runner_trim_cb, r);
	r->scan_ev = event_new(r->base, -1, EV_PERSIST, runner_timer_cb, r);
	event_add(r->scan_ev, &every);
	if (r->watch_fd == -1) {
		const struct timeval poll = { 0, RUNNER_POLL_MS * 1000 };

		r->poll_ev = event_new(r->base, -1, EV_PERSIST, runner_poll_cb,
		    r);
		event_add(r->poll_ev, &poll);
	}
	for (size_t i = 0; i < 3; i++) {
		r->sig_ev[i] = evsignal_new(r->base, sigs[i], runner_signal_cb,
		    r);
		event_add(r->sig_ev[i], NULL);
	}
}

static void
runner_cleanup(struct runner *r)
{
	/* Abandon what is in flight before the event base goes: local
	 * deliveries under way finish first and their results are saved
	 * (runner_local_done); queued ones are skipped. */
	workpool_free(r->pool);
	runner_history_free(r->history);
	runner_reports_free(r->reports);
	remote_free(r->remote);
	while (r->flights != NULL)
		runner_flight_free(r->flights);
	if (r->stop_ev)
		event_free(r->stop_ev);
	free(r->remote_err);
	if (r->nudge_ev)
		event_free(r->nudge_ev);
	if (r->watch_ev)
		event_free(r->watch_ev);
	if (r->watch_fd != -1)
		close(r->watch_fd);
	for (size_t i = 0; i < 3; i++)
		if (r->sig_ev[i])
			event_free(r->sig_ev[i]);
	if (r->scan_ev)
		event_free(r->scan_ev);
	if (r->work_ev)
		event_free(r->work_ev);
	if (r->poll_ev)
		event_free(r->poll_ev);
	if (r->trim_ev)
		event_free(r->trim_ev);
	/* A new runner (reload) may have bound the path already: remove it
	 * only while it is still the file we bound. */
	if (r->sock != -1) {
		struct stat st;
		if (stat(r->sun.sun_path, &st) == 0 &&
		    st.st_ino == r->sun_st.st_ino &&
		    st.st_dev == r->sun_st.st_dev)
			unlink(r->sun.sun_path);
		close(r->sock);
	}
	if (r->base)
		event_base_free(r->base);
	free(r->target);
	runner_list_release(&r->urgent);
	runner_list_release(&r->scan);
	qidset_clear(&r->suspect);
}

/* The suspects at start: the list a clean stop left, narrowed to what is
 * still queued, or else the whole queue as listed (see runner.suspect). */
static void
runner_suspects_start(struct runner *r)
{
	struct qidset prev;
	int taken;

	qidset_init(&prev);
	taken = suspects_take(r->conf->data_dir, &prev);
	if (taken == 1) {
		char (*ids)[IDS_QID_LEN + 1] = xcalloc(r->scan.n + 1,
		    sizeof(*ids));
		size_t n = 0;

		for (size_t i = 0; i < r->scan.n; i++)
			if (qidset_has(&prev, r->scan.ids[i]))
				memcpy(ids[n++], r->scan.ids[i], sizeof(*ids));
		qidset_fill(&r->suspect, (const char (*)[IDS_QID_LEN + 1])ids,
		    n);
		free(ids);
	} else
		qidset_fill(&r->suspect, r->scan.ids, r->scan.n);
	qidset_clear(&prev);
	log_info("queue runner: %zu of %zu queued messages rechecked before "
	    "local delivery (%s)", r->suspect.live, r->scan.n,
	    taken == 1 ? "the last runner stopped cleanly" : taken == 0 ?
	    "the last runner did not stop cleanly" :
	    "the last runner's list was unusable");
}

/* A runner that stops with nothing in flight knows which messages are
 * still suspect: it says so to the next (queue/suspects.h). */
static void
runner_suspects_stop(struct runner *r)
{
	char err[PATH_MAX + 128];

	if (r->nflights > 0)
		return;
	if (suspects_save(r->conf->data_dir, &r->suspect, err,
	    sizeof(err)) == -1)
		log_warn("queue runner: %s (the next runner rechecks the "
		    "whole queue)", err);
}

int
runner_main(const struct conf *conf, struct dkim_keys *keys)
{
	struct runner r;
	char err[256];
	int lockfd;

	memset(&r, 0, sizeof(r));
	atomic_init(&r.stopping, false);
	r.conf = conf;
	r.sock = -1;
	r.watch_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	if (spool_init(conf->data_dir, err, sizeof(err)) == -1) {
		log_warn("queue runner: %s", err);
		return 1;
	}
	if ((lockfd = runner_lock(conf)) == -1)
		return 1;
	if ((r.base = event_base_new()) == NULL) {
		log_warn("queue runner: cannot create event base");
		close(lockfd);
		return 1;
	}
	/* Report signing (its thread) asks the keys process. */
	struct keys_client *keys_client = keys_client_open(r.base);
	runner_select_method(&r);
	/* Before the first thread, which Landlock would not cover. */
	sandbox_enter(SANDBOX_RUNNER, conf);
	r.pool = workpool_new(r.base, RUNNER_LOCAL_THREADS, "queue runner");
	runner_start_remote(&r);
	runner_bind(&r);
	runner_watch(&r);
	runner_add_events(&r);
	r.reports = runner_reports_start(r.base, conf, keys);
	r.history = runner_history_start(r.base, r.pool, conf);
	log_info("queue runner started method=%s remote=%s", r.local->name,
	    r.remote == NULL ? "unavailable" : conf->relayhost != NULL &&
	    *conf->relayhost != '\0' ? "relayhost" : "mx");
	/* Restart resumes the queue: everything pending is tried now. */
	runner_scan(&r, true);
	runner_suspects_start(&r);
	event_base_dispatch(r.base);
	runner_suspects_stop(&r);
	runner_cleanup(&r);
	keys_client_free(keys_client);
	close(lockfd);
	log_info("queue runner stopped");
	return 0;
}
