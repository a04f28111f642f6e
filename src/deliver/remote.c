/* SPDX-License-Identifier: ISC */
/*
 * Remote SMTP delivery (see remote.h), the "smtp" method of delivery.h:
 * its setup, jobs split into units, their results, stop and cancel, and
 * the pump. Objects (remote_internal.h):
 *  - the method's instance (struct delivery_method, rd);
 *  - a job (struct delivery, js): the runner's request, split into units;
 *  - a unit: the job's recipients for one destination, one transaction;
 *  - a destination (remote_dest): a domain or the relayhost, with a FIFO
 *    of waiting units and a count of its connections;
 *  - a connection (remote_conn, remote_conn.c): takes units of its
 *    destination one after the other.
 * Connections are started only from the zero-delay "pump" event, so no
 * callback ever runs inside start(), stop() or cancel().
 *
 * Ownership: the method owns jobs, units, destinations and connections;
 * the envelope, the message fd and the callbacks' arg are the runner's,
 * borrowed until the job's end callback (or its cancel). Untrusted input:
 * the message's header section (read for the loop checks, bounded) and
 * the results connections report (server replies, escaped when logged).
 */
#include "deliver/remote_internal.h"


#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>


#include "core/hostport.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "dns/dns.h"
#include "msg/addr.h"
#include "msg/hops.h"
#include "msg/tlsrequired.h"
#include "msg/rfc5322_headers.h"
#include "queue/spool.h"
#include "deliver/mtasts.h"
#include "store/db.h"

/* Credentials file: one short line. */
#define REMOTE_CRED_LINE	(2 * LIMIT_SASL_FIELD + 4)

void
remote_status(struct smtpc_status *st, enum smtpc_class klass, int code,
    const char *enh, const char *stage, const char *text)
{
	memset(st, 0, sizeof(*st));
	st->klass = klass;
	st->code = code;
	st->stage = stage;
	snprintf(st->enhanced, sizeof(st->enhanced), "%s", enh);
	snprintf(st->text, sizeof(st->text), "%s", text);
}

void
remote_pump_later(struct delivery_method *rd)
{
	const struct timeval now = { 0, 0 };

	evtimer_add(rd->pump_ev, &now);
}

/* --- results ------------------------------------------------------------ */

/* snprintf where truncation is expected and fine (reply texts are cut at
 * the size of a result). */
static void remote_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
remote_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

/* In the forms queue/bounce.h reads: "host NAME[ADDR] said: CODE X.Y.Z
 * text" for a server's reply, "CODE X.Y.Z text" for a decision of ours
 * that has a reply code (null MX), "X.Y.Z text (stage, RELAY)" for a
 * local reason. */
static void
remote_reply_text(const struct smtpc_status *st, const char *relay,
    char *out, size_t outlen)
{
	const char *sp = st->enhanced[0] ? " " : "";
	const char *rb = relay ? strrchr(relay, ']') : NULL;
	bool server = st->code != 0 && rb != NULL &&
	    (st->stage == NULL || strcmp(st->stage, "dns") != 0);

	/* bounce.h: "host NAME[ADDR] said: REPLY" names the Remote-MTA. */
	if (server)
		remote_fmt(out, outlen, "host %.*s said: %d %s%s%s",
		    (int)(rb + 1 - relay), relay, st->code, st->enhanced, sp,
		    st->text);
	else if (st->code != 0)
		remote_fmt(out, outlen, "%d %s%s%s", st->code, st->enhanced, sp,
		    st->text);
	else if (relay != NULL && strcmp(relay, "none") != 0)
		remote_fmt(out, outlen, "%s%s%s (%s, %s)", st->enhanced, sp,
		    st->text, st->stage ? st->stage : "?", relay);
	else
		remote_fmt(out, outlen, "%s%s%s", st->enhanced, sp, st->text);
}

static enum delivery_status
remote_class(enum smtpc_class k)
{
	return k == SMTPC_OK ? DELIVERY_OK : k == SMTPC_PERM ?
	    DELIVERY_PERMFAIL : DELIVERY_TEMPFAIL;
}

static void
remote_unit_free(struct remote_unit *u)
{
	free(u->prepend);
	free(u->mail_from);
	free(u->pos);
	free(u->rcpts);
	free(u);
}

static void
remote_job_free(struct delivery *js)
{
	free((size_t *)js->job.rcpts);
	free(js);
}

/* The unit is settled: finish its job when it was the last unit. */
static void
remote_unit_done(struct delivery_method *rd, struct remote_unit *u)
{
	struct delivery *js = u->js;

	remote_unit_free(u);
	if (--js->nunits > 0)
		return;
	TAILQ_REMOVE(&rd->jobs, js, entry);
	rd->njobs--;
	js->job.end(js->job.arg);
	remote_job_free(js);
}

