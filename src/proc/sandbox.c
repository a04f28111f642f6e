/* SPDX-License-Identifier: ISC */
/* The sandbox's entry (see sandbox.h): the one-thread check, no_new_privs,
 * then Landlock and seccomp in that order (Landlock's own syscalls are not
 * in the seccomp allowlist). */
#include "proc/sandbox_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "conf/conf.h"
#include "core/log.h"

static const char *const sandbox_names[] = {
	[SANDBOX_WORKER] = "smtp worker",
	[SANDBOX_RUNNER] = "queue runner",
	[SANDBOX_KEYS] = "keys",
};

int
sandbox_landlock_abi(int kernel_abi, const char *cap)
{
	char *end;
	long n;

	if (kernel_abi < 1 || cap == NULL || *cap == '\0')
		return kernel_abi < 0 ? 0 : kernel_abi;
	errno = 0;
	n = strtol(cap, &end, 10);
	/* A cap below 1 would turn Landlock off: the hook never does. */
	if (errno != 0 || *end != '\0' || n < 1)
		return kernel_abi;
	return n < kernel_abi ? (int)n : kernel_abi;
}

bool
sandbox_uses_pg(enum sandbox_kind kind, const struct conf *conf)
{
	(void)kind;	/* every profile: workers, runner, keys */
	return conf != NULL && conf->store_backend == CONF_STORE_POSTGRESQL;
}

/* Threads of this process, from /proc/self/status; -1 if unknown. */
static int
sandbox_threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

#ifdef SEALMAIL_NO_SANDBOX
void
sandbox_enter(enum sandbox_kind kind, const struct conf *conf)
{
	(void)conf;
	(void)sandbox_threads;
	log_warn("%s: no sandbox (built with SANDBOX=0, for debugging only)",
	    sandbox_names[kind]);
}
#else
void
sandbox_enter(enum sandbox_kind kind, const struct conf *conf)
{
	int n = sandbox_threads(), abi;

	/* A thread that exists now would escape Landlock for good. */
	if (n != 1)
		panic("%s: sandbox entered with %d threads (must be 1)",
		    sandbox_names[kind], n);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS: %s", sandbox_names[kind],
		    strerror(errno));
	abi = sandbox_landlock_enter(kind, sandbox_names[kind], conf);
	sandbox_seccomp_enter(kind, sandbox_uses_pg(kind, conf));
	log_info("%s sandboxed landlock_abi=%d seccomp=on", sandbox_names[kind],
	    abi);
}
#endif
