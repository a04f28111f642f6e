/* SPDX-License-Identifier: ISC */
/* DMARC evaluation records (see db.h), kept for RFC 9990 aggregate
 * reports. */
#include "store/db.h"

#include "store/db_internal.h"

#include <stdlib.h>

#include "core/xmalloc.h"

/* The string fields of a row, for copying and freeing. */
#define DB_DMARC_STRINGS(r) { &(r)->source_ip, &(r)->header_from, \
	&(r)->envelope_from, &(r)->policy_domain, &(r)->policy, \
	&(r)->disposition, &(r)->result, &(r)->dkim_domain, \
	&(r)->dkim_result, &(r)->spf_domain, &(r)->spf_result, \
	&(r)->dkim_selector, &(r)->pub.p, &(r)->pub.sp, &(r)->pub.np, \
	&(r)->pub.adkim, &(r)->pub.aspf, &(r)->pub.fo, &(r)->pub.rua }

/* The row's policy as the domain's last seen one (RFC 9990 §3.3: a
 * report notes the final configuration of its period). */
static enum db_result
db_dmarc_policy_put(struct db *db, const struct db_dmarc_row *r)
{
	const struct db_dmarc_published *p = &r->pub;
	const char *text[] = { p->p, p->sp, p->np, p->adkim, p->aspf, p->fo,
	    p->rua };
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if (r->policy_domain == NULL || r->policy_domain[0] == '\0' ||
	    p->p == NULL || p->p[0] == '\0')
		return DB_OK;
	if ((st = db_stmt(db, DB_STMT_DMARC_POLICY)) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, r->policy_domain) == -1 ||
	    sql_bind_int64(st, 2, r->time) != SQL_OK ||
	    sql_bind_int64(st, 9, r->testing) != SQL_OK)
		res = db_fail(db, "record dmarc policy");
	for (int i = 0; res == DB_OK && i < 7; i++)
		if (db_bind(db, st, i < 6 ? i + 3 : 10, text[i] ? text[i] :
		    "") == -1)
			res = DB_ERROR;
	if (res == DB_OK)
		res = db_step_done(db, st, "record dmarc policy");
	db_stmt_done(st);
	return res;
}

enum db_result
db_dmarc_add(struct db *db, const struct db_dmarc_row *r)
{
	const char *text[] = { r->source_ip, r->header_from, r->envelope_from,
	    r->policy_domain, r->policy, r->disposition, r->result,
	    r->dkim_domain, r->dkim_result };
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_stmt(db, DB_STMT_DMARC_ADD)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, r->time) != SQL_OK)
		res = db_fail(db, "record dmarc");
	for (int i = 0; res == DB_OK && i < 9; i++)
		if (db_bind(db, st, i + 2, text[i] ? text[i] : "") == -1)
			res = db_fail(db, "record dmarc");
	if (res == DB_OK && (sql_bind_int64(st, 11, r->dkim_aligned) !=
	    SQL_OK || db_bind(db, st, 12, r->spf_domain ? r->spf_domain :
	    "") == -1 || db_bind(db, st, 13, r->spf_result ? r->spf_result :
	    "") == -1 || sql_bind_int64(st, 14, r->spf_aligned) !=
	    SQL_OK || sql_bind_int64(st, 15, r->testing) != SQL_OK ||
	    db_bind(db, st, 16, r->dkim_selector ? r->dkim_selector : "") ==
	    -1))
		res = db_fail(db, "record dmarc");
	if (res == DB_OK)
		res = db_step_done(db, st, "record dmarc");
	db_stmt_done(st);
	if (res == DB_OK)
		res = db_dmarc_policy_put(db, r);
	return res;
}

void
db_relaxed_durability(struct db *db)
{
	/* SQLite only: PostgreSQL's equivalent, synchronous_commit = off
	 * for the session, would be the driver's to set. */
	if (sql_backend(db->sql) == SQL_SQLITE)
		(void)sql_exec(db->sql, "PRAGMA synchronous = OFF");
}

static void
db_dmarc_row_free(struct db_dmarc_row *r)
{
	const char **f[] = DB_DMARC_STRINGS(r);

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free((char *)*f[i]);
}

enum db_result
db_dmarc_defer(struct db *db, const struct db_dmarc_row *row)
{
	struct db_dmarc_row *r;

	if (db->ndmarc >= DB_DMARC_PENDING_MAX &&
	    db_dmarc_flush(db) != DB_OK)
		return DB_ERROR;
	if (db->ndmarc == db->capdmarc) {
		db->capdmarc = db->capdmarc ? db->capdmarc * 2 : 64;
		db->dmarc = xreallocarray(db->dmarc, db->capdmarc,
		    sizeof(*db->dmarc));
	}
	r = &db->dmarc[db->ndmarc++];
	*r = *row;
	const char **f[] = DB_DMARC_STRINGS(r);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = xstrdup(*f[i] ? *f[i] : "");
	return DB_OK;
}

/* Write the pending rows in one transaction; on failure they are dropped
 * unless keep. */
static enum db_result
db_dmarc_flush_rows(struct db *db, bool keep)
{
	enum db_result res = DB_OK;
	size_t i;

	if (db->ndmarc == 0)
		return DB_OK;
	res = db_begin(db);
	for (i = 0; res == DB_OK && i < db->ndmarc; i++)
		res = db_dmarc_add(db, &db->dmarc[i]);
	if (db_end(db, res == DB_OK) != DB_OK)
		res = DB_ERROR;
	if (res != DB_OK && keep)
		return res;
	for (i = 0; i < db->ndmarc; i++)
		db_dmarc_row_free(&db->dmarc[i]);
	/* Not kept for the next batch: an idle worker holds nothing. */
	free(db->dmarc);
	db->dmarc = NULL;
	db->ndmarc = db->capdmarc = 0;
	return res;
}

enum db_result
db_dmarc_flush(struct db *db)
{
	return db_dmarc_flush_rows(db, false);
}

enum db_result
db_dmarc_flush_keep(struct db *db)
{
	return db_dmarc_flush_rows(db, true);
}

size_t
db_dmarc_pending(const struct db *db)
{
	return db->ndmarc;
}
