/* SPDX-License-Identifier: ISC */
/* Outbound TLS session results (see db.h), counted per UTC day and RFC
 * 8460 fields, kept for `sealmail tls-results` and TLS-RPT reports. */
#include "store/db.h"

#include "store/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

/* The string fields of a row, in the order of DB_STMT_TLS_ADD's ?2..?11. */
#define DB_TLS_STRINGS(r) { &(r)->policy_domain, &(r)->policy_type, \
	&(r)->policy_string, &(r)->mx_host, &(r)->sending_ip, \
	&(r)->receiving_mx, &(r)->receiving_helo, &(r)->receiving_ip, \
	&(r)->result, &(r)->failure_code }
#define DB_TLS_NSTRINGS	10

long long
db_tls_day(long long time)
{
	return time >= 0 ? time / 86400 : -((-time + 86399) / 86400);
}

/* UPSERT one row with count 1, inside the caller's transaction. */
static enum db_result
db_tls_result_add(struct db *db, const struct db_tls_result *r)
{
	const char *const *f[] = DB_TLS_STRINGS(r);
	struct sql_stmt *st;
	enum db_result res = DB_OK;

	if ((st = db_stmt(db, DB_STMT_TLS_ADD)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, db_tls_day(r->time)) != SQL_OK ||
	    sql_bind_int64(st, 12, 1) != SQL_OK)
		res = db_fail(db, "record tls result");
	for (int i = 0; res == DB_OK && i < DB_TLS_NSTRINGS; i++)
		if (db_bind(db, st, i + 2, *f[i]) == -1)
			res = DB_ERROR;
	if (res == DB_OK)
		res = db_step_done(db, st, "record tls result");
	db_stmt_done(st);
	return res;
}

static void
db_tls_result_free(struct db_tls_result *r)
{
	const char **f[] = DB_TLS_STRINGS(r);

	for (size_t i = 0; i < DB_TLS_NSTRINGS; i++)
		free((char *)*f[i]);
}

enum db_result
db_tls_result_defer(struct db *db, const struct db_tls_result *row)
{
	struct db_tls_result *r;

	if (db->ntls >= DB_TLS_PENDING_MAX &&
	    db_tls_result_flush(db) != DB_OK)
		return DB_ERROR;
	if (db->ntls == db->captls) {
		db->captls = db->captls ? db->captls * 2 : 16;
		db->tls = xreallocarray(db->tls, db->captls,
		    sizeof(*db->tls));
	}
	r = &db->tls[db->ntls++];
	*r = *row;
	const char **f[] = DB_TLS_STRINGS(r);
	for (size_t i = 0; i < DB_TLS_NSTRINGS; i++)
		*f[i] = *f[i] != NULL ? xstrndup(*f[i], DB_TLS_FIELD_MAX) :
		    xstrdup("");
	return DB_OK;
}

enum db_result
db_tls_result_flush(struct db *db)
{
	enum db_result res = DB_OK;
	size_t i;

	if (db->ntls == 0)
		return DB_OK;
	res = db_begin(db);
	for (i = 0; res == DB_OK && i < db->ntls; i++)
		res = db_tls_result_add(db, &db->tls[i]);
	if (db_end(db, res == DB_OK) != DB_OK)
		res = DB_ERROR;
	for (i = 0; i < db->ntls; i++)
		db_tls_result_free(&db->tls[i]);
	/* Not kept for the next batch: an idle process holds nothing. */
	free(db->tls);
	db->tls = NULL;
	db->ntls = db->captls = 0;
	return res;
}

size_t
db_tls_result_pending(const struct db *db)
{
	return db->ntls;
}

/* Column i of the current row as a heap string ("" for NULL). */
static char *
db_tls_col(struct sql_stmt *st, int i)
{
	const char *s = sql_column_text(st, i);

	return xstrdup(s != NULL ? (const char *)s : "");
}

/* True if the current row (columns 0-3) is policy p. */
static bool
db_tls_same_policy(struct sql_stmt *st, const struct db_tls_policy *p)
{
	const char *key[] = { p->policy_domain, p->policy_type,
	    p->policy_string, p->mx_host };

	for (int i = 0; i < 4; i++) {
		const char *s = sql_column_text(st, i);
		if (strcmp(s != NULL ? (const char *)s : "", key[i]) != 0)
			return false;
	}
	return true;
}

/* Start a new policy from the current row. */
static struct db_tls_policy *
db_tls_policy_push(struct db_tls_day *d, struct sql_stmt *st)
{
	struct db_tls_policy *p;

	d->policy = xreallocarray(d->policy, d->npolicy + 1,
	    sizeof(*d->policy));
	p = &d->policy[d->npolicy++];
	memset(p, 0, sizeof(*p));
	p->policy_domain = db_tls_col(st, 0);
	p->policy_type = db_tls_col(st, 1);
	p->policy_string = db_tls_col(st, 2);
	p->mx_host = db_tls_col(st, 3);
	return p;
}

