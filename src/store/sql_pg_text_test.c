/* SPDX-License-Identifier: ISC */
/* Unit tests for the PostgreSQL driver's pure text work (sql_pg_text.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "store/sql_pg_text.h"

/* Rewrite in; NULL if refused, else the result (static buffer). */
static const char *
rw(const char *in, int *n)
{
	static char out[512];

	if (sql_pg_params_rewrite(in, strlen(in), out, sizeof(out), n) == -1)
		return NULL;
	return out;
}

static void
test_rewrite(void **state)
{
	int n = -1;

	(void)state;
	assert_string_equal(rw("SELECT 1", &n), "SELECT 1");
	assert_int_equal(n, 0);
	assert_string_equal(rw("SELECT a FROM t WHERE a = ?1 AND b = ?12", &n),
	    "SELECT a FROM t WHERE a = $1 AND b = $12");
	assert_int_equal(n, 12);
	/* Reused and out of order: the highest counts. */
	assert_string_equal(rw("?3 IS NULL OR x = ?3 OR y = ?1", &n),
	    "$3 IS NULL OR x = $3 OR y = $1");
	assert_int_equal(n, 3);
	assert_string_equal(rw("INSERT INTO t VALUES(?1,?2)", &n),
	    "INSERT INTO t VALUES($1,$2)");
	assert_string_equal(rw("LIKE '%' || ?1", &n), "LIKE '%' || $1");
}

static void
test_rewrite_quoted(void **state)
{
	int n = -1;

	(void)state;
	assert_string_equal(rw("SELECT '?1', \"?2\", ?3", &n),
	    "SELECT '?1', \"?2\", $3");
	assert_int_equal(n, 3);
	/* Doubled quotes stay inside. */
	assert_string_equal(rw("SELECT 'it''s ?1', \"a\"\"?\", ?1", &n),
	    "SELECT 'it''s ?1', \"a\"\"?\", $1");
	assert_int_equal(n, 1);
	/* E'' strings: a backslash escapes the quote. */
	assert_string_equal(rw("SELECT E'\\'?', ?2", &n),
	    "SELECT E'\\'?', $2");
	/* In an ordinary literal a backslash is a backslash. */
	assert_string_equal(rw("SELECT '\\', ?1", &n), "SELECT '\\', $1");
	/* A name ending in E is no E'' prefix. */
	assert_string_equal(rw("SELECT ONE'\\', ?1", &n),
	    "SELECT ONE'\\', $1");
	/* Comments and dollar quotes. */
	assert_string_equal(rw("SELECT 1 -- what?\n, ?1", &n),
	    "SELECT 1 -- what?\n, $1");
	assert_string_equal(rw("/* a /* ? */ ? */ ?1", &n),
	    "/* a /* ? */ ? */ $1");
	assert_string_equal(rw("SELECT $$?$$, $q$ ?1 $$ $q$, ?2", &n),
	    "SELECT $$?$$, $q$ ?1 $$ $q$, $2");
	assert_int_equal(n, 2);
	/* $1 (not a tag) and a$b (part of a name) are no dollar quotes. */
	assert_string_equal(rw("SELECT a$b, ?1", &n), "SELECT a$b, $1");
	assert_int_equal(n, 1);
}

static void
test_rewrite_refused(void **state)
{
	static const char *const bad[] = {
		"SELECT ?",		/* anonymous */
		"SELECT ?0",
		"SELECT ?01",		/* leading zero */
		"SELECT ?32767",	/* past the limit */
		"SELECT ?99999999999999999999",
		"SELECT 'open",
		"SELECT \"open",
		"SELECT E'\\'",
		"SELECT /* open",
		"SELECT /* /* */",
		"SELECT $$ open",
		"SELECT $q$ open $$",
		"x ?a",
		"SELECT a?1",		/* a$1 is one name */
		"SELECT $x?1",		/* $x$1 opens a dollar quote */
		"SELECT ?1$",
		"SELECT ?1a",
		"$x0ffff4?11",		/* found by fuzz_sql_params */
	};
	char out[8];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(rw(bad[i], &n));
	assert_non_null(rw("SELECT ?32766", &n));
	assert_int_equal(n, 32766);
	/* Too small an output, and a NUL inside. */
	assert_int_equal(sql_pg_params_rewrite("SELECT 1", 8, out, 8, &n), -1);
	assert_int_equal(sql_pg_params_rewrite("SELECT\0?", 8, out, 8 + 1 - 1,
	    &n), -1);
	assert_int_equal(sql_pg_params_rewrite("SEL", 3, out, 4, &n), 0);
	assert_string_equal(out, "SEL");
}

