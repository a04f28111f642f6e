/* SPDX-License-Identifier: ISC */
/*
 * The queue runner process's shared state, private to src/daemon/runner*.c
 * (see runner.h for what the process does). Work is kept as two FIFO lists
 * of queue ids: "urgent" (a message just committed: the queue watch or a
 * "new ID" nudge; tried first) and "scan" (from the last scan). A
 * zero-delay timer starts a few messages per loop turn, so SIGTERM and
 * nudges are handled between them (runner_work.c). Envelopes on disk are
 * the only state: a message is loaded and becomes a "flight", which owns
 * the loaded envelope and the message fd until every due recipient has a
 * result. It goes through two stages, each a job of a delivery method
 * (deliver/delivery.h, one code path for all, runner_flight.c): its due
 * local recipients go to the local method (Maildir writes on the pool of
 * threads, core/workpool.h, where concurrent deliveries share the disk's
 * flushes; LMTP on this loop), then its due remote recipients to the
 * remote one (deliver/remote.h, on this loop). A message in flight is
 * skipped when it comes up again, so no two attempts of one message
 * overlap. What is due and what a result means is decided by
 * sched/sched.h; runner_result.c applies it (log, metrics, save, DSN,
 * removal).
 */
#ifndef SEALMAIL_DAEMON_RUNNER_INTERNAL_H
#define SEALMAIL_DAEMON_RUNNER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/ids.h"
#include "daemon/runner.h"
#include "deliver/delivery.h"
#include "queue/envelope.h"
#include "queue/qidset.h"

struct runner_correspondents;
struct runner_heartbeat;
struct runner_history;
struct runner_reports;
struct workpool;

/* Datagrams handled per wakeup, so a flood cannot starve the work. */
#define RUNNER_NUDGE_BURST	256
/* Nudged ids waiting; past this the periodic scan picks messages up. */
#define RUNNER_URGENT_MAX	100000
/* Without the inotify watch: how often queue/ is checked for change. */
#define RUNNER_POLL_MS		200
/* Messages in flight (each holds an open fd). */
#define RUNNER_FLIGHTS_MAX	256
/* Messages started per loop turn. */
#define RUNNER_BATCH		32
/* Threads delivering locally at once. */
#define RUNNER_LOCAL_THREADS	4
/* Seconds in-flight deliveries get after SIGTERM. */
#define RUNNER_STOP_GRACE	5
/* Seconds without work after which a busy spell's memory is returned. */
#define RUNNER_TRIM_AFTER	1

struct runner_list {
	char	(*ids)[IDS_QID_LEN + 1];
	size_t	  n, pos, cap;
	bool	  force;	/* every pending recipient is due */
};

/* A flight's stages, in order. */
enum runner_stage {
	RUNNER_LOCAL,		/* Maildir or LMTP */
	RUNNER_REMOTE,		/* SMTP */
	RUNNER_STAGES
};

/* A delivery method of the runner. */
struct runner_method {
	const struct delivery_ops	*ops;
	struct delivery_method		*m;	/* NULL: unavailable */
	char				*err;	/* why */
};

/* A message being delivered: first its due local recipients, then its
 * due remote ones. */
struct runner_flight {
	struct runner_flight		*next;
	struct runner			*r;
	struct envelope			 env;
	int				 fd;
	size_t				*idx[RUNNER_STAGES];	/* due
						 * rcpts of env, per stage */
	size_t				 n[RUNNER_STAGES];
	enum runner_stage		 stage;	/* in flight */
	struct delivery			*del;	/* the stage's job, until
						 * its end */
	bool				 recorded;	/* a result in this
							 * stage */
	size_t				*failed;	/* became FAILED */
	size_t				 nfailed;
	bool				 recheck;	/* in suspect */
};

