/* SPDX-License-Identifier: ISC */
/*
 * The sessions' store lookups. SQLite (a local file) is called on the
 * loop as it always was. A store over the network (PostgreSQL) is called
 * on the worker's store threads (store/db_pool.h) while the session
 * waits: its command goes back into the input, as smtpd_dnsbl.c does, and
 * is read again when the answer is in, which then answers it; at the end
 * of a message (header senders, a milter's added recipients) the session
 * waits and a continuation goes on. Recipient
 * answers are cached on the loop until the store's change counter moves
 * (read every SMTPD_STORE_POLL_MS), so a user or alias changed on any
 * node is honoured by every node within a second; while the server is
 * away, cached answers are still given and the others are temporary
 * failures.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/srs.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"
#include "store/db.h"
#include "store/db_pool.h"
#include "store/db_rcache.h"

/* How often the change counter is read (ms): with a job's latency, what
 * bounds the age of a cached answer. */
#define SMTPD_STORE_POLL_MS	500

/* Addresses of a submission's From:, Sender: and Resent- fields asked
 * about at once (smtpd_txn.c takes at most 8 per field). */
#define SMTPD_STORE_SENDERS_MAX	32

enum smtpd_store_kind {
	SMTPD_STORE_RCPT,
	SMTPD_STORE_OWNS,
	SMTPD_STORE_SECRET,
	SMTPD_STORE_SENDERS,
	SMTPD_STORE_EXPAND,
};

/* The ownership answers of this transaction's header addresses. */
struct smtpd_store_senders {
	struct {
		char		 address[LIMIT_PATH + 1];
		bool		 known;
		enum db_result	 r;
	}		 e[SMTPD_STORE_SENDERS_MAX];
	size_t		 n;
	bool		 collect;	/* noting the unknown ones */
};

/* A milter's added recipients in local domains, expanded as RCPT's. */
struct smtpd_store_expand {
	size_t		 n;
	struct {
		char		*address;
		enum db_result	 r;
		char		**v;		/* targets on DB_OK */
		size_t		 nv;
	}		 e[];
};

struct smtpd_store_job {
	struct smtpd_session	*s;
	struct smtpd_store	*st;
	const struct conf	*conf;
	struct workpool_job	*wj;
	enum smtpd_store_kind	 kind;
	unsigned		 gen;		/* the cache's when asked */
	char			 key[DB_ADDRESS_MAX + 1];
	char			 user[DB_ADDRESS_MAX + 1];	/* OWNS, SENDERS */
	bool			 local;		/* SENDERS: user is a login */
	smtpd_next_fn		*next;		/* SENDERS, EXPAND: NULL while
						 * the session goes on */
	/* The answer. */
	enum db_result		 r;
	char			**v;		/* RCPT on DB_OK */
	size_t			 n;
	uint8_t			 secret[DB_SECRET_MAX];
	struct smtpd_store_senders *senders;	/* SENDERS */
	struct smtpd_store_expand *expand;	/* EXPAND */
	char			 err[256];
};

struct smtpd_store {
	struct smtpd_ctx	*ctx;
	struct db_pool		*pool;
	struct db_rcache	*cache;
	bool			 known;		/* version was read */
	int64_t			 version;	/* sealmail_changes */
	unsigned		 gen;		/* bumped when dropped */
	struct event		*timer;
	struct workpool_job	*poll_job;
	/* DMARC rows: the loop defers into ctx->db while the other handle
	 * is written by a job, then they change places. */
	struct db		*spare;
	struct workpool_job	*flush_job;
	bool			 have_srs;
	uint8_t			 srs[SRS_SECRET_LEN];
};

/* ---- the lookups themselves, on the loop (SQLite) or a store thread --- */

static bool
smtpd_store_is_local(const char *domain, void *arg)
{
	return conf_is_local_domain(arg, domain);
}

/* Whether user (a login when local, else an AUTH user) owns address. */
static enum db_result
smtpd_store_owner(struct db *db, const struct conf *conf, bool local,
    const char *user, const char *address)
{
	if (local)
		return smtpd_local_owns(db, conf, user, address);
	return db_user_owns_check(db, user, address);
}

