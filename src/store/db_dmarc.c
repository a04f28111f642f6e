/* SPDX-License-Identifier: ISC */
/* DMARC evaluation records (see db.h), kept for RFC 9990 aggregate
 * reports. */
#include "store/db.h"

#include "store/db_internal.h"

enum db_result
db_dmarc_add(struct db *db, const struct db_dmarc_row *r)
{
	const char *text[] = { r->source_ip, r->header_from, r->envelope_from,
	    r->policy_domain, r->policy, r->disposition, r->result,
	    r->dkim_domain, r->dkim_result };
	sqlite3_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_stmt(db, DB_STMT_DMARC_ADD)) == NULL)
		return DB_ERROR;
	if (sqlite3_bind_int64(st, 1, r->time) != SQLITE_OK)
		res = db_fail(db, "record dmarc");
	for (int i = 0; res == DB_OK && i < 9; i++)
		if (db_bind(db, st, i + 2, text[i] ? text[i] : "") == -1)
			res = db_fail(db, "record dmarc");
	if (res == DB_OK && (sqlite3_bind_int(st, 11, r->dkim_aligned) !=
	    SQLITE_OK || db_bind(db, st, 12, r->spf_domain ? r->spf_domain :
	    "") == -1 || db_bind(db, st, 13, r->spf_result ? r->spf_result :
	    "") == -1 || sqlite3_bind_int(st, 14, r->spf_aligned) !=
	    SQLITE_OK || sqlite3_bind_int(st, 15, r->testing) != SQLITE_OK))
		res = db_fail(db, "record dmarc");
	if (res == DB_OK)
		res = db_step_done(db, st, "record dmarc");
	db_stmt_done(st);
	return res;
}

void
db_relaxed_durability(struct db *db)
{
	sqlite3_exec(db->sql, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
}
