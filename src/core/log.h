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
 * whether debug lines are written. Safe to call again after fork. When
 * stderr is the journal ($JOURNAL_STREAM names it), lines carry a "<N>"
 * priority prefix instead of our timestamp. */
void log_init(const char *ident, bool use_syslog, bool debug);

/* Whether $JOURNAL_STREAM ("DEV:INODE") names the stream dev/ino. */
bool log_journal_matches(const char *journal_stream, unsigned long long dev,
    unsigned long long ino);

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

/*
 * The one way a log field value that comes from a peer or may hold spaces
 * is written (key=%s): `"` + the text + `"`, with `"` and `\` escaped by a
 * backslash and control, DEL and non-ASCII bytes as \xHH, so a value can
 * never end early and start a forged key=value (sealmail(8), LOG FORMAT).
 * Text that does not fit in `out` (size `outlen` >= 6) is cut, ending in
 * `..."`. Always NUL-terminates; returns `out` for use inline.
 * LOG_QUOTE_SIZE(n) is the size that holds any n bytes whole.
 */
const char *log_quote(const void *s, size_t len, char *out, size_t outlen);
#define LOG_QUOTE_SIZE(n)	((n) * 4 + 3)

#endif
