/* SPDX-License-Identifier: ISC */
/*
 * Remote delivery over SMTP, asynchronous, on the queue runner's event
 * base (DESIGN.md §6 step 5). The runner hands over a job: one message and
 * the indices of its remote recipients. They are grouped by destination:
 * the recipient's domain (MX delivery) or the single relayhost (smarthost
 * delivery, [delivery] relayhost). Each destination has a FIFO of waiting
 * units (one message's recipients for that destination, always sent in
 * one transaction; recipients an alias was expanded to form a unit per
 * alias, whose copy carries "Delivered-To: <alias>") and at most
 * REMOTE_DEST_CONN_MAX connections;
 * REMOTE_CONN_MAX connections exist in all. A connection that finishes a
 * unit takes the next waiting unit of its destination, so several
 * messages to one domain reuse one connection.
 *
 * MX delivery: MX lookup (dns.h), route by smtpc_route (preference order,
 * random among equals, implicit MX, RFC 7505 null MX -> permanent
 * "556 5.1.10"), then AAAA and A of each host in order, one connection
 * attempt per address on [delivery] mx_port until one server takes the
 * session; STARTTLS is opportunistic (the certificate is only recorded;
 * a failed handshake is retried once in clear, as RFC 7435 allows).
 * Relayhost delivery: smtps:// (implicit TLS, port 465 by default) or
 * smtp:// (STARTTLS required, 587), certificate verified against the
 * system store plus relayhost_ca, AUTH PLAIN with the user:password line
 * of relayhost_credentials; any TLS or verification failure defers, mail
 * never goes to the relayhost in clear.
 *
 * Loops (msg/hops.h): before anything is sent, a message with more
 * Received fields than [server] max_hops, or a recipient whose alias the
 * message already names in a Delivered-To field, is refused with a
 * permanent "554 5.4.6" result (the runner bounces it).
 *
 * Results: every recipient of a job gets exactly one rcpt call (unless
 * the job is stopped or cancelled), then end runs once; all from the
 * event loop, never inside start(). Replies in results are the server's
 * (untrusted: escape before logging) or a local reason, as "CODE X.Y.Z
 * text" when a code is known. DNS and connection trouble are DELIVERY_TEMPFAIL.
 *
 * This module keeps no state on disk: the runner records each result.
 */
#ifndef SEALMAIL_DELIVER_REMOTE_H
#define SEALMAIL_DELIVER_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver/delivery.h"
#include "queue/envelope.h"

/* Connections per destination (domain or relayhost) and in all. */
#define REMOTE_DEST_CONN_MAX	4
#define REMOTE_CONN_MAX		64
/* Messages sent over one connection before it is closed. */
#define REMOTE_CONN_MSGS_MAX	50
/* Addresses tried per connection (all MX hosts together). */
#define REMOTE_ADDRS_MAX	10
/* Deadline of each DNS lookup. */
#define REMOTE_DNS_TIMEOUT_MS	10000
/* Deadline of an MTA-STS policy fetch (RFC 8461 §3.3 suggests a short
 * one: the sender waits for it). */
#define REMOTE_STS_FETCH_TIMEOUT_MS	30000
/* TLS results are written to the store at most this many seconds after
 * the session (in one transaction with the others of that interval). */
#define REMOTE_RPT_FLUSH_S	2

/* The method (delivery.h), "smtp": setup->conf is required (borrowed for
 * the instance's life: [server] hostname and max_hops, [delivery]
 * relayhost, relayhost_credentials (read by new), relayhost_ca, mx_port,
 * [dns], [policy]), setup->base too; the rest is unused. Each result
 * carries its attempt (relay, TLS, policy: "none" when no server was
 * reached). A job split over several destinations is stopped between
 * them: a unit waiting for a connection is not begun, one on a connection
 * finishes. Cancelling a job whose unit a shared connection is sending
 * closes that connection; the other units it would have carried wait for
 * another. free() abandons every job (connections closed without QUIT,
 * lookups cancelled): safe because the runner records state only from
 * results, so an abandoned recipient stays pending. A callback may stop or
 * cancel other jobs, and stop its own, never cancel its own. */
extern const struct delivery_ops remote_delivery_ops;

#endif
