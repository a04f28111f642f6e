/* SPDX-License-Identifier: ISC */
/* PostgreSQL store administration: password file, migrate, copy (see
 * db_pg.h). The copy reads the SQLite files' own schema for the table and
 * column names, so a table that a later step adds is copied without
 * change here; a name that is not a plain identifier is refused (the
 * files are the daemon user's, this runs as root). */
#include "store/db_pg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "store/db_internal.h"
#include "store/db_schema_pg.h"
#include "store/sql.h"

/* Columns of one table, at most. */
#define DB_PG_COLS_MAX	48
/* Bytes of an SQL statement the copy builds. */
#define DB_PG_SQL_MAX	4096

int
db_pg_password(const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	FILE *fp = fopen(path, "re");
	size_t n;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(out, (int)outlen, fp) == NULL) {
		snprintf(err, errlen, "%s: empty", path);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (n == outlen - 1) {
		explicit_bzero(out, outlen);
		snprintf(err, errlen, "%s: the password is longer than %zu "
		    "bytes", path, outlen - 2);
		return -1;
	}
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "%s: empty", path);
		return -1;
	}
	return 0;
}

int
db_pg_migrate(const char *dsn, const char *password, int *from, int *to,
    char *err, size_t errlen)
{
	struct sql *sql = sql_open_pg(dsn, password, err, errlen);
	int rc;

	if (sql == NULL)
		return -1;
	rc = db_schema_pg_migrate(sql, from, err, errlen);
	if (rc == 0)
		rc = db_schema_pg_version(sql, to, err, errlen);
	sql_close(sql);
	return rc;
}

/* A table or column name of our own schema: lower-case letters, digits
 * and underscores. */
static bool
db_pg_ident(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_' ||
		    (n > 0 && s[n] >= '0' && s[n] <= '9')))
			return false;
	return n > 0 && n <= 63;
}

enum db_pg_kind { DB_PG_TEXT, DB_PG_INT, DB_PG_BLOB };

struct db_pg_table {
	char		*name;
	size_t		 ncols;
	char		*col[DB_PG_COLS_MAX];
	enum db_pg_kind	 kind[DB_PG_COLS_MAX];
	bool		 has_id;
};

static void
db_pg_table_clear(struct db_pg_table *t)
{
	free(t->name);
	for (size_t i = 0; i < t->ncols; i++)
		free(t->col[i]);
	memset(t, 0, sizeof(*t));
}

/* The columns of t->name in the SQLite file, in their order. */
static int
db_pg_columns(struct sql *src, struct db_pg_table *t, char *err,
    size_t errlen)
{
	struct sql_stmt *st = sql_prepare(src, "SELECT name, upper(type) "
	    "FROM pragma_table_info(?1) ORDER BY cid");
	enum sql_rc rc;

	if (st == NULL || sql_bind_text(st, 1, t->name) != SQL_OK) {
		snprintf(err, errlen, "columns of %s: %s", t->name,
		    sql_errmsg(src));
		sql_finalize(st);
		return -1;
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		const char *name = sql_column_text(st, 0);
		const char *type = sql_column_text(st, 1);

		if (!db_pg_ident(name) || t->ncols == DB_PG_COLS_MAX) {
			snprintf(err, errlen, "table %s: a column name that is "
			    "no plain identifier, or too many columns",
			    t->name);
			sql_finalize(st);
			return -1;
		}
		t->col[t->ncols] = xstrdup(name);
		/* SQLite's affinity rules (§3.1 of its datatype page). */
		t->kind[t->ncols] = type != NULL && strstr(type, "INT") ?
		    DB_PG_INT : type != NULL && strstr(type, "BLOB") ?
		    DB_PG_BLOB : DB_PG_TEXT;
		/* A generated id (an MTA-STS policy's id is text). */
		if (strcmp(name, "id") == 0 && t->kind[t->ncols] == DB_PG_INT)
			t->has_id = true;
		t->ncols++;
	}
	sql_finalize(st);
	if (rc != SQL_DONE || t->ncols == 0) {
		snprintf(err, errlen, "columns of %s: %s", t->name,
		    rc != SQL_DONE ? sql_errmsg(src) : "none");
		return -1;
	}
	return 0;
}

/* Append the strings of parts (NULL-terminated) to buf (of DB_PG_SQL_MAX
 * bytes, *len used); false once they would not fit. */
static bool
db_pg_append(char *buf, size_t *len, const char *const *parts)
{
	for (; *parts != NULL; parts++) {
		size_t n = strlen(*parts);

		if (n >= DB_PG_SQL_MAX - *len)
			return false;
		memcpy(buf + *len, *parts, n + 1);
		*len += n;
	}
	return true;
}

