/* SPDX-License-Identifier: ISC */
/* The outgoing reports' side of the store (see db.h): DMARC evaluations
 * read back per policy domain, which report was sent, and the report
 * job's state per kind. Run once per period, so statements are prepared
 * per call (db_prepare) rather than cached. */
#include "store/db.h"

#include "store/db_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

void
db_dmarc_policy_clear(struct db_dmarc_policy *p)
{
	char **f[] = { &p->domain, &p->p, &p->sp, &p->np, &p->adkim,
	    &p->aspf, &p->fo, &p->rua };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		free(*f[i]);
		*f[i] = NULL;
	}
}

enum db_result
db_dmarc_policy_get(struct db *db, const char *domain,
    struct db_dmarc_policy *out)
{
	struct sql_stmt *st;
	enum db_result res = DB_NOTFOUND;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((st = db_prepare(db, "SELECT policy_domain, time, p, sp, "
	    "np, adkim, aspf, fo, testing, rua FROM dmarc_policies WHERE "
	    "policy_domain = ?1")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, domain) == -1)
		res = DB_ERROR;
	else if ((rc = sql_step(st)) == SQL_ROW) {
		out->domain = db_column_dup(st, 0);
		out->time = sql_column_int64(st, 1);
		out->p = db_column_dup(st, 2);
		out->sp = db_column_dup(st, 3);
		out->np = db_column_dup(st, 4);
		out->adkim = db_column_dup(st, 5);
		out->aspf = db_column_dup(st, 6);
		out->fo = db_column_dup(st, 7);
		out->testing = (int)sql_column_int64(st, 8) != 0;
		out->rua = db_column_dup(st, 9);
		res = DB_OK;
	} else if (rc != SQL_DONE)
		res = db_fail(db, "read dmarc policy");
	sql_finalize(st);
	return res;
}

enum db_result
db_dmarc_report_domains(struct db *db, long long begin, long long end,
    char ***out, size_t *n)
{
	struct db_strv v = { 0 };
	struct sql_stmt *st;
	enum db_result res = DB_OK;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = db_prepare(db, "SELECT DISTINCT r.policy_domain "
	    "FROM dmarc_results r JOIN dmarc_policies p ON p.policy_domain = "
	    "r.policy_domain WHERE r.time >= ?1 AND r.time < ?2 AND p.rua <> "
	    "'' ORDER BY 1")) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, begin) != SQL_OK ||
	    sql_bind_int64(st, 2, end) != SQL_OK)
		res = db_fail(db, "bind");
	while (res == DB_OK && (rc = sql_step(st)) != SQL_DONE) {
		if (rc != SQL_ROW) {
			res = db_fail(db, "read dmarc domains");
			break;
		}
		db_strv_push(&v, sql_column_text(st, 0));
	}
	sql_finalize(st);
	if (res != DB_OK) {
		db_strv_clear(&v);
		return res;
	}
	*out = v.v;
	*n = v.n;
	return DB_OK;
}

enum db_result
db_dmarc_pass_rates(struct db *db, long long since, struct db_dmarc_rate *out,
    size_t max, size_t *n)
{
	struct sql_stmt *st;
	enum db_result res = DB_OK;
	int rc;

	*n = 0;
	if ((st = db_prepare(db, "SELECT header_from, "
	    "SUM(CASE WHEN result = 'pass' THEN 1 ELSE 0 END), COUNT(*) FROM "
	    "dmarc_results "
	    "WHERE time >= ?1 GROUP BY header_from "
	    "ORDER BY 3 DESC, 1 LIMIT ?2")) == NULL)
		return DB_ERROR;
	if (sql_bind_int64(st, 1, since) != SQL_OK ||
	    sql_bind_int64(st, 2, (int64_t)max) != SQL_OK)
		res = db_fail(db, "bind");
	while (res == DB_OK && *n < max &&
	    (rc = sql_step(st)) != SQL_DONE) {
		if (rc != SQL_ROW) {
			res = db_fail(db, "read dmarc pass rates");
			break;
		}
		const char *d = sql_column_text(st, 0);
		struct db_dmarc_rate *r = &out[(*n)++];
		snprintf(r->domain, sizeof(r->domain), "%s",
		    d ? (const char *)d : "");
		r->pass = sql_column_int64(st, 1);
		r->total = sql_column_int64(st, 2);
	}
	sql_finalize(st);
	return res;
}

