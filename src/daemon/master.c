/* SPDX-License-Identifier: ISC */
/*
 * Master process (see master.h): its setup, then a loop on signals. It
 * runs no event loop: its children would inherit libevent's signal
 * plumbing and epoll set across fork. It waits for signals with
 * sigtimedwait() instead, and all it does is spawn, reap, reload and stop
 * (master_children.c).
 */
#include "daemon/master.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "daemon/master_internal.h"
#include "daemon/sdnotify.h"
#include "store/store_open.h"
#include "dns/dns.h"
#include "net/connlimit.h"
#include "net/listener.h"
#include "net/localsock.h"
#include "net/tls.h"
#include "proc/priv.h"
#include "queue/spool.h"
#include "store/db.h"

/*
 * The status page's history as the runner last saved it, so that a
 * restart keeps the 24 h chart and the recent failures. Before any fork:
 * the store's connection is closed before a child exists.
 */
static void
master_load_history(const struct conf *c)
{
	char path[PATH_MAX], err[256];
	struct metrics_snapshot *s;
	struct db *db;

	snprintf(path, sizeof(path), "%s/sealmail.db", c->data_dir);
	if (!store_open_is_remote(c) && access(path, F_OK) == -1)
		return;		/* nothing saved yet */
	s = xmalloc(sizeof(*s));
	if ((db = store_open(c, false, err, sizeof(err))) == NULL)
		log_warn("status page history not loaded: %s", err);
	else if (db_metrics_load(db, (long long)time(NULL), s) != DB_OK)
		log_warn("status page history not loaded: %s", db_error(db));
	else
		metrics_restore(s);
	db_close(db);
	free(s);
}

/* The store, the password file and their journals exist, the service
 * user's, before any child starts: the children's Landlock rules name
 * these files and cannot let them create files in data_dir. Opening an
 * older store moves its password hashes out into the password file
 * (db_schema.c), here, before any child may read it. */
static int
master_store_init(struct conf *c, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct db_passwd *pw;
	struct db *db;

	/* PostgreSQL: its password, and a first connection that checks
	 * the schema is this sealmail's (serve never migrates a shared
	 * store: `sealmail store migrate` does, once for all nodes). */
	if (store_open_load(c, err, errlen) == -1 ||
	    (db = store_open(c, true, err, errlen)) == NULL)
		return -1;
	db_close(db);
	snprintf(path, sizeof(path), "%s/%s", c->data_dir, DB_PASSWD_FILE);
	if ((pw = db_passwd_open(path, true, c->user, err, errlen)) == NULL)
		return -1;
	db_passwd_close(pw);
	return 0;
}

/* Everything before the first worker: checks, the spool and the store,
 * certificates, the metrics mapping, the keys process, the listeners. */
static int
master_setup(struct master *m, char *err, size_t errlen)
{
	/* Once, before any child exists: without validation every DANE
	 * domain would be deferred (a stripping forwarder makes signed
	 * answers bogus), so refuse to start and say why. */
	if (dns_dane_check(m->conf, err, errlen) == -1)
		return -1;
	if (spool_init(m->conf->data_dir, err, errlen) == -1 ||
	    master_store_init(m->conf, err, errlen) == -1)
		return -1;
	if (priv_chown_tree(m->conf->data_dir, m->conf->user, err,
	    errlen) == -1)
		return -1;
	if ((m->tls = tls_server_new(m->conf, err, errlen)) == NULL)
		return -1;
	/* Once, before the first child (the keys process reports its
	 * memory into it too): reloads and restarted children keep
	 * counting into it. */
	metrics_init();
	master_load_history(m->conf);
	if (master_keys_start(m, m->conf, m->gen, &m->keys_ctl, &m->dkim_keys,
	    err, errlen) == -1)
		return -1;
	if (listener_bind_all(m->conf, NULL, &m->ls, err, errlen) == -1)
		return -1;
	listener_bind_local(m->conf, NULL, &m->ls);
	m->limits = connlimit_new(m->conf->workers);
	return 0;
}

int
master_main(struct conf *conf)
{
	struct master m = { .conf = conf, .keys_ctl = -1 };
	char err[1536];
	struct timespec tick = { .tv_sec = 1 };

	signal(SIGPIPE, SIG_IGN);
	sdnotify_init();
	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGCHLD);
	sigaddset(&m.sigs, SIGHUP);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);

	if (master_setup(&m, err, sizeof(err)) == -1) {
		sdnotify("STATUS=cannot start: %s", err);
		fprintf(stderr, "sealmail: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < m.ls.nsocks; i++)
		log_info("master listening on %s (%s)", m.ls.socks[i].text,
		    listener_name(conf, &m.ls.socks[i]));
	master_spawn_generation(&m);
	master_report_memory();
	master_notify_ready(&m);
	for (;;) {
		int sig = sigtimedwait(&m.sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			master_reload(&m);
		master_reap(&m, false);
		if (m.keys_lost)
			master_keys_restart(&m);
		master_respawn_due(&m);
		master_report_memory();
	}
	master_stop(&m);
	listener_set_clear(&m.ls);
	if (m.conf->submit_socket != NULL && m.conf->submit_socket[0] != '\0')
		localsock_unlink_stale(m.conf->submit_socket);
	tls_server_free(m.tls);
	dkim_keys_free(m.dkim_keys);
	if (m.keys_ctl != -1)
		close(m.keys_ctl);
	connlimit_free(m.limits);
	free(m.children);
	conf_free(m.conf);
	log_info("master stopped");
	return 0;
}
