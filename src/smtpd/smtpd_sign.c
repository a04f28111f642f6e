/* SPDX-License-Identifier: ISC */
/*
 * DKIM signing and ARC sealing of a session's message, on the worker's
 * loop: the digests are made here (the body hash ran while DATA streamed;
 * the header hash is bounded by LIMIT_HEADER_SECTION), the keys process
 * signs them (keyop start: DKIM's signatures all at once, ARC's AMS and
 * then the seal, which covers it), and the fields are assembled in the
 * callback, where the transaction goes on. The session waits meanwhile
 * (smtpd_wait). A job outlives a session that goes before its answers
 * (they always come: the keys client answers every request, as a failure
 * when the keys process is gone); it then only frees itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/arc_sign.h"
#include "auth/dkim_sign.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keyop.h"
#include "smtpd/smtpd_internal.h"

/* Seconds to wait for the keys process's signatures, as its blocking
 * call does; then the message goes on unsigned. */
#define SMTPD_SIGN_TIMEOUT	10

struct smtpd_sign_job;

/* One signature asked for: its callback's argument. */
struct smtpd_sign_op {
	struct smtpd_sign_job	*j;
	struct dkim_sign_pending *p;	/* NULL once answered */
};

struct smtpd_sign_job {
	struct smtpd_session	*s;	/* NULL once given up or ended */
	smtpd_next_fn	*next;
	struct dkim_sign	*signer;	/* DKIM, owned */
	struct arc_sign		*arc;		/* or ARC, owned */
	struct arc_sign_chain	 chain;
	struct event		*timer;
	struct smtpd_sign_op	 ops[DKIM_SIGN_KEYS_MAX];
	unsigned		 outstanding;	/* answers still to come */
	int			 r;
	char			 err[256];
};

static void smtpd_sign_answer_cb(void *arg, const uint8_t *sig,
    size_t siglen);

static void
smtpd_sign_job_free(struct smtpd_sign_job *j)
{
	if (j->timer != NULL)
		event_free(j->timer);
	dkim_sign_free(j->signer);
	arc_sign_free(j->arc);
	free(j);
}

/* DKIM's result into the session: the signatures go to the prepend
 * block. */
static void
smtpd_sign_dkim_done(struct smtpd_session *s, struct smtpd_sign_job *j)
{
	struct buf out;

	buf_init(&out, 256 * 1024);
	if (j->r == 0 && dkim_sign_end(j->signer, &out, j->err,
	    sizeof(j->err)) == -1)
		j->r = -1;
	if (j->r == -1)
		log_warn("sid=%s qid=%s dkim sign failed domain=%s: %s",
		    s->sid, s->qid, s->sign_domain, j->err);
	else {
		log_info("sid=%s qid=%s dkim signed domain=%s", s->sid, s->qid,
		    s->sign_domain);
		smtpd_checks_prepend(s, &out);
	}
	buf_clear(&out);
}

static void
smtpd_sign_arc_done(struct smtpd_session *s, struct smtpd_sign_job *j,
    struct buf *out)
{
	const struct arc_sign_chain *c = &j->chain;
	unsigned inst = 0;
	enum arc_cv cv = ARC_CV_NONE;

	(void)arc_sign_plan(c, &inst, &cv);
	if (j->r == ARC_SIGN_SEALED) {
		log_info("sid=%s qid=%s arc sealed domain=%s i=%u cv=%s",
		    s->sid, s->qid, s->arc_domain, inst, cv == ARC_CV_PASS ?
		    "pass" : cv == ARC_CV_FAIL ? "fail" : "none");
		free(s->env.arc);
		s->env.arc = buf_take(out);
	} else if (j->r == ARC_SIGN_SKIPPED)
		log_info("sid=%s qid=%s arc not sealed: the chain (i=%u) "
		    "failed: %s", s->sid, s->qid, c->n,
		    arc_reason_name(c->reason));
	else
		log_warn("sid=%s qid=%s arc seal failed domain=%s: %s",
		    s->sid, s->qid, s->arc_domain, j->err);
}

/* The job's end for its session (a result, a failure or the timeout):
 * the transaction goes on. The job is freed here, or by the last answer
 * still to come. */
static void
smtpd_sign_end(struct smtpd_sign_job *j, struct buf *arc_out)
{
	struct smtpd_session *s = j->s;

	j->s = NULL;
	if (j->timer != NULL)
		evtimer_del(j->timer);
	if (s != NULL) {
		s->sign_job = NULL;
		if (s->state != SMTPD_STATE_CLOSING) {
			if (j->signer != NULL)
				smtpd_sign_dkim_done(s, j);
			else
				smtpd_sign_arc_done(s, j, arc_out);
			j->next(s);
		}
	}
	if (j->outstanding == 0)
		smtpd_sign_job_free(j);
}

static void
smtpd_sign_fail(struct smtpd_sign_job *j, const char *why)
{
	if (why != NULL)
		snprintf(j->err, sizeof(j->err), "%s", why);
	j->r = -1;
	smtpd_sign_end(j, NULL);
}

/* Ask for p's signature into slot op: 0, or -1 with j->err set. A key
 * of our own (the tools' and tests' signers) signs here. */
static int
smtpd_sign_ask(struct smtpd_sign_job *j, struct smtpd_sign_op *op,
    struct dkim_sign_pending *p)
{
	const struct keyop_backend *be = keyop_backend();
	struct keyop kop;