static void
smtpd_store_expand_free(struct smtpd_store_expand *x)
{
	for (size_t i = 0; x != NULL && i < x->n; i++) {
		free(x->e[i].address);
		db_strv_free(x->e[i].v, x->e[i].nv);
	}
	free(x);
}

static void
smtpd_store_lookup(struct db *db, struct smtpd_store_job *j)
{
	struct smtpd_store_senders *o = j->senders;
	struct smtpd_store_expand *x = j->expand;

	j->r = DB_OK;
	for (size_t i = 0; o != NULL && i < o->n; i++) {
		if (o->e[i].known)
			continue;
		o->e[i].r = db == NULL ? DB_ERROR : smtpd_store_owner(db,
		    j->conf, j->local, j->user, o->e[i].address);
		o->e[i].known = true;
		if (o->e[i].r == DB_ERROR)
			j->r = DB_ERROR;
	}
	for (size_t i = 0; x != NULL && i < x->n; i++) {
		x->e[i].r = db == NULL ? DB_ERROR : db_rcpt_expand(db,
		    x->e[i].address, smtpd_store_is_local, (void *)j->conf,
		    &x->e[i].v, &x->e[i].nv);
		if (x->e[i].r == DB_ERROR)
			j->r = DB_ERROR;
	}
	if (db == NULL) {
		/* Every question got its answer above, this one: a failure. */
		j->r = DB_ERROR;
		snprintf(j->err, sizeof(j->err), "no store connection");
		return;
	}
	switch (j->kind) {
	case SMTPD_STORE_RCPT:
		j->r = db_rcpt_expand(db, j->key, smtpd_store_is_local,
		    (void *)j->conf, &j->v, &j->n);
		break;
	case SMTPD_STORE_OWNS:
		j->r = db_user_owns_check(db, j->user, j->key);
		break;
	case SMTPD_STORE_SECRET:
		j->r = db_secret_get(db, j->key, j->secret, SRS_SECRET_LEN);
		break;
	case SMTPD_STORE_SENDERS:
	case SMTPD_STORE_EXPAND:
		break;		/* above */
	}
	if (j->r == DB_ERROR)
		snprintf(j->err, sizeof(j->err), "%s", db_error(db));
}

static void
smtpd_store_job_free(struct smtpd_store_job *j)
{
	if (j == NULL)
		return;
	db_strv_free(j->v, j->n);
	free(j->senders);
	smtpd_store_expand_free(j->expand);
	OPENSSL_cleanse(j->secret, sizeof(j->secret));
	free(j);
}

static void
smtpd_store_run(struct db *db, void *arg)
{
	smtpd_store_lookup(db, arg);
}

/* The answers of a SENDERS or EXPAND job into its session; j is freed. */
static void
smtpd_store_install(struct smtpd_session *s, struct smtpd_store_job *j)
{
	if (j->r == DB_ERROR)
		log_warn("sid=%s qid=%s store lookup failed: %s", s->sid,
		    s->qid, j->err);
	if (j->senders != NULL) {
		free(s->senders);
		s->senders = j->senders;
		j->senders = NULL;
	}
	if (j->expand != NULL) {
		smtpd_store_expand_free(s->expanded);
		s->expanded = j->expand;
		j->expand = NULL;
	}
	smtpd_store_job_free(j);
}

static void
smtpd_store_done(void *arg, bool cancelled)
{
	struct smtpd_store_job *j = arg;
	struct smtpd_session *s = j->s;
	struct smtpd_store *st = j->st;

	if (cancelled) {
		smtpd_store_job_free(j);
		return;
	}
	s->store_job = NULL;
	j->wj = NULL;
	if (j->kind == SMTPD_STORE_SENDERS || j->kind == SMTPD_STORE_EXPAND) {
		smtpd_next_fn *next = j->next;

		smtpd_store_install(s, j);
		if (next != NULL)
			next(s);
		return;
	}
	if (j->kind == SMTPD_STORE_RCPT && j->gen == st->gen && st->known)
		db_rcache_add(st->cache, j->key, j->r, j->v, j->n);
	if (j->kind == SMTPD_STORE_SECRET && j->r == DB_OK) {
		memcpy(st->srs, j->secret, sizeof(st->srs));
		st->have_srs = true;
	}
	smtpd_store_job_free(s->store_answer);
	s->store_answer = j;
	smtpd_resume(s);
}

