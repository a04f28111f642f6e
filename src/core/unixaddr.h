/* SPDX-License-Identifier: ISC */
/* Unix-domain socket addresses from a path, with the length checked once. */
#ifndef SEALMAIL_CORE_UNIXADDR_H
#define SEALMAIL_CORE_UNIXADDR_H

#include <sys/un.h>

/* Fill *sun for path (zeroed first). 0, or -1 with errno ENAMETOOLONG
 * when path does not fit sun_path (it would be cut, naming another file),
 * ENOENT when path is NULL or empty. */
int unixaddr_set(struct sockaddr_un *sun, const char *path);

#endif
