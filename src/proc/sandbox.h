/* SPDX-License-Identifier: ISC */
/* The children's sandbox: no_new_privs, a Landlock ruleset (which files a
 * process may touch) and a seccomp-bpf allowlist (which syscalls it may
 * make). docs/architecture.md lists what each profile allows and why. */
#ifndef SEALMAIL_PROC_SANDBOX_H
#define SEALMAIL_PROC_SANDBOX_H

#include <stdint.h>

struct conf;

enum sandbox_kind {
	SANDBOX_WORKER,		/* SMTP worker: spool, store, lookups */
	SANDBOX_RUNNER,		/* queue runner: + Maildir tree, outbound */
	SANDBOX_KEYS,		/* keys process: reads the password file, nothing
				 * else */
};

/*
 * Enter the sandbox of kind for good: PR_SET_NO_NEW_PRIVS, then Landlock,
 * then seccomp (synchronised to every thread). Landlock binds only the
 * calling thread and the threads it starts later, so this must be called
 * while the process has ONE thread: at the end of its single-threaded
 * setup, before any thread pool, resolver or committer starts. It checks
 * that and ends the process (fatal) otherwise, and on any failure to set
 * up what the kernel supports. A kernel without Landlock (or with ABI 1,
 * which cannot allow the spool's renames across folders) gets seccomp
 * only, with a warning. Built with SANDBOX=0 (SEALMAIL_NO_SANDBOX), it
 * warns and does nothing.
 *
 * SANDBOX_KEYS: no filesystem access but reading the password file
 * (DATA_DIR/passwd.db, which no other profile may open) and what every
 * process reads (libraries, time zones, /dev/null
 * and /dev/urandom, /proc/self); syscalls as the worker but no socket(),
 * connect(), bind(), listen() or accept(): it talks only over the
 * socketpairs it inherited (sendmsg/recvmsg/read/write).
 *
 * With [store] backend = postgresql, every profile may also connect to
 * the server again (the keys process gets socket() and connect()), and
 * Landlock lets it read what libpq reads then: the DSN's files, a socket
 * folder, ~/.postgresql, ~/.pgpass, the resolver files and CA store.
 *
 * Test hook (not configuration): SEALMAIL_TEST_LANDLOCK_ABI=N caps the
 * Landlock ABI used at N (e.g. 2, Debian 12's kernel) on a newer kernel. It
 * can only remove rights from what is handled, never turn Landlock off.
 */
void sandbox_enter(enum sandbox_kind kind, const struct conf *conf);

/* The Landlock ABI to use: the kernel's (0: none), capped by the test
 * hook's text when it is a number >= 1 (NULL or junk: ignored). */
int sandbox_landlock_abi(int kernel_abi, const char *cap);

/* Every filesystem right Landlock ABI abi knows (0 for abi < 1). */
uint64_t sandbox_landlock_handled(int abi);

#endif
