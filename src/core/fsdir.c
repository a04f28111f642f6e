/* SPDX-License-Identifier: ISC */
/* Directory fsync (see fsdir.h). */
#include "core/fsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
fsdir_sync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	if (fsync(fd) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}
