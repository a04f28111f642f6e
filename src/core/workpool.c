/* SPDX-License-Identifier: ISC */
/* Thread pool for blocking work (see workpool.h). Jobs go through two
 * mutex-protected FIFO lists: pending (to the threads) and done (back to
 * the loop, woken through an eventfd). */
#include "core/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/xmalloc.h"

#define WORKPOOL_THREADS_MAX	64

struct workpool_job {
	struct workpool_job	*next;
	workpool_run_fn		*run;
	workpool_done_fn	*done;
	void			*arg;
	bool			 cancelled;	/* loop thread only */
};

struct workpool_list {
	struct workpool_job	*head, **tail;
};

struct workpool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct workpool_list	 pending, finished;
	bool			 stopping;
	pthread_t		 threads[WORKPOOL_THREADS_MAX];
	unsigned		 nthreads;
	int			 efd;
	struct event		*ev;
};

static void
workpool_push(struct workpool_list *l, struct workpool_job *j)
{
	j->next = NULL;
	*l->tail = j;
	l->tail = &j->next;
}

/* Take the whole list (caller holds the lock). */
static struct workpool_job *
workpool_take_all(struct workpool_list *l)
{
	struct workpool_job *head = l->head;

	l->head = NULL;
	l->tail = &l->head;
	return head;
}

static void *
workpool_thread(void *arg)
{
	struct workpool *p = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->pending.head == NULL && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		struct workpool_job *j = p->pending.head;
		if (j == NULL)
			break;		/* stopping and drained */
		p->pending.head = j->next;
		if (p->pending.head == NULL)
			p->pending.tail = &p->pending.head;
		pthread_mutex_unlock(&p->lock);

		j->run(j->arg);

		pthread_mutex_lock(&p->lock);
		workpool_push(&p->finished, j);
		if (write(p->efd, &one, sizeof(one)) != sizeof(one))
			log_warn("work pool: eventfd write failed");
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Hand a list of finished jobs to their owners and free them. */
static void
workpool_finish(struct workpool_job *list, bool cancel_all)
{
	while (list != NULL) {
		struct workpool_job *j = list;

		list = j->next;
		j->done(j->arg, cancel_all || j->cancelled);
		free(j);
	}
}

static void
workpool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *p = arg;
	struct workpool_job *list;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		log_warn("work pool: eventfd read failed");
	pthread_mutex_lock(&p->lock);
	list = workpool_take_all(&p->finished);
	pthread_mutex_unlock(&p->lock);
	workpool_finish(list, false);
}

struct workpool *
workpool_new(struct event_base *base, unsigned nthreads, const char *what)
{
	struct workpool *p = xcalloc(1, sizeof(*p));

	if (nthreads == 0 || nthreads > WORKPOOL_THREADS_MAX)
		nthreads = WORKPOOL_THREADS_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->pending.tail = &p->pending.head;
	p->finished.tail = &p->finished.head;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd == -1)
		fatal("%s: eventfd: %s", what, strerror(errno));
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, workpool_done_cb,
	    p);
	if (p->ev == NULL || event_add(p->ev, NULL) == -1)
		fatal("%s: cannot watch the eventfd", what);
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL,
		    workpool_thread, p) != 0)
			fatal("%s: cannot start a thread", what);
	return p;
}

void
workpool_free(struct workpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Jobs that finished after the loop stopped: nobody to tell. */
	workpool_finish(workpool_take_all(&p->finished), true);
	event_free(p->ev);
	close(p->efd);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct workpool_job *
workpool_submit(struct workpool *p, workpool_run_fn *run,
    workpool_done_fn *done, void *arg)
{
	struct workpool_job *j = xcalloc(1, sizeof(*j));

	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	workpool_push(&p->pending, j);
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return j;
}

struct workpool_job *
workpool_submit_or_run(struct workpool *p, workpool_run_fn *run,
    workpool_done_fn *done, void *arg)
{
	if (p != NULL)
		return workpool_submit(p, run, done, arg);
	run(arg);
	done(arg, false);
	return NULL;
}

void
workpool_cancel(struct workpool_job *j)
{
	/* Only the loop thread reads it (workpool_finish). */
	j->cancelled = true;
}