struct runner {
	const struct conf		*conf;
	struct event_base		*base;
	struct event			*nudge_ev, *scan_ev, *work_ev;
	struct event			*watch_ev;	/* inotify */
	struct event			*poll_ev;	/* no watch: queue/
							 * checked for change */
	struct timespec			 queue_mtime;	/* seen by poll_ev */
	int				 watch_fd;
	bool				 rescan;	/* events lost */
	struct event			*sig_ev[3];
	int				 sock;
	struct sockaddr_un		 sun;
	struct stat			 sun_st;	/* the bound path */
	struct runner_method		 method[RUNNER_STAGES];
	char				*target;	/* LMTP or NULL */
	bool				 closing;	/* the loop has ended */
	bool				 grace_over;	/* stopping: waits for
							 * local jobs only */
	struct runner_list		 urgent, scan;
	struct workpool			*pool;	/* local deliveries */
	struct runner_flight		*flights;
	size_t				 nflights;
	atomic_bool			 stopping;	/* SIGTERM seen; read
							 * by pool threads */
	struct event			*stop_ev;	/* grace deadline */
	struct event			*trim_ev;	/* idle: give memory back */
	bool				 busy;		/* flights since the trim */
	struct runner_reports		*reports;	/* the report job */
	struct runner_history		*history;	/* status page's */
	struct runner_correspondents	*corr;		/* lookalike check's */
	struct runner_heartbeat		*beat;		/* the node registry's */
	/*
	 * Exactly-once local delivery: the messages whose state on disk may
	 * lag behind deliveries already made, whose Maildir copies must be
	 * looked for before they are written (deliver/maildir.h). A runner
	 * killed between a delivery and the save of its result leaves such
	 * messages; they are all still queued when the next runner has
	 * taken the lock, so the set starts as the queue listed at start.
	 * Messages committed later have only ever been attempted by this
	 * runner, which records each result before the next attempt (a
	 * flight at a time per message), so they are looked up in vain in
	 * the empty set and cost nothing more: no scan of a large cur/, and
	 * no mark written and synced before every attempt. A message leaves
	 * the set once its results are on disk (saved, or the message
	 * removed), and joins it when that fails.
	 */
	struct qidset			 suspect;
};

/* runner_work.c: the lists. Release a list's array; start work on the
 * next loop turn; list the queue (force: every pending recipient is due);
 * take a just-committed message first. The callbacks are the work timer,
 * the periodic scan and the idle trim. */
void runner_list_release(struct runner_list *l);
void runner_kick(struct runner *r);
void runner_scan(struct runner *r, bool force);
void runner_urgent(struct runner *r, const char *qid);
void runner_work_cb(evutil_socket_t fd, short what, void *arg);
void runner_timer_cb(evutil_socket_t fd, short what, void *arg);
void runner_trim_cb(evutil_socket_t fd, short what, void *arg);

/* runner_result.c: record an attempt (true: rc has just failed, a DSN is
 * due), save the envelope (1 saved, 0 skipped as done, -1 failed), queue
 * the DSN for failed[0..nfailed), remove a message that is done. */
bool runner_record(struct runner *r, struct envelope *env,
    struct envelope_rcpt *rc, const char *method,
    const struct delivery_result *res, time_t now);
int runner_save(struct runner *r, struct envelope *env);
void runner_bounce(struct runner *r, const struct envelope *env,
    const size_t *failed, size_t nfailed);
void runner_maybe_finish(struct runner *r, const struct envelope *env,
    int *fd);

/* runner_flight.c: try message qid's due recipients (skipped while it is
 * in flight); forget a flight; whether a local job is in flight; stop
 * every job (SIGTERM); cancel them, save what they recorded and free the
 * methods (the loop has ended). */
void runner_process(struct runner *r, const char *qid, bool force);
void runner_flight_free(struct runner_flight *f);
bool runner_local_busy(const struct runner *r);
void runner_flights_stop(struct runner *r);
void runner_flights_close(struct runner *r);

/* runner_watch.c: watch spool/queue (or poll it: runner_poll_cb, armed
 * by the caller when r->watch_fd is -1). */
void runner_watch(struct runner *r);
void runner_poll_cb(evutil_socket_t fd, short what, void *arg);

/* runner_nudge.c: bind DATA/run/queue.sock and listen on it. */
void runner_bind(struct runner *r);

#endif
