/* SPDX-License-Identifier: ISC */
/* DMARC failures waiting for their RFC 9991 report, and the per-destination
 * hourly count of failure reports sent (see db.h). */
#include "store/db.h"

#include "store/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

/* The string fields, in the order of DB_STMT_DFAIL_ADD's ?2..?14 and of
 * DB_STMT_DFAIL_LIST's columns 2..14. */
#define DB_DFAIL_STRINGS(r) { &(r)->source_ip, &(r)->policy_domain, \
	&(r)->header_from, &(r)->mail_from, &(r)->ruf, &(r)->auth_failure, \
	&(r)->auth_results, &(r)->alignment, &(r)->delivery, &(r)->headers, \
	&(r)->dkim_domain, &(r)->dkim_identity, &(r)->dkim_selector }
#define DB_DFAIL_NSTRINGS	13

static void
db_dfail_strings_free(struct db_dmarc_failure *r)
{
	const char **f[] = DB_DFAIL_STRINGS(r);

	for (size_t i = 0; i < DB_DFAIL_NSTRINGS; i++)
		free((char *)*f[i]);
}

static enum db_result
db_dfail_add(struct db *db, const struct db_dmarc_failure *r)
{
	const char *const *f[] = DB_DFAIL_STRINGS(r);
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_stmt(db, DB_STMT_DFAIL_ADD)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, r->time) != SQL_OK)
		res = db_fail(db, "record dmarc failure");
	for (int i = 0; res == DB_OK && i < DB_DFAIL_NSTRINGS; i++)
		if (db_bind(db, st, i + 2, *f[i]) == -1)
			res = DB_ERROR;
	if (res == DB_OK)
		res = db_step_done(db, st, "record dmarc failure");
	db_stmt_done(st);
	return res;
}

enum db_result
db_dmarc_failure_defer(struct db *db, const struct db_dmarc_failure *row)
{
	struct db_dmarc_failure *r;

	if (db->ndfail >= DB_DFAIL_PENDING_MAX &&
	    db_dmarc_failure_flush(db) != DB_OK)
		return DB_ERROR;
	if (db->ndfail == db->capdfail) {
		db->capdfail = db->capdfail ? db->capdfail * 2 : 8;
		db->dfail = xreallocarray(db->dfail, db->capdfail,
		    sizeof(*db->dfail));
	}
	r = &db->dfail[db->ndfail++];
	*r = *row;
	const char **f[] = DB_DFAIL_STRINGS(r);
	for (size_t i = 0; i < DB_DFAIL_NSTRINGS; i++)
		*f[i] = *f[i] != NULL ? xstrndup(*f[i], DB_DFAIL_FIELD_MAX) :
		    xstrdup("");
	return DB_OK;
}

/* Write the pending rows in one transaction; on failure they are dropped
 * unless keep. */
static enum db_result
db_dmarc_failure_flush_rows(struct db *db, bool keep)
{
	enum db_result res = DB_OK;
	size_t i;

	if (db->ndfail == 0)
		return DB_OK;
	res = db_begin(db);
	for (i = 0; res == DB_OK && i < db->ndfail; i++)
		res = db_dfail_add(db, &db->dfail[i]);
	if (db_end(db, res == DB_OK) != DB_OK)
		res = DB_ERROR;
	if (res != DB_OK && keep)
		return res;
	for (i = 0; i < db->ndfail; i++)
		db_dfail_strings_free(&db->dfail[i]);
	/* Not kept for the next batch: an idle worker holds nothing. */
	free(db->dfail);
	db->dfail = NULL;
	db->ndfail = db->capdfail = 0;
	return res;
}

enum db_result
db_dmarc_failure_flush(struct db *db)
{
	return db_dmarc_failure_flush_rows(db, false);
}

enum db_result
db_dmarc_failure_flush_keep(struct db *db)
{
	return db_dmarc_failure_flush_rows(db, true);
}

size_t
db_dmarc_failure_pending(const struct db *db)
{
	return db->ndfail;
}

enum db_result
db_dmarc_failures_list(struct db *db, size_t max,
    struct db_dmarc_failure **out, size_t *n)
{
	struct sql_stmt *st;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = db_stmt(db, DB_STMT_DFAIL_LIST)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, (int64_t)max) != SQL_OK) {
		db_stmt_done(st);
		return db_fail(db, "read dmarc failures");
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct db_dmarc_failure *r;

		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		r = &(*out)[(*n)++];
		r->id = sql_column_int64(st, 0);
		r->time = sql_column_int64(st, 1);
		const char **f[] = DB_DFAIL_STRINGS(r);
		for (int i = 0; i < DB_DFAIL_NSTRINGS; i++) {
			const char *s = sql_column_text(st, i + 2);
			*f[i] = xstrdup(s != NULL ? (const char *)s : "");
		}
	}
	db_stmt_done(st);
	if (rc != SQL_DONE) {
		db_dmarc_failures_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_fail(db, "read dmarc failures");
	}
	return DB_OK;
}

void
db_dmarc_failures_free(struct db_dmarc_failure *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_dfail_strings_free(&v[i]);
	free(v);
}

enum db_result
db_dmarc_failure_del(struct db *db, long long id)
{
	struct sql_stmt *st;
	enum db_result res;

	if ((st = db_stmt(db, DB_STMT_DFAIL_DEL)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, id) != SQL_OK)
		res = db_fail(db, "delete dmarc failure");
	else
		res = db_step_done(db, st, "delete dmarc failure");
	db_stmt_done(st);
	return res;
}

bool
db_report_rate_take(struct db *db, const char *dest, long long hour,
    unsigned limit, long long keep_from)
{
	struct sql_stmt *st;
	bool taken = false;

	if ((st = db_stmt(db, DB_STMT_RATE_PRUNE)) != NULL) {
		if (sql_bind_int64(st, 1, keep_from) == SQL_OK)
			(void)db_step_done(db, st, "prune report rate");
		db_stmt_done(st);
	}
	if (limit == 0 || (st = db_stmt(db, DB_STMT_RATE_TAKE)) == NULL)
		return false;
	if (db_bind(db, st, 1, dest) == 0 &&
	    sql_bind_int64(st, 2, hour) == SQL_OK &&
	    sql_bind_int64(st, 3, limit) == SQL_OK &&
	    db_step_done(db, st, "count report") == DB_OK)
		/* The upsert's WHERE leaves a full hour unchanged. */
		taken = sql_changes(db->sql) == 1;
	db_stmt_done(st);
	return taken;
}
