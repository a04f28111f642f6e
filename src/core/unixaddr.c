/* SPDX-License-Identifier: ISC */
/* Unix-domain socket addresses (see unixaddr.h). */
#include "core/unixaddr.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int
unixaddr_set(struct sockaddr_un *sun, const char *path)
{
	size_t n = path != NULL ? strlen(path) : 0;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, n + 1);
	return 0;
}
