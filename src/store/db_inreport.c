/* SPDX-License-Identifier: ISC */
/* Received reports in the store (see db_inreport.h). Its statements are
 * prepared per call: reports arrive a few times a day. */
#include "store/db_inreport.h"

#include "store/db_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

/* "end" is quoted: a reserved word in PostgreSQL. */
#define DB_INREPORT_INSERT \
	"INSERT INTO inreports (kind, org_name, report_id, begin, \"end\", " \
	"policy_domain, policy, contact, authenticated, received) VALUES " \
	"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING " \
	"RETURNING id"
/* Bind the values (text or integer, by the format: 't' or 'i') and run a
 * statement. With id NULL it returns no rows; else it is an INSERT ...
 * RETURNING id that stores the new row's id in *id, DB_NOTFOUND when it
 * inserted nothing (ON CONFLICT DO NOTHING). */
static enum db_result
db_inreport_exec(struct db *db, long long *id, const char *sql,
    const char *fmt, ...)
{
	struct sql_stmt *st = db_prepare(db, sql);
	enum db_result res = DB_OK;
	enum sql_rc rc;
	va_list ap;

	if (st == NULL)
		return DB_ERROR;
	/* A format that does not match the SQL would read the wrong
	 * arguments: refused rather than run. */
	int want = sql_bind_count(st);
	if ((size_t)want != strlen(fmt)) {
		sql_finalize(st);
		db_seterr(db, "report statement: %zu values for %d columns",
		    strlen(fmt), want);
		return DB_ERROR;
	}
	va_start(ap, fmt);
	for (int i = 0; fmt[i] != '\0' && res == DB_OK; i++) {
		rc = fmt[i] == 't' ? sql_bind_text(st, i + 1,
		    va_arg(ap, const char *)) :
		    sql_bind_int64(st, i + 1, va_arg(ap, long long));
		if (rc != SQL_OK)
			res = db_fail(db, "bind report value");
	}
	va_end(ap);
	if (res == DB_OK) {
		rc = sql_step(st);
		if (id != NULL && rc == SQL_ROW)
			*id = sql_column_int64(st, 0);
		else if (id != NULL && rc == SQL_DONE)
			res = DB_NOTFOUND;	/* stored before */
		else if (rc != SQL_DONE)
			res = db_fail(db, "store report");
	}
	sql_finalize(st);
	return res;
}

static const char *const db_inreport_kinds[] = {
	[INREPORT_DMARC] = "dmarc",
	[INREPORT_TLS] = "tls",
	[INREPORT_ARF] = "arf",
};

static enum db_result
db_inreport_dmarc_rows(struct db *db, long long id, const struct in_dmarc *d)
{
	enum db_result res = DB_OK;

	for (size_t i = 0; i < d->nrec && res == DB_OK; i++) {
		const struct in_dmarc_record *c = &d->rec[i];
		res = db_inreport_exec(db, NULL, "INSERT INTO inreport_records "
		    "(report, source_ip, count, disposition, dkim, spf, "
		    "header_from, envelope_from, dkim_domain, dkim_result, "
		    "spf_domain, spf_result, idx) VALUES (?1, ?2, ?3, ?4, ?5, "
		    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)", "itittttttttti",
		    id, c->source_ip, c->count, c->disposition, c->dkim,
		    c->spf, c->header_from, c->envelope_from, c->dkim_domain,
		    c->dkim_result, c->spf_domain, c->spf_result,
		    (long long)i);
	}
	return res;
}

static enum db_result
db_inreport_tls_rows(struct db *db, long long id, const struct in_tls *t)
{
	enum db_result res = DB_OK;

	for (size_t i = 0; i < t->npol && res == DB_OK; i++) {
		const struct in_tls_policy *p = &t->pol[i];
		res = db_inreport_exec(db, NULL, "INSERT INTO "
		    "inreport_policies (report, idx, policy_type, "
		    "policy_string, policy_domain, mx_host, successful, "
		    "failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    "iittttii", id, (long long)i, p->policy_type,
		    p->policy_string,
		    p->policy_domain, p->mx_host, p->successful, p->failed);
		for (size_t j = 0; j < p->nfail && res == DB_OK; j++) {
			const struct in_tls_failure *f = &p->fail[j];
			res = db_inreport_exec(db, NULL, "INSERT INTO "
			    "inreport_failures (report, policy, result_type, "
			    "sending_mta_ip, receiving_mx_hostname, "
			    "receiving_mx_helo, receiving_ip, "
			    "failed_session_count, additional_information, "
			    "failure_reason_code, idx) VALUES (?1, ?2, ?3, ?4, "
			    "?5, ?6, ?7, ?8, ?9, ?10, ?11)", "iitttttitti", id,
			    (long long)i, f->result_type, f->sending_mta_ip,
			    f->receiving_mx_hostname, f->receiving_mx_helo,
			    f->receiving_ip, f->failed_session_count,
			    f->additional_information,
			    f->failure_reason_code, (long long)j);
		}
	}
	return res;
}

