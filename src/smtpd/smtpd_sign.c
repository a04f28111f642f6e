/* SPDX-License-Identifier: ISC */
/*
 * DKIM signing and ARC sealing off the worker's loop. The private keys
 * are in the keys process; asking it blocks (keyop sync), so the work
 * runs on the worker's signing pool while the session waits (smtpd_wait)
 * and continues in the job's done(). The job owns what it signs (the
 * signer or sealer moves into it, the header section is copied), so a
 * session that goes meanwhile frees nothing the thread still reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc_sign.h"
#include "auth/dkim_sign.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "smtpd/smtpd_internal.h"

struct smtpd_sign_job {
	struct smtpd_session	*s;	/* NULL once the session went */
	struct workpool_job	*wj;
	smtpd_sign_next_fn	*next;
	struct dkim_sign	*signer;	/* DKIM, owned */
	struct arc_sign		*arc;		/* or ARC, owned */
	const struct dkim_sign_key *arc_key;	/* the worker's, outlives us */
	struct arc_sign_chain	 chain;
	struct buf		 hdr;		/* copy of the header section */
	struct buf		 authres;	/* ARC: our A-R field */
	struct buf		 out;		/* the fields to prepend */
	int			 r;
	char			 err[256];
};

/* workpool_run_fn: on a pool thread, only the job's own data. */
static void
smtpd_sign_run(void *arg)
{
	struct smtpd_sign_job *j = arg;

	if (j->signer != NULL)
		j->r = dkim_sign_finish(j->signer, (const char *)j->hdr.data,
		    j->hdr.len, &j->out, j->err, sizeof(j->err));
	else
		j->r = arc_sign_seal(j->arc, j->arc_key, &j->chain,
		    (const char *)j->hdr.data, j->hdr.len,
		    (const char *)j->authres.data, j->authres.len, &j->out,
		    j->err, sizeof(j->err));
}

static void
smtpd_sign_job_free(struct smtpd_sign_job *j)
{
	dkim_sign_free(j->signer);
	arc_sign_free(j->arc);
	buf_clear(&j->hdr);
	buf_clear(&j->authres);
	buf_clear(&j->out);
	free(j);
}

/* DKIM's result into the session: the signatures go to the prepend
 * block. */
static void
smtpd_sign_dkim_done(struct smtpd_session *s, struct smtpd_sign_job *j)
{
	if (j->r == -1) {
		log_warn("sid=%s qid=%s dkim sign failed domain=%s: %s",
		    s->sid, s->qid, s->sign_domain, j->err);
		return;
	}
	log_info("sid=%s qid=%s dkim signed domain=%s", s->sid, s->qid,
	    s->sign_domain);
	smtpd_checks_prepend(s, &j->out);
}

static void
smtpd_sign_arc_done(struct smtpd_session *s, struct smtpd_sign_job *j)
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
		s->env.arc = buf_take(&j->out);
	} else if (j->r == ARC_SIGN_SKIPPED)
		log_info("sid=%s qid=%s arc not sealed: the chain (i=%u) "
		    "failed: %s", s->sid, s->qid, c->n,
		    arc_reason_name(c->reason));
	else
		log_warn("sid=%s qid=%s arc seal failed domain=%s: %s",
		    s->sid, s->qid, s->arc_domain, j->err);
}

/* workpool_done_fn: on the loop. */
static void
smtpd_sign_done(void *arg, bool cancelled)
{
	struct smtpd_sign_job *j = arg;
	struct smtpd_session *s = j->s;

	if (s != NULL) {
		s->sign_job = NULL;
		if (!cancelled && s->state != SMTPD_STATE_CLOSING) {
			if (j->signer != NULL)
				smtpd_sign_dkim_done(s, j);
			else
				smtpd_sign_arc_done(s, j);
			j->next(s);
		}
	}
	smtpd_sign_job_free(j);
}

static void
smtpd_sign_submit(struct smtpd_session *s, struct smtpd_sign_job *j)
{
	j->s = s;
	buf_init(&j->hdr, LIMIT_HEADER_SECTION + 2);
	buf_init(&j->out, 256 * 1024);
	if (buf_append(&j->hdr, s->headers.data, s->headers.len) == -1)
		buf_reset(&j->hdr);	/* the signer refuses it anyway */
	smtpd_wait(s);
	s->sign_job = j;
	if (s->ctx->signpool == NULL) {
		/* Without a pool (tools, tests): here and now. */
		smtpd_sign_run(j);
		smtpd_sign_done(j, false);
		return;
	}
	j->wj = workpool_submit(s->ctx->signpool, smtpd_sign_run,
	    smtpd_sign_done, j);
}

void
smtpd_sign_dkim(struct smtpd_session *s, smtpd_sign_next_fn *next)
{
	struct smtpd_sign_job *j = xcalloc(1, sizeof(*j));

	j->next = next;
	j->signer = s->signer;
	s->signer = NULL;
	smtpd_sign_submit(s, j);
}

void
smtpd_sign_arc(struct smtpd_session *s, const struct arc_sign_chain *c,
    const struct buf *authres, smtpd_sign_next_fn *next)
{
	struct smtpd_sign_job *j = xcalloc(1, sizeof(*j));

	j->next = next;
	j->arc = s->arc;
	j->arc_key = s->arc_key;
	s->arc = NULL;
	j->chain = *c;
	buf_init(&j->authres, SIZE_MAX);
	buf_append(&j->authres, authres->data, authres->len);
	smtpd_sign_submit(s, j);
}

void
smtpd_sign_cancel(struct smtpd_session *s)
{
	struct smtpd_sign_job *j = s->sign_job;

	if (j == NULL)
		return;
	s->sign_job = NULL;
	j->s = NULL;
	workpool_cancel(j->wj);
}
