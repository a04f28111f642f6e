/* SPDX-License-Identifier: ISC */
/*
 * The queue runner (see runner.h). Work is kept as two FIFO lists of queue
 * ids: "urgent" (nudged by "new ID": just accepted, tried first) and
 * "scan" (from the last scan). A zero-delay timer processes one message
 * per loop turn, so SIGTERM and nudges are handled between messages.
 * Envelopes on disk are the only state: a message is loaded, its due
 * recipients attempted, each result saved at once, and it is forgotten.
 */
#include "sched/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "deliver/lmtp.h"
#include "deliver/maildir.h"
#include "queue/spool.h"
#include "sched/retry.h"

#define RUNNER_REMOTE_REPLY	"remote delivery not implemented yet"
/* Datagrams handled per wakeup, so a flood cannot starve the work. */
#define RUNNER_NUDGE_BURST	256
/* Nudged ids waiting; past this the periodic scan picks messages up. */
#define RUNNER_URGENT_MAX	100000

struct runner_list {
	char	(*ids)[IDS_QID_LEN + 1];
	size_t	  n, pos, cap;
	bool	  force;	/* every pending recipient is due */
};

struct runner {
	const struct conf		*conf;
	struct event_base		*base;
	struct event			*nudge_ev, *scan_ev, *work_ev;
	struct event			*sig_ev[3];
	int				 sock;
	struct sockaddr_un		 sun;
	struct stat			 sun_st;	/* the bound path */
	const struct delivery_ops	*local;
	char				*target;	/* LMTP or NULL */
	struct runner_list		 urgent, scan;
};

