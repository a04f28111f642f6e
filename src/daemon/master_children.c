/* SPDX-License-Identifier: ISC */
/*
 * The master's children (master_internal.h): the keys process of each
 * configuration generation, the SMTP workers and the queue runner; their
 * start, reaping and restart, reload (a new generation) and stop.
 */
#include "daemon/master_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"
#include "daemon/keys.h"
#include "daemon/keys_ctl.h"
#include "daemon/sdnotify.h"
#include "daemon/worker.h"
#include "keys/keys_client.h"
#include "net/connlimit.h"
#include "net/listener.h"
#include "net/tls.h"
#include "proc/priv.h"
#include "daemon/runner.h"
#include "store/store_open.h"

/* Children that die this soon after starting are restarted after a pause,
 * so a child that cannot start does not spin. */
#define MASTER_RESPAWN_PAUSE	1
#define MASTER_STOP_TIMEOUT	10
/* How much lower the queue runner's CPU priority is than the workers'. */
#define MASTER_RUNNER_NICE	10

static struct child *
master_child_slot(struct master *m)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].pid == 0 && m->children[i].respawn_at == 0)
			return &m->children[i];
	m->children = xreallocarray(m->children, m->nchildren + 1,
	    sizeof(*m->children));
	memset(&m->children[m->nchildren], 0, sizeof(*m->children));
	return &m->children[m->nchildren++];
}

/* In the child: from here on it is the keys process, never returns. It
 * keeps only its control socket: no listener, no other generation's. */
