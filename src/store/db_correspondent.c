/* SPDX-License-Identifier: ISC */
/* The domains our users have written to (see db_correspondent.h). Its
 * statements are prepared per call: a batch of the runner's deliveries,
 * or a worker's refresh of its protected set. */
#include "store/db_correspondent.h"

#include "store/db_internal.h"

enum db_result
db_correspondent_add(struct db *db, const char *const *domains,
    const unsigned *n, size_t ndomains, long long now)
{
	struct sql_stmt *st;
	enum db_result r = DB_OK;

	if (ndomains == 0)
		return DB_OK;
	if (db_begin(db) != DB_OK)
		return DB_ERROR;
	st = db_prepare(db, "INSERT INTO correspondents (domain, count, "
	    "first_seen, last_seen) VALUES (?1, ?2, ?3, ?3) ON CONFLICT "
	    "(domain) DO UPDATE SET count = correspondents.count + ?2, "
	    "last_seen = ?3");
	if (st == NULL)
		r = DB_ERROR;
	for (size_t i = 0; r == DB_OK && i < ndomains; i++) {
		if (sql_bind_text(st, 1, domains[i]) !=
		    SQL_OK || sql_bind_int64(st, 2, n[i]) != SQL_OK ||
		    sql_bind_int64(st, 3, now) != SQL_OK ||
		    sql_step(st) != SQL_DONE)
			r = db_fail(db, "count correspondent");
		sql_reset(st);
	}
	sql_finalize(st);
	return db_end(db, r == DB_OK);
}

enum db_result
db_lookalike_seen(struct db *db, const char *domain, long long now,
    long long *first_seen)
{
	struct sql_stmt *st = db_prepare(db, "INSERT INTO lookalike_senders "
	    "(domain, first_seen) VALUES (?1, ?2) ON CONFLICT (domain) DO "
	    "UPDATE SET first_seen = CASE WHEN lookalike_senders.first_seen < "
	    "?2 THEN lookalike_senders.first_seen ELSE ?2 END RETURNING "
	    "first_seen");
	enum db_result r = DB_OK;

	if (st == NULL)
		return DB_ERROR;
	if (sql_bind_text(st, 1, domain) != SQL_OK ||
	    sql_bind_int64(st, 2, now) != SQL_OK ||
	    sql_step(st) != SQL_ROW)
		r = db_fail(db, "note lookalike sender");
	else
		*first_seen = sql_column_int64(st, 0);
	sql_finalize(st);
	return r;
}

enum db_result
db_correspondent_each(struct db *db, db_correspondent_cb *cb, void *arg)
{
	struct sql_stmt *st = db_prepare(db, "SELECT domain, count, first_seen "
	    "FROM correspondents ORDER BY count DESC, domain LIMIT ?1");
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, DB_CORRESPONDENTS_MAX);
	while ((rc = sql_step(st)) == SQL_ROW) {
		const char *d = sql_column_text(st, 0);

		if (d != NULL && !cb((const char *)d,
		    sql_column_int64(st, 1), sql_column_int64(st, 2),
		    arg)) {
			rc = SQL_DONE;
			break;
		}
	}
	sql_finalize(st);
	return rc == SQL_DONE ? DB_OK : db_fail(db, "read correspondents");
}
