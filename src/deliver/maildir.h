/* SPDX-License-Identifier: ISC */
/*
 * Local delivery into Maildir (the layout Dovecot reads with
 * mail_location = maildir:DATA/mail/%d/%n/Maildir). A message is written
 * to tmp/, fsynced, linked into new/ under its final name, new/ is fsynced
 * and the tmp/ name removed, so a delivered file is always complete.
 * Lines are stored with LF endings, as Dovecot and Postfix's local do; the
 * S= size in the name is the size of the file as written.
 *
 * The recipient address comes from the envelope (checked when the message
 * was received, but parsed again here because it becomes a path): its
 * folder names come from addr_mailbox_dirs (msg/addr.h), the one check
 * that makes an address a safe path.
 */
#ifndef SEALMAIL_DELIVER_MAILDIR_H
#define SEALMAIL_DELIVER_MAILDIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "deliver/delivery.h"

/* name "maildir"; job->data_dir, env->prepend and env->quarantine are
 * used, each recipient gets its own copy, headed by "Return-Path:
 * <sender>" and "Delivered-To: recipient" (msg/hops.h). */
extern const struct delivery_ops maildir_delivery_ops;

/*
 * The folder for `address` (an address text, msg/addr.h):
 * DATA/mail/DOMAIN/LOCALPART/Maildir with the names of addr_mailbox_dirs
 * (canonical, ASCII lower-cased), plus "/.Junk" (the Maildir++ folder
 * Junk) when junk. -1 if the address does not parse, a part is not safe
 * as a path component (empty, leading '.', '/', control bytes), or out is
 * too small.
 */
int maildir_path(const char *data_dir, const char *address, bool junk,
    char *out, size_t outlen);

/*
 * Write a new unique base name, as Dovecot makes them:
 * "<secs>.M<usecs>P<pid>Q<counter>.<hostname>", with '/' and ':' in the
 * host name written as "\057" and "\072". The per-process counter keeps
 * two names made in the same microsecond apart. -1 if out is too small.
 */
int maildir_unique(char *out, size_t outlen);

/*
 * Deliver one copy for `address`: `prepend` (CRLF header lines, or NULL)
 * and then the first msg_size bytes of msg_fd (the spool file: read with
 * pread, so the fd can be shared), CRLF turned into LF. Creates the folder (0700) on first
 * use. Fills res and returns res->status: DELIVERY_PERMFAIL for an address
 * that is not a safe mailbox name, DELIVERY_TEMPFAIL for I/O errors (disk
 * full, quota), DELIVERY_OK once the file is durable in new/.
 */
enum delivery_status maildir_deliver_one(const char *data_dir,
    const char *address, bool junk, const char *prepend, int msg_fd,
    uint64_t msg_size, struct delivery_result *res);

#endif
