/* SPDX-License-Identifier: ISC */
/* Between the sandbox's entry (sandbox.c), its Landlock ruleset
 * (sandbox_landlock.c) and its seccomp filter (sandbox_seccomp.c). */
#ifndef SEALMAIL_PROC_SANDBOX_INTERNAL_H
#define SEALMAIL_PROC_SANDBOX_INTERNAL_H

#include <stdbool.h>

#include "proc/sandbox.h"

/* An ASan build: its runtime needs calls and arguments the filter would
 * refuse, so the argument checks (signals, prctl, clone) are left out
 * there and the tests of them are skipped. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

/* Restrict the calling thread (and the threads it starts later) to the
 * files kind needs (who names it in logs); returns the Landlock ABI
 * used. Fatal on failure; warns and returns 0 when the kernel has no
 * usable Landlock. */
int sandbox_landlock_enter(enum sandbox_kind kind, const char *who,
    const struct conf *conf);

/* Load kind's seccomp allowlist into every thread (TSYNC); with pg, the
 * process connects to a PostgreSQL server (socket, connect). Fatal on
 * failure. */
void sandbox_seccomp_enter(enum sandbox_kind kind, bool pg);

/* Whether kind connects to a PostgreSQL store with conf (its
 * connections reconnect from inside the sandbox). */
bool sandbox_uses_pg(enum sandbox_kind kind, const struct conf *conf);

#endif
