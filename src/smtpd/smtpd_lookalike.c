/* SPDX-License-Identifier: ISC */
/*
 * Lookalike senders on mx listeners (msg/lookalike.h does the comparing):
 * the worker's protected set (local domains, [lookalike] protect, the
 * store's correspondents), the removal of Sealmail-Warning fields that
 * arrive with a message, and what a hit does: a Sealmail-Warning field of
 * our own (a hit is not an authentication result, RFC 8601 registers
 * those), and with [lookalike] action a "[Lookalike]" Subject: prefix or
 * delivery into Junk. On a store over the network (smtpd_store.c) the set
 * is read and the hits noted on the store threads: until the first set
 * comes, the configuration's alone is used, and a hit's first sighting
 * is what this worker last heard from the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "auth/dmarc.h"
#include "auth/lookalike_from.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/idna.h"
#include "msg/lookalike.h"
#include "smtpd/smtpd_internal.h"
#include "store/db_correspondent.h"
#include "store/db_pool.h"

/* Seconds a protected set is used before it is read again. */
#define SMTPD_LOOKALIKE_REFRESH	60
#define SMTPD_LOOKALIKE_TAG	"[Lookalike] "
/* A sender domain first flagged less than this ago is "first-seen=today". */
#define SMTPD_LOOKALIKE_NEW	86400
/* Store writes of hits per minute and worker: each is synchronous on the
 * loop (and may wait for the store's lock), and a sender can make up a
 * lookalike domain per message (any subdomain of one). */
#define SMTPD_LOOKALIKE_NOTES	10
/* First sightings remembered on the loop (store over the network). */
#define SMTPD_LOOKALIKE_SEEN	32

struct smtpd_lookalike_seen {
	char		 from[LOOKALIKE_NAME_MAX];
	long long	 first;
};

/* The sightings the store threads reported, newest at next - 1. */
static struct smtpd_lookalike_seen smtpd_lookalike_seen[SMTPD_LOOKALIKE_SEEN];
static size_t smtpd_lookalike_seen_next;

struct smtpd_lookalike_job {
	struct smtpd_ctx	*ctx;
	struct lookalike_set	*set;		/* built */
	char			 from[LOOKALIKE_NAME_MAX];	/* noted */
	long long		 now, first;
	enum db_result		 r;
	char			 err[256];
};

size_t
smtpd_lookalike_strip_ranges(const char *h, size_t len,
    struct authres_field *out, size_t max)
{
	struct authres_field f;
	size_t pos = 0, n = 0;

	while (authres_field_next(h, len, &pos, &f)) {
		if (!authres_field_is(&f, "Sealmail-Warning"))
			continue;
		if (n < max)
			out[n] = f;
		n++;
	}
	return n;
}

static void
smtpd_lookalike_build_run(struct db *db, void *arg)
{
	struct smtpd_lookalike_job *j = arg;

	/* Without a connection: the configuration's set, tried again at
	 * the next refresh. */
	j->set = lookalike_protected_set(j->ctx->conf, db);
}

static void
smtpd_lookalike_build_done(void *arg, bool cancelled)
{
	struct smtpd_lookalike_job *j = arg;

	if (cancelled)
		lookalike_set_free(j->set);
	else {
		j->ctx->lookalike_building = false;
		lookalike_set_free(j->ctx->lookalike);
		j->ctx->lookalike = j->set;
	}
	free(j);
}

/* A new set for ctx: read now (SQLite), or by a store thread. */
static void
smtpd_lookalike_build(struct smtpd_ctx *ctx, time_t now)
{
	struct smtpd_lookalike_job *j;

	ctx->lookalike_at = now;
	if (ctx->store == NULL) {
		lookalike_set_free(ctx->lookalike);
		ctx->lookalike = lookalike_protected_set(ctx->conf, ctx->db);
		return;
	}
	if (ctx->lookalike == NULL)	/* meanwhile */
		ctx->lookalike = lookalike_protected_set(ctx->conf, NULL);
	if (ctx->lookalike_building)
		return;
	j = xcalloc(1, sizeof(*j));
	j->ctx = ctx;
	ctx->lookalike_building = true;
	smtpd_store_submit(ctx, smtpd_lookalike_build_run,
	    smtpd_lookalike_build_done, j);
}

