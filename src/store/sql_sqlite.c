/* SPDX-License-Identifier: ISC */
/*
 * The SQLite driver behind sql.h: the only file of sealmail that calls
 * sqlite3_*. A connection keeps its statements on a list so that
 * sql_close can finalize what the caller left open.
 */
#include "store/sql.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/sql_driver.h"

/* How long a statement waits for another process's lock before it fails. */
#define SQL_SQLITE_BUSY_MS	5000

struct sql_lite {
	struct sql	 base;		/* first: sql.h's handle */
	sqlite3		*db;
	struct sql_lite_stmt *stmts;	/* every open statement */
	char		 err[512];
};

struct sql_lite_stmt {
	struct sql_stmt	 base;		/* first: sql.h's statement */
	struct sql_lite	*sql;
	sqlite3_stmt	*st;
	struct sql_lite_stmt *prev, *next;
};

static const struct sql_driver sql_lite_driver;

/* The driver's own structures behind sql.h's handles. */
#define LITE(s)		((struct sql_lite *)(void *)(s))
#define CLITE(s)	((const struct sql_lite *)(const void *)(s))
#define LST(s)		((struct sql_lite_stmt *)(void *)(s))
#define CLST(s)		((const struct sql_lite_stmt *)(const void *)(s))

/* Map an SQLite result code, recording the message of a failure. */
static enum sql_rc
sql_sqlite_rc(struct sql_lite *sql, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return SQL_OK;
	case SQLITE_ROW:
		return SQL_ROW;
	case SQLITE_DONE:
		return SQL_DONE;
	case SQLITE_CONSTRAINT:
		snprintf(sql->err, sizeof(sql->err), "%s",
		    sqlite3_errmsg(sql->db));
		return SQL_CONSTRAINT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		/* The busy timeout has run out: another process holds the
		 * lock far longer than any of ours should. */
		snprintf(sql->err, sizeof(sql->err), "%s (still locked by "
		    "another connection after %d s)", sqlite3_errmsg(sql->db),
		    SQL_SQLITE_BUSY_MS / 1000);
		return SQL_ERROR;
	default:
		snprintf(sql->err, sizeof(sql->err), "%s",
		    sqlite3_errmsg(sql->db));
		return SQL_ERROR;
	}
}

/*
 * Connection settings. Defensive mode and an untrusted schema stop a file
 * tampered with by the daemon user from running triggers or views with
 * side effects (or writing the schema directly) when root opens it.
 */
static int
sql_sqlite_configure(sqlite3 *db)
{
	if (sqlite3_extended_result_codes(db, 1) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, SQL_SQLITE_BUSY_MS) != SQLITE_OK)
		return -1;
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) !=
	    SQLITE_OK)
		return -1;
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) !=
	    SQLITE_OK)
		return -1;
#endif
	return 0;
}