/* One local delivery attempt in progress, for runner_done. */
struct runner_attempt {
	struct runner		*r;
	struct envelope		*env;
	const size_t		*idx;
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

/* The domain of address (after its last '@'), or "" if it has none. */
static const char *
runner_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

static bool
runner_expired(const struct runner *r, const struct envelope *env,
    time_t now)
{
	return r->conf->queue_lifetime > 0 &&
	    now - env->created >= (time_t)r->conf->queue_lifetime;
}

/*
 * When to try again after `attempts` attempts: on the schedule anchored at
 * arrival, but never in the past (after downtime the schedule is behind:
 * back off from now instead of retrying in a burst), and no later than
 * expiry, so the last attempt happens when the lifetime ends.
 */
static time_t
runner_next_attempt(const struct runner *r, const struct envelope *env,
    unsigned attempts, time_t now)
{
	const struct conf *c = r->conf;
	time_t t = retry_next_attempt(env->created, attempts,
	    c->retry_schedule, c->nretry_schedule);

	if (t <= now)
		t = now + retry_interval(attempts, c->retry_schedule,
		    c->nretry_schedule);
	if (c->queue_lifetime > 0 &&
	    t > env->created + (time_t)c->queue_lifetime)
		t = env->created + (time_t)c->queue_lifetime;
	return t > now ? t : now + 1;
}

static void
runner_log_attempt(const struct envelope *env, const struct envelope_rcpt *rc,
    const char *method, const char *result, const char *reply, time_t now)
{
	char addr[300], text[600];

	log_info("qid=%s delivery rcpt=<%s> method=%s result=%s reply=\"%s\" "
	    "delay=%llds", env->id,
	    log_escape(rc->address, strlen(rc->address), addr, sizeof(addr)),
	    method, result, log_escape(reply, strlen(reply), text,
	    sizeof(text)), (long long)(now - env->created));
	if (rc->state == ENVELOPE_RCPT_FAILED && env->mail_from &&
	    env->mail_from[0] != '\0')
		log_info("qid=%s bounce not sent (DSN not implemented yet) "
		    "rcpt=<%s>", env->id, addr);
}

/* Apply one attempt's outcome to recipient rc and log it. */
static void
runner_record(struct runner *r, struct envelope *env,
    struct envelope_rcpt *rc, const char *method,
    const struct delivery_result *res, time_t now)
{
	const char *result = "delivered";

	if (rc->attempts < UINT_MAX)
		rc->attempts++;
	free(rc->last_reply);
	rc->last_reply = xstrdup(res->reply);
	rc->next_attempt = 0;
	if (res->status == DELIVERY_OK) {
		rc->state = ENVELOPE_RCPT_DELIVERED;
	} else if (res->status == DELIVERY_PERMFAIL) {
		rc->state = ENVELOPE_RCPT_FAILED;
		result = "failed";
	} else if (runner_expired(r, env, now)) {
		rc->state = ENVELOPE_RCPT_FAILED;
		free(rc->last_reply);
		rc->last_reply = xasprintf("expired after %u attempts; last "
		    "reply: %s", rc->attempts, res->reply);
		result = "failed";
	} else {
		rc->next_attempt = runner_next_attempt(r, env, rc->attempts,
		    now);
		result = "deferred";
	}
	runner_log_attempt(env, rc, method, result, rc->last_reply, now);
}

static void
runner_save(struct runner *r, const struct envelope *env)
{
	if (spool_env_save(r->conf->data_dir, env) == -1)
		log_warn("qid=%s queue envelope save failed: %s", env->id,
		    strerror(errno));
}

/* delivery_done_cb: record and save each recipient as soon as it is
 * known, so a crash repeats as little as possible. */
static void
runner_done(size_t i, const struct delivery_result *res, void *arg)
{
	struct runner_attempt *a = arg;
	time_t now = time(NULL);

	runner_record(a->r, a->env, &a->env->rcpts[a->idx[i]],
	    a->r->local->name, res, now);
	runner_save(a->r, a->env);
}

/* --- one message ------------------------------------------------------ */

/* Try the due local recipients idx[0..n) of env. */
static void
runner_deliver_local(struct runner *r, struct envelope *env, int fd,
    const size_t *idx, size_t n)
{
	struct runner_attempt a = { r, env, idx };
	struct delivery_job job = {
		.data_dir = r->conf->data_dir,
		.hostname = r->conf->hostname,
		.target = r->target,
		.timeout = RUNNER_OP_TIMEOUT,
		.env = env,
		.msg_fd = fd,
		.rcpts = idx,
		.nrcpts = n,
		.done = runner_done,
		.arg = &a,
	};

	r->local->deliver(&job);
}

/* Remote recipients wait for the remote delivery code: deferred on the
 * retry schedule (and expired at the end of the lifetime), never bounced
 * for being remote. */
static void
runner_defer_remote(struct runner *r, struct envelope *env,
    const size_t *idx, size_t n)
{
	struct delivery_result res = { .status = DELIVERY_TEMPFAIL };
	time_t now = time(NULL);

	snprintf(res.reply, sizeof(res.reply), "%s", RUNNER_REMOTE_REPLY);
	for (size_t i = 0; i < n; i++)
		runner_record(r, env, &env->rcpts[idx[i]], "remote", &res, now);
	runner_save(r, env);
}

/* Remove the message if no recipient is pending any more. */
static void
runner_maybe_finish(struct runner *r, const struct envelope *env)
{
	size_t delivered = 0, failed = 0;

	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state == ENVELOPE_RCPT_PENDING)
			return;
		if (env->rcpts[i].state == ENVELOPE_RCPT_DELIVERED)
			delivered++;
		else
			failed++;
	}
	if (spool_remove(r->conf->data_dir, env->id) == -1) {
		if (errno != ENOENT)
			log_warn("qid=%s queue remove failed: %s", env->id,
			    strerror(errno));
		return;
	}
	log_info("qid=%s queue removed delivered=%zu failed=%zu", env->id,
	    delivered, failed);
}

/* Split the due pending recipients into local and remote. */
static void
runner_due(struct runner *r, const struct envelope *env, bool force,
    size_t *local, size_t *nl, size_t *remote, size_t *nr)
{
	time_t now = time(NULL);

	*nl = *nr = 0;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct envelope_rcpt *rc = &env->rcpts[i];
		const char *domain = runner_domain(rc->address);

		if (rc->state != ENVELOPE_RCPT_PENDING ||
		    (!force && rc->next_attempt > now))
			continue;
		/* An address without a domain can only be local; the
		 * local method refuses it if it is no mailbox. */
		if (*domain == '\0' ||
		    conf_is_local_domain(r->conf, domain))
			local[(*nl)++] = i;
		else
			remote[(*nr)++] = i;
	}
}

