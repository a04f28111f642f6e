/* SPDX-License-Identifier: ISC */
/*
 * Delivery status notifications for failed recipients (RFC 3464 on top of
 * RFC 6522's multipart/report, with the SMTP rules of RFC 3461 §6): the
 * queue runner calls bounce_enqueue() once a message has recipients in
 * state FAILED, and a new message from the null sender to the original
 * sender is committed to the spool like any other. The runner then routes
 * it (local domain: local delivery; else remote).
 *
 * Inputs: the envelope is trusted structure but holds untrusted text (the
 * sender, ORCPT and ENVID came from an SMTP client, last_reply from a
 * remote server); everything copied into the report is made single-line
 * printable text first, so no field can be split or injected. The original
 * message is read from the spool and only copied (line ends made CRLF),
 * bounded as described below.
 *
 * The report:
 *  - top header: From: Mail Delivery System <MAILER-DAEMON@HOSTNAME>,
 *    To: <sender>, Subject, Date, Message-ID <NEWQID@HOSTNAME>,
 *    Auto-Submitted: auto-replied (RFC 3834 §5), MIME-Version,
 *    Content-Type: multipart/report; report-type=delivery-status;
 *  - part 1, text/plain: which recipients failed and why;
 *  - part 2, message/delivery-status (message/global-delivery-status when
 *    the original was SMTPUTF8, RFC 6533): Reporting-MTA, Original-Envelope-
 *    Id (ENVID, xtext-decoded), Arrival-Date; per recipient Original-
 *    Recipient (only with ORCPT), Final-Recipient, Action: failed, Status,
 *    Remote-MTA (when known, see below), Diagnostic-Code, Last-Attempt-Date;
 *  - part 3, the original: message/rfc822 (message/global) for RET=FULL,
 *    and by default when the message is at most BOUNCE_FULL_MAX bytes;
 *    text/rfc822-headers (message/global-headers) for RET=HDRS, for
 *    REQUIRETLS messages whatever RET says (RFC 8689 §5), for larger
 *    messages, for BINARYMIME ones (which no 7bit/8bit body part may
 *    carry) and when the full message would push the report past
 *    [server] max_message_size. The header section returned is capped at
 *    LIMIT_HEADER_SECTION bytes (cut at a line end).
 *
 * Status: the enhanced code that follows the reply code in last_reply
 * (RFC 3463; its class made to agree with the reply code), else one that
 * starts last_reply, else 5.0.0 for a 5xx reply, 4.0.0 for a 4xx one
 * (RFC 3461 §6.3 (g)), 4.4.7 for an expiry without a code, 5.0.0 when
 * there is no code at all.
 *
 * last_reply conventions understood (all optional, in this order):
 *	"expired after N attempts; last reply: " REST
 *		(written by the runner when queue_lifetime ends)
 *	"host NAME[ADDR] said: " REPLY   or   "host NAME said: " REPLY
 *		(a remote server's answer: gives Remote-MTA: dns; NAME)
 *	"CODE[ X.Y.Z] text"
 *		(an SMTP reply: Diagnostic-Code: smtp; CODE ...)
 * Anything else is a local reason: Diagnostic-Code: x-sealmail; TEXT.
 */
#ifndef SEALMAIL_QUEUE_BOUNCE_H
#define SEALMAIL_QUEUE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "queue/envelope.h"

/* Messages up to this size are returned whole unless RET=HDRS. */
#define BOUNCE_FULL_MAX		(256 * 1024)

/*
 * Queue a DSN for the recipients failed[0..nfailed) of env (indices into
 * env->rcpts; each must be in state ENVELOPE_RCPT_FAILED with the reason in
 * last_reply; others are skipped with a warning). The original message is
 * read from conf->data_dir's spool (queue/ENV->ID.msg, after env->prepend).
 *
 * Nothing is queued (and 0 is returned, with a log line) when env's sender
 * is the null reverse-path (never bounce a bounce, RFC 3461 §6.2 / RFC 5321
 * §4.5.5) or when every listed recipient asked for no failure report
 * (NOTIFY=NEVER, or NOTIFY without FAILURE: RFC 3461 §4.1).
 *
 * The DSN's envelope has the null sender, NOTIFY=NEVER, and REQUIRETLS
 * when the original had it (RFC 8689 §5).
 *
 * On success the DSN is committed durably under a new queue id, the runner
 * is nudged ("new ID") and one line is logged:
 *	qid=NEWID bounce of=ORIGQID to=<sender> rcpts=N
 * Returns -1 with a one-line reason in err (size errlen) if the spool could
 * not be read or written; nothing is left behind then, and the caller may
 * retry later. Synchronous (disk only); safe to call from a libevent
 * callback.
 */
int bounce_enqueue(const struct conf *conf, const struct envelope *env,
    const size_t *failed, size_t nfailed, char *err, size_t errlen);

/*
 * The RFC 3463 status for a failed recipient whose last_reply is `reply`
 * (may be NULL), by the rules above; writes "X.Y.Z" into out (size >= 12).
 * Exposed for tests and for `queue show`.
 */
void bounce_status(const char *reply, char *out, size_t outlen);

#endif