struct sql *
sql_open_sqlite(const char *path, int flags, char *err, size_t errlen)
{
	struct sql_lite *sql;
	int oflags = SQLITE_OPEN_NOMUTEX;

#ifdef SQLITE_OPEN_NOFOLLOW
	oflags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (flags & SQL_OPEN_READONLY)
		oflags |= SQLITE_OPEN_READONLY;
	else
		oflags |= SQLITE_OPEN_READWRITE;
	if (flags & SQL_OPEN_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	sql = xcalloc(1, sizeof(*sql));
	sql->base.drv = &sql_lite_driver;
	if (sqlite3_open_v2(path, &sql->db, oflags, NULL) != SQLITE_OK ||
	    sql_sqlite_configure(sql->db) == -1) {
		snprintf(err, errlen, "%s: %s", path, sql->db != NULL ?
		    sqlite3_errmsg(sql->db) : "out of memory");
		sqlite3_close(sql->db);
		free(sql);
		return NULL;
	}
	return &sql->base;
}

static void lite_finalize(struct sql_stmt *st);

static void
lite_close(struct sql *base)
{
	struct sql_lite *sql = LITE(base);

	while (sql->stmts != NULL)
		lite_finalize(&sql->stmts->base);
	sqlite3_close(sql->db);
	free(sql);
}

static const char *
lite_errmsg(const struct sql *sql)
{
	return CLITE(sql)->err;
}

static enum sql_rc
lite_exec(struct sql *base, const char *text)
{
	struct sql_lite *sql = LITE(base);

	return sql_sqlite_rc(sql, sqlite3_exec(sql->db, text, NULL, NULL,
	    NULL));
}

static enum sql_rc
lite_begin(struct sql *sql, bool write)
{
	return lite_exec(sql, write ? "BEGIN IMMEDIATE" : "BEGIN");
}

static enum sql_rc
lite_commit(struct sql *sql)
{
	return lite_exec(sql, "COMMIT");
}

static void
lite_rollback(struct sql *base)
{
	struct sql_lite *sql = LITE(base);

	/* After a failed COMMIT the transaction may still be open; without
	 * one there is nothing to do (and no error to record). */
	if (!sqlite3_get_autocommit(sql->db))
		(void)sqlite3_exec(sql->db, "ROLLBACK", NULL, NULL, NULL);
}

static struct sql_stmt *
lite_prepare(struct sql *base, const char *text)
{
	struct sql_lite *sql = LITE(base);
	struct sql_lite_stmt *st;
	sqlite3_stmt *s = NULL;
	int rc;

	/* Persistent: the store keeps most statements for the life of the
	 * connection. */
	rc = sqlite3_prepare_v3(sql->db, text, -1, SQLITE_PREPARE_PERSISTENT,
	    &s, NULL);
	if (rc != SQLITE_OK) {
		(void)sql_sqlite_rc(sql, rc);
		return NULL;
	}
	if (s == NULL) {
		snprintf(sql->err, sizeof(sql->err), "empty statement");
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base.drv = &sql_lite_driver;
	st->sql = sql;
	st->st = s;
	st->next = sql->stmts;
	if (sql->stmts != NULL)
		sql->stmts->prev = st;
	sql->stmts = st;
	return &st->base;
}

static void
lite_finalize(struct sql_stmt *base)
{
	struct sql_lite_stmt *st = LST(base);

	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		st->sql->stmts = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	sqlite3_finalize(st->st);
	free(st);
}

/* A bind's result; SQLITE_RANGE and SQLITE_NOMEM are the failures. */
static enum sql_rc
sql_bind_rc(struct sql_lite_stmt *st, int rc)
{
	return rc == SQLITE_OK ? SQL_OK : (sql_sqlite_rc(st->sql, rc),
	    SQL_ERROR);
}

static enum sql_rc
lite_bind_null(struct sql_stmt *st, int idx)
{
	return sql_bind_rc(LST(st), sqlite3_bind_null(LST(st)->st, idx));
}

static enum sql_rc
lite_bind_text(struct sql_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		return lite_bind_null(st, idx);
	return sql_bind_rc(LST(st), sqlite3_bind_text(LST(st)->st, idx, s, -1,
	    SQLITE_TRANSIENT));
}

static enum sql_rc
lite_bind_int64(struct sql_stmt *st, int idx, int64_t v)
{
	return sql_bind_rc(LST(st), sqlite3_bind_int64(LST(st)->st, idx,
	    (sqlite3_int64)v));
}

static enum sql_rc
lite_bind_blob(struct sql_stmt *st, int idx, const void *p, size_t len)
{
	if (p == NULL && len == 0)
		p = "";		/* an empty blob, not NULL */
	return sql_bind_rc(LST(st), sqlite3_bind_blob64(LST(st)->st, idx, p,
	    (sqlite3_uint64)len, SQLITE_TRANSIENT));
}

static int
lite_bind_count(const struct sql_stmt *st)
{
	return sqlite3_bind_parameter_count(CLST(st)->st);
}

static enum sql_rc
lite_step(struct sql_stmt *st)
{
	return sql_sqlite_rc(LST(st)->sql, sqlite3_step(LST(st)->st));
}

static bool
lite_column_null(struct sql_stmt *st, int col)
{
	return sqlite3_column_type(LST(st)->st, col) == SQLITE_NULL;
}

static const char *
lite_column_text(struct sql_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(LST(st)->st, col);
}

static int64_t
lite_column_int64(struct sql_stmt *st, int col)
{
	return sqlite3_column_int64(LST(st)->st, col);
}

static const void *
lite_column_blob(struct sql_stmt *st, int col, size_t *len)
{
	/* Blob first, then its size: the order SQLite documents. */
	const void *p = sqlite3_column_blob(LST(st)->st, col);
	int n = sqlite3_column_bytes(LST(st)->st, col);

	*len = p != NULL && n > 0 ? (size_t)n : 0;
	return *len > 0 ? p : "";
}

static void
lite_reset(struct sql_stmt *st)
{
	/* sqlite3_reset repeats the last step's error, reported already. */
	(void)sqlite3_reset(LST(st)->st);
	(void)sqlite3_clear_bindings(LST(st)->st);
}

static int64_t
lite_changes(const struct sql *sql)
{
	return sqlite3_changes(CLITE(sql)->db);
}

static void
lite_release_memory(struct sql *sql)
{
	(void)sqlite3_db_release_memory(LITE(sql)->db);
}

static const struct sql_driver sql_lite_driver = {
	.backend = SQL_SQLITE,
	.close = lite_close,
	.errmsg = lite_errmsg,
	.exec = lite_exec,
	.begin = lite_begin,
	.commit = lite_commit,
	.rollback = lite_rollback,
	.prepare = lite_prepare,
	.finalize = lite_finalize,
	.bind_text = lite_bind_text,
	.bind_int64 = lite_bind_int64,
	.bind_blob = lite_bind_blob,
	.bind_null = lite_bind_null,
	.bind_count = lite_bind_count,
	.step = lite_step,
	.column_null = lite_column_null,
	.column_text = lite_column_text,
	.column_int64 = lite_column_int64,
	.column_blob = lite_column_blob,
	.reset = lite_reset,
	.changes = lite_changes,
	.release_memory = lite_release_memory,
};
