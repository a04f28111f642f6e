/* SPDX-License-Identifier: ISC */
/* Finding and running the helper programs beside the sealmail binary. */
#include "proc/subprog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int
subprog_path(const char *name, char *out, size_t outlen, char *err,
    size_t errlen)
{
	static const char *const dirs[] = {
		"/usr/lib/sealmail", "/usr/local/lib/sealmail",
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, outlen, "%s/%s", self,
			    name) < outlen && access(out, X_OK) == 0)
				return 0;
		}
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((size_t)snprintf(out, outlen, "%s/%s", dirs[i], name) <
		    outlen && access(out, X_OK) == 0)
			return 0;
	snprintf(err, errlen, "%s not found beside the sealmail binary nor "
	    "in /usr/lib/sealmail", name);
	return -1;
}

pid_t
subprog_spawn(const char *name, char *const argv[], int in_fd, char *err,
    size_t errlen)
{
	posix_spawn_file_actions_t fa;
	char path[PATH_MAX];
	pid_t pid;
	int rc;

	if (subprog_path(name, path, sizeof(path), err, errlen) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	if (in_fd == -1)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
		    0);
	else if (in_fd != 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	/* Nothing of the parent's (listeners, the store, the spool) leaks
	 * into the child, whatever was opened without O_CLOEXEC. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start %s: %s", path,
		    strerror(rc));
		return -1;
	}
	return pid;
}

void
subprog_exec(const char *name, char *const argv[], char *err,
    size_t errlen)
{
	char path[PATH_MAX];

	if (subprog_path(name, path, sizeof(path), err, errlen) == -1)
		return;
	execv(path, argv);
	snprintf(err, errlen, "cannot run %s: %s", path, strerror(errno));
}
