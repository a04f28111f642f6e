/* SPDX-License-Identifier: ISC */
/*
 * The queue runner's suspects across a clean stop. A runner killed between
 * a local delivery and the save of its result leaves messages whose
 * Maildir copies must be looked for before they are written again
 * (queue/qidset.h, deliver/maildir.h); without better knowledge the next
 * runner takes the whole queue as suspect, and each such message read
 * new/ and cur/ in full. A runner that stops with no delivery in flight
 * writes the ids still suspect to data_dir/run/runner.suspects instead;
 * the next one takes that list and removes the file before its first
 * delivery, so a crash after that finds no file and is safe again.
 */
#ifndef SEALMAIL_QUEUE_SUSPECTS_H
#define SEALMAIL_QUEUE_SUSPECTS_H

#include <stddef.h>

#include "queue/qidset.h"

/* The first line of the file; a file without it is not ours. */
#define SUSPECTS_MAGIC	"sealmail-suspects 1"

/* Write the live ids of s, replacing the file atomically (written, synced,
 * renamed, folder synced). -1 with one line in err. */
int suspects_save(const char *data_dir, const struct qidset *s, char *err,
    size_t errlen);

/*
 * Take the list a clean stop left: 1 with it in out (filled), the file
 * removed and its folder synced; 0 when there is none (the last runner
 * crashed or was killed); -1 when it cannot be used (malformed, too big,
 * or not removable), out empty. Only 1 may narrow the suspects.
 */
int suspects_take(const char *data_dir, struct qidset *out);

/* The file's text buf[0..len) into out: 0, or -1 (out empty) unless it is
 * exactly the magic line and one valid queue id per line. */
int suspects_parse(const char *buf, size_t len, struct qidset *out);

#endif
