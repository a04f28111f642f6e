/* SPDX-License-Identifier: ISC */
/*
 * Aliases in the store, and recipient expansion through them. The alias
 * table is written by the administrator, but expansion is driven by RCPT TO
 * from anyone, so it is bounded in depth (LIMIT_ALIAS_DEPTH), results
 * (LIMIT_ALIAS_TARGETS) and addresses visited, and cuts loops.
 */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "core/log.h"
#include "msg/addr.h"
#include "store/db_internal.h"

/* Addresses one expansion may look at, loops and fan-out included. */
#define DB_WALK_SEEN_MAX	(4 * LIMIT_ALIAS_TARGETS)

struct db_walk {
	struct db	*db;
	bool		 catchall;
	db_is_local_cb	*is_local;
	void		*arg;
	struct db_strv	*out;
	struct db_strv	 seen;		/* every address expanded */
	bool		 capped;	/* a limit cut the expansion */
};

/* Normalize address and target into a and t; "invalid ..." on failure. */
static int
db_alias_args(struct db *db, const char *address, const char *target,
    char *a, char *t)
{
	if (db_address_normalize(address, true, a, DB_ADDRESS_MAX + 1) == -1) {
		db_seterr(db, "invalid alias address");
		return -1;
	}
	if (target != NULL &&
	    db_address_normalize(target, false, t, DB_ADDRESS_MAX + 1) == -1) {
		db_seterr(db, "invalid alias target");
		return -1;
	}
	return 0;
}

enum db_result
db_alias_add(struct db *db, const char *address, const char *target)
{
	char a[DB_ADDRESS_MAX + 1], t[DB_ADDRESS_MAX + 1];
	struct sql_stmt *st;

	if (target == NULL || db_alias_args(db, address, target, a, t) == -1)
		return DB_ERROR;
	if (strcasecmp(a, t) == 0) {
		db_seterr(db, "alias %s cannot point to itself", a);
		return DB_ERROR;
	}
	if ((st = db_stmt(db, DB_STMT_ALIAS_ADD)) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, a) == -1 || db_bind(db, st, 2, t) == -1) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	return db_step_done(db, st, "add alias");
}

enum db_result
db_alias_del(struct db *db, const char *address, const char *target)
{
	char a[DB_ADDRESS_MAX + 1], t[DB_ADDRESS_MAX + 1];
	struct sql_stmt *st;
	enum db_result r;

	/* Nothing invalid can have been stored, so it is not found. */
	if (db_alias_args(db, address, target, a, t) == -1)
		return DB_NOTFOUND;
	st = db_stmt(db, target != NULL ? DB_STMT_ALIAS_DEL_ONE :
	    DB_STMT_ALIAS_DEL_ALL);
	if (st == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, a) == -1 ||
	    (target != NULL && db_bind(db, st, 2, t) == -1)) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	if ((r = db_step_done(db, st, "delete alias")) != DB_OK)
		return r;
	return sql_changes(db->sql) > 0 ? DB_OK : DB_NOTFOUND;
}

/* Collect (address, target) rows as pairs in v. */
static enum db_result
db_alias_rows(struct db *db, const char *a, struct db_strv *v)
{
	struct sql_stmt *st;
	int rc;

	st = db_stmt(db, a != NULL ? DB_STMT_ALIAS_LIST_ONE :
	    DB_STMT_ALIAS_LIST_ALL);
	if (st == NULL)
		return DB_ERROR;
	if (a != NULL && db_bind(db, st, 1, a) == -1) {
		db_stmt_done(st);
		return DB_ERROR;
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		const char *x = sql_column_text(st, 0);
		const char *y = sql_column_text(st, 1);

		db_strv_push(v, x != NULL ? (const char *)x : "");
		db_strv_push(v, y != NULL ? (const char *)y : "");
	}
	if (rc != SQL_DONE)
		db_fail(db, "list aliases");
	db_stmt_done(st);
	return rc == SQL_DONE ? DB_OK : DB_ERROR;
}

enum db_result
db_alias_list(struct db *db, const char *address, db_list_cb *cb,
    void *arg)
{
	char a[DB_ADDRESS_MAX + 1];
	struct db_strv v = { 0 };
	enum db_result r;

	if (address != NULL &&
	    db_address_normalize(address, true, a, sizeof(a)) == -1)
		return DB_OK;	/* no rows: nothing invalid is stored */
	r = db_alias_rows(db, address != NULL ? a : NULL, &v);
	if (r == DB_OK)
		for (size_t i = 0; i + 1 < v.n; i += 2)
			cb(v.v[i], v.v[i + 1], arg);
	db_strv_clear(&v);
	return r;
}

/* Add one final address to the results, once. */
static void
db_walk_result(struct db_walk *w, const char *s)
{
	if (db_strv_has(w->out, s))
		return;
	if (w->out->n >= LIMIT_ALIAS_TARGETS) {
		w->capped = true;
		return;
	}
	db_strv_push(w->out, s);
}

/*
 * "local@domain" cut at the first recipient delimiter of its local part
 * into base; false if there is none to cut (a Quoted-string local part is
 * left alone: cutting it would break its quoting), or if the cut would
 * end the Dot-string in '.' ("a.+x@"), which is no address.
 */