/*
 * The answer to j if it came (taken: the caller frees it), else NULL
 * and j is submitted, the command (verb and arg) put back to be read
 * again, the session waiting.
 */
static struct smtpd_store_job *
smtpd_store_ask(struct smtpd_session *s, struct smtpd_store_job *j,
    const char *verb, const char *arg, size_t len)
{
	struct smtpd_store_job *a = s->store_answer;
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (a != NULL && a->kind == j->kind && strcmp(a->key, j->key) == 0 &&
	    strcmp(a->user, j->user) == 0) {
		s->store_answer = NULL;
		smtpd_store_job_free(j);
		return a;
	}
	smtpd_store_job_free(s->store_answer);
	s->store_answer = NULL;
	j->s = s;
	j->st = s->ctx->store;
	j->conf = s->ctx->conf;
	j->gen = j->st->gen;
	evbuffer_prepend(in, "\r\n", 2);
	evbuffer_prepend(in, arg, len);
	evbuffer_prepend(in, verb, strlen(verb));
	s->store_job = j;
	j->wj = db_pool_submit(j->st->pool, smtpd_store_run, smtpd_store_done,
	    j);
	smtpd_wait(s);
	return NULL;
}

static struct smtpd_store_job *
smtpd_store_job_new(enum smtpd_store_kind kind, const char *key,
    const char *user)
{
	struct smtpd_store_job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	snprintf(j->key, sizeof(j->key), "%s", key);
	snprintf(j->user, sizeof(j->user), "%s", user != NULL ? user : "");
	return j;
}

/* Run j now on the loop (SQLite) or take its answer (PostgreSQL); NULL
 * when the session now waits for it. */
static struct smtpd_store_job *
smtpd_store_get(struct smtpd_session *s, struct smtpd_store_job *j,
    const char *verb, const char *arg, size_t len)
{
	if (s->ctx->store == NULL) {
		j->conf = s->ctx->conf;
		smtpd_store_lookup(s->ctx->db, j);
		return j;
	}
	return smtpd_store_ask(s, j, verb, arg, len);
}

bool
smtpd_store_rcpt(struct smtpd_session *s, const char *to, const char *arg,
    size_t len, enum db_result *r, char ***v, size_t *n)
{
	struct smtpd_store *st = s->ctx->store;
	struct smtpd_store_job *j;
	char key[DB_ADDRESS_MAX + 1];

	*v = NULL;
	*n = 0;
	if (db_address_normalize(to, false, key, sizeof(key)) == -1) {
		*r = DB_NOTFOUND;	/* as db_rcpt_expand says */
		return true;
	}
	if (st != NULL && st->known && db_rcache_find(st->cache, key, r, v, n))
		return true;
	j = smtpd_store_job_new(SMTPD_STORE_RCPT, key, NULL);
	if ((j = smtpd_store_get(s, j, "RCPT ", arg, len)) == NULL)
		return false;
	if (j->r == DB_ERROR)
		log_warn("sid=%s qid=%s store lookup failed: %s", s->sid,
		    s->qid, j->err);
	*r = j->r;
	*v = j->v;
	*n = j->n;
	j->v = NULL;
	j->n = 0;
	smtpd_store_job_free(j);
	return true;
}

bool
smtpd_store_owns(struct smtpd_session *s, const char *user,
    const char *address, const char *arg, size_t len, enum db_result *r)
{
	struct smtpd_store_job *j;

	j = smtpd_store_job_new(SMTPD_STORE_OWNS, address, user);
	if ((j = smtpd_store_get(s, j, "MAIL ", arg, len)) == NULL)
		return false;
	if (j->r == DB_ERROR)
		log_warn("sid=%s store lookup failed: %s", s->sid, j->err);
	*r = j->r;
	smtpd_store_job_free(j);
	return true;
}

bool
smtpd_store_srs_key(struct smtpd_session *s, const char *arg, size_t len,
    uint8_t *key, enum db_result *r)
{
	struct smtpd_store *st = s->ctx->store;
	struct smtpd_store_job *j;

	if (st != NULL && st->have_srs) {
		memcpy(key, st->srs, SRS_SECRET_LEN);
		*r = DB_OK;
		return true;
	}
	j = smtpd_store_job_new(SMTPD_STORE_SECRET, "srs", NULL);
	if ((j = smtpd_store_get(s, j, "RCPT ", arg, len)) == NULL)
		return false;
	if (j->r != DB_OK)
		log_warn("sid=%s qid=%s srs secret unavailable: %s", s->sid,
		    s->qid, j->err);
	else
		memcpy(key, j->secret, SRS_SECRET_LEN);
	*r = j->r;
	smtpd_store_job_free(j);
	return true;
}

