/* SPDX-License-Identifier: ISC */
/*
 * Local delivery over LMTP (RFC 2033), to Dovecot or any LMTP server, on a
 * unix socket ("unix:/run/dovecot/lmtp") or TCP ("HOST:PORT",
 * "[v6addr]:PORT"), asynchronous on the caller's loop (deliver/delivery.h).
 * The protocol is the smtpc engine's (smtpc/smtpc_session.h in LMTP mode:
 * its one reply parser and one dot-stuffer, its timeouts); this module
 * turns a job into transactions. One session per job: LHLO, then one
 * transaction per recipient: MAIL FROM (with SMTPUTF8 and BODY=8BITMIME
 * when the envelope needs them and the server advertises them; without
 * them the message goes anyway, as to a local store it must), RCPT TO,
 * DATA with "Delivered-To: recipient" (each copy names its own recipient,
 * for loop detection: msg/hops.h), the prepend block and the message
 * dot-stuffed with CRLF line ends (a bare CR or LF ends a line too), and
 * its reply (RFC 2033 §4.2); QUIT. Return-Path is left to the LMTP
 * server, which makes the final delivery (RFC 5321 §4.4; Dovecot adds
 * it). At most LMTP_CONN_MAX sessions run at once; further jobs wait
 * their turn.
 *
 * The server's replies are untrusted: lines are bounded by
 * LIMIT_REPLY_LINE, a reply by SMTPC_REPLY_MAX_LINES, and every wait
 * (connect, each reply, each stall in DATA) by setup->timeout, so a
 * server that stalls or trickles bytes holds one job, never the loop.
 * A refused greeting or LHLO, and any connection trouble, defer the
 * recipients not yet answered (never a reason to bounce local mail).
 * Reply texts reach the caller in delivery_result.reply and must be
 * escaped before logging.
 *
 * A host name in a TCP target is resolved when the method is made (the
 * queue runner's start), not per delivery.
 */
#ifndef SEALMAIL_DELIVER_LMTP_H
#define SEALMAIL_DELIVER_LMTP_H

#include "deliver/delivery.h"

/* LMTP sessions at once (the blocking client had as many threads). */
#define LMTP_CONN_MAX	4
/* Addresses of a TCP target tried in turn when a connect fails. */
#define LMTP_ADDRS_MAX	8

/* name "lmtp"; uses setup->base, target, hostname and timeout. */
extern const struct delivery_ops lmtp_delivery_ops;

#endif
