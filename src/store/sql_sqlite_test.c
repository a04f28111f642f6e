/* SPDX-License-Identifier: ISC */
/* Unit tests for the SQLite driver behind sql.h (sql_sqlite.c), on a fresh
 * file in a mkdtemp folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/sql.h"

struct sqlt {
	char		 dir[64];
	char		 path[128];
	struct sql	*sql;
};

static int
sqlt_setup(void **state)
{
	struct sqlt *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-sql-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/t.db", t->dir);
	t->sql = sql_open_sqlite(t->path, SQL_OPEN_CREATE, err, sizeof(err));
	assert_non_null(t->sql);
	assert_int_equal(sql_backend(t->sql), SQL_SQLITE);
	assert_int_equal(sql_exec(t->sql, "CREATE TABLE t (k TEXT NOT NULL "
	    "PRIMARY KEY, n INTEGER, b BLOB); CREATE TABLE u (id INTEGER "
	    "PRIMARY KEY, v TEXT)"), SQL_OK);
	*state = t;
	return 0;
}

static int
sqlt_teardown(void **state)
{
	struct sqlt *t = *state;

	sql_close(t->sql);
	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Rows in t. */
static int64_t
sqlt_count(struct sql *sql)
{
	struct sql_stmt *st = sql_prepare(sql, "SELECT count(*) FROM t");
	int64_t n;

	assert_non_null(st);
	assert_int_equal(sql_step(st), SQL_ROW);
	n = sql_column_int64(st, 0);
	sql_finalize(st);
	return n;
}

static void
test_bind_step_columns(void **state)
{
	struct sqlt *t = *state;
	struct sql_stmt *ins, *sel;
	char key[8] = "alpha";
	size_t len;

	ins = sql_prepare(t->sql, "INSERT INTO t (k, n, b) VALUES (?1, ?2, "
	    "?3)");
	assert_non_null(ins);
	assert_int_equal(sql_bind_count(ins), 3);
	/* Bound by copy: the buffer changes before the step. */
	assert_int_equal(sql_bind_text(ins, 1, key), SQL_OK);
	memcpy(key, "XXXXX", 6);
	assert_int_equal(sql_bind_int64(ins, 2, 4000000000LL), SQL_OK);
	assert_int_equal(sql_bind_blob(ins, 3, "\0\1\2", 3), SQL_OK);
	assert_int_equal(sql_step(ins), SQL_DONE);
	assert_int_equal(sql_changes(t->sql), 1);
	sql_reset(ins);
	/* After reset the bindings are gone: every parameter is NULL. */
	assert_int_equal(sql_bind_text(ins, 1, "beta"), SQL_OK);
	assert_int_equal(sql_step(ins), SQL_DONE);
	sql_reset(ins);
	/* Out of range. */
	assert_int_equal(sql_bind_int64(ins, 4, 1), SQL_ERROR);
	assert_int_equal(sql_bind_int64(ins, 0, 1), SQL_ERROR);

	sel = sql_prepare(t->sql, "SELECT k, n, b FROM t ORDER BY k");
	assert_non_null(sel);
	assert_int_equal(sql_bind_count(sel), 0);
	assert_int_equal(sql_step(sel), SQL_ROW);
	assert_string_equal(sql_column_text(sel, 0), "alpha");
	assert_false(sql_column_null(sel, 1));
	assert_int_equal(sql_column_int64(sel, 1), 4000000000LL);
	assert_memory_equal(sql_column_blob(sel, 2, &len), "\0\1\2", 3);
	assert_int_equal(len, 3);
	assert_int_equal(sql_step(sel), SQL_ROW);
	assert_string_equal(sql_column_text(sel, 0), "beta");
	/* NULL reads as NULL text, 0 and an empty blob. */
	assert_true(sql_column_null(sel, 1));
	assert_int_equal(sql_column_int64(sel, 1), 0);
	assert_null(sql_column_text(sel, 1));
	assert_non_null(sql_column_blob(sel, 2, &len));
	assert_int_equal(len, 0);
	assert_int_equal(sql_step(sel), SQL_DONE);
	sql_reset(sel);
	/* Runs again after a reset. */
	assert_int_equal(sql_step(sel), SQL_ROW);
	sql_reset(sel);
	sql_finalize(sel);
	sql_finalize(ins);
}

static void
test_null_and_empty(void **state)
{
	struct sqlt *t = *state;
	struct sql_stmt *st;
	size_t len = 99;

	st = sql_prepare(t->sql, "INSERT INTO t (k, n, b) VALUES (?1, ?2, "
	    "?3)");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, "k"), SQL_OK);
	assert_int_equal(sql_bind_null(st, 2), SQL_OK);
	assert_int_equal(sql_bind_blob(st, 3, NULL, 0), SQL_OK);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
	st = sql_prepare(t->sql, "SELECT n IS NULL, b IS NULL, length(b) "
	    "FROM t");
	assert_non_null(st);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 1);
	/* An empty blob is a value, not NULL. */
	assert_int_equal(sql_column_int64(st, 1), 0);
	assert_int_equal(sql_column_int64(st, 2), 0);
	sql_finalize(st);
	/* Text bound as NULL. */
	st = sql_prepare(t->sql, "SELECT ?1 IS NULL");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, NULL), SQL_OK);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 1);
	sql_finalize(st);
	st = sql_prepare(t->sql, "SELECT b FROM t");
	assert_non_null(st);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_non_null(sql_column_blob(st, 0, &len));
	assert_int_equal(len, 0);
	sql_finalize(st);
}