/* Whether the session's header senders are checked: an AUTH submission's
 * (smtpd_txn_senders_refusal) or a local one's (the signing decision). */
static bool
smtpd_store_senders_checked(const struct smtpd_session *s)
{
	return s->local || (s->auth_user != NULL &&
	    s->lst->role == CONF_ROLE_SUBMISSION);
}

static bool
smtpd_store_asking(const struct smtpd_session *s, enum smtpd_store_kind kind)
{
	return s->store_job != NULL && s->store_job->kind == kind;
}

enum db_result
smtpd_store_sender(struct smtpd_session *s, const char *address)
{
	struct smtpd_store_senders *o = s->senders;
	const char *user = s->local ? s->local_user : s->auth_user;

	if (s->ctx->store == NULL)	/* a local file: asked at once */
		return smtpd_store_owner(s->ctx->db, s->ctx->conf, s->local,
		    user, address);
	for (size_t i = 0; o != NULL && i < o->n; i++)
		if (strcmp(o->e[i].address, address) == 0 && o->e[i].known)
			return o->e[i].r;
	if (o != NULL && o->collect) {
		/* Taken as owned for now, to see the other fields too. */
		for (size_t i = 0; i < o->n; i++)
			if (strcmp(o->e[i].address, address) == 0)
				return DB_OK;
		if (o->n == SMTPD_STORE_SENDERS_MAX)
			return DB_NOTFOUND;
		snprintf(o->e[o->n++].address, sizeof(o->e[0].address), "%s",
		    address);
		return DB_OK;
	}
	/* Being asked while a local message streams in: its signer is
	 * provisional, settled once the answer is in (smtpd_checks_finish). */
	if (s->local && smtpd_store_asking(s, SMTPD_STORE_SENDERS))
		return DB_OK;
	/* Never on the loop: every path asks first (smtpd_store_senders). */
	log_warn("sid=%s qid=%s sender not asked of the store", s->sid, s->qid);
	return DB_ERROR;
}

/* Note the header addresses whose answer is not known; a job asking
 * for them (next as given), or NULL when there are none. */
static struct smtpd_store_job *
smtpd_store_senders_job(struct smtpd_session *s, smtpd_next_fn *next)
{
	struct smtpd_store_senders *o;
	struct smtpd_store_job *j;
	size_t unknown = 0;

	if (s->senders == NULL)
		s->senders = xcalloc(1, sizeof(*s->senders));
	o = s->senders;
	o->collect = true;
	(void)smtpd_txn_from_owned(s);
	o->collect = false;
	for (size_t i = 0; i < o->n; i++)
		unknown += !o->e[i].known;
	if (unknown == 0)
		return NULL;
	j = smtpd_store_job_new(SMTPD_STORE_SENDERS, "", s->local ?
	    s->local_user : s->auth_user);
	j->local = s->local;
	j->next = next;
	j->senders = xmalloc(sizeof(*j->senders));
	memcpy(j->senders, o, sizeof(*o));
	return j;
}

/* A SENDERS or EXPAND job for session s: on the loop now for SQLite
 * (true, its answers in), else submitted (false); with j->next the
 * session waits for it, and next(s) follows. */
static bool
smtpd_store_put(struct smtpd_session *s, struct smtpd_store_job *j)
{
	j->s = s;
	j->st = s->ctx->store;
	j->conf = s->ctx->conf;
	if (j->st == NULL) {
		smtpd_store_lookup(s->ctx->db, j);
		smtpd_store_install(s, j);
		return true;
	}
	s->store_job = j;
	j->wj = db_pool_submit(j->st->pool, smtpd_store_run, smtpd_store_done,
	    j);
	if (j->next != NULL)
		smtpd_wait(s);
	return false;
}