/* The text of the statements the copy of t runs: "SELECT a, b FROM t"
 * and "INSERT INTO t (a, b) VALUES (?1, ?2)"; false if they would not fit
 * (names are at most 63 bytes and DB_PG_COLS_MAX, so they do). */
static bool
db_pg_statements(const struct db_pg_table *t, char *sel, char *ins)
{
	size_t a = 0, b = 0;
	char num[24];
	bool ok;

	ok = db_pg_append(sel, &a, (const char *[]){ "SELECT ", NULL }) &&
	    db_pg_append(ins, &b, (const char *[]){ "INSERT INTO ", t->name,
	    " (", NULL });
	for (size_t i = 0; ok && i < t->ncols; i++) {
		const char *col[] = { i ? ", \"" : "\"", t->col[i], "\"",
		    NULL };

		ok = db_pg_append(sel, &a, col) && db_pg_append(ins, &b, col);
	}
	ok = ok && db_pg_append(sel, &a, (const char *[]){ " FROM ", t->name,
	    NULL }) && db_pg_append(ins, &b, (const char *[]){ ") VALUES (",
	    NULL });
	for (size_t i = 0; ok && i < t->ncols; i++) {
		snprintf(num, sizeof(num), "%s?%zu", i ? ", " : "", i + 1);
		ok = db_pg_append(ins, &b, (const char *[]){ num, NULL });
	}
	return ok && db_pg_append(ins, &b, (const char *[]){ ")", NULL });
}

/* Whether the target table is empty: 1, 0, or -1 with err set. */
static int
db_pg_empty(struct sql *dst, const char *table, char *err, size_t errlen)
{
	char q[128];
	struct sql_stmt *st;
	enum sql_rc rc;

	snprintf(q, sizeof(q), "SELECT 1 FROM %s LIMIT 1", table);
	if ((st = sql_prepare(dst, q)) == NULL) {
		snprintf(err, errlen, "table %s in PostgreSQL: %s", table,
		    sql_errmsg(dst));
		return -1;
	}
	rc = sql_step(st);
	if (rc != SQL_ROW && rc != SQL_DONE)
		snprintf(err, errlen, "table %s in PostgreSQL: %s", table,
		    sql_errmsg(dst));
	sql_finalize(st);
	return rc == SQL_DONE ? 1 : rc == SQL_ROW ? 0 : -1;
}

/* Copy the rows of t from src into dst; *rows is how many. */
static int
db_pg_copy_rows(struct sql *src, struct sql *dst,
    const struct db_pg_table *t, long long *rows, char *err, size_t errlen)
{
	char sel[DB_PG_SQL_MAX], ins[DB_PG_SQL_MAX];
	struct sql_stmt *r = NULL, *w = NULL;
	enum sql_rc rc;
	int ret = -1;

	if (!db_pg_statements(t, sel, ins)) {
		snprintf(err, errlen, "table %s: its statements are too long",
		    t->name);
		return -1;
	}
	if ((r = sql_prepare(src, sel)) == NULL) {
		snprintf(err, errlen, "read %s: %s", t->name, sql_errmsg(src));
		return -1;
	}
	if ((w = sql_prepare(dst, ins)) == NULL) {
		snprintf(err, errlen, "write %s: %s", t->name,
		    sql_errmsg(dst));
		goto out;
	}
	*rows = 0;
	while ((rc = sql_step(r)) == SQL_ROW) {
		enum sql_rc b = SQL_OK;

		for (size_t i = 0; i < t->ncols && b == SQL_OK; i++) {
			int c = (int)i, p = (int)i + 1;
			size_t len;
			const void *blob;

			if (sql_column_null(r, c))
				b = sql_bind_null(w, p);
			else if (t->kind[i] == DB_PG_INT)
				b = sql_bind_int64(w, p,
				    sql_column_int64(r, c));
			else if (t->kind[i] == DB_PG_BLOB) {
				blob = sql_column_blob(r, c, &len);
				b = sql_bind_blob(w, p, blob, len);
			} else
				b = sql_bind_text(w, p, sql_column_text(r, c));
		}
		if (b != SQL_OK || sql_step(w) != SQL_DONE) {
			snprintf(err, errlen, "write %s: %s", t->name,
			    sql_errmsg(dst));
			goto out;
		}
		sql_reset(w);
		(*rows)++;
	}
	if (rc != SQL_DONE) {
		snprintf(err, errlen, "read %s: %s", t->name, sql_errmsg(src));
		goto out;
	}
	ret = 0;
	if (t->has_id) {
		char q[256];

		/* Ids generated later must follow the copied ones. */
		snprintf(q, sizeof(q), "SELECT setval(pg_get_serial_sequence("
		    "'%s', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM %s",
		    t->name, t->name);
		if (sql_exec(dst, q) != SQL_OK) {
			snprintf(err, errlen, "ids of %s: %s", t->name,
			    sql_errmsg(dst));
			ret = -1;
		}
	}
out:
	sql_finalize(r);
	sql_finalize(w);
	return ret;
}

