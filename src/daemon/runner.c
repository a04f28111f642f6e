/* SPDX-License-Identifier: ISC */
/* The queue runner process's entry (see runner.h): lock, setup, sandbox,
 * the loop, signals and teardown. The work itself: runner_internal.h. */
#include "daemon/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "core/metrics.h"
#include "daemon/runner_correspondents.h"
#include "daemon/runner_heartbeat.h"
#include "daemon/runner_history.h"
#include "daemon/runner_internal.h"
#include "daemon/runner_reports.h"
#include "deliver/lmtp.h"
#include "deliver/maildir.h"
#include "deliver/remote.h"
#include "keys/keys_client.h"
#include "proc/sandbox.h"
#include "queue/spool.h"
#include "queue/suspects.h"

static void
runner_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;

	(void)fd;
	(void)what;
	log_info("queue runner grace time over, %zu deliveries in flight "
	    "(remote ones are abandoned and tried again later)", r->nflights);
	/* A local transaction under way (an LMTP store slow to answer
	 * after the final dot) is waited for, whenever it ends (each wait
	 * is bounded): cut off, it could be delivered twice. */
	r->grace_over = true;
	if (!runner_local_busy(r))
		event_base_loopexit(r->base, NULL);
}

/*
 * SIGTERM/SIGINT: stop taking work, and stop every job in flight (nothing
 * new is begun: no further Maildir copy, LMTP transaction or remote
 * destination). Local deliveries under way finish and their results are
 * saved, whenever they end, so a restart never delivers a message twice.
 * Remote ones under way get RUNNER_STOP_GRACE seconds (the master kills
 * us after 10), then they are abandoned: their recipients stay pending,
 * since state is written only from results. A repeated signal changes nothing:
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
	runner_flights_stop(r);
	r->stop_ev = evtimer_new(r->base, runner_stop_cb, r);
	evtimer_add(r->stop_ev, &grace);
}

static void
runner_select_method(struct runner *r)
{
	const struct conf *c = r->conf;

	switch (c->delivery_local) {
	case CONF_LOCAL_LMTP_UNIX:
		r->method[RUNNER_LOCAL].ops = &lmtp_delivery_ops;
		r->target = xasprintf("unix:%s", c->delivery_lmtp_target);
		break;
	case CONF_LOCAL_LMTP_INET:
		r->method[RUNNER_LOCAL].ops = &lmtp_delivery_ops;
		r->target = xstrdup(c->delivery_lmtp_target);
		break;
	default:
		r->method[RUNNER_LOCAL].ops = &maildir_delivery_ops;
		break;
	}
	r->method[RUNNER_REMOTE].ops = &remote_delivery_ops;
}

/* The methods' instances, on the loop and the pool. Without a local one
 * the runner cannot work; without the remote one remote recipients are
 * deferred with the reason (the runner still delivers locally). */
static void
runner_methods_new(struct runner *r)
{
	const struct delivery_setup setup = {
		.base = r->base,
		.conf = r->conf,
		.pool = r->pool,
		.data_dir = r->conf->data_dir,
		.hostname = r->conf->hostname,
		.target = r->target,
		.timeout = RUNNER_OP_TIMEOUT,
	};
	struct runner_method *rm;
	char err[256], esc[300];

	rm = &r->method[RUNNER_LOCAL];
	if ((rm->m = rm->ops->new(&setup, err, sizeof(err))) == NULL)
		fatal("queue runner: %s", err);
	rm = &r->method[RUNNER_REMOTE];
	if ((rm->m = rm->ops->new(&setup, err, sizeof(err))) == NULL) {
		rm->err = xstrdup(err);
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
	 * deliveries under way on the pool finish first and their results
	 * are saved (runner_flights_close); queued ones are skipped. */
	runner_flights_close(r);
	runner_history_free(r->history);
	runner_correspondents_free(r->corr);
	runner_heartbeat_free(r->beat);
	runner_reports_free(r->reports);
	while (r->flights != NULL)
		runner_flight_free(r->flights);
	if (r->stop_ev)
		event_free(r->stop_ev);
	for (size_t s = 0; s < RUNNER_STAGES; s++)
		free(r->method[s].err);
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
	r.beat = runner_heartbeat_new(conf);	/* reads the certificates */
	/* Before the first thread, which Landlock would not cover. */
	sandbox_enter(SANDBOX_RUNNER, conf);
	metrics_rss_update();	/* then on each scan */
	r.pool = workpool_new(r.base, RUNNER_LOCAL_THREADS, "queue runner");
	runner_methods_new(&r);
	runner_bind(&r);
	runner_watch(&r);
	runner_add_events(&r);
	r.reports = runner_reports_start(r.base, conf, keys);
	r.history = runner_history_start(r.base, r.pool, conf);
	r.corr = runner_correspondents_start(r.base, r.pool, conf);
	runner_heartbeat_start(r.beat, r.base, r.pool);
	log_info("queue runner started method=%s remote=%s",
	    r.method[RUNNER_LOCAL].ops->name,
	    r.method[RUNNER_REMOTE].m == NULL ? "unavailable" :
	    conf->relayhost != NULL && *conf->relayhost != '\0' ?
	    "relayhost" : "mx");
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
