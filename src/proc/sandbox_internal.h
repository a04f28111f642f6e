/* SPDX-License-Identifier: ISC */
/* Between the sandbox's entry (sandbox.c), its Landlock ruleset
 * (sandbox_landlock.c) and its seccomp filter (sandbox_seccomp.c). */
#ifndef SEALMAIL_PROC_SANDBOX_INTERNAL_H
#define SEALMAIL_PROC_SANDBOX_INTERNAL_H

#include "proc/sandbox.h"

/* Restrict the calling thread (and the threads it starts later) to the
 * files kind needs (who names it in logs); returns the Landlock ABI
 * used. Fatal on failure; warns and returns 0 when the kernel has no
 * usable Landlock. */
int sandbox_landlock_enter(enum sandbox_kind kind, const char *who,
    const struct conf *conf);

/* Load kind's seccomp allowlist into every thread (TSYNC). Fatal on
 * failure. */
void sandbox_seccomp_enter(enum sandbox_kind kind);

#endif