/* A unit of a stopped job is not begun: it goes unreported. When it was
 * the job's last, the end callback follows from the pump (never from
 * inside stop()). */
static void
remote_unit_drop(struct delivery_method *rd, struct remote_unit *u)
{
	struct delivery *js = u->js;

	remote_unit_free(u);
	if (--js->nunits > 0)
		return;
	TAILQ_REMOVE(&rd->jobs, js, entry);
	TAILQ_INSERT_TAIL(&rd->over, js, entry);
	js->over = true;
	remote_pump_later(rd);
}

/* A unit that goes back to its destination's queue (its connection
 * could not send it): dropped instead when its job was stopped. */
void
remote_unit_requeue(struct delivery_method *rd, struct remote_dest *d,
    struct remote_unit *u)
{
	if (u->js->stopped)
		remote_unit_drop(rd, u);
	else
		TAILQ_INSERT_HEAD(&d->waiting, u, entry);
}

/* Report every recipient of u: st for all, or per[k] when per != NULL. */
void
remote_unit_settle(struct delivery_method *rd, struct remote_unit *u,
    const struct smtpc_status *st, const struct smtpc_status *per,
    const struct delivery_attempt *at)
{
	static const struct delivery_attempt none = { "none", "none", false,
	    false, "none", false };
	struct delivery_result res;

	if (at == NULL)
		at = &none;
	for (size_t k = 0; k < u->n; k++) {
		const struct smtpc_status *s = per ? &per[k] : st;

		res.status = remote_class(s->klass);
		remote_reply_text(s, at->relay, res.reply, sizeof(res.reply));
		res.attempt = at;
		u->js->job.rcpt(u->pos[k], &res, u->js->job.arg);
	}
	remote_unit_done(rd, u);
}

static void
remote_dest_free(struct delivery_method *rd, struct remote_dest *d)
{
	TAILQ_REMOVE(&rd->dests, d, entry);
	free(d->name);
	free(d);
}

/* Start connections for waiting units within the limits; free idle
 * destinations. */
static void
remote_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_method *rd = arg;
	struct remote_dest *d, *next;
	struct remote_unit *u;
	struct delivery *js;

	(void)fd;
	(void)what;
	/* Stopped jobs whose units were all dropped. */
	while ((js = TAILQ_FIRST(&rd->over)) != NULL) {
		TAILQ_REMOVE(&rd->over, js, entry);
		rd->njobs--;
		js->job.end(js->job.arg);
		remote_job_free(js);
	}
	while ((u = TAILQ_FIRST(&rd->looped)) != NULL) {
		TAILQ_REMOVE(&rd->looped, u, entry);
		remote_unit_settle(rd, u, &u->loop, NULL, NULL);
	}
	for (d = TAILQ_FIRST(&rd->dests); d != NULL; d = next) {
		while (d->nconn < REMOTE_DEST_CONN_MAX &&
		    rd->nconn < REMOTE_CONN_MAX &&
		    (u = TAILQ_FIRST(&d->waiting)) != NULL) {
			TAILQ_REMOVE(&d->waiting, u, entry);
			remote_conn_start(rd, d, u);
		}
		/* remote_conn_start may settle units but never frees d. */
		next = TAILQ_NEXT(d, entry);
		if (d->nconn == 0 && TAILQ_EMPTY(&d->waiting))
			remote_dest_free(rd, d);
	}
}

/* --- jobs ------------------------------------------------------------------- */

static struct remote_dest *
remote_dest_get(struct delivery_method *rd, const char *name)
{
	struct remote_dest *d;

	TAILQ_FOREACH(d, &rd->dests, entry)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	TAILQ_INIT(&d->waiting);
	TAILQ_INSERT_TAIL(&rd->dests, d, entry);
	return d;
}

/* The smtpc_message of a unit, from the envelope. */
static void
remote_unit_message(struct remote_unit *u)
{
	const struct delivery_job *j = &u->js->job;
	const struct envelope *env = j->env;

	u->rcpts = xcalloc(u->n, sizeof(*u->rcpts));
	for (size_t k = 0; k < u->n; k++) {
		const struct envelope_rcpt *rc = &env->rcpts[j->rcpts[u->pos[k]]];

		u->rcpts[k].address = rc->address;
		u->rcpts[k].orcpt = rc->orcpt;
		u->rcpts[k].notify = rc->notify;
	}
	u->msg.qid = env->id;
	u->msg.mail_from = u->mail_from ? u->mail_from :
	    env->mail_from ? env->mail_from : "";
	u->msg.rcpts = u->rcpts;
	u->msg.nrcpts = u->n;
	u->msg.fd = j->msg_fd;
	u->msg.len = env->size;
	u->msg.prepend = u->prepend ? u->prepend : env->prepend;
	u->msg.prepend_len = u->msg.prepend ? strlen(u->msg.prepend) : 0;
	u->msg.size = env->size + u->msg.prepend_len;
	u->msg.body = env->body;
	u->msg.smtputf8 = env->smtputf8;
	u->msg.ret = env->ret;
	u->msg.envid = env->envid;
	u->msg.requiretls = env->requiretls;
}

