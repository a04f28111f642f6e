/* SPDX-License-Identifier: ISC */
/*
 * The master process of `sealmail serve`: binds listeners and loads
 * certificates (as root when needed), forks the SMTP workers and the queue
 * runner with privileges dropped, restarts a child that dies, reloads on
 * SIGHUP, stops on SIGTERM/SIGINT (DESIGN.md §3).
 */
#ifndef SEALMAIL_DAEMON_MASTER_H
#define SEALMAIL_DAEMON_MASTER_H

#include "conf/conf.h"

/* Takes ownership of conf. Returns the process exit code. */
int master_main(struct conf *conf);

#endif
