/* SPDX-License-Identifier: ISC */
/*
 * The password file, DATA_DIR/passwd.db (see db.h): the accounts' hashes,
 * apart from the store that every worker opens. Also the one-time move of
 * the hashes out of an older store's users table.
 */
#include "store/db.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/db_internal.h"

/* A struct db of the password file's schema under a type of its own, so
 * that the store's functions cannot be handed it. */
struct db_passwd {
	struct db	*db;
};

struct db_passwd *
db_passwd_open(const char *path, bool create, const char *owner, char *err,
    size_t errlen)
{
	struct db_passwd *pw;
	struct db *db;

	if ((db = db_open_schema(path, create, owner, &db_schema_passwd, err,
	    errlen)) == NULL)
		return NULL;
	/* A replaced or deleted hash leaves no byte behind: secure delete
	 * zeroes it in the file's free space, and the persistent journal,
	 * which keeps the pages a write changed, is truncated at each
	 * commit (it stays, as the keys process's Landlock rule needs).
	 * The password file is always SQLite (db_open_schema opens a file). */
	if (db_exec(db, "PRAGMA secure_delete = ON; "
	    "PRAGMA journal_size_limit = 0", "scrub password file") == -1) {
		snprintf(err, errlen, "%s: %s", path, db_error(db));
		db_close(db);
		return NULL;
	}
	pw = xcalloc(1, sizeof(*pw));
	pw->db = db;
	return pw;
}

struct db_passwd *
db_passwd_open_pg(const char *dsn, const char *password, char *err,
    size_t errlen)
{
	struct db_passwd *pw;
	struct db *db;

	/* The same statements, on the passwords table of the database. */
	if ((db = db_open_pg(dsn, password, err, errlen)) == NULL)
		return NULL;
	pw = xcalloc(1, sizeof(*pw));
	pw->db = db;
	return pw;
}

void
db_passwd_close(struct db_passwd *pw)
{
	if (pw == NULL)
		return;
	db_close(pw->db);
	free(pw);
}

const char *
db_passwd_error(const struct db_passwd *pw)
{
	return db_error(pw->db);
}

void
db_set_passwd(struct db *db, struct db_passwd *pw)
{
	db_passwd_close(db->pw);
	db->pw = pw;
}

enum db_result
db_passwd_get(struct db_passwd *pw, const char *address, char **hash)
{
	char a[DB_ADDRESS_MAX + 1];

	*hash = NULL;
	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	return db_lookup_one(pw->db, DB_STMT_PASSWD_GET, a, hash);
}

/* Run the write id with address and (if not NULL) hash bound. */
static enum db_result
db_passwd_write(struct db *db, enum db_stmt_id id, const char *address,
    const char *hash, const char *what)
{
	struct sql_stmt *st;

	if ((st = db_stmt(db, id)) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, address) == -1 ||
	    (hash != NULL && db_bind(db, st, 2, hash) == -1)) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	return db_step_done(db, st, what);
}

enum db_result
db_passwd_set(struct db_passwd *pw, const char *address, const char *hash)
{
	return db_passwd_write(pw->db, DB_STMT_PASSWD_SET, address, hash,
	    "set password");
}

enum db_result
db_passwd_del(struct db_passwd *pw, const char *address)
{
	return db_passwd_write(pw->db, DB_STMT_PASSWD_DEL, address, NULL,
	    "delete password");
}

/* Copy the rows of st (address, hash) into the password file, in one
 * transaction whose commit is on disk when it returns (the journal's
 * default synchronous = FULL). */
static int
db_passwd_import(struct db *db, struct sql_stmt *st, struct db *to)
{
	const char *a, *h;
	int rc;

	if (db_begin(to) != DB_OK)
		goto fail;
	while ((rc = sql_step(st)) == SQL_ROW) {
		a = sql_column_text(st, 0);
		h = sql_column_text(st, 1);
		if (a != NULL && h != NULL && db_passwd_write(to,
		    DB_STMT_PASSWD_IMPORT, (const char *)a, (const char *)h,
		    "copy password") != DB_OK) {
			(void)db_end(to, false);
			goto fail;
		}
	}
	if (rc != SQL_DONE) {
		(void)db_end(to, false);
		db_fail(db, "read password hashes");
		return -1;
	}
	if (db_end(to, true) == DB_OK)
		return 0;
fail:
	db_seterr(db, "%s", db_error(to));
	return -1;
}

/*
 * Runs in the store's upgrade transaction, before the step that drops
 * users.hash: the copies are durable before the store loses its own, so a
 * crash between the two leaves the hashes in both files, never in
 * neither; the next open copies again (keeping any row already there).
 */
int
db_passwd_move(struct db *db, const char *path, const char *owner)
{
	char dir[PATH_MAX], pwpath[PATH_MAX], err[512];
	struct db_passwd *pw;
	struct sql_stmt *st;
	int r;

	if ((st = db_prepare(db, "SELECT address, hash FROM users")) == NULL)
		return -1;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
	    snprintf(pwpath, sizeof(pwpath), "%s/%s", dirname(dir),
	    DB_PASSWD_FILE) >= (int)sizeof(pwpath)) {
		sql_finalize(st);
		db_seterr(db, "%s: path too long", path);
		return -1;
	}
	if ((pw = db_passwd_open(pwpath, true, owner, err,
	    sizeof(err))) == NULL) {
		sql_finalize(st);
		db_seterr(db, "moving the password hashes out: %s", err);
		return -1;
	}
	r = db_passwd_import(db, st, pw->db);
	sql_finalize(st);
	db_passwd_close(pw);
	return r;
}
