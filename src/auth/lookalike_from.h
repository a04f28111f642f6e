/* SPDX-License-Identifier: ISC */
/*
 * The lookalike check of a whole message (msg/lookalike.h compares one
 * From: address): the first From: field of a header section, each of its
 * addresses with its DMARC result, and its display text; shared by the mx
 * listener (smtpd/smtpd_lookalike.c) and `check-auth`. Pure: the header
 * section is untrusted and only read.
 */
#ifndef SEALMAIL_AUTH_LOOKALIKE_FROM_H
#define SEALMAIL_AUTH_LOOKALIKE_FROM_H

#include <stdbool.h>
#include <stddef.h>

#include "msg/lookalike.h"

struct conf;
struct db;
struct dmarc_verdict;

/*
 * Check hdrs (len bytes) against set. v: the DMARC verdict, or NULL before
 * it is known (then no domain counts as passing). only_sure: report only a
 * hit no DMARC result can undo (its From: domain is not protected). True
 * and *hit on a hit.
 */
bool lookalike_from_message(const struct lookalike_set *set,
    const char *hdrs, size_t len, const struct dmarc_verdict *v,
    bool only_sure, struct lookalike_hit *hit);

/*
 * The protected set of conf (local domains, [lookalike] protect) and of
 * the store's correspondents when db is not NULL (an error reading them is
 * logged; the set is still made). NULL when ICU has no spoof checker
 * (logged).
 */
struct lookalike_set *lookalike_protected_set(const struct conf *conf,
    struct db *db);

/* The Sealmail-Warning field of hit (CRLF, folded), appended to out, with
 * "first-seen=today" when new_today (the sender domain was first flagged
 * less than 24 hours ago); -1 if out is full. */
struct buf;
int lookalike_from_field(const struct lookalike_hit *hit, bool new_today,
    struct buf *out);

#endif
