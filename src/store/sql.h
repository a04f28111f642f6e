/* SPDX-License-Identifier: ISC */
/*
 * The SQL driver under the store: one small interface that the db_*.c files
 * speak, with a SQLite driver (sql_sqlite.c) and a PostgreSQL one (sql_pg.c,
 * libpq). Nothing outside src/store includes this header. Calls block: the
 * store decides where it may run them (never on an event loop for a
 * backend that talks to the network).
 */
#ifndef SEALMAIL_STORE_SQL_H
#define SEALMAIL_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sql_backend {
	SQL_SQLITE,
	SQL_POSTGRESQL,
};

/*
 * What sql_step and the other calls return. SQL_UNAVAILABLE means the
 * server cannot be reached or the connection broke (PostgreSQL): the
 * caller answers with a temporary failure, never a permanent one, and may
 * retry later on the same handle (the driver reconnects). SQL_CONSTRAINT is
 * a unique or check constraint that refused a row.
 */
enum sql_rc {
	SQL_OK = 0,
	SQL_ROW,
	SQL_DONE,
	SQL_CONSTRAINT,
	SQL_UNAVAILABLE,
	SQL_ERROR,
};

struct sql;		/* a connection; owns its statements' driver state */
struct sql_stmt;	/* a prepared statement of one connection */

/* Flags of sql_open_sqlite. */
#define SQL_OPEN_CREATE		0x1	/* create the file if missing */
#define SQL_OPEN_READONLY	0x2

/* Open the SQLite file at path (never following a symlink at the last
 * component); NULL with a one-line message in err. The caller owns the
 * handle and closes it with sql_close. */
struct sql *sql_open_sqlite(const char *path, int flags, char *err,
    size_t errlen);

/* Connect to PostgreSQL with the libpq connection string dsn; password, if
 * not NULL, is used instead of one in the DSN (it comes from a file the
 * config names, never from the config itself). NULL with a one-line
 * message in err if the first connection fails. The handle reconnects on
 * its own after a broken connection (the call that met the break returns
 * SQL_UNAVAILABLE). */
struct sql *sql_open_pg(const char *dsn, const char *password, char *err,
    size_t errlen);
/* sql_open_pg without connecting, so that a process can hold a handle
 * made while the server is away: its first call connects; if that fails
 * the call returns SQL_UNAVAILABLE and later ones try again with the
 * backoff of a broken connection. NULL only for a connection string
 * libpq cannot parse. */
struct sql *sql_open_pg_later(const char *dsn, const char *password,
    char *err, size_t errlen);

/* Close the connection and finalize every statement still open on it. */
void sql_close(struct sql *sql);

enum sql_backend sql_backend(const struct sql *sql);

/* The message of the last failed call on this connection ("" if none);
 * valid until the next call. */
const char *sql_errmsg(const struct sql *sql);

/* Run text, which binds no parameters and returns no rows (several
 * statements separated by ';' are allowed). SQL_OK or an error code. */
enum sql_rc sql_exec(struct sql *sql, const char *text);

/*
 * Transactions. sql_begin(write=true) takes the write lock at once (SQLite
 * BEGIN IMMEDIATE; PostgreSQL BEGIN), so two writers serialize at the start
 * rather than deadlock at the first write. sql_rollback is harmless
 * without an open transaction.
 */
enum sql_rc sql_begin(struct sql *sql, bool write);
enum sql_rc sql_commit(struct sql *sql);
void sql_rollback(struct sql *sql);

/*
 * Prepare text, in which parameters are written ?1, ?2, ... (the
 * PostgreSQL driver turns them into $1, $2, ...; a '?' inside a quoted
 * literal is left alone). Write the SQL both backends understand:
 * INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE (not INSERT OR),
 * RETURNING for generated ids, no rowid. NULL with the error set. The
 * caller finalizes the statement (or leaves it to sql_close).
 */
struct sql_stmt *sql_prepare(struct sql *sql, const char *text);
void sql_finalize(struct sql_stmt *st);

/*
 * Bind parameter idx (1-based). Text and blobs are copied by the driver,
 * so the caller's buffer need not outlive the call. s == NULL binds NULL.
 * SQL_OK or SQL_ERROR (index out of range, out of memory).
 */
enum sql_rc sql_bind_text(struct sql_stmt *st, int idx, const char *s);
enum sql_rc sql_bind_int64(struct sql_stmt *st, int idx, int64_t v);
enum sql_rc sql_bind_blob(struct sql_stmt *st, int idx, const void *p,
    size_t len);
enum sql_rc sql_bind_null(struct sql_stmt *st, int idx);
/* How many parameters the statement has (the highest ?N). */
int sql_bind_count(const struct sql_stmt *st);

/*
 * Run the statement or advance to its next row: SQL_ROW with a row to
 * read, SQL_DONE when there are no (more) rows, or an error code (the
 * message in sql_errmsg of its connection).
 */
enum sql_rc sql_step(struct sql_stmt *st);

/* Columns of the current row (0-based). Text and blobs are valid until
 * the next step, reset or finalize of st. A NULL value reads as NULL text,
 * 0 and an empty blob. */
bool sql_column_null(struct sql_stmt *st, int col);
const char *sql_column_text(struct sql_stmt *st, int col);
int64_t sql_column_int64(struct sql_stmt *st, int col);
const void *sql_column_blob(struct sql_stmt *st, int col, size_t *len);

/* Make st ready to run again: ends its current run, clears its bindings.
 * Always call it (or finalize) when done reading: an SQLite statement left
 * running holds a read lock that blocks writers in other processes. */
void sql_reset(struct sql_stmt *st);

/* Rows changed by the connection's last INSERT, UPDATE or DELETE. */
int64_t sql_changes(const struct sql *sql);

/* Give back what memory the driver can (SQLite's page cache); a no-op
 * where there is nothing to give. */
void sql_release_memory(struct sql *sql);

#endif