/* The alias address rc was forwarded for (RCPT TO named it and alias
 * expansion made rc->address of it), or NULL. */
static const char *
remote_forwarded_for(const struct envelope_rcpt *rc)
{
	if (rc->orig == NULL || *rc->orig == '\0' ||
	    strcasecmp(rc->orig, rc->address) == 0)
		return NULL;
	return rc->orig;
}

/*
 * The message's header section into b (at most its bound): read until the
 * empty line that ends it. A read error leaves what was read; sending the
 * message meets the error again and reports it.
 */
static void
remote_read_head(int fd, uint64_t size, struct buf *b)
{
	char chunk[8192];
	uint64_t off = 0;
	ssize_t n;

	while (b->len < RFC5322_HEADERS_MAX_SECTION &&
	    (n = spool_msg_pread(fd, size, chunk, sizeof(chunk), off)) > 0) {
		size_t from = b->len > 3 ? b->len - 3 : 0;
		size_t take = (size_t)n;

		if (take > RFC5322_HEADERS_MAX_SECTION - b->len)
			take = RFC5322_HEADERS_MAX_SECTION - b->len;
		if (buf_append(b, chunk, take) == -1)
			return;
		off += take;
		if (memmem(b->data + from, b->len - from, "\n\r\n", 3) ||
		    memmem(b->data + from, b->len - from, "\n\n", 2))
			return;
	}
}

/*
 * Loop checks before anything is sent (msg/hops.h): too many Received
 * fields refuse every recipient; a recipient forwarded for an alias the
 * message already carries a Delivered-To field for is refused alone.
 * looped[i] gets the refusal of position i (code 0: none).
 */
static void
remote_loop_check(const struct delivery_method *rd,
    const struct delivery_job *j, const struct buf *head,
    struct smtpc_status *looped)
{
	const struct envelope *env = j->env;
	const char *pre = env->prepend ? env->prepend : "";
	unsigned max = rd->conf->max_hops;
	char text[SMTPC_TEXT_MAX];
	bool too_many;

	too_many = hops_too_many(pre, strlen(pre), head->data, head->len, max,
	    NULL);
	for (size_t i = 0; i < j->nrcpts; i++) {
		const struct envelope_rcpt *rc = &env->rcpts[j->rcpts[i]];
		const char *alias = remote_forwarded_for(rc);

		memset(&looped[i], 0, sizeof(looped[i]));
		if (too_many) {
			remote_fmt(text, sizeof(text), "Too many hops: more "
			    "than %u Received fields, mail loop suspected "
			    "(RFC 5321 6.3)", max);
			remote_status(&looped[i], SMTPC_PERM, 554, "5.4.6",
			    "loop", text);
		} else if (alias != NULL && hops_delivered_to(head->data,
		    head->len, alias)) {
			remote_fmt(text, sizeof(text), "Mail forwarding loop "
			    "for %s: the message was already delivered to it "
			    "(Delivered-To)", alias);
			remote_status(&looped[i], SMTPC_PERM, 554, "5.4.6",
			    "loop", text);
		}
	}
}

/* Lower-cased destination name of recipient position i into out. */
static void
remote_dest_name(const struct delivery_method *rd,
    const struct delivery_job *j, size_t i, char *out, size_t outlen)
{
	const char *dom;
	size_t k;

	if (rd->relay) {
		snprintf(out, outlen, "%s", REMOTE_RELAY_DEST);
		return;
	}
	dom = addr_text_domain(j->env->rcpts[j->rcpts[i]].address);
	for (k = 0; dom[k] != '\0' && k + 1 < outlen; k++)
		out[k] = (char)tolower((unsigned char)dom[k]);
	out[k] = '\0';
	if (k > 0 && out[k - 1] == '.')
		out[k - 1] = '\0';
}

/* The alias of recipient position i (see remote_forwarded_for), or "". */
static const char *
remote_alias_of(const struct delivery_job *j, size_t i)
{
	const char *a = remote_forwarded_for(&j->env->rcpts[j->rcpts[i]]);

	return a ? a : "";
}

/* A message forwarded for an alias names it in Delivered-To, above the
 * envelope's prepend block, so that the message is recognised if the
 * forwarding brings it back (remote_loop_check). The ARC set sealed for
 * forwarding (smtpd_arc.c), if any, goes on top: only these copies carry
 * it. */
