/* SPDX-License-Identifier: ISC */
/*
 * Internals shared by the files of the store (db.c: handle, statements,
 * errors, address checks; db_schema.c: schema versions; db_user.c: accounts
 * and ownership; db_alias.c: aliases and recipient expansion). Nothing
 * outside src/store includes this header.
 */
#ifndef SEALMAIL_STORE_DB_INTERNAL_H
#define SEALMAIL_STORE_DB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "store/db.h"
#include "store/sql.h"

/* Every statement the store runs; the SQL lives in db.c. */
enum db_stmt_id {
	DB_STMT_USER_ADD,
	DB_STMT_USER_DEL,
	DB_STMT_USER_GET,
	DB_STMT_USER_LIST,
	DB_STMT_USER_FIRST,
	DB_STMT_USER_FIRST_IN,
	DB_STMT_ALIAS_ADD,
	DB_STMT_ALIAS_DEL_ONE,
	DB_STMT_ALIAS_DEL_ALL,
	DB_STMT_ALIAS_GET,
	DB_STMT_ALIAS_LIST_ALL,
	DB_STMT_ALIAS_LIST_ONE,
	DB_STMT_DMARC_ADD,
	DB_STMT_DMARC_POLICY,
	DB_STMT_TLS_ADD,
	DB_STMT_TLS_DAY,
	DB_STMT_TLS_UNREPORTED_DOMAINS,
	DB_STMT_TLS_CLAIM,
	DB_STMT_TLS_CLAIMED,
	DB_STMT_TLS_MARK_REPORTED,
	DB_STMT_DFAIL_ADD,
	DB_STMT_DFAIL_LIST,
	DB_STMT_DFAIL_DEL,
	DB_STMT_RATE_TAKE,
	DB_STMT_RATE_PRUNE,
	DB_STMT_PASSWD_GET,
	DB_STMT_PASSWD_SET,
	DB_STMT_PASSWD_IMPORT,
	DB_STMT_PASSWD_DEL,
	DB_STMT_MAX
};

struct db {
	struct sql		*sql;
	struct sql_stmt		*stmt[DB_STMT_MAX];	/* prepared when
							 * first used */
	char			 err[256];
	struct db_dmarc_row	*dmarc;		/* deferred rows; their
						 * strings are owned here */
	size_t			 ndmarc, capdmarc;
	struct db_tls_result	*tls;		/* deferred TLS results;
						 * strings owned here */
	size_t			 ntls, captls;
	struct db_dmarc_failure	*dfail;		/* deferred failure reports;
						 * strings owned here */
	size_t			 ndfail, capdfail;
	int			 vfd;		/* the file, read for its
						 * change counter; -1 */
	struct db_rcache	*rcache;	/* db_rcache.c; owned */
	char			 delim[DB_DELIMITER_MAX + 1];	/* recipient
							 * delimiters; "" off */
	struct db_passwd	*pw;	/* the password file (db_set_passwd),
					 * owned; NULL */
};

/* db_rcache.c: recipient expansions cached while the file is unchanged.
 * init/free pair with db_open/db_close. begin reads the file's change
 * counter into *version (false: cannot, then do not cache) and drops
 * entries of another version or callback; get returns a copy the caller
 * owns; put keeps a copy of an answer found under version. */
struct db_rcache;
void db_rcache_init(struct db *db, const char *path);
void db_rcache_free(struct db *db);
/* Forget every entry (the descriptor stays). */
void db_rcache_drop(struct db *db);
bool db_rcache_begin(struct db *db, db_is_local_cb *is_local, void *arg,
    uint32_t *version);
bool db_rcache_get(struct db *db, const char *address, enum db_result *r,
    char ***out, size_t *n);
void db_rcache_put(struct db *db, uint32_t version, const char *address,
    enum db_result r, char *const *v, size_t n);

