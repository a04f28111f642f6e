/* SPDX-License-Identifier: ISC */
/*
 * The domains our users have written to (table correspondents), for the
 * lookalike check (msg/lookalike.h): the queue runner counts each
 * recipient delivered to a remote domain, the SMTP workers read the most
 * written-to domains into their protected set.
 */
#ifndef SEALMAIL_STORE_DB_CORRESPONDENT_H
#define SEALMAIL_STORE_DB_CORRESPONDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"

/* Domains a worker protects at most: the most written-to first. */
#define DB_CORRESPONDENTS_MAX	5000

/*
 * Count n deliveries to each of the ndomains domains (lower case, as the
 * envelope carries them) at time now, in one transaction.
 */
enum db_result db_correspondent_add(struct db *db,
    const char *const *domains, const unsigned *n, size_t ndomains,
    long long now);

/* Called for each domain; false stops the walk. */
typedef bool db_correspondent_cb(const char *domain, long long count,
    long long first_seen, void *arg);

/* The domains, most written-to first, at most DB_CORRESPONDENTS_MAX. */
enum db_result db_correspondent_each(struct db *db, db_correspondent_cb *cb,
    void *arg);

/*
 * A lookalike sender domain was flagged at now: remember the first time
 * (a domain registered for a phishing run is new; one flagged for months
 * is less likely to be). *first_seen: the first time, now included.
 */
enum db_result db_lookalike_seen(struct db *db, const char *domain,
    long long now, long long *first_seen);

#endif