static void
remote_unit_alias(struct remote_unit *u, const char *alias)
{
	const char *pre = u->js->job.env->prepend;
	const char *arc = u->js->job.env->arc;
	struct buf b;

	if (*alias == '\0')
		return;
	buf_init(&b, SIZE_MAX);
	(void)buf_append_str(&b, arc ? arc : "");
	/* An alias with a control byte is never written (the envelope's
	 * addresses are checked when received; this keeps the field
	 * whole whatever the envelope file holds). */
	if (hops_trace_fields(&b, NULL, alias) == 0) {
		(void)buf_append_str(&b, pre ? pre : "");
		u->prepend = buf_take(&b);
	}
	buf_clear(&b);
}

/* The SRS key's read, owned by the job. */
struct remote_srs_job {
	struct delivery_method	*rd;	/* loop thread only */
	const struct conf	*conf;
	struct db		*db;	/* rd's, or NULL: one of its own */
	bool			 ok;
	uint8_t			 key[SRS_SECRET_LEN];
};

/* workpool_run_fn: where the store is used. */
static void
remote_srs_run(void *arg)
{
	struct remote_srs_job *j = arg;
	struct db *db = j->db;
	char err[512];

	if (db == NULL && (db = store_open(j->conf, true, err,
	    sizeof(err))) == NULL) {
		log_warn("remote srs key unavailable: %s", err);
		return;
	}
	if (db_secret_get(db, "srs", j->key, sizeof(j->key)) == DB_OK)
		j->ok = true;
	else
		log_warn("remote srs key unavailable: %s", db_error(db));
	if (db != j->db)
		db_close(db);
}

static void remote_keyless_go(struct delivery_method *rd);

/* workpool_done_fn: on the loop. */
static void
remote_srs_done(void *arg, bool cancelled)
{
	struct remote_srs_job *j = arg;

	if (!cancelled && j->ok) {
		memcpy(j->rd->srs_key, j->key, sizeof(j->key));
		j->rd->srs_key_ok = true;
	}
	if (!cancelled) {
		j->rd->srs_key_reading = false;
		remote_keyless_go(j->rd);
	}
	OPENSSL_cleanse(j->key, sizeof(j->key));
	free(j);
}

/* The SRS key (db_secret_get "srs"), read once; NULL if the store cannot
 * give it, or not yet (rd->srs_key_reading: on a shared server the read
 * goes to the store's thread, and the forwards wait for it in
 * rd->keyless). With a relayhost the engine has no store handle: one is
 * opened for the read. */
static const uint8_t *
remote_srs_key(struct delivery_method *rd)
{
	struct remote_srs_job *j;

	if (rd->srs_key_ok || rd->srs_key_reading)
		return rd->srs_key_ok ? rd->srs_key : NULL;
	j = xcalloc(1, sizeof(*j));
	j->rd = rd;
	j->conf = rd->conf;
	j->db = rd->db;
	rd->srs_key_reading = true;
	(void)workpool_submit_or_run(rd->store, remote_srs_run,
	    remote_srs_done, j);
	return rd->srs_key_ok ? rd->srs_key : NULL;
}

/* A TLS result to record, its strings owned. */
struct remote_tls_job {
	struct db		*db;
	struct db_tls_result	 r;
	char			*s[10];
};

/* workpool_run_fn: into the handle's pending rows (written by the flush,
 * or at once when they are many). */
static void
remote_tls_run(void *arg)
{
	struct remote_tls_job *j = arg;

	if (db_tls_result_defer(j->db, &j->r) != DB_OK)
		log_warn("remote: cannot record a TLS result: %s",
		    db_error(j->db));
}

/* workpool_done_fn */
static void
remote_tls_done(void *arg, bool cancelled)
{
	struct remote_tls_job *j = arg;

	(void)cancelled;
	for (size_t i = 0; i < sizeof(j->s) / sizeof(j->s[0]); i++)
		free(j->s[i]);
	free(j);
}

void
remote_store_tls(struct delivery_method *rd, const struct db_tls_result *r)
{
	struct remote_tls_job *j = xcalloc(1, sizeof(*j));
	const char *const in[] = { r->policy_domain, r->policy_type,
	    r->policy_string, r->mx_host, r->sending_ip, r->receiving_mx,
	    r->receiving_helo, r->receiving_ip, r->result, r->failure_code };
	const char **out[] = { &j->r.policy_domain, &j->r.policy_type,
	    &j->r.policy_string, &j->r.mx_host, &j->r.sending_ip,
	    &j->r.receiving_mx, &j->r.receiving_helo, &j->r.receiving_ip,
	    &j->r.result, &j->r.failure_code };
	_Static_assert(sizeof(in) / sizeof(in[0]) ==
	    sizeof(j->s) / sizeof(j->s[0]), "a string per field");

	j->db = rd->db;
	j->r.time = r->time;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		*out[i] = j->s[i] = xstrdup(in[i] != NULL ? in[i] : "");
	(void)workpool_submit_or_run(rd->store, remote_tls_run,
	    remote_tls_done, j);
}

