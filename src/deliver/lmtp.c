/* SPDX-License-Identifier: ISC */
/*
 * LMTP delivery (RFC 2033) on the smtpc engine; see lmtp.h. The method
 * owns its jobs (a FIFO: the first LMTP_CONN_MAX run, the rest wait) and
 * each running job its smtpc session; a job is freed right after its end
 * callback.
 */
#include "deliver/lmtp.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include "core/buf.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/unixaddr.h"
#include "core/xmalloc.h"
#include "msg/hops.h"
#include "smtpc/smtpc_session.h"

struct delivery_method {
	struct event_base	*base;
	char			*helo;
	unsigned		 timeout_ms;
	struct sockaddr_storage	 addr[LMTP_ADDRS_MAX];
	socklen_t		 addrlen[LMTP_ADDRS_MAX];
	size_t			 naddrs;
	char			 err[LIMIT_DOMAIN + 160];	/* why there is
							 * no address */
	struct delivery		*head, **tail;	/* jobs, in start order */
	size_t			 running;
	bool			 closing;	/* being freed: start nothing */
};

struct delivery {
	struct delivery_method	*m;
	struct delivery		*next;
	struct delivery_job	 job;		/* job.rcpts is rcpts */
	size_t			*rcpts;
	bool			*reported;
	size_t			 cur;		/* recipient being tried */
	size_t			 addr;		/* address being tried */
	bool			 running, ready, in_txn, stopping;
	struct smtpc_session	*s;
	struct event		*defer;		/* ends a job off the loop's
						 * current callback */
	/* The transaction in flight (borrowed by the session). */
	struct smtpc_rcpt	 rcpt;
	struct smtpc_message	 msg;
	char			*prepend;
};

static void lmtp_pump(struct delivery_method *);