	if (!dkim_sign_field_remote(p)) {
		if (dkim_sign_field_sign(p) == 0)
			return 0;
		snprintf(j->err, sizeof(j->err), "signing failed");
		return -1;
	}
	dkim_sign_field_op(p, &kop);
	op->j = j;
	op->p = p;
	if (be == NULL || be->start == NULL ||
	    be->start(be->be, &kop, smtpd_sign_answer_cb, op) == -1) {
		op->p = NULL;
		snprintf(j->err, sizeof(j->err), "the keys process cannot "
		    "take the request");
		return -1;
	}
	j->outstanding++;
	return 0;
}

/* The ARC seal's next step, once its pending signature is in (or made
 * here): another request, or the set. */
static void
smtpd_sign_arc_step(struct smtpd_sign_job *j)
{
	struct smtpd_session *s = j->s;
	struct buf out;

	buf_init(&out, 256 * 1024);
	for (;;) {
		j->r = arc_sign_next(j->arc, (const char *)s->headers.data,
		    s->headers.len, &out, j->err, sizeof(j->err));
		if (j->r != ARC_SIGN_PENDING)
			break;
		if (smtpd_sign_ask(j, &j->ops[0], arc_sign_pending(j->arc)) ==
		    -1) {
			j->r = -1;
			break;
		}
		if (j->outstanding > 0)
			return;
	}
	smtpd_sign_end(j, &out);
	buf_clear(&out);
}

/* keyop_done_cb: one signature (or none) for the job's pending field. */
static void
smtpd_sign_answer_cb(void *arg, const uint8_t *sig, size_t siglen)
{
	struct smtpd_sign_op *op = arg;
	struct smtpd_sign_job *j = op->j;
	struct dkim_sign_pending *p = op->p;

	op->p = NULL;
	j->outstanding--;
	if (j->s == NULL) {
		/* Given up already: the last answer frees. */
		if (j->outstanding == 0)
			smtpd_sign_job_free(j);
		return;
	}
	if (dkim_sign_field_put(p, sig, siglen) == -1) {
		smtpd_sign_fail(j, sig == NULL ? "the keys process did not "
		    "sign (gone, or the key refused)" : "signature too long");
		return;
	}
	if (j->outstanding > 0)
		return;
	if (j->signer != NULL) {
		j->r = 0;
		smtpd_sign_end(j, NULL);
	} else
		smtpd_sign_arc_step(j);
}

static void
smtpd_sign_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtpd_sign_fail(arg, "the keys process did not answer in time");
}

static struct smtpd_sign_job *
smtpd_sign_job_new(struct smtpd_session *s, smtpd_next_fn *next)
{
	struct smtpd_sign_job *j = xcalloc(1, sizeof(*j));
	const struct timeval tv = { SMTPD_SIGN_TIMEOUT, 0 };

	j->s = s;
	j->next = next;
	j->timer = evtimer_new(s->ctx->base, smtpd_sign_timeout_cb, j);
	if (j->timer == NULL || evtimer_add(j->timer, &tv) == -1)
		fatal("cannot start a signing timer");
	smtpd_wait(s);
	s->sign_job = j;
	return j;
}

void
smtpd_sign_dkim(struct smtpd_session *s, smtpd_next_fn *next)
{
	struct smtpd_sign_job *j = smtpd_sign_job_new(s, next);
	int n;

	j->signer = s->signer;
	s->signer = NULL;
	n = dkim_sign_start(j->signer, (const char *)s->headers.data,
	    s->headers.len, j->err, sizeof(j->err));
	for (int i = 0; i < n; i++)
		if (smtpd_sign_ask(j, &j->ops[i],
		    dkim_sign_pending(j->signer, (size_t)i)) == -1) {
			n = -1;
			break;
		}
	if (n == -1)
		smtpd_sign_fail(j, NULL);
	else if (j->outstanding == 0) {
		/* Every key our own: signed already. */
		j->r = 0;
		smtpd_sign_end(j, NULL);
	}
}

void
smtpd_sign_arc(struct smtpd_session *s, const struct arc_sign_chain *c,
    const struct buf *authres, smtpd_next_fn *next)
{
	struct smtpd_sign_job *j = smtpd_sign_job_new(s, next);

	j->arc = s->arc;
	s->arc = NULL;
	j->chain = *c;
	j->r = arc_sign_start(j->arc, s->arc_key, c,
	    (const char *)s->headers.data, s->headers.len,
	    (const char *)authres->data, authres->len, j->err, sizeof(j->err));
	if (j->r != ARC_SIGN_PENDING) {
		smtpd_sign_end(j, NULL);
		return;
	}
	if (smtpd_sign_ask(j, &j->ops[0], arc_sign_pending(j->arc)) == -1)
		smtpd_sign_fail(j, NULL);
	else if (j->outstanding == 0)
		smtpd_sign_arc_step(j);
}

void
smtpd_sign_cancel(struct smtpd_session *s)
{
	struct smtpd_sign_job *j = s->sign_job;

	if (j == NULL)
		return;
	s->sign_job = NULL;
	j->s = NULL;
	if (j->outstanding == 0)
		smtpd_sign_job_free(j);
	else
		evtimer_del(j->timer);
}
