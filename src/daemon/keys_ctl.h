/* SPDX-License-Identifier: ISC */
/*
 * The master's end of a keys process's control socket: hand it the key
 * material (read as bytes, as root, by a short-lived child of the master:
 * every child the master forks would inherit a key that had been in its
 * memory or registers), and give it one socket per peer (SCM_RIGHTS).
 */
#ifndef SEALMAIL_DAEMON_KEYS_CTL_H
#define SEALMAIL_DAEMON_KEYS_CTL_H

#include <stddef.h>

#include "conf/conf.h"
#include "keys/keys_proto.h"

/* How long the master waits for the keys process's answer. */
#define KEYS_CTL_TIMEOUT_MS	10000

/*
 * Send every [tls] key (handle KEYOP_HANDLE_TLS(i), with its certificate
 * chain, which it must match) and every DKIM key (KEYOP_HANDLE_DKIM0 + n,
 * in the order of dkim_keys_remote()), then READY, over ctl, waiting for
 * each answer, all from a child process this waits for. The DKIM keys'
 * types land in dkim_types[0..n) (room for CONF_MAX_DKIM per domain). 0,
 * or -1 with one line in err naming the file, as `serve` reports it.
 */
int keys_ctl_load(int ctl, const struct conf *conf,
    enum keys_key_type *dkim_types, size_t ntypes, char *err, size_t errlen);

/* The number of DKIM keys conf configures. */
size_t keys_ctl_dkim_count(const struct conf *conf);

/* A new socket pair for one peer: one end goes to the keys process, the
 * other end is returned (close-on-exec), or -1. */
int keys_ctl_peer(int ctl);

#endif
