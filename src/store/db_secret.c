/* SPDX-License-Identifier: ISC */
/* Named secrets kept in the store (see db.h), such as the SRS key: made
 * once, then read by every process (and every node sharing the store). */
#include "store/db.h"

#include "store/db_internal.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Read name's value into out (exactly len bytes). */
static enum db_result
db_secret_read(struct db *db, const char *name, uint8_t *out, size_t len)
{
	sqlite3_stmt *st;
	enum db_result res;
	int rc;

	if (sqlite3_prepare_v2(db->sql, "SELECT value FROM secrets WHERE "
	    "name = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "prepare");
	if (db_bind(db, st, 1, name) == -1) {
		sqlite3_finalize(st);
		return DB_ERROR;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		if (v == NULL || n < 0 || (size_t)n != len) {
			db_seterr(db, "secret %s has %d bytes, not %zu", name,
			    n, len);
			res = DB_ERROR;
		} else {
			memcpy(out, v, len);
			res = DB_OK;
		}
	} else if (rc == SQLITE_DONE)
		res = DB_NOTFOUND;
	else
		res = db_fail(db, "read secret");
	sqlite3_finalize(st);
	return res;
}

/* Insert fresh random bytes for name unless a row exists. The handle may
 * be relaxed (db_relaxed_durability): this one write is made durable, as
 * a secret lost in a crash would invalidate what was made with it. */
static enum db_result
db_secret_create(struct db *db, const char *name, size_t len)
{
	uint8_t fresh[DB_SECRET_MAX];
	sqlite3_stmt *st;
	enum db_result res = DB_OK;
	int sync = 2;

	if (RAND_bytes(fresh, (int)len) != 1) {
		db_seterr(db, "no random bytes for secret %s", name);
		return DB_ERROR;
	}
	if (sqlite3_prepare_v2(db->sql, "PRAGMA synchronous", -1, &st,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			sync = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_exec(db->sql, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db->sql, "INSERT OR IGNORE INTO secrets "
	    "(name, value, created) VALUES (?1, ?2, ?3)", -1, &st, NULL) !=
	    SQLITE_OK)
		res = db_fail(db, "prepare");
	else {
		if (db_bind(db, st, 1, name) == -1 ||
		    sqlite3_bind_blob(st, 2, fresh, (int)len,
		    SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL)) !=
		    SQLITE_OK)
			res = db_fail(db, "store secret");
		else if (sqlite3_step(st) != SQLITE_DONE)
			res = db_fail(db, "store secret");
		sqlite3_finalize(st);
	}
	if (sync != 2)
		sqlite3_exec(db->sql, sync == 0 ? "PRAGMA synchronous = OFF" :
		    sync == 1 ? "PRAGMA synchronous = NORMAL" :
		    "PRAGMA synchronous = EXTRA", NULL, NULL, NULL);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return res;
}

enum db_result
db_secret_get(struct db *db, const char *name, uint8_t *out, size_t len)
{
	enum db_result r;

	if (len == 0 || len > DB_SECRET_MAX) {
		db_seterr(db, "secret %s: bad length %zu", name, len);
		return DB_ERROR;
	}
	if ((r = db_secret_read(db, name, out, len)) != DB_NOTFOUND)
		return r;
	/* Two processes may get here at once: INSERT OR IGNORE keeps the
	 * first row, and both read that one back. */
	if (db_secret_create(db, name, len) != DB_OK)
		return DB_ERROR;
	r = db_secret_read(db, name, out, len);
	if (r == DB_NOTFOUND) {
		db_seterr(db, "secret %s vanished", name);
		r = DB_ERROR;
	}
	return r;
}