static void __attribute__((noreturn))
master_keys_run(struct master *m, int ctl, const struct conf *conf)
{
	priv_child_setup("sealmail-keys", 0);
	sigprocmask(SIG_UNBLOCK, &m->sigs, NULL);
	listener_set_clear(&m->ls);
	if (m->keys_ctl != -1)
		close(m->keys_ctl);
	priv_drop(conf->user);
	/* After the drop (which resets it): no other process of the service
	 * user may ptrace us or read /proc/PID/mem, nor a core dump show
	 * the keys. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("cannot make the keys process undumpable");
	_exit(keys_main(conf, ctl));
}

/*
 * Start the keys process of generation gen for conf and hand it the keys:
 * its control socket in *ctl and the DKIM keys' public facts in *dk, or
 * -1 with err (the process is then killed). Before any child of that
 * generation, which connect to it.
 */
int
master_keys_start(struct master *m, const struct conf *conf, unsigned gen,
    int *ctl, struct dkim_keys **dk, char *err, size_t errlen)
{
	size_t n = keys_ctl_dkim_count(conf);
	enum keys_key_type *types = xcalloc(n + 1, sizeof(*types));
	bool *rsa = xcalloc(n + 1, sizeof(*rsa));
	struct child *c;
	int sv[2], r = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "cannot start the keys process: %s",
		    strerror(errno));
		goto out;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot start the keys process: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	if (pid == 0) {
		close(sv[0]);
		master_keys_run(m, sv[1], conf);
	}
	close(sv[1]);
	c = master_child_slot(m);
	c->kind = CHILD_KEYS;
	c->slot = 0;
	c->gen = gen;
	c->pid = pid;
	c->started = time(NULL);
	c->respawn_at = 0;
	log_info("master started keys process pid=%ld", (long)pid);
	if (keys_ctl_load(sv[0], conf, types, n, err, errlen) == -1) {
		kill(pid, SIGKILL);
		close(sv[0]);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rsa[i] = types[i] == KEYS_TYPE_RSA;
	*dk = dkim_keys_remote(conf, rsa, n);
	*ctl = sv[0];
	r = 0;
out:
	free(types);
	free(rsa);
	return r;
}

/* In the child: from here on it is a worker or the runner, never returns. */
static void __attribute__((noreturn))
master_child_run(struct master *m, struct child *c, int keys_async,
    int keys_sync)
{
	int code;

	/* The keys role's password is for the keys process alone. */
	store_open_forget_keys(m->conf);
	/* Clients wait on the workers; delivery can wait for them. Under
	 * CPU contention the runner yields, so replies stay fast and the
	 * queue drains in the slack (it is durable either way). */
	if (c->kind == CHILD_WORKER)
		priv_child_setup("sealmail-smtp", 0);
	else
		priv_child_setup("sealmail-queue", MASTER_RUNNER_NICE);
	sigprocmask(SIG_UNBLOCK, &m->sigs, NULL);
	/* Its own two sockets to the keys process, never the master's. */
	if (m->keys_ctl != -1)
		close(m->keys_ctl);
	keys_client_inherit(keys_async, keys_sync);
	priv_drop(m->conf->user);
	if (c->kind == CHILD_WORKER) {
		code = worker_main(m->conf, m->tls, m->dkim_keys, &m->ls,
		    m->limits, c->slot);
	} else {
		listener_set_clear(&m->ls);
		code = runner_main(m->conf, m->dkim_keys);
	}
	_exit(code);
}

static void
master_spawn(struct master *m, struct child *c)
{
	int ka = -1, ks = -1;
	pid_t pid;

	c->gen = m->gen;
	c->respawn_at = 0;
	/* Each child its own connection, so a malformed request closes only
	 * that child's; none when the keys process is being restarted. */
	if (m->keys_ctl != -1 && ((ka = keys_ctl_peer(m->keys_ctl)) == -1 ||
	    (ks = keys_ctl_peer(m->keys_ctl)) == -1))
		log_warn("cannot connect a child to the keys process: %s",
		    strerror(errno));
	pid = fork();
	if (pid == -1) {
		log_warn("fork failed: %s", strerror(errno));
		c->respawn_at = time(NULL) + MASTER_RESPAWN_PAUSE;
	} else if (pid == 0)
		master_child_run(m, c, ka, ks);
	if (ka != -1)
		close(ka);
	if (ks != -1)
		close(ks);
	if (pid == -1)
		return;
	c->pid = pid;
	c->started = time(NULL);
	log_info("master started %s pid=%ld", c->kind == CHILD_WORKER ?
	    "smtp worker" : "queue runner", (long)pid);
}

void
master_spawn_generation(struct master *m)
{
	for (unsigned i = 0; i < m->conf->workers; i++) {
		struct child *c = master_child_slot(m);
		c->kind = CHILD_WORKER;
		c->slot = i;
		master_spawn(m, c);
	}
	struct child *c = master_child_slot(m);
	c->kind = CHILD_RUNNER;
	c->slot = 0;
	master_spawn(m, c);
}

void
master_reap(struct master *m, bool stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		metrics_rss_forget(pid);
		for (size_t i = 0; i < m->nchildren; i++) {
			struct child *c = &m->children[i];
			if (c->pid != pid)
				continue;
			c->pid = 0;
			bool clean = WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0;
			if (!clean || c->gen == m->gen)
				log_warn("child pid=%ld exited %s %d", (long)pid,
				    WIFSIGNALED(status) ? "on signal" :
				    "with status", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
			if (stopping || c->gen != m->gen)
				break;
			if (c->kind == CHILD_KEYS) {
				m->keys_lost = true;
				break;
			}
			/* A crashed worker's connections are gone with it. */
			if (c->kind == CHILD_WORKER)
				connlimit_reset_slot(m->limits, c->slot);
			c->respawn_at = time(NULL) - c->started < 2 ?
			    time(NULL) + MASTER_RESPAWN_PAUSE : 1;
			break;
		}
	}
}

void
master_respawn_due(struct master *m)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->pid == 0 && c->respawn_at != 0 && c->gen == m->gen &&
		    c->respawn_at <= now)
			master_spawn(m, c);
	}
}

static void
master_signal_children(struct master *m, int sig)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].pid > 0)
			kill(m->children[i].pid, sig);
}

/* The master's own memory for /metrics (each child reports its own,
 * metrics.h), at most once a second. */
void
master_report_memory(void)
{
	static time_t last;
	time_t now = time(NULL);

	if (now != last) {
		last = now;
		metrics_rss_update();
	}
}

/* To systemd (Type=notify): the listeners are bound and the children of
 * the current generation started. */
void
master_notify_ready(struct master *m)
{
	if (sdnotify("READY=1\nSTATUS=%zu listening sockets, %u smtp "
	    "workers, generation %u", m->ls.nsocks, m->conf->workers,
	    m->gen) == -1)
		log_warn("cannot notify systemd: %s", strerror(errno));
}

/* Retire the current generation's children (a worker stops accepting and
 * finishes its sessions; the runner stops), then start the next. Old
 * children keep their slots (and old generation) until reaped; the new
 * generation takes free slots or new ones. */
