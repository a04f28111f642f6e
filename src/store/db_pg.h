/* SPDX-License-Identifier: ISC */
/*
 * What the CLI does to a PostgreSQL store (`sealmail store migrate` and
 * `store copy`): read its password file, bring its schema to this
 * sealmail's version, and copy a single node's SQLite store into it.
 */
#ifndef SEALMAIL_STORE_DB_PG_H
#define SEALMAIL_STORE_DB_PG_H

#include <stddef.h>
#include <stdio.h>

/* The longest password a postgresql_password_file may hold. */
#define DB_PG_PASSWORD_MAX	1024

/* The password in the file at path (its first line, without the line
 * end) into out. 0, or -1 with a one-line message in err (unreadable,
 * empty, too long, or holding a NUL). */
int db_pg_password(const char *path, char *out, size_t outlen, char *err,
    size_t errlen);

/* Connect to dsn (password may be NULL) and migrate its schema to the
 * latest version; *from and *to are the versions before and after. 0, or
 * -1 with a one-line message in err. */
int db_pg_migrate(const char *dsn, const char *password, int *from,
    int *to, char *err, size_t errlen);

/*
 * Copy the SQLite store at store_path (at this sealmail's latest schema
 * version: older stores are upgraded first by `store migrate` or serve)
 * and, when passwd_path names a file that exists, the password file, into
 * the PostgreSQL database of dsn: migrated first, then every table in
 * one transaction, each of which must be empty there (a copy never mixes
 * into a store in use), the id sequences set past the copied ids. One
 * line per table goes to out. 0, or -1 with a one-line message in err
 * (nothing is copied then).
 */
int db_pg_copy(const char *store_path, const char *passwd_path,
    const char *dsn, const char *password, FILE *out, char *err,
    size_t errlen);

#endif
