/* SPDX-License-Identifier: ISC */
/* Durability of directory entries: what the spool and Maildir delivery
 * need after creating or renaming a file. */
#ifndef SEALMAIL_CORE_FSDIR_H
#define SEALMAIL_CORE_FSDIR_H

/*
 * Make the entries created or renamed in directory `path` before this call
 * durable. 0, or -1 with errno from open/fsync. Thread-safe, and threads
 * of one process share the work (group commit): a caller whose change
 * happened before an fsync of the same directory started waits for that
 * one instead of issuing its own, so N concurrent commits into one folder
 * cost about two directory fsyncs, not N.
 */
int fsdir_sync(const char *path);

#endif
