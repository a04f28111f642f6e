/* SPDX-License-Identifier: ISC */
/*
 * The helper programs installed beside the sealmail binary (today
 * sealmail-reports, which links the XML, JSON and archive libraries the
 * daemon's own processes must not carry): finding one and running it.
 */
#ifndef SEALMAIL_PROC_SUBPROG_H
#define SEALMAIL_PROC_SUBPROG_H

#include <stddef.h>
#include <sys/types.h>

#define SUBPROG_REPORTS	"sealmail-reports"

/*
 * The path of program `name`: beside the running binary (/proc/self/exe:
 * the build folder, /usr/sbin), else in /usr/lib/sealmail or
 * /usr/local/lib/sealmail. 0, or -1 with one line in err.
 */
int subprog_path(const char *name, char *out, size_t outlen, char *err,
    size_t errlen);

/*
 * Start `name` with argv (argv[0] included, NULL-terminated), stdin from
 * fd in_fd (-1: /dev/null), stdout and stderr inherited. The caller
 * reaps the child. Returns its pid, or -1 with one line in err.
 */
pid_t subprog_spawn(const char *name, char *const argv[], int in_fd,
    char *err, size_t errlen);

/* Replace this process with `name` (for the CLI); returns only on
 * failure, with one line in err. */
void subprog_exec(const char *name, char *const argv[], char *err,
    size_t errlen);

#endif
