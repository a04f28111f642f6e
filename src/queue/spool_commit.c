/* SPDX-License-Identifier: ISC */
/* Spool commits on a work pool (see spool_commit.h): the job owns the
 * message being committed and its envelope until done() frees them. */
#include "queue/spool_commit.h"

#include <errno.h>
#include <stdlib.h>

#include "core/workpool.h"
#include "core/xmalloc.h"
#include "queue/spool.h"

struct spool_committer {
	struct workpool		*pool;
};

struct spool_commit_job {
	struct workpool_job	*wj;
	struct spool_msg	*msg;
	struct envelope		 env;
	spool_commit_cb		*cb;
	void			*arg;
	int			 rc, err;
};

static void
spool_commit_run(void *arg)
{
	struct spool_commit_job *j = arg;

	j->rc = spool_msg_commit(j->msg, &j->env);
	j->err = j->rc == -1 ? errno : 0;
	j->msg = NULL;		/* freed by spool_msg_commit */
}

static void
spool_commit_done(void *arg, bool cancelled)
{
	struct spool_commit_job *j = arg;

	if (!cancelled)
		j->cb(j->rc, j->err, &j->env, j->arg);
	envelope_clear(&j->env);
	free(j);
}

struct spool_committer *
spool_committer_new(struct event_base *base, unsigned nthreads)
{
	struct spool_committer *c = xcalloc(1, sizeof(*c));

	c->pool = workpool_new(base, nthreads, "spool commit");
	return c;
}

void
spool_committer_free(struct spool_committer *c)
{
	if (c == NULL)
		return;
	workpool_free(c->pool);
	free(c);
}

struct spool_commit_job *
spool_commit_submit(struct spool_committer *c, struct spool_msg *m,
    struct envelope *env, spool_commit_cb *cb, void *arg)
{
	struct spool_commit_job *j = xcalloc(1, sizeof(*j));

	j->msg = m;
	j->env = *env;		/* the strings move with it */
	envelope_init(env);
	j->cb = cb;
	j->arg = arg;
	j->wj = workpool_submit(c->pool, spool_commit_run, spool_commit_done,
	    j);
	return j;
}

void
spool_commit_detach(struct spool_commit_job *j)
{
	workpool_cancel(j->wj);
}