void
db_dmarc_records_free(struct db_dmarc_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *f[] = { r[i].source_ip, r[i].disposition,
		    r[i].header_from, r[i].envelope_from, r[i].dkim_domain,
		    r[i].dkim_selector, r[i].dkim_result, r[i].spf_domain,
		    r[i].spf_result, r[i].policy };
		for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++)
			free(f[j]);
	}
	free(r);
}

enum db_result
db_dmarc_records(struct db *db, const char *policy_domain, long long begin,
    long long end, struct db_dmarc_record **out, size_t *n)
{
	struct db_dmarc_record *v = NULL, *r;
	size_t cap = 0;
	struct sql_stmt *st;
	enum db_result res = DB_OK;
	int rc;

	*out = NULL;
	*n = 0;
	/* One record per row the report shows: the policy and test mode
	 * appear only as the reason a failing message got less than the
	 * policy (dmarc_agg.c), so they group by that reason, not by value
	 * (a domain that moved from p=none to p=reject must not split the
	 * records of mail that passed). */
	if ((st = db_prepare(db, "SELECT source_ip, disposition, "
	    "header_from, envelope_from, dkim_domain, dkim_selector, "
	    "dkim_result, spf_domain, spf_result, dkim_aligned, spf_aligned, "
	    "max(testing), max(policy), count(*) FROM dmarc_results WHERE "
	    "policy_domain = ?1 AND time >= ?2 AND time < ?3 GROUP BY 1, 2, "
	    "3, 4, 5, 6, 7, 8, 9, 10, 11, CASE WHEN dkim_aligned = 0 AND "
	    "spf_aligned = 0 AND disposition <> policy THEN CASE WHEN "
	    "testing <> 0 THEN 2 ELSE 1 END ELSE 0 END ORDER BY 14 DESC, 1, 3, "
	    "4, 5, 8 LIMIT ?4")) ==
	    NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, policy_domain) == -1 ||
	    sql_bind_int64(st, 2, begin) != SQL_OK ||
	    sql_bind_int64(st, 3, end) != SQL_OK ||
	    sql_bind_int64(st, 4, DB_DMARC_RECORDS_MAX) != SQL_OK)
		res = db_fail(db, "bind");
	while (res == DB_OK && (rc = sql_step(st)) != SQL_DONE) {
		if (rc != SQL_ROW) {
			res = db_fail(db, "read dmarc records");
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		r = &v[(*n)++];
		r->source_ip = db_column_dup(st, 0);
		r->disposition = db_column_dup(st, 1);
		r->header_from = db_column_dup(st, 2);
		r->envelope_from = db_column_dup(st, 3);
		r->dkim_domain = db_column_dup(st, 4);
		r->dkim_selector = db_column_dup(st, 5);
		r->dkim_result = db_column_dup(st, 6);
		r->spf_domain = db_column_dup(st, 7);
		r->spf_result = db_column_dup(st, 8);
		r->dkim_aligned = (int)sql_column_int64(st, 9) != 0;
		r->spf_aligned = (int)sql_column_int64(st, 10) != 0;
		r->testing = (int)sql_column_int64(st, 11) != 0;
		r->policy = db_column_dup(st, 12);
		r->count = sql_column_int64(st, 13);
	}
	sql_finalize(st);
	if (res != DB_OK) {
		db_dmarc_records_free(v, *n);
		*n = 0;
		return res;
	}
	*out = v;
	return DB_OK;
}