bool
smtpd_store_senders_start(struct smtpd_session *s)
{
	struct smtpd_store_job *j;

	if (s->ctx->store == NULL || !smtpd_store_senders_checked(s))
		return false;
	if (s->store_job != NULL)
		return smtpd_store_asking(s, SMTPD_STORE_SENDERS);
	if ((j = smtpd_store_senders_job(s, NULL)) == NULL)
		return false;
	return !smtpd_store_put(s, j);
}

bool
smtpd_store_senders(struct smtpd_session *s, smtpd_next_fn *next)
{
	struct smtpd_store_job *j;

	if (s->ctx->store == NULL || !smtpd_store_senders_checked(s))
		return true;
	if (smtpd_store_asking(s, SMTPD_STORE_SENDERS)) {
		/* Started while the message came in: waited for now; next
		 * asks again for anything new (a milter's From:). */
		s->store_job->next = next;
		smtpd_wait(s);
		return false;
	}
	if ((j = smtpd_store_senders_job(s, next)) == NULL)
		return true;
	return smtpd_store_put(s, j);
}

bool
smtpd_store_expand(struct smtpd_session *s, const char *const *address,
    size_t n, smtpd_next_fn *next)
{
	struct smtpd_store_expand *x;
	struct smtpd_store_job *j;

	smtpd_store_expand_free(s->expanded);
	s->expanded = NULL;
	if (n == 0)
		return true;
	x = xcalloc(1, sizeof(*x) + n * sizeof(x->e[0]));
	x->n = n;
	for (size_t i = 0; i < n; i++)
		x->e[i].address = xstrdup(address[i]);
	j = smtpd_store_job_new(SMTPD_STORE_EXPAND, "", NULL);
	j->expand = x;
	j->next = next;
	return smtpd_store_put(s, j);
}

enum db_result
smtpd_store_expanded(struct smtpd_session *s, size_t i, char ***v,
    size_t *n)
{
	struct smtpd_store_expand *x = s->expanded;

	*v = NULL;
	*n = 0;
	if (x == NULL || i >= x->n)
		return DB_ERROR;
	*v = x->e[i].v;
	*n = x->e[i].nv;
	x->e[i].v = NULL;
	x->e[i].nv = 0;
	return x->e[i].r;
}

void
smtpd_store_txn_reset(struct smtpd_session *s)
{
	if (smtpd_store_asking(s, SMTPD_STORE_SENDERS) ||
	    smtpd_store_asking(s, SMTPD_STORE_EXPAND)) {
		workpool_cancel(s->store_job->wj);	/* done frees it */
		s->store_job = NULL;
	}
	free(s->senders);
	s->senders = NULL;
	smtpd_store_expand_free(s->expanded);
	s->expanded = NULL;
}

void
smtpd_store_cancel(struct smtpd_session *s)
{
	if (s->store_job != NULL) {
		/* done(cancelled) frees it. */
		workpool_cancel(s->store_job->wj);
		s->store_job = NULL;
	}
	smtpd_store_job_free(s->store_answer);
	s->store_answer = NULL;
}

/* ---- the change counter ------------------------------------------ */

struct smtpd_store_poll {
	struct smtpd_store	*st;
	enum db_result		 r;
	int64_t			 counter;
};

static void
smtpd_store_poll_run(struct db *db, void *arg)
{
	struct smtpd_store_poll *p = arg;

	p->r = db != NULL ? db_changes_counter(db, &p->counter) : DB_ERROR;
}

static void
smtpd_store_poll_done(void *arg, bool cancelled)
{
	struct smtpd_store_poll *p = arg;
	struct smtpd_store *st = p->st;

	if (!cancelled) {
		st->poll_job = NULL;
		/* Unreadable (the server away): the cache stays, its answers
		 * were right when the server was last seen. */
		if (p->r == DB_OK && (!st->known || p->counter != st->version)) {
			db_rcache_clear(st->cache);
			st->gen++;
			st->version = p->counter;
			st->known = true;
		}
	}
	free(p);
}

static void
smtpd_store_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_store *st = arg;
	struct smtpd_store_poll *p;

	(void)fd;
	(void)what;
	if (st->poll_job != NULL)
		return;		/* the last one still waits on the server */
	p = xcalloc(1, sizeof(*p));
	p->st = st;
	st->poll_job = db_pool_submit(st->pool, smtpd_store_poll_run,
	    smtpd_store_poll_done, p);
}

