/* SPDX-License-Identifier: ISC */
/* An SMTP worker process: accepts on the inherited listeners and runs SMTP
 * sessions in one libevent loop (DESIGN.md §3). */
#ifndef SEALMAIL_DAEMON_WORKER_H
#define SEALMAIL_DAEMON_WORKER_H

#include "conf/conf.h"

struct tls_server;
struct listener_set;
struct connlimit;
struct dkim_keys;

/* Runs until SIGTERM (shutdown: 421 to idle sessions, a short grace for
 * messages in flight) or SIGUSR1 (retire after a reload: stop accepting,
 * let sessions finish). Privileges are already dropped. Returns the exit
 * code. */
int worker_main(const struct conf *conf, struct tls_server *tls,
    const struct dkim_keys *dkim_keys, const struct listener_set *ls,
    struct connlimit *limits, unsigned slot);

#endif
