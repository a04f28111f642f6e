/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the status page's history in the store (db_metrics.c):
 * round trip, the 24 h window and pruning, bounds on what is read back,
 * hostile text kept byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "store/db.h"
#include "store/db_internal.h"
#include "teststore.h"

/* 2026-12-05 12:34:56 UTC: not on the 10-minute grid. */
#define T0	1796474096LL
#define DAY	86400LL

static int
tm_count(const struct teststore *t, const char *table)
{
	char sql[128];
	struct sql_stmt *st;
	int n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_non_null(st = sql_prepare(t->db->sql, sql));
	assert_int_equal(sql_step(st), SQL_ROW);
	n = (int)sql_column_int64(st, 0);
	sql_finalize(st);
	return n;
}

static void
tm_exec(const struct teststore *t, const char *sql)
{
	assert_int_equal(sql_exec(t->db->sql, sql), SQL_OK);
}

/* A snapshot at now with counts in its oldest, a middle and its current
 * bucket, and nfail failures (newest first, as metrics_snapshot gives). */
static struct metrics_snapshot *
tm_snapshot(long long now, size_t nfail)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->now = now;
	s->hist_start = metrics_hist_start(now);
	for (int i = 0; i < METRICS_H_N; i++) {
		s->hist[0][i] = 1 + i;
		s->hist[70][i] = 100 + i;
		s->hist[METRICS_HIST_N - 1][i] = 4000000000u - i;
	}
	s->nfailures = nfail;
	for (size_t j = 0; j < nfail; j++) {
		struct metrics_failure *f = &s->failures[j];

		f->time = now - (long long)j * 60;
		f->result = j % 2 ? METRICS_BOUNCED : METRICS_DEFERRED;
		snprintf(f->rcpt, sizeof(f->rcpt), "u%zu@example.org", j);
		snprintf(f->reason, sizeof(f->reason), "451 4.4.1 try %zu", j);
	}
	return s;
}

static void
test_metrics_round_trip(void **state)
{
	struct teststore *t = *state;
	struct metrics_snapshot *s = tm_snapshot(T0, 3), *o = malloc(
	    sizeof(*o));

	assert_int_equal(db_metrics_save(t->db, s), DB_OK);
	assert_int_equal(tm_count(t, "metrics_history"), 3);
	assert_int_equal(db_metrics_load(t->db, T0, o), DB_OK);
	assert_int_equal(o->hist_start, s->hist_start);
	assert_int_equal(o->hist_start % METRICS_HIST_STEP, 0);
	assert_memory_equal(o->hist, s->hist, sizeof(s->hist));
	/* Totals are not stored. */
	assert_int_equal(o->accepted, 0);
	assert_int_equal(o->nfailures, 3);
	for (size_t j = 0; j < 3; j++) {
		assert_int_equal(o->failures[j].time, s->failures[j].time);
		assert_int_equal(o->failures[j].result, s->failures[j].result);
		assert_string_equal(o->failures[j].rcpt, s->failures[j].rcpt);
		assert_string_equal(o->failures[j].reason,
		    s->failures[j].reason);
	}
	/* A second save replaces, never adds. */
	s->nfailures = 1;
	assert_int_equal(db_metrics_save(t->db, s), DB_OK);
	assert_int_equal(tm_count(t, "metrics_history"), 3);
	assert_int_equal(tm_count(t, "metrics_failures"), 1);
	free(s);
	free(o);
}

/* Loaded later, the buckets keep their times: they move towards the start
 * of the window, and those older than 24 h are gone, on load and on the
 * next save. */
static void
test_metrics_window(void **state)
{
	struct teststore *t = *state;
	struct metrics_snapshot *s = tm_snapshot(T0, 0), *o = malloc(
	    sizeof(*o));
	long long later = T0 + 12 * 3600 + 7;	/* 72 buckets on */

	assert_int_equal(db_metrics_save(t->db, s), DB_OK);
	assert_int_equal(db_metrics_load(t->db, later, o), DB_OK);
	assert_int_equal(o->hist_start, s->hist_start +
	    72 * METRICS_HIST_STEP);
	/* Only the bucket that was current is still in the window (at 71);
	 * the oldest and the middle one (70 - 72 < 0) are out. */
	for (int k = 0; k < METRICS_HIST_N; k++)
		for (int i = 0; i < METRICS_H_N; i++)
			assert_int_equal(o->hist[k][i],
			    k == METRICS_HIST_N - 1 - 72 ? 4000000000u - i : 0);
	/* A day later nothing is left in the window. */
	assert_int_equal(db_metrics_load(t->db, T0 + DAY, o), DB_OK);
	for (int k = 0; k < METRICS_HIST_N; k++)
		for (int i = 0; i < METRICS_H_N; i++)
			assert_int_equal(o->hist[k][i], 0);
	/* Saving that later view prunes the old rows. */
	assert_int_equal(db_metrics_load(t->db, later, o), DB_OK);
	assert_int_equal(db_metrics_save(t->db, o), DB_OK);
	assert_int_equal(tm_count(t, "metrics_history"), 1);
	free(s);
	free(o);
}

