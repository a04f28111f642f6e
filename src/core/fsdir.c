/* SPDX-License-Identifier: ISC */
/*
 * Directory fsync with group commit (see fsdir.h). Per directory path the
 * process keeps two counters: syncs started and the newest one finished.
 * A caller needs a sync that *starts* after its own change, i.e. number
 * started + 1 at the time of the call; while another sync runs it waits,
 * and the next one to start covers every caller that queued behind it.
 */
#include "core/fsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"

/* Directories tracked at once; past this the oldest idle entry is reused
 * (delivery into many mailboxes touches many new/ folders). */
#define FSDIR_SLOTS	64

struct fsdir_slot {
	char		*path;
	uint64_t	 started, finished;
	int		 err;		/* errno of sync `finished`, or 0 */
	bool		 running;
	unsigned	 waiters;
	uint64_t	 used;		/* LRU stamp */
};

static pthread_mutex_t fsdir_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fsdir_cond = PTHREAD_COND_INITIALIZER;
static struct fsdir_slot fsdir_slots[FSDIR_SLOTS];
static uint64_t fsdir_clock;

/* The plain fsync of one directory; 0 or an errno value. */
static int
fsdir_fsync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = 0;

	if (fd == -1)
		return errno;
	if (fsync(fd) == -1)
		e = errno;
	close(fd);
	return e;
}

/* The slot for path, or a recycled idle one; NULL if every slot is busy
 * (then the caller syncs alone). Caller holds fsdir_lock. */
static struct fsdir_slot *
fsdir_slot(const char *path)
{
	struct fsdir_slot *idle = NULL;

	for (size_t i = 0; i < FSDIR_SLOTS; i++) {
		struct fsdir_slot *s = &fsdir_slots[i];

		if (s->path != NULL && strcmp(s->path, path) == 0)
			return s;
		if (!s->running && s->waiters == 0 &&
		    (idle == NULL || s->path == NULL ||
		    (idle->path != NULL && s->used < idle->used)))
			idle = s;
	}
	if (idle != NULL) {
		free(idle->path);
		idle->path = xstrdup(path);
		idle->started = idle->finished = 0;
		idle->err = 0;
	}
	return idle;
}

int
fsdir_sync(const char *path)
{
	struct fsdir_slot *s;
	uint64_t need;
	int e;

	pthread_mutex_lock(&fsdir_lock);
	if ((s = fsdir_slot(path)) == NULL) {
		pthread_mutex_unlock(&fsdir_lock);
		e = fsdir_fsync(path);
		goto out;
	}
	s->used = ++fsdir_clock;
	need = s->started + 1;
	s->waiters++;
	while (s->finished < need) {
		if (s->running) {
			pthread_cond_wait(&fsdir_cond, &fsdir_lock);
			continue;
		}
		uint64_t mine = ++s->started;
		s->running = true;
		pthread_mutex_unlock(&fsdir_lock);
		e = fsdir_fsync(path);
		pthread_mutex_lock(&fsdir_lock);
		s->running = false;
		s->finished = mine;
		s->err = e;
		pthread_cond_broadcast(&fsdir_cond);
	}
	/* A failure of the sync that covered us is ours too; a later
	 * success (finished > need) also covered our change. */
	e = s->err;
	s->waiters--;
	pthread_mutex_unlock(&fsdir_lock);
out:
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}