static void
lmtp_report(struct delivery *d, size_t i, enum delivery_status st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Report recipient i (once). */
static void
lmtp_report(struct delivery *d, size_t i, enum delivery_status st,
    const char *fmt, ...)
{
	struct delivery_result res;
	va_list ap;

	if (d->reported[i])
		return;
	d->reported[i] = true;
	res.status = st;
	res.attempt = NULL;
	va_start(ap, fmt);
	vsnprintf(res.reply, sizeof(res.reply), fmt, ap);
	va_end(ap);
	d->job.rcpt(i, &res, d->job.arg);
}

/* An smtpc outcome as "CODE X.Y.Z text" (a local reason gets 451/550),
 * cut to outlen; the code's class is always the status's. */
static void
lmtp_status_text(const struct smtpc_status *st, char *out, size_t outlen)
{
	bool perm = st->klass == SMTPC_PERM;
	int want = st->klass == SMTPC_OK ? 2 : perm ? 5 : 4, n;

	if (st->code != 0 && st->code / 100 != want)
		/* A reply out of place (a 3xx to RCPT, a 2xx to DATA): smtpc
		 * did not take it for what its code says, and the text leads
		 * with a code of the class the status has. */
		n = snprintf(out, outlen, "%d %s lmtp: unexpected reply %d%s%s",
		    perm ? 550 : 451, perm ? "5.5.0" : "4.5.0", st->code,
		    st->text[0] ? " " : "", st->text);
	else if (st->code != 0)
		n = snprintf(out, outlen, "%d%s%s%s%s", st->code,
		    st->enhanced[0] ? " " : "", st->enhanced,
		    st->text[0] ? " " : "", st->text);
	else
		n = snprintf(out, outlen, "%d %s lmtp: %s: %s", perm ? 550 :
		    451, st->enhanced[0] ? st->enhanced : perm ? "5.0.0" :
		    "4.4.2", st->stage ? st->stage : "?", st->text);
	if (n < 0)
		out[0] = '\0';
}

static enum delivery_status
lmtp_status(const struct smtpc_status *st)
{
	return st->klass == SMTPC_OK ? DELIVERY_OK : st->klass == SMTPC_PERM ?
	    DELIVERY_PERMFAIL : DELIVERY_TEMPFAIL;
}

/* Take d off its method's list and close its session. */
static void
lmtp_unlink(struct delivery *d)
{
	struct delivery_method *m = d->m;
	struct delivery **pp;

	for (pp = &m->head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			if (m->tail == &d->next)
				m->tail = pp;
			break;
		}
	if (d->running)
		m->running--;
	smtpc_session_free(d->s);
	d->s = NULL;
}

static void
lmtp_job_free(struct delivery *d)
{
	event_free(d->defer);
	free(d->prepend);
	free(d->reported);
	free(d->rcpts);
	free(d);
}

/* d is over: make room for the next job, tell the caller, free d. */
static void
lmtp_end(struct delivery *d)
{
	struct delivery_method *m = d->m;

	lmtp_unlink(d);
	lmtp_pump(m);
	d->job.end(d->job.arg);
	lmtp_job_free(d);
}

/* Every recipient without an answer is deferred with why. Recipients a
 * stop kept us from trying are left alone: they were not attempted. */
static void
lmtp_defer_rest(struct delivery *d, const char *why)
{
	size_t i = d->stopping ? d->cur : 0;

	for (; i < d->job.nrcpts; i++)
		lmtp_report(d, i, DELIVERY_TEMPFAIL, "451 4.4.2 lmtp: %s",
		    why);
}

/* The prepend of recipient a's copy: its Delivered-To, then the
 * envelope's block. -1 if a cannot go into a header field. */
static int
lmtp_prepend(struct delivery *d, const char *a)
{
	const char *pre = d->job.env->prepend;
	struct buf b;

	buf_init(&b, LIMIT_PATH + 32 + (pre ? strlen(pre) : 0));
	if (hops_trace_fields(&b, NULL, a) == -1 ||
	    (pre != NULL && buf_append_str(&b, pre) == -1)) {
		buf_clear(&b);
		return -1;
	}
	free(d->prepend);
	d->prepend = buf_take(&b);
	return 0;
}

/* The next transaction, or QUIT when none is left (or stopping). */
static void
lmtp_next(struct delivery *d)
{
	const struct envelope *env = d->job.env;
	const struct smtpc_caps *caps = smtpc_session_caps(d->s);

	for (; d->cur < d->job.nrcpts && !d->stopping; d->cur++) {
		const char *a = env->rcpts[d->job.rcpts[d->cur]].address;

		if (d->reported[d->cur])
			continue;
		if (a == NULL || *a == '\0' || lmtp_prepend(d, a) == -1) {
			lmtp_report(d, d->cur, DELIVERY_PERMFAIL, "501 5.1.3 "
			    "lmtp: unusable recipient address");
			continue;
		}
		d->rcpt = (struct smtpc_rcpt){ .address = a };
		d->msg = (struct smtpc_message){
			.qid = env->id[0] != '\0' ? env->id : NULL,
			.mail_from = env->mail_from ? env->mail_from : "",
			.rcpts = &d->rcpt,
			.nrcpts = 1,
			.fd = d->job.msg_fd,
			.len = env->size,
			.prepend = d->prepend,
			.prepend_len = strlen(d->prepend),
			/* BINARYMIME cannot go through DATA (no CHUNKING
			 * here); it is sent as 8BITMIME, which is what a
			 * local store expects. */
			.body = env->body >= ENVELOPE_BODY_8BITMIME ?
			    ENVELOPE_BODY_8BITMIME : env->body,
			/* A local store takes a UTF-8 envelope without the
			 * parameter rather than have it bounced. */
			.smtputf8 = env->smtputf8 && caps->smtputf8,
		};
		if (smtpc_session_send(d->s, &d->msg) == 0)
			d->in_txn = true;
		/* else the session is ending (a failed RSET after the last
		 * result): its CLOSED event defers the rest. */
		return;
	}
	/* As above: a session that cannot QUIT is closing anyway. */
	(void)smtpc_session_quit(d->s);
}

/* The transaction of recipient d->cur is over. A refused MAIL (or a
 * sender that cannot be sent) is the same for every recipient. */
static void
lmtp_txn_done(struct delivery *d, const struct smtpc_result *res)
{
	const struct smtpc_status *st = res->nrcpts > 0 ? &res->rcpt[0] :
	    &res->status;
	char text[LIMIT_REPLY_LINE + 1];

	d->in_txn = false;
	lmtp_status_text(st, text, sizeof(text));
	lmtp_report(d, d->cur, lmtp_status(st), "%s", text);
	if (st->klass != SMTPC_OK && st->stage != NULL &&
	    strcmp(st->stage, "mail") == 0) {
		for (size_t i = d->cur; i < d->job.nrcpts; i++)
			lmtp_report(d, i, lmtp_status(st), "%s", text);
	}
	d->cur++;
}

static void lmtp_connect(struct delivery *);

static void
lmtp_closed(struct delivery *d, const struct smtpc_result *res)
{
	char text[LIMIT_REPLY_LINE + 1];

	smtpc_session_free(d->s);
	d->s = NULL;
	/* Nothing was said yet: the next address of the target may do. */
	if (!d->ready && !d->stopping && res->status.stage != NULL &&
	    strcmp(res->status.stage, "connect") == 0 &&
	    d->addr + 1 < d->m->naddrs) {
		d->addr++;
		lmtp_connect(d);
		return;
	}
	/* "greeting: 554 no service", "connect: Connection refused": a
	 * refused greeting or LHLO is the server's trouble too. */
	const struct smtpc_status *st = &res->status;
	int n = st->code != 0 ? snprintf(text, sizeof(text), "%s: %d %s",
	    st->stage ? st->stage : "?", st->code, st->text) :
	    snprintf(text, sizeof(text), "%s: %s", st->stage ? st->stage :
	    "?", st->klass == SMTPC_OK ? "connection closed" : st->text);
	lmtp_defer_rest(d, n < 0 ? "connection failed" : text);
	lmtp_end(d);
}

static void
lmtp_session_cb(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res, void *arg)
{
	struct delivery *d = arg;

	(void)s;
	switch (ev) {
	case SMTPC_EV_READY:
		d->ready = true;
		lmtp_next(d);
		break;
	case SMTPC_EV_MESSAGE:
		lmtp_txn_done(d, res);
		lmtp_next(d);
		break;
	case SMTPC_EV_CLOSED:
		lmtp_closed(d, res);
		break;
	}
}

/* A zero-delay timer: a job that ends without a session (stopped while
 * waiting, or no address to connect to) ends from the loop. */
static void
lmtp_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	(void)fd;
	(void)what;
	if (!d->stopping)
		lmtp_defer_rest(d, d->m->err[0] ? d->m->err : "no address");
	lmtp_end(d);
}

