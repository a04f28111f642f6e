/* SPDX-License-Identifier: ISC */
/*
 * A recipient cache its owner keeps and invalidates itself (the SMTP
 * worker on a PostgreSQL store, which drops it when the store's change
 * counter moves): normalized address -> db_rcpt_expand's answer.
 */
#ifndef SEALMAIL_STORE_DB_RCACHE_H
#define SEALMAIL_STORE_DB_RCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"

struct db_rcache;

struct db_rcache *db_rcache_new(void);
/* NULL: no-op. */
void db_rcache_delete(struct db_rcache *c);
/* Forget every entry. */
void db_rcache_clear(struct db_rcache *c);
/* The answer for address (normalized, db_address_normalize): true with
 * *r and, for DB_OK, a copy of the expansion the caller owns
 * (db_strv_free). */
bool db_rcache_find(const struct db_rcache *c, const char *address,
    enum db_result *r, char ***out, size_t *n);
/* Remember an answer (DB_OK or DB_NOTFOUND; others are not kept). */
void db_rcache_add(struct db_rcache *c, const char *address,
    enum db_result r, char *const *v, size_t n);

#endif