static enum db_result
db_inreport_arf_row(struct db *db, long long id, const struct in_arf *a)
{
	return db_inreport_exec(db, NULL, "INSERT INTO inreport_feedback "
	    "(report, feedback_type, user_agent, version, original_mail_from, "
	    "original_rcpt_to, arrival_date, reporting_mta, source_ip, "
	    "reported_domain, authentication_results, auth_failure, "
	    "delivery_result, identity_alignment, incidents) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	    "ittttttttttttti",
	    id, a->feedback_type, a->user_agent, a->version,
	    a->original_mail_from, a->original_rcpt_to, a->arrival_date,
	    a->reporting_mta, a->source_ip, a->reported_domain,
	    a->authentication_results, a->auth_failure, a->delivery_result,
	    a->identity_alignment, a->incidents);
}

/* The inreports row of r: its kind's identity and period; its id in *id,
 * DB_NOTFOUND if stored before. */
static enum db_result
db_inreport_head(struct db *db, const struct inreport *r, long long *id)
{
	const char *kind = db_inreport_kinds[r->kind];
	long long auth = r->authenticated, rcv = r->received;

	switch (r->kind) {
	case INREPORT_DMARC: {
		const struct in_dmarc *d = &r->u.dmarc;
		return db_inreport_exec(db, id, DB_INREPORT_INSERT,
		    "tttiitttii", kind, d->org_name, d->report_id, d->begin,
		    d->end, d->policy_domain, d->policy, d->email, auth, rcv);
	}
	case INREPORT_TLS: {
		const struct in_tls *t = &r->u.tls;
		return db_inreport_exec(db, id, DB_INREPORT_INSERT,
		    "tttiitttii", kind, t->org_name, t->report_id, t->begin,
		    t->end, t->npol > 0 ? t->pol[0].policy_domain : "", "",
		    t->contact_info, auth, rcv);
	}
	case INREPORT_ARF: {
		const struct in_arf *a = &r->u.arf;
		return db_inreport_exec(db, id, DB_INREPORT_INSERT,
		    "tttiitttii", kind, r->msg_from_domain, r->msg_id, rcv, rcv,
		    a->reported_domain, a->feedback_type, a->reporting_mta,
		    auth, rcv);
	}
	}
	return DB_ERROR;
}

/*
 * Report ids are predictable (ours are a hash of public values), so a
 * report whose message did not pass DMARC must not keep out the genuine
 * one: an authenticated report first removes an unauthenticated one with
 * its identity. Child rows go explicitly (foreign keys are not enforced).
 */
#define DB_INREPORT_FORGED \
	"kind = ?1 AND org_name = ?2 AND report_id = ?3 AND authenticated = 0"

/* The reports that match where, with their child rows (foreign keys are
 * not enforced). where binds three texts ("ttt") or one integer ("i"). */
static enum db_result
db_inreport_delete(struct db *db, const char *where, const char *fmt,
    const char *t0, const char *t1, const char *t2, long long n)
{
	static const char *const children[] = { "inreport_records",
	    "inreport_failures", "inreport_policies", "inreport_feedback" };
	enum db_result res = DB_OK;

	for (size_t i = 0; i <= sizeof(children) / sizeof(children[0]) &&
	    res == DB_OK; i++) {
		char *sql = i < sizeof(children) / sizeof(children[0]) ?
		    xasprintf("DELETE FROM %s WHERE report IN (SELECT id FROM "
		    "inreports WHERE %s)", children[i], where) :
		    xasprintf("DELETE FROM inreports WHERE %s", where);

		res = fmt[0] == 't' ? db_inreport_exec(db, NULL, sql, fmt, t0,
		    t1, t2) : db_inreport_exec(db, NULL, sql, fmt, n);
		free(sql);
	}
	return res;
}

static enum db_result
db_inreport_drop_forged(struct db *db, const struct inreport *r)
{
	const char *org = r->msg_from_domain, *id = r->msg_id;

	if (r->kind == INREPORT_DMARC) {
		org = r->u.dmarc.org_name;
		id = r->u.dmarc.report_id;
	} else if (r->kind == INREPORT_TLS) {
		org = r->u.tls.org_name;
		id = r->u.tls.report_id;
	}
	return db_inreport_delete(db, DB_INREPORT_FORGED, "ttt",
	    db_inreport_kinds[r->kind], org, id, 0);
}

