/* SPDX-License-Identifier: ISC */
/*
 * Mail loop detection from a message's trace fields, and the fields that
 * make it work. Two signs of a loop:
 *  - too many Received fields (RFC 5321 §6.3: "simply counting the number
 *    of Received header fields ... SHOULD use a large rejection threshold,
 *    normally at least 100");
 *  - a Delivered-To field naming the address we are about to forward for:
 *    the message has been here before for the same address (Postfix and
 *    qmail's rule), which stops an alias loop after one round.
 * Pure: the header sections are untrusted bytes (see rfc5322_headers.h for
 * how fields are split; its bounds apply), nothing is allocated beyond
 * one bounded buffer per call.
 */
#ifndef SEALMAIL_MSG_HOPS_H
#define SEALMAIL_MSG_HOPS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * The number of Received fields in the header section of msg (len bytes:
 * a header block, or a whole message whose body is not looked at),
 * counted up to limit: the count stops there, so the work past a loop's
 * threshold is not spent.
 */
size_t hops_received(const void *msg, size_t len, size_t limit);

/*
 * Received fields in two header blocks taken together (our prepend block,
 * then the message), counted up to max + 1; true if there are more than
 * max. *count (may be NULL) gets the bounded count.
 */
bool hops_too_many(const char *prepend, size_t plen, const void *msg,
    size_t len, unsigned max, size_t *count);

/*
 * True if a Delivered-To field of the header section of msg names
 * address: its value, unfolded and trimmed, with or without angle
 * brackets, equal to address ignoring ASCII case. Values longer than a
 * path (RFC 5321 §4.5.3.1.3) never match.
 */
bool hops_delivered_to(const void *msg, size_t len, const char *address);

/*
 * Append "Delivered-To: rcpt" and, when return_path is not NULL,
 * "Return-Path: <return_path>" before it (RFC 5321 §4.4: "" is the null
 * path "<>"), each with CRLF. -1 (out unchanged) if an address holds a
 * control byte, which would break the field, or out is full.
 */
int hops_trace_fields(struct buf *out, const char *return_path,
    const char *rcpt);

#endif