/* workpool_run_fn: write the pending TLS results. */
static void
remote_flush_run(void *arg)
{
	struct db *db = arg;

	if (db_tls_result_flush(db) != DB_OK)
		log_warn("remote: TLS results lost: %s", db_error(db));
}

/* workpool_done_fn */
static void
remote_flush_done(void *arg, bool cancelled)
{
	(void)arg;
	(void)cancelled;
}

void
remote_store_flush(struct delivery_method *rd)
{
	(void)workpool_submit_or_run(rd->store, remote_flush_run,
	    remote_flush_done, rd->db);
}

/*
 * A copy forwarded for alias (remote_forward.h): refused when the message
 * failed DMARC with p=reject (permanent: it bounces), deferred when the
 * SRS key cannot be read; else its sender is rewritten where SRS applies.
 * -1 with u->loop set when the unit is refused; 1 when it waits for the
 * key being read (a read that fails is not asked again for it).
 */
static int
remote_unit_forward(struct delivery_method *rd, struct remote_unit *u,
    const char *alias, bool retry)
{
	const struct envelope *env = u->js->job.env;
	const uint8_t *key = NULL;
	char text[SMTPC_TEXT_MAX], from[LIMIT_PATH + 1];
	char q[LOG_QUOTE_SIZE(LIMIT_PATH)], qa[LOG_QUOTE_SIZE(LIMIT_PATH)];
	enum srs_result why;

	if (*alias == '\0')
		return 0;
	if (remote_forward_refused(env, text, sizeof(text))) {
		remote_status(&u->loop, SMTPC_PERM, 550, "5.7.1", "forward",
		    text);
		return -1;
	}
	if (rd->conf->forward_srs && (key = retry ? remote_srs_key(rd) :
	    rd->srs_key_ok ? rd->srs_key : NULL) == NULL) {
		if (rd->srs_key_reading)
			return 1;
		remote_status(&u->loop, SMTPC_TEMP, 451, "4.3.0", "forward",
		    "SRS key unavailable in the store");
		return -1;
	}
	if (remote_forward_sender(rd->conf, key, env->mail_from, alias,
	    (long long)time(NULL), from, sizeof(from), &why)) {
		u->mail_from = xstrdup(from);
		log_info("qid=%s remote srs alias=%s mail-from=%s", env->id,
		    log_quote(alias, strlen(alias), qa, sizeof(qa)),
		    log_quote(from, strlen(from), q, sizeof(q)));
	} else if (why != SRS_OK)
		log_warn("qid=%s remote srs not applied alias=%s: %s", env->id,
		    log_quote(alias, strlen(alias), qa, sizeof(qa)),
		    srs_result_text(why));
	return 0;
}

/* A unit of recipients of one destination (name) and alias: refused,
 * waiting for the SRS key, or queued for its destination. retry: a
 * failed read of the key may be tried again for it. */
static void
remote_unit_queue(struct delivery_method *rd, struct remote_unit *u,
    const char *alias, const char *name, bool retry)
{
	switch (remote_unit_forward(rd, u, alias, retry)) {
	case -1:
		TAILQ_INSERT_TAIL(&rd->looped, u, entry);
		return;
	case 1:
		TAILQ_INSERT_TAIL(&rd->keyless, u, entry);
		return;
	}
	remote_unit_alias(u, alias);
	remote_unit_message(u);
	TAILQ_INSERT_TAIL(&remote_dest_get(rd, name)->waiting, u, entry);
}

/* The SRS key's read ended (with the key or without): the forwards that
 * waited for it go on, or are deferred (451) if it failed. */
static void
remote_keyless_go(struct delivery_method *rd)
{
	struct remote_units q = TAILQ_HEAD_INITIALIZER(q);
	struct remote_unit *u;
	char name[LIMIT_DOMAIN + 1];

	if (TAILQ_EMPTY(&rd->keyless))
		return;
	TAILQ_CONCAT(&q, &rd->keyless, entry);
	while ((u = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, u, entry);
		remote_dest_name(rd, &u->js->job, u->pos[0], name,
		    sizeof(name));
		remote_unit_queue(rd, u, remote_alias_of(&u->js->job,
		    u->pos[0]), name, false);
	}
	remote_pump_later(rd);
}

