/* SPDX-License-Identifier: ISC */
/*
 * The schema of a PostgreSQL store: versioned migrations that mirror the
 * final SQLite schema (db_schema.c), plus what a store shared by several
 * nodes needs (a change counter, the password hashes in a table of their
 * own). docs/postgresql.md says how to set up the database and its roles.
 */
#ifndef SEALMAIL_STORE_DB_SCHEMA_PG_H
#define SEALMAIL_STORE_DB_SCHEMA_PG_H

#include <stddef.h>

struct sql;

/* The version the migrations of this sealmail reach. */
int db_schema_pg_latest(void);

/*
 * Bring the database of sql (a PostgreSQL connection, not in a
 * transaction) to the latest version: each missing step in a transaction
 * of its own, under an advisory lock, so nodes migrating at once take
 * turns and each step runs once. 0, or -1 with a one-line message in err
 * (also when the database was made by a newer sealmail, or is not UTF8
 * with the C collation and ctype, which the store's comparisons rely on).
 * *from, if not NULL, is the version found.
 */
int db_schema_pg_migrate(struct sql *sql, int *from, char *err,
    size_t errlen);

/* The version of the database (0 if it has none yet), without changing
 * anything: what `serve` checks. 0, or -1 with the message in err. */
int db_schema_pg_version(struct sql *sql, int *version, char *err,
    size_t errlen);

#endif