static void
lmtp_defer_end(struct delivery *d)
{
	const struct timeval now = { 0, 0 };

	evtimer_add(d->defer, &now);
}

static void
lmtp_connect(struct delivery *d)
{
	struct delivery_method *m = d->m;
	struct smtpc_params p = {
		.helo = m->helo,
		.addr = (const struct sockaddr *)&m->addr[d->addr],
		.addrlen = m->addrlen[d->addr],
		.tls = SMTPC_TLS_NONE,
		.timeout_max_ms = m->timeout_ms,
		.connect_timeout_ms = m->timeout_ms,
		.lmtp = true,
	};
	char err[160];

	d->s = smtpc_session_new(m->base, &p, lmtp_session_cb, d, err,
	    sizeof(err));
	if (d->s == NULL) {
		snprintf(m->err, sizeof(m->err), "%s", err);
		lmtp_defer_end(d);
	}
}

/* Start waiting jobs while there is room. */
static void
lmtp_pump(struct delivery_method *m)
{
	struct delivery *d;

	if (m->closing)
		return;
	for (d = m->head; d != NULL && m->running < LMTP_CONN_MAX;
	    d = d->next) {
		if (d->running || d->stopping)
			continue;
		d->running = true;
		m->running++;
		if (m->naddrs == 0)
			lmtp_defer_end(d);
		else
			lmtp_connect(d);
	}
}