/* What the table holds is read back within bounds: at most METRICS_FAIL_N
 * failures (the newest), text cut at METRICS_FAIL_TEXT, unknown results
 * skipped, counters clamped to 32 bits, rows off the grid ignored. */
static void
test_metrics_bounds(void **state)
{
	struct teststore *t = *state;
	struct metrics_snapshot *o = malloc(sizeof(*o));
	long long start = metrics_hist_start(T0);
	char sql[512];

	for (int i = 0; i < METRICS_FAIL_N + 10; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO metrics_failures "
		    "(time, result, rcpt, reason) VALUES (%lld, %d, "
		    "'r%d@example.org', printf('%%.*c', 1000, 'x'))",
		    T0 + i, i == METRICS_FAIL_N + 9 ? 7 : i % 3, i);
		tm_exec(t, sql);
	}
	snprintf(sql, sizeof(sql), "INSERT INTO metrics_history VALUES "
	    "(%lld, -5, 99999999999, 1, 1, 1, 1, 1, 1, 1), "
	    "(%lld, 1, 1, 1, 1, 1, 1, 1, 1, 1), "
	    "(%lld, 1, 1, 1, 1, 1, 1, 1, 1, 1)", start + 600, start + 601,
	    start - 600);
	tm_exec(t, sql);
	assert_int_equal(db_metrics_load(t->db, T0, o), DB_OK);
	assert_int_equal(o->nfailures, METRICS_FAIL_N);
	/* The newest (result 7) is skipped. */
	assert_string_equal(o->failures[0].rcpt, "r24@example.org");
	assert_string_equal(o->failures[METRICS_FAIL_N - 1].rcpt,
	    "r9@example.org");
	assert_int_equal(strlen(o->failures[0].reason), METRICS_FAIL_TEXT);
	assert_int_equal(o->hist[1][METRICS_H_ACCEPTED], 0);
	assert_int_equal(o->hist[1][METRICS_H_REJECTED], UINT32_MAX);
	assert_int_equal(o->hist[1][METRICS_H_OUT_FAILED], 1);
	for (int k = 0; k < METRICS_HIST_N; k++)
		if (k != 1)
			for (int i = 0; i < METRICS_H_N; i++)
				assert_int_equal(o->hist[k][i], 0);
	free(o);
}

/* Text from remote servers is stored and read back byte for byte: the
 * renderers escape it, the store must neither interpret nor mangle it. */
static void
test_metrics_hostile_text(void **state)
{
	static const char *const text[] = {
		"<script>alert(1)</script>@example.org",
		"x'); DROP TABLE metrics_failures; --",
		"550 5.7.1 \"%s%n%x\" \\ \xc3\xa9\xe2\x80\xae rtl & <b>",
		"?1 ?2 :name @v $v",
	};
	struct teststore *t = *state;
	struct metrics_snapshot *s = tm_snapshot(T0, 4), *o = malloc(
	    sizeof(*o));

	for (size_t j = 0; j < 4; j++) {
		snprintf(s->failures[j].rcpt, sizeof(s->failures[j].rcpt),
		    "%s", text[j]);
		snprintf(s->failures[j].reason,
		    sizeof(s->failures[j].reason), "%s", text[3 - j]);
	}
	/* The longest text the ring holds survives whole. */
	memset(s->failures[3].reason, 'y', METRICS_FAIL_TEXT);
	s->failures[3].reason[METRICS_FAIL_TEXT] = '\0';
	assert_int_equal(db_metrics_save(t->db, s), DB_OK);
	assert_int_equal(db_metrics_load(t->db, T0, o), DB_OK);
	assert_int_equal(o->nfailures, 4);
	for (size_t j = 0; j < 4; j++) {
		assert_string_equal(o->failures[j].rcpt, s->failures[j].rcpt);
		assert_string_equal(o->failures[j].reason,
		    s->failures[j].reason);
	}
	assert_int_equal(tm_count(t, "metrics_failures"), 4);
	free(s);
	free(o);
}

#define TT(f) cmocka_unit_test_setup_teardown(f, teststore_setup, teststore_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TT(test_metrics_round_trip),
		TT(test_metrics_window),
		TT(test_metrics_bounds),
		TT(test_metrics_hostile_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