void
smtpd_lookalike_tick(struct smtpd_ctx *ctx, time_t now)
{
	/* Only a set in use is kept fresh: a worker that never saw an mx
	 * message has none. */
	if (ctx->lookalike == NULL ||
	    now - ctx->lookalike_at < SMTPD_LOOKALIKE_REFRESH)
		return;
	smtpd_lookalike_build(ctx, now);
}

void
smtpd_lookalike_free(struct smtpd_ctx *ctx)
{
	lookalike_set_free(ctx->lookalike);
	ctx->lookalike = NULL;
}

static const struct lookalike_set *
smtpd_lookalike_set(struct smtpd_ctx *ctx)
{
	if (ctx->lookalike == NULL && ctx->lookalike_at == 0)
		smtpd_lookalike_build(ctx, time(NULL));
	return ctx->lookalike;
}

static void
smtpd_lookalike_note_run(struct db *db, void *arg)
{
	struct smtpd_lookalike_job *j = arg;

	j->r = db != NULL ? db_lookalike_seen(db, j->from, j->now, &j->first) :
	    DB_ERROR;
	if (j->r != DB_OK)
		snprintf(j->err, sizeof(j->err), "%s", db != NULL ?
		    db_error(db) : "no store connection");
}

static void
smtpd_lookalike_note_done(void *arg, bool cancelled)
{
	struct smtpd_lookalike_job *j = arg;
	struct smtpd_lookalike_seen *e;

	if (!cancelled && j->r != DB_OK)
		log_warn("lookalike sender %s not noted: %s", j->from, j->err);
	else if (!cancelled) {
		e = &smtpd_lookalike_seen[smtpd_lookalike_seen_next++ %
		    SMTPD_LOOKALIKE_SEEN];
		memcpy(e->from, j->from, sizeof(e->from));
		e->first = j->first;
	}
	free(j);
}

/*
 * Store over the network: note the hit on a store thread, and take its
 * first sighting from what the store said for an earlier hit of this
 * worker (else now: taken for new, which errs on the side of warning).
 */
static void
smtpd_lookalike_note(struct smtpd_session *s, const char *from,
    long long now, long long *first)
{
	struct smtpd_lookalike_job *j = xcalloc(1, sizeof(*j));

	for (size_t i = 0; i < SMTPD_LOOKALIKE_SEEN; i++)
		if (strcmp(smtpd_lookalike_seen[i].from, from) == 0 &&
		    smtpd_lookalike_seen[i].first < *first)
			*first = smtpd_lookalike_seen[i].first;
	j->ctx = s->ctx;
	snprintf(j->from, sizeof(j->from), "%s", from);
	j->now = now;
	smtpd_store_submit(s->ctx, smtpd_lookalike_note_run,
	    smtpd_lookalike_note_done, j);
}

/* The first From: field of s->headers (lookalike_from_message). */
static bool
smtpd_lookalike_from(struct smtpd_session *s, const struct dmarc_verdict *v,
    bool only_sure, struct lookalike_hit *hit)
{
	return lookalike_from_message(smtpd_lookalike_set(s->ctx),
	    (const char *)s->headers.data, s->headers.len, v, only_sure, hit);
}

/* Prefix the Subject: field of s->headers (kept as it is when it already
 * starts with the tag); add one when there is none. */