static struct delivery *
remote_start(struct delivery_method *rd, const struct delivery_job *job)
{
	struct delivery *js;
	char (*names)[LIMIT_DOMAIN + 1];
	struct smtpc_status *looped;
	size_t n = job->nrcpts;
	bool *taken, requiretls, tls_no;
	struct buf head;

	js = xcalloc(1, sizeof(*js));
	js->rd = rd;
	js->job = *job;
	js->job.rcpts = xreallocarray(NULL, n + 1, sizeof(size_t));
	memcpy((size_t *)js->job.rcpts, job->rcpts, n * sizeof(size_t));
	rd->njobs++;
	if (n == 0) {		/* against the contract: ends at once */
		js->over = true;
		TAILQ_INSERT_TAIL(&rd->over, js, entry);
		remote_pump_later(rd);
		return js;
	}
	TAILQ_INSERT_TAIL(&rd->jobs, js, entry);
	names = xcalloc(n, sizeof(*names));
	taken = xcalloc(n, sizeof(*taken));
	looped = xcalloc(n, sizeof(*looped));
	buf_init(&head, RFC5322_HEADERS_MAX_SECTION);
	remote_read_head(js->job.msg_fd, job->env->size, &head);
	remote_loop_check(rd, &js->job, &head, looped);
	/* RFC 8689 §4.2.1 is for messages with a return path; a bounce of a
	 * REQUIRETLS message goes anyway (§5, smtpc sends the flag where
	 * it can). */
	requiretls = job->env->requiretls && job->env->mail_from != NULL &&
	    job->env->mail_from[0] != '\0';
	tls_no = tlsrequired_overrides_policy(job->env->requiretls, head.data,
	    head.len);
	buf_clear(&head);
	for (size_t i = 0; i < n; i++)
		remote_dest_name(rd, &js->job, i, names[i], sizeof(names[i]));
	/* One unit per destination and alias: its recipients in one
	 * transaction (each alias's copy names it, and has the one sender
	 * SRS gives it for that alias); a looping recipient is a unit of its
	 * own, refused from the pump, as is a forwarded copy that may not
	 * go. */
	for (size_t i = 0; i < n; i++) {
		struct remote_unit *u;
		const char *alias = remote_alias_of(&js->job, i);

		if (taken[i])
			continue;
		u = xcalloc(1, sizeof(*u));
		u->js = js;
		u->pos = xcalloc(n, sizeof(*u->pos));
		js->nunits++;
		if (looped[i].code != 0) {
			taken[i] = true;
			u->pos[u->n++] = i;
			u->loop = looped[i];
			TAILQ_INSERT_TAIL(&rd->looped, u, entry);
			continue;
		}
		for (size_t k = i; k < n; k++)
			if (!taken[k] && looped[k].code == 0 &&
			    strcmp(names[k], names[i]) == 0 &&
			    strcmp(remote_alias_of(&js->job, k), alias) == 0) {
				taken[k] = true;
				u->pos[u->n++] = k;
			}
		u->requiretls = requiretls;
		u->tls_no = tls_no;
		remote_unit_queue(rd, u, alias, names[i], true);
	}
	free(looped);
	free(names);
	free(taken);
	remote_pump_later(rd);
	return js;
}

/* Take js's units out of the queue q (a destination's or rd->looped):
 * dropped (stop: nothing new is begun) or freed (cancel). */
static void
remote_job_unqueue(struct delivery *js, struct remote_units *q, bool cancel)
{
	struct remote_unit *u, *next;

	for (u = TAILQ_FIRST(q); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (u->js != js)
			continue;
		TAILQ_REMOVE(q, u, entry);
		if (cancel)
			remote_unit_free(u);
		else
			remote_unit_drop(js->rd, u);
	}
}

/* Units not yet on a connection (loop refusals included: nothing is
 * settled for a stopped job that was not under way) are not begun; the
 * units connections have claimed finish and are reported. */
static void
remote_stop(struct delivery *js)
{
	struct delivery_method *rd = js->rd;
	struct remote_dest *d;

	if (js->stopped || js->over)
		return;
	js->stopped = true;
	/* A drop may put js on rd->over: nunits says when. */
	remote_job_unqueue(js, &rd->looped, false);
	if (!js->over)
		remote_job_unqueue(js, &rd->keyless, false);
	TAILQ_FOREACH(d, &rd->dests, entry)
		if (!js->over)
			remote_job_unqueue(js, &d->waiting, false);
}

/* No callback after this. A connection that has claimed a unit of js
 * forgets it: one sending it (the message reads the caller's envelope and
 * fd, which go now) is closed, the others carry on with their
 * destination's other units. */
