/* SPDX-License-Identifier: ISC */
/* The local submission socket (see localsock.h). */
#include "net/localsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/unixaddr.h"

/* Whether a server answers on path. */
static bool
localsock_alive(const char *path)
{
	struct sockaddr_un sun;
	int fd, rc;

	if (unixaddr_set(&sun, path) == -1)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return false;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

/* The folder of path: created if missing, refused if others may write
 * it (they could replace our socket with theirs). */
static int
localsock_folder(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL || slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);		/* whatever the umask */
	else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a folder", dir);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by group or others "
		    "(anyone could put their own socket there)", dir);
		return -1;
	}
	return 0;
}

int
localsock_bind(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1;

	if (unixaddr_set(&sun, path) == -1) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (localsock_folder(path, err, errlen) == -1)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
			    path);
			return -1;
		}
		if (localsock_alive(path)) {
			snprintf(err, errlen, "%s is in use by another "
			    "running daemon", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto fail;
	/* Every local user may submit: the daemon asks the kernel who they
	 * are, so the mode grants no more than a name to write in Received. */
	if (chmod(path, 0666) == -1 || listen(fd, 128) == -1) {
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

void
localsock_unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    !localsock_alive(path))
		unlink(path);
}

int
localsock_peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred))
		return -1;
	*uid = cred.uid;
	return 0;
}
