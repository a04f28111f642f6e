/* SPDX-License-Identifier: ISC */
/* SMTP worker process (see worker.h). */
#include "daemon/worker.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "account/dovecot_client.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "dns/dns.h"
#include "keys/keys_client.h"
#include "net/listener.h"
#include "proc/sandbox.h"
#include "queue/spool_commit.h"
#include "smtpd/smtpd_session.h"
#include "store/db.h"
#include "store/db_pool.h"
#include "web/web_server.h"

/* Grace for messages in flight when the daemon stops (seconds). */
#define WORKER_STOP_GRACE	5
/* Threads that fsync spool commits; concurrent fsyncs share the disk's
 * flushes, which is what makes many sessions cheaper than one each. */
#define WORKER_COMMIT_THREADS	4
/* Seconds between ticks: writes of the deferred DMARC report rows, and
 * returning freed memory to the system once the worker is idle. */
#define WORKER_TICK		1
/* Threads that run the sessions' store calls when the store is reached
 * over the network (PostgreSQL), each with a connection of its own. A
 * lookup is a few milliseconds of waiting; two threads keep a stalled
 * query from holding up the others. */
#define WORKER_STORE_THREADS	2
/* A statement of a worker that runs longer than this (waiting on a lock,
 * or a server that stalls while it runs) is ended by the server: the
 * lookup becomes a temporary failure and its thread is free again. */
#define WORKER_STORE_STATEMENT_TIMEOUT	"-c statement_timeout=10000"

struct worker_listener {
	struct smtpd_ctx	*ctx;
	struct evconnlistener	*evl;
	size_t			 listener;
	int			 fd;	/* this process's copy of the
					 * listening socket, or -1 */
};

struct worker {
	struct smtpd_ctx	 ctx;
	struct worker_listener	*wl;
	size_t			 nwl;
	struct event		*idle_check;
	struct event		*tick;
	struct web_server	*web;	/* https and admin listeners */
	bool			 busy;	/* sessions since the last trim */
};

/*
 * Write the DMARC rows (and failures to report) of the last second in
 * one transaction each. When the last session of a busy spell has gone,
 * give the heap's free pages back (malloc_trim): a burst of sessions leaves megabytes free but mapped in
 * the heap, which every idle worker would otherwise keep.
 */
static void
worker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct db *db = w->ctx.db;
	size_t n = db_dmarc_pending(db);

	(void)fd;
	(void)what;
	metrics_rss_update();
	if (w->ctx.store != NULL)
		smtpd_store_tick(&w->ctx);	/* written off the loop */
	else {
		if (n > 0 && db_dmarc_flush(db) != DB_OK)
			log_warn("%zu dmarc records not stored: %s", n,
			    db_error(db));
		n = db_dmarc_failure_pending(db);
		if (n > 0 && db_dmarc_failure_flush(db) != DB_OK)
			log_warn("%zu dmarc failure reports not stored: %s",
			    n, db_error(db));
	}
	smtpd_lookalike_tick(&w->ctx, time(NULL));
	if (w->ctx.nsessions > 0)
		w->busy = true;
	else if (w->busy) {
		w->busy = false;
		db_release_memory(db);
		malloc_trim(0);
	}
}

/* A store connection for a store thread (db_pool_open_fn). */
static struct db *
worker_store_open(void *arg, char *err, size_t errlen)
{
	return store_open(arg, false, err, errlen);
}

static void
worker_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct worker_listener *wl = arg;

	(void)evl;
	if (wl->listener == LISTENER_LOCAL)
		smtpd_session_accept_local(wl->ctx, fd);
	else
		smtpd_session_accept(wl->ctx, fd, sa, (socklen_t)salen,
		    wl->listener);
}

static void
worker_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	/* A PROXY header on its way becomes a session soon. */
	if (w->ctx.nsessions == 0 && w->ctx.proxy_waits == NULL)
		event_base_loopexit(w->ctx.base, NULL);
}

/* Stop accepting; exit once the last session is gone. */
static void
worker_stop(struct worker *w, int grace)
{
	struct timeval tv = { 0, 100000 };

	for (size_t i = 0; i < w->nwl; i++) {
		if (w->wl[i].evl)
			evconnlistener_free(w->wl[i].evl);
		w->wl[i].evl = NULL;
	}
	/* HTTP requests are short and need no grace: their clients retry. */
	web_server_free(w->web);
	w->web = NULL;
	/* Our copies of the listening sockets go too: when the master has
	 * died (its children get SIGTERM), they would keep the ports bound
	 * while sessions finish, and a master started again at once could
	 * not listen. */
	for (size_t i = 0; i < w->nwl; i++) {
		if (w->wl[i].fd != -1)
			close(w->wl[i].fd);
		w->wl[i].fd = -1;
	}
	smtpd_sessions_stop(&w->ctx, grace);
	if (w->idle_check == NULL) {
		w->idle_check = event_new(w->ctx.base, -1, EV_PERSIST,
		    worker_idle_cb, w);
		event_add(w->idle_check, &tv);
	}
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	log_info("smtp worker %s", sig == SIGTERM ? "stopping" : "retiring");
	worker_stop(w, sig == SIGTERM ? WORKER_STOP_GRACE : -1);
}