static void
remote_cancel(struct delivery *js)
{
	struct delivery_method *rd = js->rd;
	struct remote_dest *d;
	struct remote_conn *c, *next;

	if (js->over)
		TAILQ_REMOVE(&rd->over, js, entry);
	else {
		TAILQ_REMOVE(&rd->jobs, js, entry);
		remote_job_unqueue(js, &rd->looped, true);
		remote_job_unqueue(js, &rd->keyless, true);
		TAILQ_FOREACH(d, &rd->dests, entry)
			remote_job_unqueue(js, &d->waiting, true);
		for (c = TAILQ_FIRST(&rd->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (c->unit == NULL || c->unit->js != js)
				continue;
			remote_unit_free(c->unit);
			c->unit = NULL;
			if (c->sending)
				remote_conn_end(c);
		}
	}
	rd->njobs--;
	remote_job_free(js);
}

/* --- setup ------------------------------------------------------------------ */

/* Split conf->relayhost ("smtps://HOST[:PORT]", "smtp://[V6]:PORT"). The
 * configuration parser has checked the syntax already. */
static int
remote_parse_relay(struct delivery_method *rd, const char *v, char *err,
    size_t errlen)
{
	const char *port;
	struct sockaddr_in *sin = (struct sockaddr_in *)&rd->relay_addr.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&rd->relay_addr.ss;
	bool v6;

	rd->relay = true;
	rd->relay_implicit = strncmp(v, "smtps://", 8) == 0;
	rd->relay_port = rd->relay_implicit ? 465 : 587;
	if (hostport_split(v + (rd->relay_implicit ? 8 : 7), rd->relay_host,
	    sizeof(rd->relay_host), &port, &v6) == -1) {
		snprintf(err, errlen, "bad relayhost");
		return -1;
	}
	if (port != NULL)
		rd->relay_port = (unsigned)strtoul(port, NULL, 10);
	memset(&rd->relay_addr, 0, sizeof(rd->relay_addr));
	if (inet_pton(AF_INET, rd->relay_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)rd->relay_port);
		rd->relay_addr.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, rd->relay_host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)rd->relay_port);
		rd->relay_addr.len = sizeof(*s6);
	}
	return 0;
}

/* Read "user:password" (first line) of relayhost_credentials. A problem
 * is kept in auth_err: relayhost deliveries then defer with it. */
