/* SPDX-License-Identifier: ISC */
/* MTA-STS policy cache rows (see db.h). Statements are prepared per call:
 * they run once per domain load or fetch, not per message. */
#include "store/db.h"

#include "store/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

enum db_result
db_sts_get(struct db *db, const char *domain, struct db_sts_row *row)
{
	struct sql_stmt *st;
	enum db_result res;
	int rc;

	memset(row, 0, sizeof(*row));
	if ((st = db_prepare(db, "SELECT domain, id, policy, fetched, "
	    "expires FROM sts_policies WHERE domain = ?1")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, domain) == -1) {
		sql_finalize(st);
		return DB_ERROR;
	}
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		row->domain = db_column_dup(st, 0);
		row->id = db_column_dup(st, 1);
		row->policy = db_column_dup(st, 2);
		row->fetched = sql_column_int64(st, 3);
		row->expires = sql_column_int64(st, 4);
		res = DB_OK;
	} else if (rc == SQL_DONE)
		res = DB_NOTFOUND;
	else
		res = db_fail(db, "read sts policy");
	sql_finalize(st);
	return res;
}

enum db_result
db_sts_put(struct db *db, const struct db_sts_row *row)
{
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_prepare(db, "INSERT INTO sts_policies (domain, id, "
	    "policy, fetched, expires) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
	    "(domain) DO UPDATE SET id = excluded.id, policy = excluded.policy, "
	    "fetched = excluded.fetched, expires = excluded.expires")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, row->domain) == -1 ||
	    db_bind(db, st, 2, row->id) == -1 ||
	    db_bind(db, st, 3, row->policy) == -1 ||
	    sql_bind_int64(st, 4, row->fetched) != SQL_OK ||
	    sql_bind_int64(st, 5, row->expires) != SQL_OK)
		res = db_fail(db, "store sts policy");
	if (res == DB_OK && sql_step(st) != SQL_DONE)
		res = db_fail(db, "store sts policy");
	sql_finalize(st);
	return res;
}

enum db_result
db_sts_due(struct db *db, int64_t now, char ***out, size_t *n)
{
	struct sql_stmt *st;
	enum db_result res = DB_OK;
	int rc;

	*out = NULL;
	*n = 0;
	/* The rule of mtasts.c's refresh: a day old, or half its life. */
	if ((st = db_prepare(db, "SELECT domain FROM sts_policies "
	    "WHERE expires > ?1 AND (?1 - fetched >= 86400 OR "
	    "?1 - fetched >= (expires - fetched) / 2) ORDER BY fetched "
	    "LIMIT ?2")) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, now) != SQL_OK ||
	    sql_bind_int64(st, 2, DB_STS_DUE_MAX) != SQL_OK) {
		sql_finalize(st);
		return db_fail(db, "bind sts query");
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = db_column_dup(st, 0);
	}
	if (rc != SQL_DONE) {
		res = db_fail(db, "read sts policies");
		db_strv_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sql_finalize(st);
	return res;
}

enum db_result
db_sts_del(struct db *db, const char *domain)
{
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_prepare(db, "DELETE FROM sts_policies "
	    "WHERE domain = ?1")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, domain) == -1 ||
	    sql_step(st) != SQL_DONE)
		res = db_fail(db, "delete sts policy");
	else if (sql_changes(db->sql) == 0)
		res = DB_NOTFOUND;
	sql_finalize(st);
	return res;
}

void
db_sts_row_clear(struct db_sts_row *row)
{
	free(row->domain);
	free(row->id);
	free(row->policy);
	memset(row, 0, sizeof(*row));
}