static void
test_constraint_and_upsert(void **state)
{
	struct sqlt *t = *state;
	struct sql_stmt *st;

	assert_int_equal(sql_exec(t->sql, "INSERT INTO t (k, n) VALUES "
	    "('a', 1)"), SQL_OK);
	st = sql_prepare(t->sql, "INSERT INTO t (k, n) VALUES (?1, ?2)");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, "a"), SQL_OK);
	assert_int_equal(sql_bind_int64(st, 2, 2), SQL_OK);
	assert_int_equal(sql_step(st), SQL_CONSTRAINT);
	assert_non_null(strstr(sql_errmsg(t->sql), "UNIQUE"));
	sql_finalize(st);
	/* The portable forms of INSERT OR IGNORE / OR REPLACE. */
	st = sql_prepare(t->sql, "INSERT INTO t (k, n) VALUES (?1, 5) ON "
	    "CONFLICT DO NOTHING");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, "a"), SQL_OK);
	assert_int_equal(sql_step(st), SQL_DONE);
	assert_int_equal(sql_changes(t->sql), 0);
	sql_finalize(st);
	st = sql_prepare(t->sql, "INSERT INTO t (k, n) VALUES (?1, 7) ON "
	    "CONFLICT (k) DO UPDATE SET n = t.n + excluded.n");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, "a"), SQL_OK);
	assert_int_equal(sql_step(st), SQL_DONE);
	assert_int_equal(sql_changes(t->sql), 1);
	sql_finalize(st);
	st = sql_prepare(t->sql, "SELECT n FROM t WHERE k = 'a'");
	assert_non_null(st);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 8);
	sql_finalize(st);
	/* RETURNING gives a generated id as a row. */
	st = sql_prepare(t->sql, "INSERT INTO u (v) VALUES (?1) RETURNING id");
	assert_non_null(st);
	assert_int_equal(sql_bind_text(st, 1, "x"), SQL_OK);
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal(sql_column_int64(st, 0), 1);
	assert_int_equal(sql_step(st), SQL_DONE);
	sql_finalize(st);
}

static void
test_transactions(void **state)
{
	struct sqlt *t = *state;
	struct sql *other;
	char err[256];

	assert_int_equal(sql_begin(t->sql, true), SQL_OK);
	assert_int_equal(sql_exec(t->sql, "INSERT INTO t (k) VALUES ('r')"),
	    SQL_OK);
	sql_rollback(t->sql);
	assert_int_equal(sqlt_count(t->sql), 0);
	assert_int_equal(sql_begin(t->sql, true), SQL_OK);
	assert_int_equal(sql_exec(t->sql, "INSERT INTO t (k) VALUES ('c')"),
	    SQL_OK);
	assert_int_equal(sql_commit(t->sql), SQL_OK);
	assert_int_equal(sqlt_count(t->sql), 1);
	/* Harmless without a transaction. */
	sql_rollback(t->sql);
	assert_int_equal(sql_begin(t->sql, false), SQL_OK);
	assert_int_equal(sql_commit(t->sql), SQL_OK);

	/* A writer waits for the other's write lock, then fails with a
	 * message that says so (not a constraint, not unavailable). */
	other = sql_open_sqlite(t->path, 0, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(sql_exec(other, "PRAGMA busy_timeout = 10"),
	    SQL_OK);
	assert_int_equal(sql_begin(t->sql, true), SQL_OK);
	assert_int_equal(sql_begin(other, true), SQL_ERROR);
	assert_non_null(strstr(sql_errmsg(other), "locked"));
	sql_rollback(t->sql);
	assert_int_equal(sql_begin(other, true), SQL_OK);
	assert_int_equal(sql_commit(other), SQL_OK);
	sql_close(other);
}

static void
test_errors_and_close(void **state)
{
	struct sqlt *t = *state;
	char err[256];

	assert_null(sql_prepare(t->sql, "SELECT FROM nowhere"));
	assert_true(sql_errmsg(t->sql)[0] != '\0');
	assert_int_equal(sql_exec(t->sql, "NOT SQL"), SQL_ERROR);
	/* Statements left open are finalized by sql_close (the leak
	 * checkers of the sanitizer build would see them otherwise). */
	assert_non_null(sql_prepare(t->sql, "SELECT 1"));
	assert_non_null(sql_prepare(t->sql, "SELECT 2"));
	/* Missing file, no create; a symlink is not followed. */
	err[0] = '\0';
	char p[192];
	snprintf(p, sizeof(p), "%s/missing.db", t->dir);
	assert_null(sql_open_sqlite(p, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.db"));
	snprintf(p, sizeof(p), "%s/link.db", t->dir);
	assert_int_equal(symlink(t->path, p), 0);
	assert_null(sql_open_sqlite(p, 0, err, sizeof(err)));
	unlink(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_step_columns,
		    sqlt_setup, sqlt_teardown),
		cmocka_unit_test_setup_teardown(test_null_and_empty,
		    sqlt_setup, sqlt_teardown),
		cmocka_unit_test_setup_teardown(test_constraint_and_upsert,
		    sqlt_setup, sqlt_teardown),
		cmocka_unit_test_setup_teardown(test_transactions,
		    sqlt_setup, sqlt_teardown),
		cmocka_unit_test_setup_teardown(test_errors_and_close,
		    sqlt_setup, sqlt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
