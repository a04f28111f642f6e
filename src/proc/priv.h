/* SPDX-License-Identifier: ISC */
/* Process setup shared by the children: name, parent-death signal and the
 * drop from root to the service user. */
#ifndef SEALMAIL_PROC_PRIV_H
#define SEALMAIL_PROC_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

/* Look up the service user; false (with a one-line err) if it is unknown.
 * An empty or NULL name means "stay who we are". */
bool priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
    size_t errlen);

/* Set the process name shown in /proc/PID/comm (at most 15 bytes), ask
 * the kernel for SIGTERM when the master dies, and lower the CPU priority
 * by `nice` (0: unchanged). Call before the process starts threads: they
 * inherit it. */
void priv_child_setup(const char *name, int nice);

/* When running as root and user is set: drop to it for good (groups, gid,
 * uid; verified). Fatal on failure. */
void priv_drop(const char *user);

/* Give data_dir and everything below it to user (root only; no-op
 * otherwise). Returns -1 with err on failure. */
int priv_chown_tree(const char *dir, const char *user, char *err,
    size_t errlen);

#endif
