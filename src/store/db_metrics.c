/* SPDX-License-Identifier: ISC */
/* The status page's history in the store (see db.h): 10-minute buckets and
 * recent delivery failures, saved by the queue runner, loaded at start. */
#include "store/db.h"

#include <stdint.h>
#include <string.h>

#include "core/metrics.h"
#include "store/db_internal.h"

_Static_assert(METRICS_H_N == 9, "metrics_history has one column per "
    "enum metrics_hist value, in that order");

#define DB_METRICS_COLS "accepted, rejected, in_tls, in_plain, " \
	"in_dmarc_pass, out_auth, out_enc, out_plain, out_failed"

/* Run st to completion and finalize it. */
static enum db_result
db_metrics_run(struct db *db, struct sql_stmt *st, const char *what)
{
	enum db_result r = sql_step(st) == SQL_DONE ? DB_OK :
	    db_fail(db, what);

	sql_finalize(st);
	return r;
}

static enum db_result
db_metrics_save_hist(struct db *db, const struct metrics_snapshot *s)
{
	struct sql_stmt *st;

	/* The snapshot is the whole truth of the window: older rows and
	 * buckets that emptied go. */
	if ((st = db_prepare(db, "DELETE FROM metrics_history")) == NULL ||
	    db_metrics_run(db, st, "clear history") != DB_OK)
		return DB_ERROR;
	if ((st = db_prepare(db, "INSERT INTO metrics_history (start, "
	    DB_METRICS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10)")) == NULL)
		return DB_ERROR;
	for (int k = 0; k < METRICS_HIST_N; k++) {
		bool used = false;

		for (int i = 0; i < METRICS_H_N; i++)
			used |= s->hist[k][i] != 0;
		if (!used)
			continue;
		sql_reset(st);
		sql_bind_int64(st, 1, s->hist_start +
		    (long long)k * METRICS_HIST_STEP);
		for (int i = 0; i < METRICS_H_N; i++)
			sql_bind_int64(st, 2 + i, s->hist[k][i]);
		if (sql_step(st) != SQL_DONE) {
			sql_finalize(st);
			return db_fail(db, "save history");
		}
	}
	sql_finalize(st);
	return DB_OK;
}

static enum db_result
db_metrics_save_failures(struct db *db, const struct metrics_snapshot *s)
{
	size_t n = s->nfailures < METRICS_FAIL_N ? s->nfailures :
	    METRICS_FAIL_N;
	struct sql_stmt *st;

	if ((st = db_prepare(db, "DELETE FROM metrics_failures")) == NULL ||
	    db_metrics_run(db, st, "clear failures") != DB_OK)
		return DB_ERROR;
	if ((st = db_prepare(db, "INSERT INTO metrics_failures (time, "
	    "result, rcpt, reason) VALUES (?1, ?2, ?3, ?4)")) == NULL)
		return DB_ERROR;
	/* Oldest first, so that their generated id orders them. */
	for (size_t j = n; j-- > 0;) {
		const struct metrics_failure *f = &s->failures[j];

		sql_reset(st);
		sql_bind_int64(st, 1, f->time);
		sql_bind_int64(st, 2, (int)f->result);
		if (db_bind(db, st, 3, f->rcpt) == -1 ||
		    db_bind(db, st, 4, f->reason) == -1 ||
		    sql_step(st) != SQL_DONE) {
			sql_finalize(st);
			return db_fail(db, "save failures");
		}
	}
	sql_finalize(st);
	return DB_OK;
}

enum db_result
db_metrics_save(struct db *db, const struct metrics_snapshot *s)
{
	if (db_begin(db) != DB_OK)
		return DB_ERROR;
	return db_end(db, db_metrics_save_hist(db, s) == DB_OK &&
	    db_metrics_save_failures(db, s) == DB_OK);
}

/* Column col as text of at most METRICS_FAIL_TEXT bytes into dst. */
static void
db_metrics_text(struct sql_stmt *st, int col, char *dst)
{
	const char *t = sql_column_text(st, col);
	size_t n = t == NULL ? 0 : strnlen((const char *)t, METRICS_FAIL_TEXT);

	if (n > 0)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static enum db_result
db_metrics_load_hist(struct db *db, struct metrics_snapshot *out)
{
	long long last = out->hist_start +
	    (long long)(METRICS_HIST_N - 1) * METRICS_HIST_STEP;
	struct sql_stmt *st;
	int rc;

	if ((st = db_prepare(db, "SELECT start, " DB_METRICS_COLS " FROM "
	    "metrics_history WHERE start >= ?1 AND start <= ?2")) == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, out->hist_start);
	sql_bind_int64(st, 2, last);
	while ((rc = sql_step(st)) == SQL_ROW) {
		long long start = sql_column_int64(st, 0);

		/* Off the grid: not a row we wrote. */
		if ((start - out->hist_start) % METRICS_HIST_STEP != 0)
			continue;
		uint32_t *v = out->hist[(start - out->hist_start) /
		    METRICS_HIST_STEP];
		for (int i = 0; i < METRICS_H_N; i++) {
			int64_t x = sql_column_int64(st, 1 + i);

			v[i] = x < 0 ? 0 : x > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)x;
		}
	}
	sql_finalize(st);
	return rc == SQL_DONE ? DB_OK : db_fail(db, "load history");
}

static enum db_result
db_metrics_load_failures(struct db *db, struct metrics_snapshot *out)
{
	struct sql_stmt *st;
	int rc;

	if ((st = db_prepare(db, "SELECT time, result, rcpt, reason FROM "
	    "metrics_failures WHERE result >= 0 AND result < ?2 ORDER BY id "
	    "DESC LIMIT ?1")) == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, METRICS_FAIL_N);
	sql_bind_int64(st, 2, METRICS_RESULT_N);
	while ((rc = sql_step(st)) == SQL_ROW &&
	    out->nfailures < METRICS_FAIL_N) {
		struct metrics_failure *f = &out->failures[out->nfailures];
		int64_t r = sql_column_int64(st, 1);

		if (r < 0 || r >= METRICS_RESULT_N)
			continue;
		f->time = sql_column_int64(st, 0);
		f->result = (enum metrics_result)r;
		db_metrics_text(st, 2, f->rcpt);
		db_metrics_text(st, 3, f->reason);
		out->nfailures++;
	}
	sql_finalize(st);
	return rc == SQL_DONE || rc == SQL_ROW ? DB_OK :
	    db_fail(db, "load failures");
}

enum db_result
db_metrics_load(struct db *db, long long now, struct metrics_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->now = now;
	out->hist_start = metrics_hist_start(now);
	if (db_metrics_load_hist(db, out) != DB_OK)
		return DB_ERROR;
	return db_metrics_load_failures(db, out);
}