/* Run a statement that yields one integer into *out; DB_NOTFOUND when it
 * yields no row or NULL. Parameters: ?1..?ntext text, then the two
 * integers num (when not NULL). */
static enum db_result
db_report_int(struct db *db, const char *sql, const char *const *text,
    int ntext, const long long *num, long long *out)
{
	struct sql_stmt *st;
	enum db_result res = DB_NOTFOUND;
	bool bad = false;
	int rc;

	if ((st = db_prepare(db, sql)) == NULL)
		return DB_ERROR;
	for (int i = 0; i < ntext && !bad; i++)
		bad = db_bind(db, st, i + 1, text[i]) == -1;
	for (int i = 0; num != NULL && i < 2 && !bad; i++)
		bad = sql_bind_int64(st, ntext + i + 1, num[i]) !=
		    SQL_OK;
	if (bad)
		res = DB_ERROR;
	else if ((rc = sql_step(st)) == SQL_ROW) {
		if (!sql_column_null(st, 0)) {
			*out = sql_column_int64(st, 0);
			res = DB_OK;
		}
	} else if (rc != SQL_DONE)
		res = db_fail(db, "query");
	sql_finalize(st);
	return res;
}

enum db_result
db_dmarc_oldest(struct db *db, long long *out)
{
	return db_report_int(db, "SELECT min(time) FROM dmarc_results", NULL,
	    0, NULL, out);
}

/* Run sql with text ?1..?ntext then integers; -1 on error, else the
 * number of rows changed. */
static int
db_report_exec(struct db *db, const char *sql, const char *const *text,
    int ntext, const long long *num, int nnum, const char *what)
{
	struct sql_stmt *st;
	int rc = -1;

	if ((st = db_prepare(db, sql)) == NULL)
		return -1;
	for (int i = 0; i < ntext; i++)
		if (db_bind(db, st, i + 1, text[i]) == -1)
			goto out;
	for (int i = 0; i < nnum; i++)
		if (sql_bind_int64(st, ntext + i + 1, num[i]) !=
		    SQL_OK) {
			db_fail(db, what);
			goto out;
		}
	if (sql_step(st) != SQL_DONE) {
		db_fail(db, what);
		goto out;
	}
	rc = sql_changes(db->sql);
out:
	sql_finalize(st);
	return rc;
}

enum db_result
db_report_prune(struct db *db, long long before)
{
	static const char *const sql[] = {
		"DELETE FROM dmarc_results WHERE time < ?1",
		"DELETE FROM dmarc_policies WHERE time < ?1",
		"DELETE FROM report_sent WHERE \"end\" < ?1",
	};

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (db_report_exec(db, sql[i], NULL, 0, &before, 1,
		    "prune reports") == -1)
			return DB_ERROR;
	return DB_OK;
}

enum db_result
db_report_claim(struct db *db, const char *kind, const char *holder,
    long long now, long long until)
{
	const char *text[] = { kind, holder };
	const long long num[] = { now, until };
	int n;

	/* One statement, so taking the claim is atomic between the CLI and
	 * the queue runner. */
	n = db_report_exec(db, "INSERT INTO report_state (kind, holder, "
	    "held_until) VALUES (?1, ?2, ?4) ON CONFLICT (kind) DO UPDATE SET "
	    "holder = ?2, held_until = ?4 WHERE report_state.held_until <= ?3 "
	    "OR report_state.holder = ?2", text, 2, num, 2,
	    "claim report job");
	if (n == -1)
		return DB_ERROR;
	return n == 1 ? DB_OK : DB_NOTFOUND;
}

enum db_result
db_report_release(struct db *db, const char *kind, const char *holder)
{
	const char *text[] = { kind, holder };

	return db_report_exec(db, "UPDATE report_state SET holder = '', "
	    "held_until = 0 WHERE kind = ?1 AND holder = ?2", text, 2, NULL,
	    0, "release report job") == -1 ? DB_ERROR : DB_OK;
}

