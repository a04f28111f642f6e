/* SPDX-License-Identifier: ISC */
/*
 * The SQLite store (DATA_DIR/sealmail.db): accounts and aliases. The only
 * code that touches SQLite. Addresses are stored lower-cased in the domain
 * and as given in the local part; lookups of the domain are case-insensitive.
 * One struct db per process (open after fork, never share a handle).
 */
#ifndef SEALMAIL_STORE_DB_H
#define SEALMAIL_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>

struct db;

enum db_result {
	DB_OK = 0,
	DB_NOTFOUND = 1,
	DB_ERROR = -1,
};

/*
 * Open (creating it and its schema if `create`) the store at `path`.
 * When the caller runs as root and `owner` is a user name, the file (and its
 * journal) is chowned to that user, so the daemon running as `owner` can use
 * a store the CLI created as root. Returns NULL and writes a one-line error
 * into err on failure.
 */
struct db *db_open(const char *path, bool create, const char *owner,
    char *err, size_t errlen);
void db_close(struct db *db);

/* Accounts. `hash` is a crypt(3) string (see auth/passwd.h). */
enum db_result db_user_add(struct db *db, const char *address,
    const char *hash);
enum db_result db_user_del(struct db *db, const char *address);
enum db_result db_user_set_hash(struct db *db, const char *address,
    const char *hash);
/* On DB_OK *hash is a heap string the caller frees. */
enum db_result db_user_get_hash(struct db *db, const char *address,
    char **hash);
typedef void db_list_cb(const char *a, const char *b, void *arg);
/* Calls cb(address, NULL, arg) for each user in order. */
enum db_result db_user_list(struct db *db, db_list_cb *cb, void *arg);

/* Aliases: `address` is user@domain or "@domain" (catch-all); `target` is
 * any address (local or remote). One row per (address, target). */
enum db_result db_alias_add(struct db *db, const char *address,
    const char *target);
/* target NULL deletes every target of address. */
enum db_result db_alias_del(struct db *db, const char *address,
    const char *target);
/* Calls cb(address, target, arg) per row, or only those of `address`. */
enum db_result db_alias_list(struct db *db, const char *address,
    db_list_cb *cb, void *arg);

/*
 * Expand a recipient: an existing user is itself; an alias expands
 * recursively (depth LIMIT_ALIAS_DEPTH, at most LIMIT_ALIAS_TARGETS results,
 * loops cut); an unknown local part falls back to the "@domain" catch-all.
 * Addresses in non-local domains (per the is_local callback) are kept as
 * given. On DB_OK, *out is a heap array of n heap strings, deduplicated, the
 * caller frees all (db_strv_free). DB_NOTFOUND if the address is neither a
 * user nor an alias nor covered by a catch-all.
 */
typedef bool db_is_local_cb(const char *domain, void *arg);
enum db_result db_rcpt_expand(struct db *db, const char *address,
    db_is_local_cb *is_local, void *arg, char ***out, size_t *n);
void db_strv_free(char **v, size_t n);

/* True if authenticated `user` may use `address` as sender: the address is
 * the user's own, or an alias (not a catch-all) whose targets include user. */
bool db_user_owns(struct db *db, const char *user, const char *address);

#endif
