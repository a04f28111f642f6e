/* SPDX-License-Identifier: ISC */
/* This process's id, read from the kernel once per process rather than on
 * every log line and Maildir name. */
#ifndef SEALMAIL_CORE_SELFPID_H
#define SEALMAIL_CORE_SELFPID_H

#include <sys/types.h>

/* getpid(), cached; stays right across fork() (the child re-reads it).
 * Thread-safe. */
pid_t selfpid(void);

#endif
