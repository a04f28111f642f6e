/* SPDX-License-Identifier: ISC */
/* Thread pool for spool commits (see spool_commit.h). Jobs go through two
 * mutex-protected lists: pending (to the threads) and done (back to the
 * loop, woken through an eventfd). */
#include "queue/spool_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "queue/spool.h"

#define SPOOL_COMMIT_THREADS_MAX	64

struct spool_commit_job {
	struct spool_commit_job	*next;
	struct spool_msg	*msg;
	struct envelope		 env;
	spool_commit_cb		*cb;		/* NULL once detached */
	void			*arg;
	int			 rc, err;
};

struct spool_committer {
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct spool_commit_job	*pending, **pending_tail;
	struct spool_commit_job	*done, **done_tail;
	bool			 stopping;
	pthread_t		 threads[SPOOL_COMMIT_THREADS_MAX];
	unsigned		 nthreads;
	int			 efd;
	struct event		*ev;
};

static void
spool_commit_push(struct spool_commit_job ***tail, struct spool_commit_job *j)
{
	j->next = NULL;
	**tail = j;
	*tail = &j->next;
}

static void *
spool_commit_thread(void *arg)
{
	struct spool_committer *c = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->pending == NULL && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		struct spool_commit_job *j = c->pending;
		if (j == NULL)
			break;		/* stopping and drained */
		c->pending = j->next;
		if (c->pending == NULL)
			c->pending_tail = &c->pending;
		pthread_mutex_unlock(&c->lock);

		j->rc = spool_msg_commit(j->msg, &j->env);
		j->err = j->rc == -1 ? errno : 0;
		j->msg = NULL;		/* freed by spool_msg_commit */

		pthread_mutex_lock(&c->lock);
		spool_commit_push(&c->done_tail, j);
		if (write(c->efd, &one, sizeof(one)) != sizeof(one))
			log_warn("spool commit: eventfd write failed");
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void
spool_commit_job_free(struct spool_commit_job *j)
{
	envelope_clear(&j->env);
	free(j);
}

/* On the loop: hand finished jobs to their owners. */
static void
spool_commit_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spool_committer *c = arg;
	struct spool_commit_job *list;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		log_warn("spool commit: eventfd read failed");
	pthread_mutex_lock(&c->lock);
	list = c->done;
	c->done = NULL;
	c->done_tail = &c->done;
	pthread_mutex_unlock(&c->lock);
	while (list != NULL) {
		struct spool_commit_job *j = list;
		list = j->next;
		if (j->cb)
			j->cb(j->rc, j->err, &j->env, j->arg);
		spool_commit_job_free(j);
	}
}

struct spool_committer *
spool_committer_new(struct event_base *base, unsigned nthreads)
{
	struct spool_committer *c = xcalloc(1, sizeof(*c));

	if (nthreads == 0 || nthreads > SPOOL_COMMIT_THREADS_MAX)
		nthreads = SPOOL_COMMIT_THREADS_MAX;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	c->pending_tail = &c->pending;
	c->done_tail = &c->done;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd == -1)
		fatal("spool commit: eventfd: %s", strerror(errno));
	c->ev = event_new(base, c->efd, EV_READ | EV_PERSIST,
	    spool_commit_done_cb, c);
	if (c->ev == NULL || event_add(c->ev, NULL) == -1)
		fatal("spool commit: cannot watch the eventfd");
	for (; c->nthreads < nthreads; c->nthreads++)
		if (pthread_create(&c->threads[c->nthreads], NULL,
		    spool_commit_thread, c) != 0)
			fatal("spool commit: cannot start a thread");
	return c;
}

void
spool_committer_free(struct spool_committer *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	/* Commits that finished after the loop stopped: nobody to tell. */
	for (struct spool_commit_job *j = c->done, *n; j != NULL; j = n) {
		n = j->next;
		spool_commit_job_free(j);
	}
	event_free(c->ev);
	close(c->efd);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
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
	pthread_mutex_lock(&c->lock);
	spool_commit_push(&c->pending_tail, j);
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	return j;
}

void
spool_commit_detach(struct spool_commit_job *j)
{
	/* Only the loop thread reads cb (in spool_commit_done_cb). */
	j->cb = NULL;
}