enum db_result
db_report_claim_holder(struct db *db, const char *kind, char *out,
    size_t outlen)
{
	struct sql_stmt *st;
	enum db_result res = DB_NOTFOUND;
	int rc;

	if ((st = db_prepare(db, "SELECT holder FROM report_state WHERE "
	    "kind = ?1 AND holder <> ''")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, kind) == -1)
		res = DB_ERROR;
	else if ((rc = sql_step(st)) == SQL_ROW) {
		const char *h = sql_column_text(st, 0);
		snprintf(out, outlen, "%s", h != NULL ? h : "");
		res = DB_OK;
	} else if (rc != SQL_DONE)
		res = db_fail(db, "read report claim");
	sql_finalize(st);
	return res;
}

enum db_result
db_report_claim_take(struct db *db, const char *kind, const char *old,
    const char *holder, long long until)
{
	const char *text[] = { kind, old, holder };
	int n = db_report_exec(db, "UPDATE report_state SET holder = ?3, "
	    "held_until = ?4 WHERE kind = ?1 AND holder = ?2", text, 3, &until,
	    1, "take over report job");

	if (n == -1)
		return DB_ERROR;
	return n == 1 ? DB_OK : DB_NOTFOUND;
}

enum db_result
db_report_watermark(struct db *db, const char *kind, long long *out)
{
	long long t = 0;
	enum db_result r = db_report_int(db, "SELECT reported_to FROM "
	    "report_state WHERE kind = ?1", &kind, 1, NULL, &t);

	if (r == DB_OK && t == 0)
		return DB_NOTFOUND;
	if (r == DB_OK)
		*out = t;
	return r;
}

enum db_result
db_report_set_watermark(struct db *db, const char *kind, long long t)
{
	const char *text[] = { kind };

	return db_report_exec(db, "INSERT INTO report_state (kind, "
	    "reported_to) VALUES (?1, ?2) ON CONFLICT (kind) DO UPDATE SET "
	    "reported_to = ?2", text, 1, &t, 1, "record report state") == -1 ?
	    DB_ERROR : DB_OK;
}

enum db_result
db_report_was_sent(struct db *db, const char *kind, const char *domain,
    long long begin)
{
	const char *text[] = { kind, domain };
	struct sql_stmt *st;
	enum db_result res = DB_NOTFOUND;
	int rc;

	if ((st = db_prepare(db, "SELECT 1 FROM report_sent WHERE "
	    "kind = ?1 AND domain = ?2 AND begin = ?3")) == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, text[0]) == -1 ||
	    db_bind(db, st, 2, text[1]) == -1 ||
	    sql_bind_int64(st, 3, begin) != SQL_OK)
		res = DB_ERROR;
	else if ((rc = sql_step(st)) == SQL_ROW)
		res = DB_OK;
	else if (rc != SQL_DONE)
		res = db_fail(db, "read report_sent");
	sql_finalize(st);
	return res;
}

enum db_result
db_report_sent_until(struct db *db, const char *kind, const char *domain,
    long long begin, long long end, long long *until)
{
	const char *text[] = { kind, domain };
	const long long num[] = { begin, end };

	return db_report_int(db, "SELECT max(\"end\") FROM report_sent WHERE "
	    "kind = ?1 AND domain = ?2 AND begin >= ?3 AND begin < ?4", text, 2,
	    num, until);
}

enum db_result
db_report_mark_sent(struct db *db, const char *kind, const char *domain,
    long long begin, long long end, const char *report_id, long long now)
{
	const char *text[] = { kind, domain, report_id };
	const long long num[] = { begin, end, now };

	return db_report_exec(db, "INSERT INTO report_sent (kind, domain, "
	    "report_id, begin, \"end\", time) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (kind, domain, begin) DO UPDATE SET report_id = "
	    "excluded.report_id, \"end\" = excluded.\"end\", time = "
	    "excluded.time", text, 3, num, 3, "record report sent") == -1 ?
	    DB_ERROR : DB_OK;
}