static void
remote_read_credentials(struct delivery_method *rd, const char *path)
{
	char line[REMOTE_CRED_LINE + 2], *colon;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "re")) == NULL) {
		rd->auth_err = xasprintf("cannot read relayhost_credentials "
		    "%s: %s", path, strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	colon = strchr(line, ':');
	if (colon == NULL || colon == line || colon[1] == '\0' ||
	    (size_t)(colon - line) > LIMIT_SASL_FIELD ||
	    strlen(colon + 1) > LIMIT_SASL_FIELD)
		rd->auth_err = xasprintf("relayhost_credentials %s: expected "
		    "one line user:password", path);
	else {
		*colon = '\0';
		rd->auth_user = xstrdup(line);
		rd->auth_pass = xstrdup(colon + 1);
	}
	explicit_bzero(line, sizeof(line));
}

static int
remote_setup_tls(struct delivery_method *rd, char *err, size_t errlen)
{
	const struct conf *c = rd->conf;

	if (rd->relay) {
		rd->relay_ctx = smtpc_tls_ctx_new(c->relayhost_ca, err,
		    errlen);
		return rd->relay_ctx ? 0 : -1;
	}
	rd->mx_ctx = smtpc_tls_ctx_new(c->tls_ca, err, errlen);
	if (rd->mx_ctx == NULL)
		return -1;
	if (SSL_CTX_dane_enable(rd->mx_ctx) <= 0) {
		snprintf(err, errlen, "cannot enable DANE in OpenSSL");
		return -1;
	}
	return 0;
}

/* The store (MTA-STS policy cache, TLS results) and the policy source.
 * Like the SMTP workers, the runner writes here without fsync: a policy
 * lost in a crash is fetched again. */
static int
remote_setup_store(struct delivery_method *rd, char *err, size_t errlen)
{
	const struct conf *c = rd->conf;
	struct mtasts_params p;

	/* A runner started while the server is away still delivers: the
	 * handle connects at its first use, on rd->store's thread. */
	if ((rd->db = store_open_later(c, true, err, errlen)) == NULL)
		return -1;
	db_relaxed_durability(rd->db);
	if ((rd->flush_ev = evtimer_new(rd->base, remote_flush_cb, rd)) ==
	    NULL) {
		snprintf(err, errlen, "cannot create an event");
		return -1;
	}
	if (!c->mta_sts)
		return 0;
	memset(&p, 0, sizeof(p));
	p.ca_file = c->tls_ca;
	p.allow_private = c->fetch_private_addresses;
	p.dns_timeout_ms = REMOTE_DNS_TIMEOUT_MS;
	p.fetch_timeout_ms = REMOTE_STS_FETCH_TIMEOUT_MS;
	p.store = rd->store;
	rd->mtasts = mtasts_new(rd->base, rd->dns, rd->db, &p, err, errlen);
	return rd->mtasts ? 0 : -1;
}

static void remote_free(struct delivery_method *);

static struct delivery_method *
remote_new(const struct delivery_setup *setup, char *err, size_t errlen)
{
	struct event_base *base = setup->base;
	const struct conf *conf = setup->conf;
	struct delivery_method *rd = xcalloc(1, sizeof(*rd));

	rd->base = base;
	rd->conf = conf;
	TAILQ_INIT(&rd->jobs);
	TAILQ_INIT(&rd->over);
	TAILQ_INIT(&rd->looped);
	TAILQ_INIT(&rd->keyless);
	TAILQ_INIT(&rd->dests);
	TAILQ_INIT(&rd->conns);
	if (conf->relayhost != NULL && *conf->relayhost != '\0') {
		if (remote_parse_relay(rd, conf->relayhost, err, errlen) == -1)
			goto fail;
		if (conf->relayhost_credentials != NULL &&
		    *conf->relayhost_credentials != '\0')
			remote_read_credentials(rd,
			    conf->relayhost_credentials);
	}
	if (remote_setup_tls(rd, err, errlen) == -1)
		goto fail;
	if ((rd->dns = dns_resolver_new(base, conf, err, errlen)) == NULL)
		goto fail;
	if (store_open_is_remote(conf))
		rd->store = workpool_new(base, 1, "remote store");
	if (!rd->relay && remote_setup_store(rd, err, errlen) == -1)
		goto fail;
	if ((rd->pump_ev = evtimer_new(base, remote_pump_cb, rd)) == NULL) {
		snprintf(err, errlen, "cannot create an event");
		goto fail;
	}
	return rd;
fail:
	remote_free(rd);
	return NULL;
}

static void
remote_free(struct delivery_method *rd)
{
	struct remote_conn *c;
	struct remote_dest *d;
	struct remote_unit *u;
	struct delivery *js;

	if (rd == NULL)
		return;
	while ((c = TAILQ_FIRST(&rd->conns)) != NULL) {
		if (c->unit != NULL)
			remote_unit_free(c->unit);
		remote_conn_clear(c);
		free(c);
	}
	while ((d = TAILQ_FIRST(&rd->dests)) != NULL) {
		while ((u = TAILQ_FIRST(&d->waiting)) != NULL) {
			TAILQ_REMOVE(&d->waiting, u, entry);
			remote_unit_free(u);
		}
		remote_dest_free(rd, d);
	}
	while ((u = TAILQ_FIRST(&rd->looped)) != NULL) {
		TAILQ_REMOVE(&rd->looped, u, entry);
		remote_unit_free(u);
	}
	while ((u = TAILQ_FIRST(&rd->keyless)) != NULL) {
		TAILQ_REMOVE(&rd->keyless, u, entry);
		remote_unit_free(u);
	}
	while ((js = TAILQ_FIRST(&rd->jobs)) != NULL) {
		TAILQ_REMOVE(&rd->jobs, js, entry);
		remote_job_free(js);
	}
	while ((js = TAILQ_FIRST(&rd->over)) != NULL) {
		TAILQ_REMOVE(&rd->over, js, entry);
		remote_job_free(js);
	}
	if (rd->pump_ev)
		event_free(rd->pump_ev);
	/* The policy source borrows the resolver and the store. */
	mtasts_free(rd->mtasts);
	dns_resolver_free(rd->dns);
	if (rd->flush_ev)
		event_free(rd->flush_ev);
	/* The store's thread finishes what it was given before its handle
	 * goes (the SRS read's done() then leaves rd alone). */
	workpool_free(rd->store);
	db_close(rd->db);		/* writes pending TLS results */
	SSL_CTX_free(rd->mx_ctx);
	SSL_CTX_free(rd->relay_ctx);
	if (rd->auth_pass != NULL)
		explicit_bzero(rd->auth_pass, strlen(rd->auth_pass));
	free(rd->auth_pass);
	free(rd->auth_user);
	free(rd->auth_err);
	OPENSSL_cleanse(rd->srs_key, sizeof(rd->srs_key));
	free(rd);
}

const struct delivery_ops remote_delivery_ops = {
	.name = "smtp",
	.new = remote_new,
	.free = remote_free,
	.start = remote_start,
	.stop = remote_stop,
	.cancel = remote_cancel,
};