/* Count the current row (columns 4-10) into p. */
static void
db_tls_policy_count(struct db_tls_policy *p, struct sql_stmt *st)
{
	const char *res = sql_column_text(st, 4);
	long long n = sql_column_int64(st, 10);
	struct db_tls_failure *f;

	if (res != NULL && strcmp((const char *)res, "success") == 0) {
		p->successes += n;
		return;
	}
	p->failures += n;
	p->failure = xreallocarray(p->failure, p->nfailure + 1,
	    sizeof(*p->failure));
	f = &p->failure[p->nfailure++];
	f->result = db_tls_col(st, 4);
	f->sending_ip = db_tls_col(st, 5);
	f->receiving_mx = db_tls_col(st, 6);
	f->receiving_helo = db_tls_col(st, 7);
	f->receiving_ip = db_tls_col(st, 8);
	f->failure_code = db_tls_col(st, 9);
	f->count = n;
}

/* Read the rows of statement st (columns as DB_STMT_TLS_DAY), bound to
 * day and, if not NULL, policy_domain, into *out. */
static enum db_result
db_tls_read(struct db *db, enum db_stmt_id id, long long day,
    const char *policy_domain, struct db_tls_day *out)
{
	struct db_tls_policy *p = NULL;
	struct sql_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((st = db_stmt(db, id)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, day) != SQL_OK ||
	    (policy_domain != NULL && db_bind(db, st, 2, policy_domain) ==
	    -1)) {
		db_stmt_done(st);
		return db_fail(db, "read tls results");
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (p == NULL || !db_tls_same_policy(st, p))
			p = db_tls_policy_push(out, st);
		db_tls_policy_count(p, st);
	}
	if (rc != SQL_DONE) {
		db_fail(db, "read tls results");
		db_stmt_done(st);
		db_tls_day_clear(out);
		return DB_ERROR;
	}
	db_stmt_done(st);
	return DB_OK;
}

enum db_result
db_tls_results_day(struct db *db, long long day, struct db_tls_day *out)
{
	return db_tls_read(db, DB_STMT_TLS_DAY, day, NULL, out);
}

enum db_result
db_tls_results_claimed(struct db *db, long long day,
    const char *policy_domain, struct db_tls_day *out)
{
	return db_tls_read(db, DB_STMT_TLS_CLAIMED, day, policy_domain, out);
}

enum db_result
db_tls_unreported_domains(struct db *db, long long day, char ***out,
    size_t *n)
{
	struct db_strv v = { 0 };
	struct sql_stmt *st;
	const char *s;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = db_stmt(db, DB_STMT_TLS_UNREPORTED_DOMAINS)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, day) != SQL_OK) {
		db_stmt_done(st);
		return db_fail(db, "read tls results");
	}
	while ((rc = sql_step(st)) == SQL_ROW)
		if ((s = sql_column_text(st, 0)) != NULL)
			db_strv_push(&v, (const char *)s);
	db_stmt_done(st);
	if (rc != SQL_DONE) {
		db_strv_clear(&v);
		return db_fail(db, "read tls results");
	}
	*out = v.v;
	*n = v.n;
	return DB_OK;
}

/* Run the UPDATE id for (day, policy_domain). */
static enum db_result
db_tls_update(struct db *db, enum db_stmt_id id, long long day,
    const char *policy_domain)
{
	struct sql_stmt *st;
	enum db_result res;

	if ((st = db_stmt(db, id)) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, day) != SQL_OK ||
	    db_bind(db, st, 2, policy_domain) == -1)
		res = db_fail(db, "update tls results");
	else
		res = db_step_done(db, st, "update tls results");
	db_stmt_done(st);
	return res;
}

enum db_result
db_tls_claim(struct db *db, long long day, const char *policy_domain)
{
	return db_tls_update(db, DB_STMT_TLS_CLAIM, day, policy_domain);
}

enum db_result
db_tls_mark_reported(struct db *db, long long day, const char *policy_domain)
{
	return db_tls_update(db, DB_STMT_TLS_MARK_REPORTED, day,
	    policy_domain);
}

enum db_result
db_tls_prune(struct db *db, long long before)
{
	struct sql_stmt *st;
	enum db_result res;

	if ((st = db_prepare(db, "DELETE FROM tls_results WHERE day < ?1")) ==
	    NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, db_tls_day(before)) != SQL_OK)
		res = db_fail(db, "prune tls results");
	else
		res = db_step_done(db, st, "prune tls results");
	sql_finalize(st);
	return res;
}

void
db_tls_day_clear(struct db_tls_day *d)
{
	for (size_t i = 0; i < d->npolicy; i++) {
		struct db_tls_policy *p = &d->policy[i];
		for (size_t j = 0; j < p->nfailure; j++) {
			struct db_tls_failure *f = &p->failure[j];
			free(f->result);
			free(f->sending_ip);
			free(f->receiving_mx);
			free(f->receiving_helo);
			free(f->receiving_ip);
			free(f->failure_code);
		}
		free(p->failure);
		free(p->policy_domain);
		free(p->policy_type);
		free(p->policy_string);
		free(p->mx_host);
	}
	free(d->policy);
	d->policy = NULL;
	d->npolicy = 0;
}
