/* SPDX-License-Identifier: ISC */
/*
 * The store handle: opening DATA_DIR/sealmail.db safely (mode, owner,
 * no symlinks), the cache of prepared statements, error text, and the
 * address checks every add function applies. The file itself is trusted
 * only as far as SQLite's defensive mode allows: it may be writable by the
 * unprivileged daemon user while root runs the CLI on it.
 */
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "store/db_internal.h"
#include "store/db_schema_pg.h"

/* Indexed by enum db_stmt_id. Parameters are always bound, never pasted. */
static const char *const db_stmt_sql[DB_STMT_MAX] = {
	/* seq: the order of creation, whatever the clock did. */
	[DB_STMT_USER_ADD] = "INSERT INTO users(address, created, seq) "
	    "VALUES(?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM users))",
	[DB_STMT_USER_DEL] = "DELETE FROM users WHERE address = ?1",
	[DB_STMT_USER_GET] = "SELECT address FROM users WHERE address = ?1",
	[DB_STMT_USER_LIST] = "SELECT address FROM users ORDER BY address",
	[DB_STMT_USER_FIRST] =
	    "SELECT address FROM users ORDER BY created, seq LIMIT 1",
	/* ?1 is "@domain": no '%' or '_' can be in a valid domain. */
	[DB_STMT_USER_FIRST_IN] = "SELECT address FROM users WHERE address "
	    "LIKE '%' || ?1 ORDER BY created, seq LIMIT 1",
	[DB_STMT_ALIAS_ADD] =
	    "INSERT INTO aliases(address, target) VALUES(?1, ?2) "
	    "ON CONFLICT DO NOTHING",
	[DB_STMT_ALIAS_DEL_ONE] =
	    "DELETE FROM aliases WHERE address = ?1 AND target = ?2",
	[DB_STMT_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE address = ?1",
	[DB_STMT_ALIAS_GET] =
	    "SELECT target FROM aliases WHERE address = ?1 ORDER BY target",
	[DB_STMT_ALIAS_LIST_ALL] =
	    "SELECT address, target FROM aliases ORDER BY address, target",
	[DB_STMT_ALIAS_LIST_ONE] = ("SELECT address, target FROM aliases "
	    "WHERE address = ?1 ORDER BY target"),
	[DB_STMT_DMARC_ADD] = "INSERT INTO dmarc_results (time, source_ip, "
	    "header_from, envelope_from, policy_domain, policy, disposition, "
	    "result, dkim_domain, dkim_result, dkim_aligned, spf_domain, "
	    "spf_result, spf_aligned, testing, dkim_selector) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[DB_STMT_DMARC_POLICY] = "INSERT INTO dmarc_policies (policy_domain, "
	    "time, p, sp, np, adkim, aspf, fo, testing, rua) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (policy_domain) DO "
	    "UPDATE SET time = excluded.time, p = excluded.p, sp = "
	    "excluded.sp, np = excluded.np, adkim = excluded.adkim, aspf = "
	    "excluded.aspf, fo = excluded.fo, testing = excluded.testing, "
	    "rua = excluded.rua WHERE excluded.time >= dmarc_policies.time",
	[DB_STMT_TLS_ADD] = "INSERT INTO tls_results (day, policy_domain, "
	    "policy_type, policy_string, mx_host, sending_ip, receiving_mx, "
	    "receiving_helo, receiving_ip, result, failure_code, count) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	    "ON CONFLICT (day, policy_domain, policy_type, policy_string, "
	    "mx_host, sending_ip, receiving_mx, receiving_helo, receiving_ip, "
	    "result, failure_code) DO UPDATE SET count = tls_results.count + "
	    "excluded.count",
	/* Ordered by policy first, so the rows of one policy are adjacent
	 * (db_tls_results_day groups them); BINARY order, as the key
	 * compares. */
	[DB_STMT_TLS_DAY] = "SELECT policy_domain, policy_type, "
	    "policy_string, mx_host, result, sending_ip, receiving_mx, "
	    "receiving_helo, receiving_ip, failure_code, count FROM "
	    "tls_results WHERE day = ?1 ORDER BY policy_domain, policy_type, "
	    "policy_string, mx_host, result, receiving_mx, receiving_ip, "
	    "sending_ip, receiving_helo, failure_code",
	[DB_STMT_TLS_UNREPORTED_DOMAINS] = "SELECT DISTINCT policy_domain "
	    "FROM tls_results WHERE day = ?1 AND count > reported ORDER BY 1",
	[DB_STMT_TLS_CLAIM] = "UPDATE tls_results SET claimed = count "
	    "WHERE day = ?1 AND policy_domain = ?2",
	/* The columns and order of DB_STMT_TLS_DAY; the count is what the
	 * claim added since the last report. */
	[DB_STMT_TLS_CLAIMED] = "SELECT policy_domain, policy_type, "
	    "policy_string, mx_host, result, sending_ip, receiving_mx, "
	    "receiving_helo, receiving_ip, failure_code, claimed - reported "
	    "FROM tls_results WHERE day = ?1 AND policy_domain = ?2 AND "
	    "claimed > reported ORDER BY policy_domain, policy_type, "
	    "policy_string, mx_host, result, receiving_mx, receiving_ip, "
	    "sending_ip, receiving_helo, failure_code",
	[DB_STMT_TLS_MARK_REPORTED] = "UPDATE tls_results SET reported = "
	    "claimed WHERE day = ?1 AND policy_domain = ?2",
	[DB_STMT_DFAIL_ADD] = "INSERT INTO dmarc_failures (time, source_ip, "
	    "policy_domain, header_from, mail_from, ruf, auth_failure, "
	    "auth_results, alignment, delivery, headers, dkim_domain, "
	    "dkim_identity, dkim_selector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[DB_STMT_DFAIL_LIST] = "SELECT id, time, source_ip, policy_domain, "
	    "header_from, mail_from, ruf, auth_failure, auth_results, "
	    "alignment, delivery, headers, dkim_domain, dkim_identity, "
	    "dkim_selector FROM dmarc_failures ORDER BY id "
	    "LIMIT ?1",
	[DB_STMT_DFAIL_DEL] = "DELETE FROM dmarc_failures WHERE id = ?1",
	/* One statement, so two runs cannot both take the last slot. */
	[DB_STMT_RATE_TAKE] = "INSERT INTO report_rate (dest, hour, count) "
	    "VALUES (?1, ?2, 1) ON CONFLICT (dest, hour) DO UPDATE SET "
	    "count = report_rate.count + 1 WHERE report_rate.count < ?3",
	[DB_STMT_RATE_PRUNE] = "DELETE FROM report_rate WHERE hour < ?1",
	/* The password file's (db_passwd.c). */
	[DB_STMT_PASSWD_GET] = "SELECT hash FROM passwords WHERE address = ?1",
	[DB_STMT_PASSWD_SET] = "INSERT INTO passwords(address, hash) "
	    "VALUES(?1, ?2) ON CONFLICT (address) DO UPDATE SET hash = "
	    "excluded.hash",
	/* A hash already there is newer than the store's (db_passwd_move). */
	[DB_STMT_PASSWD_IMPORT] =
	    "INSERT INTO passwords(address, hash) VALUES(?1, ?2) "
	    "ON CONFLICT DO NOTHING",
	[DB_STMT_PASSWD_DEL] = "DELETE FROM passwords WHERE address = ?1",
};

/* Resolve `owner` when we are root and it names a user; else -1. */
static int
db_owner_ids(const char *owner, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	if (owner == NULL || *owner == '\0' || geteuid() != 0)
		return -1;
	if (getpwnam_r(owner, &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return -1;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

/*
 * Chown one file to uid:gid. It is opened with O_NOFOLLOW and checked to be
 * a regular file with a single link before fchown: whoever can write the
 * folder (the daemon user) could otherwise plant a symlink or hard link to
 * /etc/shadow and have root hand it over. A missing optional file is fine.
 */
static int
db_chown_file(const char *path, uid_t uid, gid_t gid, bool optional,
    char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (optional && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "%s: not a regular file with one link, "
		    "not changing its owner", path);
		close(fd);
		return -1;
	}
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Chown the store and a leftover journal (see db.h for why only those). */
int
db_set_owner(const char *path, const char *owner, char *err, size_t errlen)
{
	char journal[4096];
	uid_t uid;
	gid_t gid;

	if (db_owner_ids(owner, &uid, &gid) == -1)
		return 0;
	if (db_chown_file(path, uid, gid, false, err, errlen) == -1)
		return -1;
	if ((size_t)snprintf(journal, sizeof(journal), "%s-journal", path) >=
	    sizeof(journal)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	/* The journal persists (db_open): made by root, it must be the
	 * daemon user's too. */
	return db_chown_file(journal, uid, gid, true, err, errlen);
}

/* Create an empty file with mode 0600 (the store is the daemon's, the
 * password file holds hashes) so that SQLite does not create it with its
 * default 0644. */
static int
db_precreate(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct db *
db_open(const char *path, bool create, const char *owner, char *err,
    size_t errlen)
{
	struct db *db;

	db = db_open_schema(path, create, owner, &db_schema_store, err,
	    errlen);
	if (db != NULL)
		db_rcache_init(db, path);
	return db;
}

struct db *
db_open_pg(const char *dsn, const char *password, char *err, size_t errlen)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int v;

	/* No file: the recipient cache stays off until it polls the
	 * database's change counter (sealmail_changes). */
	db->vfd = -1;
	if ((db->sql = sql_open_pg(dsn, password, err, errlen)) == NULL ||
	    db_schema_pg_version(db->sql, &v, err, errlen) == -1)
		goto fail;
	if (v != db_schema_pg_latest()) {
		snprintf(err, errlen, "the PostgreSQL store is at schema "
		    "version %d, this sealmail's is %d: %s", v,
		    db_schema_pg_latest(), v < db_schema_pg_latest() ?
		    "run `sealmail store migrate`" : "a newer sealmail "
		    "migrated it");
		goto fail;
	}
	return db;
fail:
	db_close(db);
	return NULL;
}

struct db *
db_open_pg_later(const char *dsn, const char *password, char *err,
    size_t errlen)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->vfd = -1;		/* as db_open_pg */
	if ((db->sql = sql_open_pg_later(dsn, password, err, errlen)) == NULL) {
		db_close(db);
		return NULL;
	}
	return db;
}

struct db *
db_open_schema(const char *path, bool create, const char *owner,
    const struct db_schema *schema, char *err, size_t errlen)
{
	struct db *db;

	if (create) {
		char journal[4096];

		if ((size_t)snprintf(journal, sizeof(journal), "%s-journal",
		    path) >= sizeof(journal)) {
			snprintf(err, errlen, "%s: path too long", path);
			return NULL;
		}
		if (db_precreate(path, err, errlen) == -1 ||
		    db_precreate(journal, err, errlen) == -1)
			return NULL;
	}
	db = xcalloc(1, sizeof(*db));
	db->vfd = -1;
	db->sql = sql_open_sqlite(path, create ? SQL_OPEN_CREATE : 0, err,
	    errlen);
	if (db->sql == NULL)
		goto fail;
	/* PERSIST: the journal is made once (below, or by the master before
	 * any child exists) and never deleted, so the sandboxed children
	 * need rights on these two files only, never on data_dir itself
	 * (which also holds keys/). Every connection must agree. Temporary
	 * data (sorts beyond the cache, temporary tables) stays in memory:
	 * SQLite would put it in files in /var/tmp or /tmp, which the
	 * children's Landlock rules do not grant either. (SQLite only, as
	 * this whole function: a file at path.) */
	if (sql_exec(db->sql, "PRAGMA journal_mode = PERSIST; "
	    "PRAGMA temp_store = MEMORY") != SQL_OK) {
		snprintf(err, errlen, "%s: %s", path, sql_errmsg(db->sql));
		goto fail;
	}
	if (db_schema_init(db, schema, create, path, owner) == -1) {
		snprintf(err, errlen, "%s: %s", path, db->err);
		goto fail;
	}
	if (db_set_owner(path, owner, err, errlen) == -1)
		goto fail;
	return db;
fail:
	db_close(db);
	return NULL;
}

int
db_exec(struct db *db, const char *sql, const char *what)
{
	if (sql_exec(db->sql, sql) != SQL_OK) {
		db_fail(db, what);
		return -1;
	}
	return 0;
}

enum db_result
db_begin(struct db *db)
{
	if (sql_begin(db->sql, true) != SQL_OK)
		return db_fail(db, "begin");
	return DB_OK;
}

enum db_result
db_end(struct db *db, bool ok)
{
	if (ok && sql_commit(db->sql) == SQL_OK)
		return DB_OK;
	if (ok)
		db_fail(db, "commit");
	/* After a failed COMMIT the transaction may still be open. */
	sql_rollback(db->sql);
	return DB_ERROR;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	size_t n = db->ndmarc;
	if (n > 0 && db_dmarc_flush(db) != DB_OK)
		log_warn("%zu dmarc records lost: %s", n, db_error(db));
	n = db->ntls;
	if (n > 0 && db_tls_result_flush(db) != DB_OK)
		log_warn("%zu tls results lost: %s", n, db_error(db));
	n = db->ndfail;
	if (n > 0 && db_dmarc_failure_flush(db) != DB_OK)
		log_warn("%zu dmarc failure reports lost: %s", n,
		    db_error(db));
	for (size_t i = 0; i < DB_STMT_MAX; i++)
		sql_finalize(db->stmt[i]);
	sql_close(db->sql);
	db_rcache_free(db);
	db_passwd_close(db->pw);
	free(db->dmarc);
	free(db->tls);
	free(db->dfail);
	free(db);
}

void
db_release_memory(struct db *db)
{
	if (db->sql != NULL)
		sql_release_memory(db->sql);
	db_rcache_drop(db);
}

const char *
db_error(const struct db *db)
{
	return db->err[0] != '\0' ? db->err : "unknown store error";
}

void
db_seterr(struct db *db, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
}

enum db_result
db_fail(struct db *db, const char *what)
{
	db_seterr(db, "%s: %s", what, sql_errmsg(db->sql));
	return DB_ERROR;
}

struct sql_stmt *
db_stmt(struct db *db, enum db_stmt_id id)
{
	if (db->stmt[id] == NULL &&
	    (db->stmt[id] = sql_prepare(db->sql, db_stmt_sql[id])) == NULL) {
		db_fail(db, "prepare");
		return NULL;
	}
	return db->stmt[id];
}

void
db_stmt_done(struct sql_stmt *st)
{
	if (st == NULL)
		return;
	sql_reset(st);
}

struct sql_stmt *
db_prepare(struct db *db, const char *sql)
{
	struct sql_stmt *st;

	if ((st = sql_prepare(db->sql, sql)) == NULL) {
		db_fail(db, "prepare");
		return NULL;
	}
	return st;
}

char *
db_column_dup(struct sql_stmt *st, int col)
{
	const char *s = sql_column_text(st, col);

	return xstrdup(s != NULL ? s : "");
}

int
db_bind(struct db *db, struct sql_stmt *st, int idx, const char *s)
{
	if (sql_bind_text(st, idx, s) != SQL_OK) {
		db_fail(db, "bind");
		return -1;
	}
	return 0;
}

enum db_result
db_step_done(struct db *db, struct sql_stmt *st, const char *what)
{
	enum db_result r = DB_OK;

	if (sql_step(st) != SQL_DONE)
		r = db_fail(db, what);
	db_stmt_done(st);
	return r;
}

enum db_result
db_query_strv(struct db *db, enum db_stmt_id id, const char *key,
    struct db_strv *v)
{
	struct sql_stmt *st;
	const char *s;
	int rc;

	if ((st = db_stmt(db, id)) == NULL)
		return DB_ERROR;
	if (key != NULL && db_bind(db, st, 1, key) == -1) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	while ((rc = sql_step(st)) == SQL_ROW)
		if ((s = sql_column_text(st, 0)) != NULL)
			db_strv_push(v, (const char *)s);
	if (rc != SQL_DONE) {
		db_fail(db, "query");
		db_stmt_done(st);
		return DB_ERROR;
	}
	db_stmt_done(st);
	return DB_OK;
}

enum db_result
db_lookup_one(struct db *db, enum db_stmt_id id, const char *key,
    char **out)
{
	struct db_strv v = { 0 };
	enum db_result r;

	r = db_query_strv(db, id, key, &v);
	if (r == DB_OK && v.n == 0)
		r = DB_NOTFOUND;
	if (r == DB_OK && out != NULL) {
		*out = v.v[0];
		v.v[0] = NULL;
	}
	db_strv_clear(&v);
	return r;
}

void
db_strv_push(struct db_strv *v, const char *s)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n++] = xstrdup(s);
}

/* Addresses are equal ignoring ASCII case, as SQLite's NOCASE compares. */
bool
db_strv_has(const struct db_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcasecmp(v->v[i], s) == 0)
			return true;
	return false;
}

void
db_strv_clear(struct db_strv *v)
{
	db_strv_free(v->v, v->n);
	v->v = NULL;
	v->n = v->cap = 0;
}

void
db_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
db_set_recipient_delimiter(struct db *db, const char *delim)
{
	size_t n = delim != NULL ? strlen(delim) : 0;

	if (n > DB_DELIMITER_MAX)
		return -1;
	memcpy(db->delim, delim != NULL ? delim : "", n + 1);
	db_rcache_drop(db);	/* its answers assumed the old delimiters */
	return 0;
}

int
db_address_normalize(const char *in, bool catchall_ok, char *out,
    size_t outlen)
{
	struct addr a;
	size_t len;

	if (in == NULL || (len = strnlen(in, DB_ADDRESS_MAX + 1)) >
	    DB_ADDRESS_MAX)
		return -1;
	/* Non-ASCII is allowed: accounts may have UTF-8 local parts (RFC
	 * 6531), and the store is reached only after SMTPUTF8 was checked. */
	if (catchall_ok && in[0] == '@') {
		/* addr_to_text writes an empty local part as "@domain". */
		return addr_parse_domain(in + 1, len - 1, true, &a) !=
		    ADDR_OK || addr_to_text(&a, out, outlen) == -1 ? -1 : 0;
	}
	if (addr_parse_mailbox(in, len, true, &a) != ADDR_OK ||
	    addr_to_text(&a, out, outlen) == -1)
		return -1;
	return 0;
}
