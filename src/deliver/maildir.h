/* SPDX-License-Identifier: ISC */
/*
 * Local delivery into Maildir (the layout Dovecot reads with
 * mail_location = maildir:DATA/mail/%d/%n/Maildir). A message is written
 * to tmp/, fsynced, linked into new/ under its final name, new/ is fsynced
 * and the tmp/ name removed, so a delivered file is always complete.
 * Lines are stored with LF endings, as Dovecot and Postfix's local do; the
 * S= size in the name is the size of the file as written.
 *
 * Delivery is exactly-once across crashes: a copy's name derives from
 * (queue id, recipient), and an attempt the queue runner repeats because
 * an earlier runner may have made it (daemon/runner_flight.c decides) first looks
 * for the copy in new/ and cur/ and does not write it twice.
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

/* name "maildir" (deliver/delivery.h); needs setup->pool and data_dir.
 * A job runs on one pool thread, copy after copy (a stop is honoured
 * between copies), and its results reach the loop when the thread is
 * done. The job copies what its thread reads (envelope fields, a dup of
 * the message fd), so a cancelled job never reads the caller's memory.
 * env->prepend and env->quarantine are used; each recipient gets its own
 * copy, headed by "Return-Path: <sender>" and "Delivered-To: recipient"
 * (msg/hops.h). */
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
 * "<secs>.M<usecs>P<pid>Q<counter>.<hostname>", with '/', ':' and ',' in
 * the host name written as "\057", "\072" and "\054". The per-process
 * counter keeps two names made in the same microsecond apart. -1 if out
 * is too small.
 */
int maildir_unique(char *out, size_t outlen);

/*
 * Which copy of which message a delivery writes. A copy's base name is
 * derived from (queue id, recipient index), so that an attempt repeated
 * after a crash (the runner killed between writing the file and recording
 * the result) can find the copy it made before: see maildir_copy_base.
 */
struct maildir_copy {
	const char	*qid;		/* NULL: a fresh unique name */
	long long	 created;	/* the message's arrival (seconds) */
	size_t		 rcpt;		/* its index in the envelope */
	bool		 recheck;	/* an earlier attempt may have made
					 * this copy: look for it first */
};

/*
 * The base name of a copy: "<created>.Q<qid>R<rcpt>.<hostname>" (host
 * escaped as in maildir_unique). It holds no ',' or ':', which start the
 * ",S=<size>" / ",W=<vsize>" fields and the ":2,<flags>" info that we,
 * Dovecot and other tools add or change later, so every later name of the
 * file starts with it. Unique as the queue id is, and per recipient: two
 * recipients of one message in one Maildir (aliases) are two copies.
 * -1 if out is too small.
 */
int maildir_copy_base(const struct maildir_copy *c, char *out,
    size_t outlen);

/*
 * Whether a file name in new/ or cur/ is a form of the copy named base:
 * base itself, or base followed by ',' (size fields) or ':' (info).
 */
bool maildir_name_is_copy(const char *name, const char *base);

/*
 * Look for a form of the copy named base in folder/new and then
 * folder/cur (a readdir of each: used only on a recheck). 1 if found (its
 * name into found), 0 if not (also when the folder does not exist), -1
 * with errno on a read error.
 */
int maildir_find_copy(const char *folder, const char *base, char *found,
    size_t foundlen);

/*
 * Deliver one copy for `address`: `prepend` (CRLF header lines, or NULL)
 * and then the first msg_size bytes of msg_fd (the spool file: read with
 * pread, so the fd can be shared), CRLF turned into LF. Creates the
 * folder (0700) on first use. copy names the file (NULL: a fresh unique
 * name); with copy->recheck, a copy found in new/ or cur/ (as by
 * maildir_find_copy, but whatever host name follows "R<rcpt>.") is not
 * written again, and a copy already in new/ under the very name it would
 * get counts as delivered in any case. Fills res and returns res->status:
 * DELIVERY_PERMFAIL for an address that is not a safe mailbox name,
 * DELIVERY_TEMPFAIL for I/O errors (disk full, quota), DELIVERY_OK once
 * the file is durable in new/ (or was found there or in cur/).
 */
enum delivery_status maildir_deliver_one(const char *data_dir,
    const char *address, bool junk, const struct maildir_copy *copy,
    const char *prepend, int msg_fd, uint64_t msg_size,
    struct delivery_result *res);

#endif