enum db_result
db_inreport_prune(struct db *db, long long before)
{
	enum db_result res;

	if (db_begin(db) != DB_OK)
		return DB_ERROR;
	res = db_inreport_delete(db, "received < ?1", "i", NULL, NULL, NULL,
	    before);
	return db_end(db, res == DB_OK) == DB_OK ? res : DB_ERROR;
}

enum db_result
db_inreport_add(struct db *db, const struct inreport *r)
{
	enum db_result res = DB_OK;
	long long id = 0;

	if (db_begin(db) != DB_OK)
		return DB_ERROR;
	if (r->authenticated)
		res = db_inreport_drop_forged(db, r);
	if (res == DB_OK)
		res = db_inreport_head(db, r, &id);
	if (res == DB_OK && r->kind == INREPORT_DMARC)
		res = db_inreport_dmarc_rows(db, id, &r->u.dmarc);
	else if (res == DB_OK && r->kind == INREPORT_TLS)
		res = db_inreport_tls_rows(db, id, &r->u.tls);
	else if (res == DB_OK && r->kind == INREPORT_ARF)
		res = db_inreport_arf_row(db, id, &r->u.arf);
	if (res == DB_OK && sql_commit(db->sql) != SQL_OK)
		res = db_fail(db, "store report");
	if (res != DB_OK)
		sql_rollback(db->sql);
	return res;
}

/* v (n elements of size bytes, room for *cap) with room for one more. */
static void *
db_inreport_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		v = xreallocarray(v, *cap, size);
	}
	return v;
}

static enum db_result
db_inreport_load_records(struct db *db, long long id, struct in_dmarc *d)
{
	struct sql_stmt *st = db_prepare(db, "SELECT source_ip, count, "
	    "disposition, dkim, spf, header_from, envelope_from, dkim_domain, "
	    "dkim_result, spf_domain, spf_result FROM inreport_records "
	    "WHERE report = ?1 ORDER BY idx");
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, id);
	while ((rc = sql_step(st)) == SQL_ROW) {
		d->rec = db_inreport_grow(d->rec, d->nrec, &cap,
		    sizeof(*d->rec));
		struct in_dmarc_record *c = &d->rec[d->nrec++];
		c->source_ip = db_column_dup(st, 0);
		c->count = sql_column_int64(st, 1);
		c->disposition = db_column_dup(st, 2);
		c->dkim = db_column_dup(st, 3);
		c->spf = db_column_dup(st, 4);
		c->header_from = db_column_dup(st, 5);
		c->envelope_from = db_column_dup(st, 6);
		c->dkim_domain = db_column_dup(st, 7);
		c->dkim_result = db_column_dup(st, 8);
		c->spf_domain = db_column_dup(st, 9);
		c->spf_result = db_column_dup(st, 10);
	}
	sql_finalize(st);
	return rc == SQL_DONE ? DB_OK : db_fail(db, "read report records");
}

static enum db_result
db_inreport_load_failures(struct db *db, long long id, long long idx,
    struct in_tls_policy *p)
{
	struct sql_stmt *st = db_prepare(db, "SELECT result_type, "
	    "sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, "
	    "receiving_ip, failed_session_count, additional_information, "
	    "failure_reason_code FROM inreport_failures WHERE report = ?1 AND "
	    "policy = ?2 ORDER BY idx");
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, idx);
	while ((rc = sql_step(st)) == SQL_ROW) {
		p->fail = db_inreport_grow(p->fail, p->nfail, &cap,
		    sizeof(*p->fail));
		struct in_tls_failure *f = &p->fail[p->nfail++];
		f->result_type = db_column_dup(st, 0);
		f->sending_mta_ip = db_column_dup(st, 1);
		f->receiving_mx_hostname = db_column_dup(st, 2);
		f->receiving_mx_helo = db_column_dup(st, 3);
		f->receiving_ip = db_column_dup(st, 4);
		f->failed_session_count = sql_column_int64(st, 5);
		f->additional_information = db_column_dup(st, 6);
		f->failure_reason_code = db_column_dup(st, 7);
	}
	sql_finalize(st);
	return rc == SQL_DONE ? DB_OK : db_fail(db, "read TLS failures");
}