int
worker_main(const struct conf *conf, struct tls_server *tls,
    const struct dkim_keys *dkim_keys, const struct listener_set *ls,
    struct connlimit *limits, unsigned slot)
{
	struct worker w;
	struct db *spare = NULL;
	char err[512];

	memset(&w, 0, sizeof(w));
	w.ctx.conf = conf;
	w.ctx.tls = tls;
	w.ctx.limits = limits;
	w.ctx.slot = slot;
	w.ctx.base = event_base_new();
	if (w.ctx.base == NULL)
		fatal("cannot create the event loop");
	w.ctx.keys = keys_client_open(w.ctx.base);
	/* libpq's default for the options a connection string does not set
	 * (its own options= wins), for every connection this process
	 * makes, reconnections too; set before any thread. */
	if (store_open_is_remote(conf))
		setenv("PGOPTIONS", WORKER_STORE_STATEMENT_TIMEOUT, 0);
	/* On PostgreSQL these two handles hold the deferred DMARC rows and
	 * connect when a store thread first writes them: a worker the
	 * master starts while the server is away (a reload, a crashed
	 * worker) serves, answering 451 for what it cannot look up, and
	 * its rows wait for the server. The store threads open their own
	 * connections (db_pool.c). Only an unreadable SQLite file or a
	 * connection string libpq cannot parse fails here. */
	if ((w.ctx.db = store_open_later(conf, true, err, sizeof(err))) ==
	    NULL)
		fatal("%s", err);
	db_relaxed_durability(w.ctx.db);
	/* Over the network: the second handle the DMARC rows are deferred
	 * on while the first is written (smtpd_store_start). */
	if (store_open_is_remote(conf) &&
	    (spare = store_open_later(conf, false, err, sizeof(err))) == NULL)
		fatal("%s", err);
	const struct timeval every = { WORKER_TICK, 0 };
	w.tick = event_new(w.ctx.base, -1, EV_PERSIST, worker_tick_cb, &w);
	if (w.tick == NULL || event_add(w.tick, &every) == -1)
		fatal("cannot start the worker's timer");
	/* Before the first thread, which Landlock would not cover. */
	sandbox_enter(SANDBOX_WORKER, conf);
	if (conf->passdb == CONF_PASSDB_DOVECOT)
		w.ctx.dovecot = dovecot_client_new(w.ctx.base,
		    conf->passdb_socket);
	w.ctx.committer = spool_committer_new(w.ctx.base,
	    WORKER_COMMIT_THREADS);
	if (spare != NULL)
		smtpd_store_start(&w.ctx, db_pool_new(w.ctx.base,
		    WORKER_STORE_THREADS, worker_store_open, (void *)conf),
		    spare);
	w.ctx.dkim_keys = dkim_keys;
	w.ctx.dns = dns_resolver_new(w.ctx.base, conf, err, sizeof(err));
	if (w.ctx.dns == NULL)
		log_warn("smtp worker without DNS: SPF, DKIM and DMARC checks "
		    "are off: %s", err);

	w.wl = xcalloc(ls->nsocks, sizeof(*w.wl));
	w.nwl = ls->nsocks;
	w.web = web_server_new(w.ctx.base, conf, tls, w.ctx.db,
	    w.ctx.keys, limits);
	for (size_t i = 0; i < ls->nsocks; i++) {
		size_t l = ls->socks[i].listener;

		w.wl[i].ctx = &w.ctx;
		w.wl[i].listener = l;
		w.wl[i].fd = ls->socks[i].fd;
		if (l != LISTENER_LOCAL &&
		    CONF_ROLE_IS_HTTP(conf->listeners[l].role)) {
			if (web_server_listen(w.web, ls->socks[i].fd, l) == -1)
				fatal("cannot serve HTTP on %s",
				    ls->socks[i].text);
			continue;
		}
		w.wl[i].evl = evconnlistener_new(w.ctx.base, worker_accept_cb,
		    &w.wl[i], LEV_OPT_CLOSE_ON_EXEC, -1, ls->socks[i].fd);
		if (w.wl[i].evl == NULL)
			fatal("cannot accept on %s", ls->socks[i].text);
	}
	struct event *sigterm = evsignal_new(w.ctx.base, SIGTERM,
	    worker_signal_cb, &w);
	struct event *sigusr1 = evsignal_new(w.ctx.base, SIGUSR1,
	    worker_signal_cb, &w);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigusr1, NULL);

	event_base_dispatch(w.ctx.base);

	for (size_t i = 0; i < w.nwl; i++)
		if (w.wl[i].evl)
			evconnlistener_free(w.wl[i].evl);
	free(w.wl);
	web_server_free(w.web);
	event_free(sigterm);
	event_free(sigusr1);
	if (w.idle_check)
		event_free(w.idle_check);
	event_free(w.tick);
	if (w.ctx.grace_timer)
		event_free(w.ctx.grace_timer);
	if (w.ctx.flush_ev)
		event_free(w.ctx.flush_ev);
	spool_committer_free(w.ctx.committer);
	dovecot_client_free(w.ctx.dovecot);
	dns_resolver_free(w.ctx.dns);
	smtpd_lookalike_free(&w.ctx);
	db_close(smtpd_store_end(&w.ctx));
	db_close(w.ctx.db);
	keys_client_free(w.ctx.keys);
	event_base_free(w.ctx.base);
	return 0;
}
