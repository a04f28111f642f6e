/* SPDX-License-Identifier: ISC */
/*
 * Local delivery over LMTP (RFC 2033), to Dovecot or any LMTP server, on a
 * unix socket ("unix:/run/dovecot/lmtp") or TCP ("HOST:PORT",
 * "[v6addr]:PORT"). One session per job: LHLO, then one transaction per
 * recipient: MAIL FROM (with SMTPUTF8 and BODY=8BITMIME when the envelope
 * needs them and the server advertises them), RCPT TO, DATA with
 * "Delivered-To: recipient" (each copy names its own recipient, for loop
 * detection: msg/hops.h), the prepend block and the message dot-stuffed
 * with CRLF line ends, and its reply (RFC 2033 §4.2); QUIT. Return-Path is
 * left to the LMTP server, which makes the final delivery (RFC 5321
 * §4.4; Dovecot adds it).
 *
 * The server's replies are untrusted: every line is bounded by
 * LIMIT_REPLY_LINE, a multi-line reply by a line count, and every
 * operation by job->timeout (blocking sockets with SO_RCVTIMEO/SO_SNDTIMEO
 * plus a deadline per reply, so a server that trickles bytes cannot hold
 * the queue runner). Reply texts reach the caller in delivery_result.reply
 * and must be escaped before logging.
 */
#ifndef SEALMAIL_DELIVER_LMTP_H
#define SEALMAIL_DELIVER_LMTP_H

#include "deliver/delivery.h"

/* name "lmtp"; uses job->target, job->hostname, job->timeout. */
extern const struct delivery_ops lmtp_delivery_ops;

#endif