static struct delivery *
lmtp_start(struct delivery_method *m, const struct delivery_job *job)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->m = m;
	d->job = *job;
	d->rcpts = xcalloc(job->nrcpts + 1, sizeof(*d->rcpts));
	memcpy(d->rcpts, job->rcpts, job->nrcpts * sizeof(*d->rcpts));
	d->job.rcpts = d->rcpts;
	d->reported = xcalloc(job->nrcpts + 1, sizeof(*d->reported));
	if ((d->defer = evtimer_new(m->base, lmtp_defer_cb, d)) == NULL)
		fatal("lmtp: cannot create a timer");
	*m->tail = d;
	m->tail = &d->next;
	lmtp_pump(m);
	return d;
}

static void
lmtp_stop(struct delivery *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	if (d->in_txn)
		return;		/* QUIT follows its result */
	/* Waiting, or not yet past LHLO: nothing was sent for a recipient,
	 * so the session may go at once. */
	smtpc_session_free(d->s);
	d->s = NULL;
	lmtp_defer_end(d);
}

static void
lmtp_cancel(struct delivery *d)
{
	struct delivery_method *m = d->m;

	lmtp_unlink(d);
	lmtp_job_free(d);
	lmtp_pump(m);
}

/* Resolve a target into m's addresses, or say why not in m->err. */
static void
lmtp_resolve(struct delivery_method *m, const char *target)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV }, *res, *ai;
	char host[LIMIT_DOMAIN + 1];
	const char *port;
	bool v6;
	int r;

	if (target == NULL || *target == '\0') {
		snprintf(m->err, sizeof(m->err), "no LMTP target configured");
		return;
	}
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&m->addr[0];

		if (unixaddr_set(sun, target + 5) == -1) {
			snprintf(m->err, sizeof(m->err), "socket path: %s",
			    strerror(errno));
			return;
		}
		m->addrlen[0] = sizeof(*sun);
		m->naddrs = 1;
		return;
	}
	if (hostport_split(target, host, sizeof(host), &port, &v6) == -1 ||
	    port == NULL || *port == '\0') {
		snprintf(m->err, sizeof(m->err),
		    "bad LMTP target (want HOST:PORT)");
		return;
	}
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(m->err, sizeof(m->err), "resolve %s: %s", host,
		    gai_strerror(r));
		return;
	}
	for (ai = res; ai != NULL && m->naddrs < LMTP_ADDRS_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(m->addr[0]) ||
		    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
			continue;
		memcpy(&m->addr[m->naddrs], ai->ai_addr, ai->ai_addrlen);
		m->addrlen[m->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (m->naddrs == 0)
		snprintf(m->err, sizeof(m->err), "resolve %s: no address",
		    host);
}

static struct delivery_method *
lmtp_new(const struct delivery_setup *setup, char *err, size_t errlen)
{
	struct delivery_method *m = xcalloc(1, sizeof(*m));
	unsigned t = setup->timeout ? setup->timeout : 30;

	(void)err;
	(void)errlen;
	m->base = setup->base;
	m->helo = xstrdup(setup->hostname && *setup->hostname ?
	    setup->hostname : "localhost");
	m->timeout_ms = t * 1000;
	m->tail = &m->head;
	/* A target that does not resolve defers every job with the
	 * reason, as a refused connection does: it is not a reason to
	 * stop the runner, which also delivers remote mail. */
	lmtp_resolve(m, setup->target);
	return m;
}

static void
lmtp_free(struct delivery_method *m)
{
	if (m == NULL)
		return;
	m->closing = true;
	while (m->head != NULL)
		lmtp_cancel(m->head);
	free(m->helo);
	free(m);
}

const struct delivery_ops lmtp_delivery_ops = {
	.name = "lmtp",
	.new = lmtp_new,
	.free = lmtp_free,
	.start = lmtp_start,
	.stop = lmtp_stop,
	.cancel = lmtp_cancel,
};