static void
test_int64(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(sql_pg_int64_parse("0", 1, &v), 0);
	assert_true(v == 0);
	assert_int_equal(sql_pg_int64_parse("-42", 3, &v), 0);
	assert_true(v == -42);
	assert_int_equal(sql_pg_int64_parse("9223372036854775807", 19, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(sql_pg_int64_parse("-9223372036854775808", 20, &v),
	    0);
	assert_true(v == INT64_MIN);
	assert_int_equal(sql_pg_int64_parse("9223372036854775808", 19, &v),
	    -1);
	assert_int_equal(sql_pg_int64_parse("-9223372036854775809", 20, &v),
	    -1);
	assert_int_equal(sql_pg_int64_parse("", 0, &v), -1);
	assert_int_equal(sql_pg_int64_parse("-", 1, &v), -1);
	assert_int_equal(sql_pg_int64_parse("+1", 2, &v), -1);
	assert_int_equal(sql_pg_int64_parse(" 1", 2, &v), -1);
	assert_int_equal(sql_pg_int64_parse("1.5", 3, &v), -1);
	assert_int_equal(sql_pg_int64_parse("12x", 3, &v), -1);
	assert_int_equal(sql_pg_int64_parse("00000000000000000001", 20, &v),
	    -1);
	/* Not as the server writes them (found by fuzz_sql_params). */
	assert_int_equal(sql_pg_int64_parse("-0", 2, &v), -1);
	assert_int_equal(sql_pg_int64_parse("007", 3, &v), -1);
	assert_int_equal(sql_pg_int64_parse("-01", 3, &v), -1);
	/* Only len bytes count. */
	assert_int_equal(sql_pg_int64_parse("123", 2, &v), 0);
	assert_true(v == 12);
}

static void
test_bytea(void **state)
{
	uint8_t out[8];
	size_t n;

	(void)state;
	assert_int_equal(sql_pg_bytea_decode("\\x", 2, out, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sql_pg_bytea_decode("\\x00fFa1", 8, out, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x00\xff\xa1", 3);
	assert_int_equal(sql_pg_bytea_decode("\\x00ff", 6, out, 1, &n), -1);
	assert_int_equal(sql_pg_bytea_decode("\\x0", 3, out, 8, &n), -1);
	assert_int_equal(sql_pg_bytea_decode("\\xzz", 4, out, 8, &n), -1);
	assert_int_equal(sql_pg_bytea_decode("\\000", 4, out, 8, &n), -1);
	assert_int_equal(sql_pg_bytea_decode("x", 1, out, 8, &n), -1);
}

static void
test_state(void **state)
{
	(void)state;
	assert_int_equal(sql_pg_state_class("23505"), SQL_PG_STATE_CONSTRAINT);
	assert_int_equal(sql_pg_state_class("23514"), SQL_PG_STATE_CONSTRAINT);
	assert_int_equal(sql_pg_state_class("08006"),
	    SQL_PG_STATE_UNAVAILABLE);
	assert_int_equal(sql_pg_state_class("57P01"),
	    SQL_PG_STATE_UNAVAILABLE);
	assert_int_equal(sql_pg_state_class("57P03"),
	    SQL_PG_STATE_UNAVAILABLE);
	assert_int_equal(sql_pg_state_class("57P04"), SQL_PG_STATE_ERROR);
	assert_true(sql_pg_state_ended("57P01"));
	assert_true(sql_pg_state_ended("57P02"));
	assert_true(sql_pg_state_ended("57P03"));
	assert_false(sql_pg_state_ended("57P04"));
	assert_false(sql_pg_state_ended("08006"));	/* could have run */
	assert_false(sql_pg_state_ended("57P011"));
	assert_false(sql_pg_state_ended("57P0"));
	assert_false(sql_pg_state_ended(NULL));
	assert_int_equal(sql_pg_state_class("57014"), SQL_PG_STATE_ERROR);
	assert_int_equal(sql_pg_state_class("42P01"), SQL_PG_STATE_ERROR);
	assert_int_equal(sql_pg_state_class("2350"), SQL_PG_STATE_ERROR);
	assert_int_equal(sql_pg_state_class("235050"), SQL_PG_STATE_ERROR);
	assert_int_equal(sql_pg_state_class(NULL), SQL_PG_STATE_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_rewrite_quoted),
		cmocka_unit_test(test_rewrite_refused),
		cmocka_unit_test(test_int64),
		cmocka_unit_test(test_bytea),
		cmocka_unit_test(test_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
