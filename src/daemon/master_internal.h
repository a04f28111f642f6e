/* SPDX-License-Identifier: ISC */
/*
 * The master process's state, shared by its entry (master.c: setup and
 * the signal loop) and its children's supervision (master_children.c).
 */
#ifndef SEALMAIL_DAEMON_MASTER_INTERNAL_H
#define SEALMAIL_DAEMON_MASTER_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "conf/conf.h"
#include "net/listener.h"

struct connlimit;
struct dkim_keys;
struct tls_server;

enum child_kind {
	CHILD_WORKER,
	CHILD_RUNNER,
	CHILD_KEYS,	/* one per generation: holds the private keys */
};

struct child {
	pid_t		 pid;		/* 0: slot free / waiting for respawn */
	enum child_kind	 kind;
	unsigned	 slot;
	unsigned	 gen;		/* configuration generation */
	time_t		 started;
	time_t		 respawn_at;	/* when pid == 0 and current gen */
};

struct master {
	struct conf		*conf;
	struct tls_server	*tls;
	struct dkim_keys	*dkim_keys;	/* public facts only */
	int			 keys_ctl;	/* the generation's keys
						 * process; -1: none */
	bool			 keys_lost;	/* it died: regenerate */
	struct listener_set	 ls;
	struct connlimit	*limits;
	unsigned		 gen;
	struct child		*children;
	size_t			 nchildren;
	sigset_t		 sigs;		/* the signals we wait for */
};

/* master_children.c. Start the keys process of generation gen for conf
 * (before any other child of that generation, which connect to it): its
 * control socket in *ctl, the DKIM keys' public facts in *dk, or -1 with
 * err. Start the current generation's workers and runner; reap the
 * children that exited (stopping: none is restarted); restart those due;
 * tell systemd we are ready; report the master's memory; SIGHUP: load
 * everything anew as the next generation, or keep the running setup;
 * replace a keys process that died; SIGTERM the children and wait (then
 * SIGKILL) for them. */
int master_keys_start(struct master *m, const struct conf *conf,
    unsigned gen, int *ctl, struct dkim_keys **dk, char *err,
    size_t errlen);
void master_spawn_generation(struct master *m);
void master_reap(struct master *m, bool stopping);
void master_respawn_due(struct master *m);
void master_notify_ready(struct master *m);
void master_report_memory(void);
void master_reload(struct master *m);
void master_keys_restart(struct master *m);
void master_stop(struct master *m);

#endif