/* A growable vector of heap strings (results of queries and expansion). */
struct db_strv {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

/*
 * The cached statement `id`, prepared on first use and bound to nothing.
 * Every user calls db_stmt_done() when finished with it, even on error:
 * a statement left unreset holds a read lock that blocks writers in other
 * processes. NULL (error set) if preparing failed.
 */
struct sql_stmt *db_stmt(struct db *db, enum db_stmt_id id);
void db_stmt_done(struct sql_stmt *st);
/* A statement run rarely, prepared for one call: NULL with the error
 * set; the caller finalizes it. */
struct sql_stmt *db_prepare(struct db *db, const char *sql);
/* Column col of the current row as a heap string ("" for NULL). */
char *db_column_dup(struct sql_stmt *st, int col);

/* Bind text (copied by the driver). */
int db_bind(struct db *db, struct sql_stmt *st, int idx, const char *s);

/* Record the error for db_error(); db_fail also returns DB_ERROR and
 * appends the driver's message. */
void db_seterr(struct db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum db_result db_fail(struct db *db, const char *what);

/* Run sql (no rows); -1 with the error set (what: for the message). */
int db_exec(struct db *db, const char *sql, const char *what);

/* Work in C a step needs before its SQL runs, in the same transaction,
 * found by the step's text (not its number, which may change on merge). */
struct db_schema_hook {
	const char	*step;
	int		(*run)(struct db *db, const char *path,
			    const char *owner);
};

/* The steps of one file's schema (db_schema.c). */
struct db_schema {
	const char *const		*steps;
	int				 nsteps;
	const struct db_schema_hook	*hooks;
	size_t				 nhooks;
};

/* The schemas of the two files: the store and the password file. */
extern const struct db_schema db_schema_store;
extern const struct db_schema db_schema_passwd;

/* db_open for either file: without the recipient cache. SQLite only (a
 * file at path, PRAGMAs, the schema steps of db_schema.c): a PostgreSQL
 * store needs its own open that connects with sql_open_pg and checks the
 * version of its migrations instead. */
struct db *db_open_schema(const char *path, bool create, const char *owner,
    const struct db_schema *schema, char *err, size_t errlen);
/* Chown the file at path and its journal to owner (see db.h). */
int db_set_owner(const char *path, const char *owner, char *err,
    size_t errlen);

/* Create (if create) or upgrade the schema of the file at path to the
 * current version; owner: for files a step makes beside it. */
int db_schema_init(struct db *db, const struct db_schema *schema,
    bool create, const char *path, const char *owner);

/* Look up the user `address` (any case). On DB_OK, *stored (its stored
 * spelling) is a heap string when stored is not NULL. */
enum db_result db_user_find(struct db *db, const char *address,
    char **stored);

/* A crypt(3) string the password file accepts: printable ASCII without
 * spaces, 1 to 512 bytes ("!" and "*" lock an account). */
bool db_valid_hash(const char *hash);
/* Write or remove address's hash in the password file (address already
 * normalized). */
enum db_result db_passwd_set(struct db_passwd *pw, const char *address,
    const char *hash);
enum db_result db_passwd_del(struct db_passwd *pw, const char *address);
/* The error of pw's last failed call. */
const char *db_passwd_error(const struct db_passwd *pw);

/* The schema hook before the step that drops users.hash: copy every hash
 * of the store at path into the password file beside it, durably. */
int db_passwd_move(struct db *db, const char *path, const char *owner);

/* Run a statement that returns no rows to completion, then reset it. */
enum db_result db_step_done(struct db *db, struct sql_stmt *st,
    const char *what);

/* Run the one-column query `id` with text parameter `key` and collect the
 * values into v (appended). */
enum db_result db_query_strv(struct db *db, enum db_stmt_id id,
    const char *key, struct db_strv *v);

/* The first value of the one-column query id with key into *out (heap,
 * when out is not NULL) on DB_OK; DB_NOTFOUND without a row. */
enum db_result db_lookup_one(struct db *db, enum db_stmt_id id,
    const char *key, char **out);

void db_strv_push(struct db_strv *v, const char *s);
bool db_strv_has(const struct db_strv *v, const char *s);
void db_strv_clear(struct db_strv *v);

/*
 * The recursive expansion behind db_rcpt_expand and db_user_owns, starting
 * at the normalized `address`. catchall selects whether "@domain" applies
 * to unknown local parts. Results are appended to out.
 */
enum db_result db_alias_walk(struct db *db, const char *address,
    bool catchall, db_is_local_cb *is_local, void *arg,
    struct db_strv *out);

#endif