/* ---- DMARC rows ---------------------------------------------------- */

struct smtpd_store_flush {
	struct smtpd_store	*st;
	struct db		*db;
	size_t			 ndmarc, nfail;	/* kept after a failure */
	char			 err[256];
};

static void
smtpd_store_flush_run(void *arg)
{
	struct smtpd_store_flush *f = arg;

	if (db_dmarc_flush_keep(f->db) != DB_OK) {
		f->ndmarc = db_dmarc_pending(f->db);
		snprintf(f->err, sizeof(f->err), "%s", db_error(f->db));
	}
	if (db_dmarc_failure_flush_keep(f->db) != DB_OK) {
		f->nfail = db_dmarc_failure_pending(f->db);
		snprintf(f->err, sizeof(f->err), "%s", db_error(f->db));
	}
}

static void
smtpd_store_flush_done(void *arg, bool cancelled)
{
	struct smtpd_store_flush *f = arg;
	struct smtpd_store *st = f->st;

	if (f->ndmarc + f->nfail > 0)
		log_warn("%zu dmarc records and %zu failure reports not "
		    "stored yet (kept for the next write): %s", f->ndmarc,
		    f->nfail, f->err);
	/* Back to the loop (also when cancelled: the worker closes it). */
	st->spare = f->db;
	if (!cancelled)
		st->flush_job = NULL;
	free(f);
}

void
smtpd_store_tick(struct smtpd_ctx *ctx)
{
	struct smtpd_store *st = ctx->store;
	struct smtpd_store_flush *f;
	struct db *db;

	if (st == NULL || st->flush_job != NULL || st->spare == NULL)
		return;
	if (db_dmarc_pending(ctx->db) > 0 ||
	    db_dmarc_failure_pending(ctx->db) > 0) {
		db = ctx->db;		/* the new rows: the handles swap */
		ctx->db = st->spare;
	} else if (db_dmarc_pending(st->spare) > 0 ||
	    db_dmarc_failure_pending(st->spare) > 0)
		db = st->spare;		/* kept after a failed write: again */
	else
		return;
	st->spare = NULL;
	f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->db = db;
	st->flush_job = workpool_submit(db_pool_workpool(st->pool),
	    smtpd_store_flush_run, smtpd_store_flush_done, f);
}

bool
smtpd_store_dmarc_room(struct smtpd_ctx *ctx, bool failure)
{
	/* Below where db_dmarc_defer would write on the loop itself. */
	if (ctx->store == NULL)
		return true;
	return failure ? db_dmarc_failure_pending(ctx->db) <
	    DB_DFAIL_PENDING_MAX : db_dmarc_pending(ctx->db) <
	    DB_DMARC_PENDING_MAX;
}

void
smtpd_store_submit(struct smtpd_ctx *ctx, db_pool_run_fn *run,
    workpool_done_fn *done, void *arg)
{
	(void)db_pool_submit(ctx->store->pool, run, done, arg);
}

/* ---- start and end ------------------------------------------------- */

void
smtpd_store_start(struct smtpd_ctx *ctx, struct db_pool *pool,
    struct db *spare)
{
	const struct timeval every = { 0, SMTPD_STORE_POLL_MS * 1000 };
	struct smtpd_store *st = xcalloc(1, sizeof(*st));

	st->ctx = ctx;
	st->pool = pool;
	st->spare = spare;
	st->cache = db_rcache_new();
	st->timer = event_new(ctx->base, -1, EV_PERSIST, smtpd_store_timer_cb,
	    st);
	if (st->timer == NULL || event_add(st->timer, &every) == -1)
		fatal("cannot start the store's timer");
	ctx->store = st;
	smtpd_store_timer_cb(-1, 0, st);
}

struct db *
smtpd_store_end(struct smtpd_ctx *ctx)
{
	struct smtpd_store *st = ctx->store;
	struct db *spare;

	if (st == NULL)
		return NULL;
	event_free(st->timer);
	/* Every job ends here: its done(cancelled) frees it, and the
	 * flushed handle comes back. */
	db_pool_free(st->pool);
	spare = st->spare;
	db_rcache_delete(st->cache);
	OPENSSL_cleanse(st->srs, sizeof(st->srs));
	free(st);
	ctx->store = NULL;
	return spare;
}