static void
master_next_generation(struct master *m)
{
	m->gen++;
	for (size_t i = 0; i < m->nchildren; i++) {
		struct child *c = &m->children[i];
		if (c->gen >= m->gen)
			continue;
		if (c->pid > 0 && c->kind != CHILD_KEYS)
			kill(c->pid, c->kind == CHILD_WORKER ? SIGUSR1 :
			    SIGTERM);
		c->respawn_at = 0;
	}
	master_spawn_generation(m);
}

/* SIGHUP: load everything anew; keep the running setup if anything fails.
 * Old workers retire (their sessions finish with the old certificate),
 * new workers serve new connections. */
void
master_reload(struct master *m)
{
	char err[512];
	struct conf *nc = NULL;
	struct tls_server *nt = NULL;
	struct dkim_keys *nk = NULL;
	struct listener_set nls = { 0 };
	int nctl = -1;

	log_info("master reloading %s", m->conf->path);
	sdnotify_reloading();
	if (conf_load(m->conf->path, &nc, err, sizeof(err)) == -1 ||
	    store_open_load(nc, err, sizeof(err)) == -1 ||
	    (nt = tls_server_new(nc, err, sizeof(err))) == NULL ||
	    master_keys_start(m, nc, m->gen + 1, &nctl, &nk, err,
	    sizeof(err)) == -1 ||
	    listener_bind_all(nc, &m->ls, &nls, err, sizeof(err)) == -1) {
		log_warn("reload failed, keeping the running configuration: "
		    "%s", err);
		if (nctl != -1)
			close(nctl);	/* its keys process leaves */
		dkim_keys_free(nk);
		tls_server_free(nt);
		conf_free(nc);
		sdnotify("READY=1\nSTATUS=reload failed, still running "
		    "generation %u: %s", m->gen, err);
		return;
	}
	listener_bind_local(nc, &m->ls, &nls);
	listener_set_clear(&m->ls);
	m->ls = nls;
	tls_server_free(m->tls);
	m->tls = nt;
	dkim_keys_free(m->dkim_keys);
	m->dkim_keys = nk;
	/* The old keys process serves its generation's children to their
	 * end, then leaves (it sees its control socket closed). */
	if (m->keys_ctl != -1)
		close(m->keys_ctl);
	m->keys_ctl = nctl;
	m->keys_lost = false;
	conf_free(m->conf);
	m->conf = nc;
	connlimit_free(m->limits);
	m->limits = connlimit_new(nc->workers);
	master_next_generation(m);
	log_info("master reloaded generation=%u", m->gen);
	master_notify_ready(m);
}

/*
 * The keys process of the current generation died: start a new one and a
 * new generation with it (the same configuration). The children of the
 * old one cannot reconnect (their sockets went with it), so they retire
 * as after a reload, their pending signatures and password checks failed
 * as temporary failures. Retried every MASTER_RESPAWN_PAUSE on failure.
 */
void
master_keys_restart(struct master *m)
{
	static time_t retry_at;
	struct dkim_keys *nk = NULL;
	char err[1536];
	int nctl = -1;

	if (time(NULL) < retry_at)
		return;
	if (master_keys_start(m, m->conf, m->gen + 1, &nctl, &nk, err,
	    sizeof(err)) == -1) {
		log_warn("cannot restart the keys process: %s", err);
		retry_at = time(NULL) + MASTER_RESPAWN_PAUSE;
		return;
	}
	close(m->keys_ctl);
	m->keys_ctl = nctl;
	m->keys_lost = false;
	dkim_keys_free(m->dkim_keys);
	m->dkim_keys = nk;
	connlimit_free(m->limits);
	m->limits = connlimit_new(m->conf->workers);
	master_next_generation(m);
	log_warn("master restarted the keys process, generation=%u", m->gen);
}

static bool
master_children_alive(struct master *m)
{
	for (size_t i = 0; i < m->nchildren; i++)
		if (m->children[i].pid > 0)
			return true;
	return false;
}

void
master_stop(struct master *m)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
	time_t deadline = time(NULL) + MASTER_STOP_TIMEOUT;

	log_info("master stopping");
	sdnotify("STOPPING=1\nSTATUS=stopping: sessions and deliveries "
	    "finish");
	master_signal_children(m, SIGTERM);
	while (master_children_alive(m) && time(NULL) < deadline) {
		sigtimedwait(&m->sigs, NULL, &ts);
		master_reap(m, true);
	}
	if (master_children_alive(m)) {
		master_signal_children(m, SIGKILL);
		while (master_children_alive(m)) {
			sigtimedwait(&m->sigs, NULL, &ts);
			master_reap(m, true);
		}
	}
}
