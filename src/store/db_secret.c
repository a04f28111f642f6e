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
	struct sql_stmt *st;
	enum db_result res;
	int rc;

	if ((st = sql_prepare(db->sql, "SELECT value FROM secrets WHERE "
	    "name = ?1")) == NULL)
		return db_fail(db, "prepare");
	if (db_bind(db, st, 1, name) == -1) {
		sql_finalize(st);
		return DB_ERROR;
	}
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		size_t n;
		const void *v = sql_column_blob(st, 0, &n);

		if (n != len) {
			db_seterr(db, "secret %s has %zu bytes, not %zu", name,
			    n, len);
			res = DB_ERROR;
		} else {
			memcpy(out, v, len);
			res = DB_OK;
		}
	} else if (rc == SQL_DONE)
		res = DB_NOTFOUND;
	else
		res = db_fail(db, "read secret");
	sql_finalize(st);
	return res;
}

/* Insert fresh random bytes for name unless a row exists. The handle may
 * be relaxed (db_relaxed_durability): this one write is made durable, as
 * a secret lost in a crash would invalidate what was made with it. */
static enum db_result
db_secret_create(struct db *db, const char *name, size_t len)
{
	uint8_t fresh[DB_SECRET_MAX];
	struct sql_stmt *st;
	enum db_result res = DB_OK;
	int sync = 2;

	if (RAND_bytes(fresh, (int)len) != 1) {
		db_seterr(db, "no random bytes for secret %s", name);
		return DB_ERROR;
	}
	/* SQLite only: a PostgreSQL commit is durable unless the server is
	 * configured otherwise, which is not ours to change per write. */
	if (sql_backend(db->sql) == SQL_SQLITE &&
	    (st = sql_prepare(db->sql, "PRAGMA synchronous")) != NULL) {
		if (sql_step(st) == SQL_ROW)
			sync = (int)sql_column_int64(st, 0);
		sql_finalize(st);
		sql_exec(db->sql, "PRAGMA synchronous = FULL");
	}
	if ((st = sql_prepare(db->sql, "INSERT INTO secrets (name, value, "
	    "created) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")) == NULL)
		res = db_fail(db, "prepare");
	else {
		if (db_bind(db, st, 1, name) == -1 ||
		    sql_bind_blob(st, 2, fresh, len) != SQL_OK ||
		    sql_bind_int64(st, 3, (int64_t)time(NULL)) != SQL_OK)
			res = db_fail(db, "store secret");
		else if (sql_step(st) != SQL_DONE)
			res = db_fail(db, "store secret");
		sql_finalize(st);
	}
	if (sync != 2)
		sql_exec(db->sql, sync == 0 ? "PRAGMA synchronous = OFF" :
		    sync == 1 ? "PRAGMA synchronous = NORMAL" :
		    "PRAGMA synchronous = EXTRA");
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
	/* Two processes may get here at once: ON CONFLICT DO NOTHING keeps the
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