static enum db_result
db_inreport_load_policies(struct db *db, long long id, struct in_tls *t)
{
	struct sql_stmt *st = db_prepare(db, "SELECT idx, policy_type, "
	    "policy_string, policy_domain, mx_host, successful, failed FROM "
	    "inreport_policies WHERE report = ?1 ORDER BY idx");
	enum db_result res = DB_OK;
	long long *idx = NULL;
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, id);
	while ((rc = sql_step(st)) == SQL_ROW) {
		size_t had = cap;
		t->pol = db_inreport_grow(t->pol, t->npol, &cap,
		    sizeof(*t->pol));
		if (cap != had)
			idx = xreallocarray(idx, cap, sizeof(*idx));
		idx[t->npol] = sql_column_int64(st, 0);
		struct in_tls_policy *p = &t->pol[t->npol++];
		memset(p, 0, sizeof(*p));
		p->policy_type = db_column_dup(st, 1);
		p->policy_string = db_column_dup(st, 2);
		p->policy_domain = db_column_dup(st, 3);
		p->mx_host = db_column_dup(st, 4);
		p->successful = sql_column_int64(st, 5);
		p->failed = sql_column_int64(st, 6);
	}
	sql_finalize(st);
	if (rc != SQL_DONE)
		res = db_fail(db, "read TLS policies");
	/* After the query: one statement at a time. */
	for (size_t i = 0; i < t->npol && res == DB_OK; i++)
		res = db_inreport_load_failures(db, id, idx[i], &t->pol[i]);
	free(idx);
	return res;
}

enum db_result
db_inreport_list(struct db *db, enum inreport_kind kind, const char *domain,
    long long since, struct inreport **out, size_t *n)
{
	/* The CAST: PostgreSQL cannot tell the type of a parameter that
	 * only meets IS NULL. */
	struct sql_stmt *st = db_prepare(db, "SELECT id, org_name, "
	    "report_id, begin, \"end\", policy_domain, policy, contact, "
	    "authenticated, received FROM inreports WHERE kind = ?1 AND "
	    "\"end\" >= ?2 AND (CAST(?3 AS TEXT) IS NULL OR "
	    "lower(policy_domain) = "
	    "lower(?3) OR (kind = 'tls' AND EXISTS (SELECT 1 FROM "
	    "inreport_policies p WHERE p.report = inreports.id AND "
	    "lower(p.policy_domain) = lower(?3)))) ORDER BY begin, id "
	    "LIMIT ?4");
	struct inreport *v = NULL;
	long long *ids = NULL;
	size_t cnt = 0, cap = 0;
	enum db_result res = DB_OK;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL || kind == INREPORT_ARF) {
		sql_finalize(st);
		return DB_ERROR;
	}
	sql_bind_text(st, 1, db_inreport_kinds[kind]);
	sql_bind_int64(st, 2, since);
	if (domain != NULL)
		sql_bind_text(st, 3, domain);
	sql_bind_int64(st, 4, DB_INREPORT_LIST_MAX);
	while ((rc = sql_step(st)) == SQL_ROW) {
		size_t had = cap;
		v = db_inreport_grow(v, cnt, &cap, sizeof(*v));
		if (cap != had)
			ids = xreallocarray(ids, cap, sizeof(*ids));
		struct inreport *r = &v[cnt];
		memset(r, 0, sizeof(*r));
		ids[cnt++] = sql_column_int64(st, 0);
		r->kind = kind;
		r->authenticated = (int)sql_column_int64(st, 8) != 0;
		r->received = sql_column_int64(st, 9);
		if (kind == INREPORT_DMARC) {
			struct in_dmarc *d = &r->u.dmarc;
			d->org_name = db_column_dup(st, 1);
			d->report_id = db_column_dup(st, 2);
			d->begin = sql_column_int64(st, 3);
			d->end = sql_column_int64(st, 4);
			d->policy_domain = db_column_dup(st, 5);
			d->policy = db_column_dup(st, 6);
			d->email = db_column_dup(st, 7);
		} else {
			struct in_tls *t = &r->u.tls;
			t->org_name = db_column_dup(st, 1);
			t->report_id = db_column_dup(st, 2);
			t->begin = sql_column_int64(st, 3);
			t->end = sql_column_int64(st, 4);
			t->contact_info = db_column_dup(st, 7);
		}
	}
	sql_finalize(st);
	if (rc != SQL_DONE)
		res = db_fail(db, "list reports");
	for (size_t i = 0; i < cnt && res == DB_OK; i++)
		res = kind == INREPORT_DMARC ?
		    db_inreport_load_records(db, ids[i], &v[i].u.dmarc) :
		    db_inreport_load_policies(db, ids[i], &v[i].u.tls);
	free(ids);
	if (res != DB_OK) {
		db_inreport_list_free(v, cnt);
		return res;
	}
	*out = v;
	*n = cnt;
	return DB_OK;
}

void
db_inreport_list_free(struct inreport *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		inreport_clear(&v[i]);
	free(v);
}