/* Open the SQLite file at path read-only and check it is at the version
 * of schema. */
static struct sql *
db_pg_source(const char *path, const struct db_schema *schema, char *err,
    size_t errlen)
{
	struct sql *src = sql_open_sqlite(path, SQL_OPEN_READONLY, err,
	    errlen);
	struct sql_stmt *st;
	long long v = -1;

	if (src == NULL)
		return NULL;
	if ((st = sql_prepare(src, "PRAGMA user_version")) != NULL &&
	    sql_step(st) == SQL_ROW)
		v = sql_column_int64(st, 0);
	sql_finalize(st);
	if (v != schema->nsteps) {
		snprintf(err, errlen, "%s: schema version %lld, not this "
		    "sealmail's %d: run `sealmail store migrate` with the "
		    "SQLite store first", path, v, schema->nsteps);
		sql_close(src);
		return NULL;
	}
	return src;
}

/* Copy every table of the SQLite file src (in the order of creation:
 * parents before the tables that refer to them). */
static int
db_pg_copy_file(struct sql *src, struct sql *dst, FILE *out, char *err,
    size_t errlen)
{
	struct sql_stmt *st = sql_prepare(src, "SELECT name FROM "
	    "sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
	    "ORDER BY rowid");
	enum sql_rc rc;
	int ret = 0;

	if (st == NULL) {
		snprintf(err, errlen, "tables: %s", sql_errmsg(src));
		return -1;
	}
	while (ret == 0 && (rc = sql_step(st)) == SQL_ROW) {
		struct db_pg_table t = { 0 };
		const char *name = sql_column_text(st, 0);
		long long rows = 0;

		if (!db_pg_ident(name)) {
			snprintf(err, errlen, "a table name that is no plain "
			    "identifier");
			ret = -1;
			break;
		}
		t.name = xstrdup(name);
		if (db_pg_columns(src, &t, err, errlen) == -1)
			ret = -1;
		else {
			int e = db_pg_empty(dst, t.name, err, errlen);

			if (e == 0) {
				snprintf(err, errlen, "table %s is not empty "
				    "in PostgreSQL: a copy goes into a new "
				    "store only", t.name);
				ret = -1;
			} else if (e == -1 || db_pg_copy_rows(src, dst, &t,
			    &rows, err, errlen) == -1)
				ret = -1;
			else
				fprintf(out, "copied %s: %lld row%s\n", t.name,
				    rows, rows == 1 ? "" : "s");
		}
		db_pg_table_clear(&t);
	}
	if (ret == 0 && rc != SQL_DONE) {
		snprintf(err, errlen, "tables: %s", sql_errmsg(src));
		ret = -1;
	}
	sql_finalize(st);
	return ret;
}

int
db_pg_copy(const char *store_path, const char *passwd_path, const char *dsn,
    const char *password, FILE *out, char *err, size_t errlen)
{
	struct sql *src = NULL, *pw = NULL, *dst = NULL;
	int ret = -1;

	if ((src = db_pg_source(store_path, &db_schema_store, err,
	    errlen)) == NULL)
		return -1;
	if (passwd_path != NULL && access(passwd_path, F_OK) == 0 &&
	    (pw = db_pg_source(passwd_path, &db_schema_passwd, err,
	    errlen)) == NULL)
		goto out;
	if ((dst = sql_open_pg(dsn, password, err, errlen)) == NULL)
		goto out;
	if (db_schema_pg_migrate(dst, NULL, err, errlen) == -1)
		goto out;
	if (sql_begin(dst, true) != SQL_OK) {
		snprintf(err, errlen, "begin: %s", sql_errmsg(dst));
		goto out;
	}
	if (db_pg_copy_file(src, dst, out, err, errlen) == 0 &&
	    (pw == NULL || db_pg_copy_file(pw, dst, out, err, errlen) == 0)) {
		if (sql_commit(dst) == SQL_OK)
			ret = 0;
		else
			snprintf(err, errlen, "commit: %s", sql_errmsg(dst));
	}
	if (ret == -1)
		sql_rollback(dst);
out:
	sql_close(dst);
	sql_close(pw);
	sql_close(src);
	return ret;
}
