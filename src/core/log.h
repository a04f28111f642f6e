/* SPDX-License-Identifier: ISC */
/*
 * Logging to stderr or syslog, one line per event. Untrusted text must pass
 * through log_escape() before it reaches a format string argument.
 */
#ifndef SEALMAIL_CORE_LOG_H
#define SEALMAIL_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Set the program identity (copied by pointer: pass a literal), the sink and
 * whether debug lines are written. Safe to call again after fork. */
void log_init(const char *ident, bool use_syslog, bool debug);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Environment or configuration failure: log and exit(1). Never reached by
 * remote input. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Broken invariant (our bug): log and abort() for a core dump. */
void panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy at most `len` bytes of untrusted `s` into `out` (size `outlen` > 0),
 * replacing non-printable bytes, quotes and backslashes with \xHH escapes,
 * truncating with "..." when it does not fit. Always NUL-terminates.
 * Returns `out` so it can be used inline as a "%s" argument.
 */
const char *log_escape(const void *s, size_t len, char *out, size_t outlen);

#endif
