/* SPDX-License-Identifier: ISC */
/*
 * Accounts in the store (address, creation time; the crypt(3) hash in the
 * password file, db_passwd.c), and which sender addresses an
 * authenticated account may use. Addresses given to lookups
 * may come from the network (AUTH, MAIL FROM) and are checked before they
 * reach a query; they are always bound, never pasted into SQL.
 */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/db_internal.h"

/* Longest crypt(3) string we store (libxcrypt's CRYPT_OUTPUT_SIZE is 384). */
#define DB_HASH_MAX	512

/* A crypt string: printable ASCII without spaces ("*" and "!" locks too). */
bool
db_valid_hash(const char *hash)
{
	size_t len;

	if (hash == NULL || (len = strnlen(hash, DB_HASH_MAX + 1)) == 0 ||
	    len > DB_HASH_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (hash[i] <= ' ' || hash[i] >= 0x7f)
			return false;
	return true;
}

/* Set "invalid address "X"" with X escaped, and return DB_ERROR. */
static enum db_result
db_bad_address(struct db *db, const char *address)
{
	char esc[128];

	db_seterr(db, "invalid address \"%s\"", address == NULL ? "" :
	    log_escape(address, strnlen(address, DB_ADDRESS_MAX + 1), esc,
	    sizeof(esc)));
	return DB_ERROR;
}

/* Step an INSERT into users; a duplicate key is an error of its own. */
static enum db_result
db_user_insert(struct db *db, struct sql_stmt *st, const char *a)
{
	enum sql_rc rc = sql_step(st);

	if (rc == SQL_DONE)
		return DB_OK;
	if (rc == SQL_CONSTRAINT) {
		db_seterr(db, "user %s already exists", a);
		return DB_ERROR;
	}
	return db_fail(db, "add user");
}

/* Run the one-address write `id`; DB_NOTFOUND when it touched no row. */
static enum db_result
db_user_write(struct db *db, enum db_stmt_id id, const char *address,
    const char *what)
{
	char a[DB_ADDRESS_MAX + 1];
	struct sql_stmt *st;
	enum db_result r;

	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	if ((st = db_stmt(db, id)) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, a) == -1) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	if ((r = db_step_done(db, st, what)) != DB_OK)
		return r;
	return sql_changes(db->sql) > 0 ? DB_OK : DB_NOTFOUND;
}

/* -1 (error set) unless db has the password file. */
static int
db_user_need_passwd(struct db *db)
{
	if (db->pw != NULL)
		return 0;
	db_seterr(db, "the password file is not open");
	return -1;
}

enum db_result
db_user_add(struct db *db, const char *address, const char *hash)
{
	char a[DB_ADDRESS_MAX + 1];
	struct sql_stmt *st;
	enum db_result r;

	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return db_bad_address(db, address);
	if (hash != NULL && !db_valid_hash(hash)) {
		db_seterr(db, "invalid password hash");
		return DB_ERROR;
	}
	if (hash != NULL && db_user_need_passwd(db) == -1)
		return DB_ERROR;
	if ((st = db_stmt(db, DB_STMT_USER_ADD)) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, a) == -1 ||
	    sql_bind_int64(st, 2, (int64_t)time(NULL)) != SQL_OK)
		r = db_fail(db, "add user");
	else
		r = db_user_insert(db, st, a);
	db_stmt_done(st);
	if (r != DB_OK || hash == NULL)
		return r;
	/* The account first: a crash here leaves one without a password. */
	if (db_passwd_set(db->pw, a, hash) != DB_OK) {
		db_seterr(db, "%s", db_passwd_error(db->pw));
		(void)db_user_write(db, DB_STMT_USER_DEL, a, "add user");
		return DB_ERROR;
	}
	return DB_OK;
}

enum db_result
db_user_del(struct db *db, const char *address)
{
	char a[DB_ADDRESS_MAX + 1];

	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	if (db_user_need_passwd(db) == -1)
		return DB_ERROR;
	/* The hash first: a crash here leaves an account that cannot log
	 * in, never a hash that logs in without one. */
	if (db_passwd_del(db->pw, a) == DB_ERROR) {
		db_seterr(db, "%s", db_passwd_error(db->pw));
		return DB_ERROR;
	}
	return db_user_write(db, DB_STMT_USER_DEL, a, "delete user");
}

enum db_result
db_user_set_hash(struct db *db, const char *address, const char *hash)
{
	char a[DB_ADDRESS_MAX + 1];
	enum db_result r;

	if (!db_valid_hash(hash)) {
		db_seterr(db, "invalid password hash");
		return DB_ERROR;
	}
	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	if (db_user_need_passwd(db) == -1)
		return DB_ERROR;
	/* Only an account has a password. */
	if ((r = db_user_exists(db, a)) != DB_OK)
		return r;
	if (db_passwd_set(db->pw, a, hash) != DB_OK) {
		db_seterr(db, "%s", db_passwd_error(db->pw));
		return DB_ERROR;
	}
	return DB_OK;
}

enum db_result
db_user_find(struct db *db, const char *address, char **stored)
{
	char a[DB_ADDRESS_MAX + 1];

	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	return db_lookup_one(db, DB_STMT_USER_GET, a, stored);
}

enum db_result
db_user_exists(struct db *db, const char *address)
{
	return db_user_find(db, address, NULL);
}

enum db_result
db_user_list(struct db *db, db_list_cb *cb, void *arg)
{
	struct db_strv v = { 0 };
	enum db_result r;

	if ((r = db_query_strv(db, DB_STMT_USER_LIST, NULL, &v)) == DB_OK)
		for (size_t i = 0; i < v.n; i++)
			cb(v.v[i], NULL, arg);
	db_strv_clear(&v);
	return r;
}

enum db_result
db_user_owns_check(struct db *db, const char *user, const char *address)
{
	char u[DB_ADDRESS_MAX + 1], a[DB_ADDRESS_MAX + 1];
	struct db_strv out = { 0 };
	enum db_result r;

	if (db_address_normalize(user, false, u, sizeof(u)) == -1 ||
	    db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	if (strcasecmp(u, a) == 0)
		return DB_OK;
	/* Another account's address is that account's alone, even if an
	 * alias of the same name exists (it never applies: users win). */
	if ((r = db_user_find(db, a, NULL)) != DB_NOTFOUND)
		return r == DB_OK ? DB_NOTFOUND : DB_ERROR;
	/* Aliases only: a catch-all would let a user send as anything in
	 * the domain. */
	if ((r = db_alias_walk(db, a, false, NULL, NULL, &out)) == DB_OK)
		r = db_strv_has(&out, u) ? DB_OK : DB_NOTFOUND;
	db_strv_clear(&out);
	return r;
}

bool
db_user_owns(struct db *db, const char *user, const char *address)
{
	return db_user_owns_check(db, user, address) == DB_OK;
}

enum db_result
db_user_first(struct db *db, const char *domain, char **out)
{
	char key[DB_ADDRESS_MAX + 2];

	*out = NULL;
	if (domain != NULL && (size_t)snprintf(key, sizeof(key), "@%s",
	    domain) >= sizeof(key))
		return DB_NOTFOUND;
	return db_lookup_one(db, domain != NULL ? DB_STMT_USER_FIRST_IN :
	    DB_STMT_USER_FIRST, domain != NULL ? key : NULL, out);
}
