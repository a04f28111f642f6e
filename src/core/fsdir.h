/* SPDX-License-Identifier: ISC */
/* Durability of directory entries: what the spool and Maildir delivery
 * need after creating or renaming a file. */
#ifndef SEALMAIL_CORE_FSDIR_H
#define SEALMAIL_CORE_FSDIR_H

/* fsync the directory path, so that entries created or renamed in it
 * persist. 0, or -1 with errno from open/fsync (kept across the close). */
int fsdir_sync(const char *path);

#endif