static void
smtpd_lookalike_tag(struct smtpd_session *s)
{
	const char *h = (const char *)s->headers.data;
	struct authres_field f;
	size_t pos = 0, at, start;
	bool found = false;
	struct buf b;

	while (!found && authres_field_next(h, s->headers.len, &pos, &f))
		found = authres_field_is(&f, "subject");
	if (!found) {
		buf_init(&b, SIZE_MAX);
		buf_append_str(&b, "Subject: [Lookalike]\r\n");
		smtpd_checks_prepend(s, &b);
		buf_clear(&b);
		return;
	}
	at = start = (size_t)(f.value - h);
	while (at < s->headers.len && (h[at] == ' ' || h[at] == '\t'))
		at++;
	if (s->headers.len - at >= strlen(SMTPD_LOOKALIKE_TAG) &&
	    memcmp(h + at, SMTPD_LOOKALIKE_TAG,
	    strlen(SMTPD_LOOKALIKE_TAG)) == 0)
		return;
	/* The header section may be at its bound: the tag may pass it. */
	buf_init(&b, s->headers.max + strlen(SMTPD_LOOKALIKE_TAG));
	buf_append(&b, h, at);
	if (at == start)	/* "Subject:x": keep the usual space */
		buf_append_str(&b, " ");
	buf_append_str(&b, SMTPD_LOOKALIKE_TAG);
	buf_append(&b, h + at, s->headers.len - at);
	buf_clear(&s->headers);
	s->headers = b;
}

void
smtpd_lookalike_headers(struct smtpd_session *s)
{
	struct lookalike_hit hit;

	/* The Subject: is written with the header section, before DMARC is
	 * known: only a hit no DMARC result can undo is tagged. */
	if (s->ctx->conf->lookalike_action != CONF_LOOKALIKE_TAG ||
	    !smtpd_lookalike_from(s, NULL, true, &hit))
		return;
	smtpd_lookalike_tag(s);
}

void
smtpd_lookalike_verdict(struct smtpd_session *s,
    const struct dmarc_verdict *v)
{
	const struct conf *c = s->ctx->conf;
	long long now = (long long)time(NULL), first = now;
	struct lookalike_hit hit;
	struct buf b;
	char u[IDNA_DISPLAY_MAX], q[LOG_QUOTE_SIZE(IDNA_DISPLAY_MAX)];

	if (!smtpd_lookalike_from(s, v, false, &hit))
		return;
	/* One small write per hit, SMTPD_LOOKALIKE_NOTES a minute at most;
	 * past that (or on an error) the note is lost and the domain is
	 * taken for new: a warning errs on the side of saying more. */
	if (now - s->ctx->lookalike_note_at >= 60) {
		s->ctx->lookalike_note_at = (time_t)now;
		s->ctx->lookalike_notes = 0;
	}
	if (s->ctx->db != NULL &&
	    s->ctx->lookalike_notes < SMTPD_LOOKALIKE_NOTES) {
		s->ctx->lookalike_notes++;
		if (s->ctx->store != NULL)
			smtpd_lookalike_note(s, hit.from, now, &first);
		else if (db_lookalike_seen(s->ctx->db, hit.from, now,
		    &first) != DB_OK)
			log_warn("sid=%s qid=%s lookalike sender not noted: %s",
			    s->sid, s->qid, db_error(s->ctx->db));
	}
	/* An IDN also in its U-label form, which is what the reader sees. */
	bool idn = idna_to_ulabels(hit.from, u, sizeof(u), NULL) == 0 &&
	    strcmp(u, hit.from) != 0;
	log_info("sid=%s qid=%s lookalike from=%s%s%s resembles=%s reason=%s "
	    "first_seen=%lld action=%s", s->sid, s->qid, hit.from,
	    idn ? " from_unicode=" : "",
	    idn ? log_quote(u, strlen(u), q, sizeof(q)) : "", hit.resembles,
	    lookalike_reason_name(hit.reason), first,
	    conf_lookalike_action_name(c->lookalike_action));
	buf_init(&b, SIZE_MAX);
	(void)lookalike_from_field(&hit, now - first < SMTPD_LOOKALIKE_NEW,
	    &b);
	smtpd_checks_prepend(s, &b);
	buf_clear(&b);
	if (c->lookalike_action == CONF_LOOKALIKE_JUNK)
		s->env.quarantine = true;
}