static bool
db_walk_base(const struct db *db, const char *a, char *base)
{
	const char *dom = addr_text_domain(a);
	size_t llen = (size_t)(dom - a) - 1;
	size_t cut = strcspn(a, db->delim);

	if (db->delim[0] == '\0' || a[0] == '"' || cut == 0 || cut >= llen ||
	    a[cut - 1] == '.')
		return false;
	memcpy(base, a, cut);
	snprintf(base + cut, DB_ADDRESS_MAX + 1 - cut, "@%s", dom);
	return true;
}

static enum db_result db_walk(struct db_walk *, const char *, unsigned);

/*
 * Expand `a`, which is no user: through its aliases; else, for a
 * recipient, through its base address (recipient delimiter) and then the
 * domain's catch-all, as Postfix orders user+ext, user, @domain.
 */
static enum db_result
db_walk_targets(struct db_walk *w, const char *a, unsigned depth)
{
	char key[DB_ADDRESS_MAX + 2];
	struct db_strv t = { 0 };
	enum db_result r;

	r = db_query_strv(w->db, DB_STMT_ALIAS_GET, a, &t);
	if (r == DB_OK && t.n == 0 && w->catchall) {
		if (db_walk_base(w->db, a, key))
			return db_walk(w, key, depth);
		snprintf(key, sizeof(key), "@%s", addr_text_domain(a));
		r = db_query_strv(w->db, DB_STMT_ALIAS_GET, key, &t);
	}
	if (r == DB_OK && t.n > 0 && depth >= LIMIT_ALIAS_DEPTH)
		w->capped = true;
	else
		for (size_t i = 0; r == DB_OK && i < t.n; i++)
			r = db_walk(w, t.v[i], depth + 1);
	db_strv_clear(&t);
	return r;
}

/* Expand `address`, `depth` aliases deep; see db_rcpt_expand in db.h. */
static enum db_result
db_walk(struct db_walk *w, const char *address, unsigned depth)
{
	char a[DB_ADDRESS_MAX + 1], *stored = NULL;
	enum db_result r;

	/* Rows are checked when added; skip any that were stored by hand. */
	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_OK;
	if (db_strv_has(&w->seen, a))
		return DB_OK;		/* a loop, or expanded already */
	if (w->seen.n >= DB_WALK_SEEN_MAX) {
		w->capped = true;
		return DB_OK;
	}
	db_strv_push(&w->seen, a);
	if (w->is_local != NULL && !w->is_local(addr_text_domain(a), w->arg)) {
		db_walk_result(w, a);
		return DB_OK;
	}
	if ((r = db_user_find(w->db, a, &stored)) != DB_NOTFOUND) {
		if (r == DB_OK)
			db_walk_result(w, stored);
		free(stored);
		return r;
	}
	return db_walk_targets(w, a, depth);
}

enum db_result
db_alias_walk(struct db *db, const char *address, bool catchall,
    db_is_local_cb *is_local, void *arg, struct db_strv *out)
{
	struct db_walk w = {
		.db = db, .catchall = catchall, .is_local = is_local,
		.arg = arg, .out = out,
	};
	enum db_result r;
	char esc[128];

	r = db_walk(&w, address, 0);
	if (w.capped)
		log_warn("store alias expansion cut address=%s depth=%d "
		    "targets=%d", log_quote(address, strlen(address), esc,
		    sizeof(esc)), LIMIT_ALIAS_DEPTH, LIMIT_ALIAS_TARGETS);
	db_strv_clear(&w.seen);
	return r;
}

/*
 * postmaster@DOMAIN that expanded to nothing (db.h): the oldest account of
 * DOMAIN, else of all, else the address itself. DB_NOTFOUND for any other
 * address, or a domain that is not local.
 */
static enum db_result
db_rcpt_postmaster(struct db *db, const char *a, db_is_local_cb *is_local,
    void *arg, struct db_strv *v)
{
	const char *dom = addr_text_domain(a);
	char *first = NULL;
	enum db_result r;

	if (strncasecmp(a, "postmaster@", 11) != 0 ||
	    (is_local != NULL && !is_local(dom, arg)))
		return DB_NOTFOUND;
	if ((r = db_user_first(db, dom, &first)) == DB_NOTFOUND)
		r = db_user_first(db, NULL, &first);
	if (r == DB_ERROR)
		return r;
	db_strv_push(v, first != NULL ? first : a);
	free(first);
	return DB_OK;
}

enum db_result
db_rcpt_expand(struct db *db, const char *address, db_is_local_cb *is_local,
    void *arg, char ***out, size_t *n)
{
	char a[DB_ADDRESS_MAX + 1];
	struct db_strv v = { 0 };
	enum db_result r;
	uint32_t version;
	bool cache;

	*out = NULL;
	*n = 0;
	if (db_address_normalize(address, false, a, sizeof(a)) == -1)
		return DB_NOTFOUND;
	cache = db_rcache_begin(db, is_local, arg, &version);
	if (cache && db_rcache_get(db, a, &r, out, n))
		return r;
	r = db_alias_walk(db, a, true, is_local, arg, &v);
	if (r == DB_OK && v.n == 0)
		r = db_rcpt_postmaster(db, a, is_local, arg, &v);
	if (cache)
		db_rcache_put(db, version, a, r, v.v, v.n);
	if (r != DB_OK) {
		db_strv_clear(&v);
		return r;
	}
	*out = v.v;
	*n = v.n;
	return DB_OK;
}
