/* SPDX-License-Identifier: ISC */
/* Cached process id, reset in the child of every fork (see selfpid.h). */
#include "core/selfpid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static _Atomic pid_t selfpid_cached;
static pthread_once_t selfpid_once = PTHREAD_ONCE_INIT;

static void
selfpid_forget(void)
{
	selfpid_cached = 0;
}

static void
selfpid_register(void)
{
	pthread_atfork(NULL, NULL, selfpid_forget);
}

pid_t
selfpid(void)
{
	pid_t pid = selfpid_cached;

	if (pid == 0) {
		pthread_once(&selfpid_once, selfpid_register);
		pid = getpid();
		selfpid_cached = pid;
	}
	return pid;
}