/* Open the message file; a missing one means the message is gone (the
 * .env is renamed in after the .msg, so it existed): drop the envelope. */
static int
runner_open_msg(struct runner *r, const struct envelope *env)
{
	int fd = spool_msg_open(r->conf->data_dir, env->id);

	if (fd == -1 && errno == ENOENT) {
		log_warn("qid=%s queue message file missing, removing the "
		    "envelope", env->id);
		spool_remove(r->conf->data_dir, env->id);
	} else if (fd == -1)
		log_warn("qid=%s queue cannot open message: %s", env->id,
		    strerror(errno));
	return fd;
}

static void
runner_process(struct runner *r, const char *qid, bool force)
{
	struct envelope env;
	char err[256], esc[300];
	size_t *local = NULL, *remote = NULL, nl, nr;
	int fd;

	envelope_init(&env);
	if (spool_env_load(r->conf->data_dir, qid, &env, err,
	    sizeof(err)) == -1) {
		/* ENOENT: delivered or deleted since it was listed. */
		if (errno != ENOENT)
			log_warn("qid=%s queue envelope unusable: %s", qid,
			    log_escape(err, strlen(err), esc, sizeof(esc)));
		goto out;
	}
	local = xcalloc(env.nrcpts + 1, sizeof(*local));
	remote = xcalloc(env.nrcpts + 1, sizeof(*remote));
	runner_due(r, &env, force, local, &nl, remote, &nr);
	if (nl > 0) {
		if ((fd = runner_open_msg(r, &env)) == -1)
			goto out;	/* retried at the next scan */
		runner_deliver_local(r, &env, fd, local, nl);
		close(fd);
	}
	if (nr > 0)
		runner_defer_remote(r, &env, remote, nr);
	runner_maybe_finish(r, &env);
out:
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
	bool force = false;

	(void)fd;
	(void)what;
	if ((next = runner_list_next(&r->urgent)) == NULL) {
		if ((next = runner_list_next(&r->scan)) == NULL)
			return;
		force = r->scan.force;
	}
	memcpy(qid, next, sizeof(qid));
	runner_process(r, qid, force);
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
		if (r->urgent.n - r->urgent.pos < RUNNER_URGENT_MAX)
			runner_list_push(&r->urgent, msg + 4);
		runner_kick(r);
	} else
		log_warn("queue runner ignored nudge \"%s\"",
		    log_escape(msg, n, esc, sizeof(esc)));
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
runner_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;

	(void)what;
	if (sig == SIGHUP) {
		/* The master reloads by starting a new runner. */
		log_info("queue runner ignores SIGHUP");
		return;
	}
	event_base_loopexit(r->base, NULL);
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
	int n;

	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/run/queue.sock",
	    r->conf->data_dir);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
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
	r->scan_ev = event_new(r->base, -1, EV_PERSIST, runner_timer_cb, r);
	event_add(r->scan_ev, &every);
	for (size_t i = 0; i < 3; i++) {
		r->sig_ev[i] = evsignal_new(r->base, sigs[i], runner_signal_cb,
		    r);
		event_add(r->sig_ev[i], NULL);
	}
}

static void
runner_cleanup(struct runner *r)
{
	if (r->nudge_ev)
		event_free(r->nudge_ev);
	for (size_t i = 0; i < 3; i++)
		if (r->sig_ev[i])
			event_free(r->sig_ev[i]);
	if (r->scan_ev)
		event_free(r->scan_ev);
	if (r->work_ev)
		event_free(r->work_ev);
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
	free(r->urgent.ids);
	free(r->scan.ids);
}

int
runner_main(const struct conf *conf)
{
	struct runner r;
	char err[256];
	int lockfd;

	memset(&r, 0, sizeof(r));
	r.conf = conf;
	r.sock = -1;
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
	runner_select_method(&r);
	runner_bind(&r);
	runner_add_events(&r);
	log_info("queue runner started method=%s", r.local->name);
	/* Restart resumes the queue: everything pending is tried now. */
	runner_scan(&r, true);
	event_base_dispatch(r.base);
	runner_cleanup(&r);
	close(lockfd);
	log_info("queue runner stopped");
	return 0;
}
