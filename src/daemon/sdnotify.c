/* SPDX-License-Identifier: ISC */
/* systemd notifications without libsystemd (see sdnotify.h). */
#include "daemon/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Where to send; empty when not started by systemd (or not yet init). */
static struct sockaddr_un sdnotify_sun;
static socklen_t sdnotify_len;

int
sdnotify_addr(const char *value, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = value != NULL ? strlen(value) : 0;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n < 2 || (value[0] != '/' && value[0] != '@') ||
	    n >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, value, n);
	if (value[0] == '@') {
		/* Abstract: the name is the n bytes after a leading NUL, not a
		 * string, so the length must not include a terminator. */
		sun->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		    1);
	return 0;
}

bool
sdnotify_init(void)
{
	const char *v = getenv("NOTIFY_SOCKET");

	sdnotify_len = 0;
	if (v == NULL)
		return false;
	if (sdnotify_addr(v, &sdnotify_sun, &sdnotify_len) == -1)
		sdnotify_len = 0;
	unsetenv("NOTIFY_SOCKET");
	return sdnotify_len != 0;
}

int
sdnotify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n, fd, r = 0;

	if (sdnotify_len == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(msg))	/* a long STATUS= is cut, still sent */
		n = sizeof(msg) - 1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&sdnotify_sun, sdnotify_len) != n)
		r = -1;
	close(fd);
	return r;
}

int
sdnotify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return sdnotify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}
