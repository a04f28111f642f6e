/* SPDX-License-Identifier: ISC */
/*
 * The PostgreSQL driver behind sql.h (libpq): the only file of sealmail that
 * calls PQ*. A statement's rows are fetched whole at its first step (in
 * libpq's single-row mode, so that a result past SQL_PG_RESULT_MAX is
 * refused before it fills memory) into one arena, then read row by row.
 * What the server sends is not trusted: its sizes are bounded, its
 * integers parsed strictly. A broken connection makes the call that met it
 * return SQL_UNAVAILABLE; the handle reconnects at a later call, no sooner
 * than a backoff that doubles from 100 ms to 5 s, unless the statement
 * never ran and no transaction was open (sql_pg_go: a server restart).
 * A handle of sql_open_pg_later starts unconnected and connects the same
 * way.
 */
#include "store/sql.h"

#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"
#include "store/sql_driver.h"
#include "store/sql_pg_text.h"

/* Bytes one statement's rows may take here (values and their index): far
 * above anything the store reads, far below what would hurt a worker. */
#define SQL_PG_RESULT_MAX	(64u << 20)
/* PostgreSQL's own limit on the columns of a result. */
#define SQL_PG_COLS_MAX		1664
#define SQL_PG_BACKOFF_MIN_MS	100
#define SQL_PG_BACKOFF_MAX_MS	5000
/* The advisory lock of write transactions ("seal" + 1: the schema
 * migrations take "seal", db_schema_pg.c). */
#define SQL_PG_WRITE_LOCK	"1936024941"
/* Seconds to wait for a connection when the DSN says nothing. */
#define SQL_PG_CONNECT_TIMEOUT	"5"

/*
 * TCP settings when the DSN sets none of them, so that a server gone
 * silent (powered off, a partition: no RST) frees the store thread that
 * waits on it in about 30 s instead of the kernel's defaults (two hours
 * for an idle connection, about 15 minutes of retransmissions for one
 * with a query unanswered). An idle connection is probed after 15 s
 * without traffic, every 5 s after that, and dropped after 3 unanswered
 * probes (15 + 3 * 5 = 30 s); data unacknowledged for 30 s drops it too
 * (tcp_user_timeout, ms). A server that is merely slow still acknowledges
 * at the TCP level, so a long query is not cut (statement_timeout bounds
 * those); a failover or a network glitch shorter than 30 s is ridden out.
 * A DSN that sets any of the five keeps all of its own: Linux lets
 * tcp_user_timeout end a connection that keepalive would still be probing,
 * so ours mixed with an administrator's would change theirs. libpq ignores
 * them on a Unix socket.
 */
static const char *const sql_pg_tcp_kw[] = { "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout" };
static const char *const sql_pg_tcp_val[] = { "1", "15", "5", "3",
    "30000" };
#define SQL_PG_TCP_N	(sizeof(sql_pg_tcp_kw) / sizeof(sql_pg_tcp_kw[0]))

/* Type OIDs (pg_type.dat; fixed since PostgreSQL 7). */
#define SQL_PG_BOOLOID		16
#define SQL_PG_BYTEAOID		17
#define SQL_PG_INT8OID		20

#define SQL_PG_NULL		SIZE_MAX	/* the offset of a NULL value */

struct sql_pg_stmt;

struct sql_pg {
	struct sql		 base;
	PGconn			*conn;		/* NULL while broken */
	char			*dsn;		/* to reconnect with */
	char			*password;
	bool			 add_timeout;	/* the DSN has none */
	bool			 add_tcp;	/* no sql_pg_tcp_kw in the DSN */
	uint64_t		 retry_at;	/* no reconnect before (ms) */
	unsigned		 backoff_ms;
	bool			 in_tx;
	bool			 tx_lost;	/* broke inside a transaction */
	bool			 unrun;		/* the last break: before the
						 * statement ran (not sent, or
						 * the session ended) */
	int64_t			 changes;
	struct sql_pg_stmt	*stmts;
	char			 err[512];
};

enum sql_pg_run {
	SQL_PG_IDLE,		/* not run since prepare or reset */
	SQL_PG_ROWS,		/* run: rows to read */
	SQL_PG_FAILED,		/* run and failed: fail */
};

struct sql_pg_stmt {
	struct sql_stmt		 base;
	struct sql_pg		*pg;
	char			*text;		/* with $N */
	int			 nparams;
	char			**values;	/* per parameter, NULL: NULL */
	int			*lengths;
	int			*formats;	/* 1: binary (a blob) */
	unsigned		*types;		/* Oid; 0: the server infers */

	enum sql_pg_run		 run;
	enum sql_rc		 failed;
	int			 ncols;
	unsigned		*ctypes;	/* Oid per column */
	size_t			 nrows, rowcap, next;
	size_t			*off;		/* [row * ncols + col] */
	size_t			*len;
	char			*data;		/* every value, NUL after each */
	size_t			 dlen, dcap;

	struct sql_pg_stmt	*prev, *next_st;
};

static const struct sql_driver sql_pg_driver;

static uint64_t
sql_pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Record msg (the server's or libpq's: its first line, bounded). */
static void
sql_pg_seterr(struct sql_pg *pg, const char *prefix, const char *msg)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	n = strcspn(msg, "\r\n");
	snprintf(pg->err, sizeof(pg->err), "%s%.*s", prefix,
	    (int)(n < sizeof(pg->err) ? n : sizeof(pg->err)), msg);
}

/* The connection broke: drop it, lose the transaction it had, and wait
 * before the next try. */
static enum sql_rc
sql_pg_break(struct sql_pg *pg)
{
	PQfinish(pg->conn);
	pg->conn = NULL;
	if (pg->in_tx)
		pg->tx_lost = true;
	pg->in_tx = false;
	pg->backoff_ms = SQL_PG_BACKOFF_MIN_MS;
	pg->retry_at = sql_pg_now_ms() + pg->backoff_ms;
	return SQL_UNAVAILABLE;
}

/* The server's notices ("relation already exists, skipping") are no
 * errors: libpq would print them on stderr. */
static void
sql_pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Connect with the DSN and our settings: client_encoding and
 * application_name come after it, so they win; so does the password from
 * the caller's file. The timeouts are added only where the DSN has none.
 * 0, or -1 with the error set. */
static int
sql_pg_connect(struct sql_pg *pg)
{
	const char *kw[6 + SQL_PG_TCP_N], *val[6 + SQL_PG_TCP_N];
	PGresult *res;
	PGconn *conn;
	int n = 0;

	kw[n] = "dbname", val[n++] = pg->dsn;
	if (pg->password != NULL)
		kw[n] = "password", val[n++] = pg->password;
	if (pg->add_timeout)
		kw[n] = "connect_timeout", val[n++] = SQL_PG_CONNECT_TIMEOUT;
	for (size_t i = 0; pg->add_tcp && i < SQL_PG_TCP_N; i++)
		kw[n] = sql_pg_tcp_kw[i], val[n++] = sql_pg_tcp_val[i];
	kw[n] = "client_encoding", val[n++] = "UTF8";
	kw[n] = "application_name", val[n++] = "sealmail";
	kw[n] = NULL, val[n] = NULL;
	if ((conn = PQconnectdbParams(kw, val, 1)) == NULL) {
		sql_pg_seterr(pg, "connect: ", "out of memory");
		return -1;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		sql_pg_seterr(pg, "connect: ", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, sql_pg_notice, NULL);
	/* The only bytea text format we decode. */
	res = PQexec(conn, "SET bytea_output = hex");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		sql_pg_seterr(pg, "connect: ", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return -1;
	}
	PQclear(res);
	pg->conn = conn;
	return 0;
}

/* Whether the handle may talk to the server now, reconnecting if the
 * backoff has passed. */
static enum sql_rc
sql_pg_ready(struct sql_pg *pg)
{
	uint64_t now;

	if (pg->tx_lost) {
		snprintf(pg->err, sizeof(pg->err), "the connection to the "
		    "server broke inside a transaction, which is lost (roll "
		    "it back)");
		return SQL_UNAVAILABLE;
	}
	if (pg->conn != NULL)
		return SQL_OK;
	now = sql_pg_now_ms();
	if (now < pg->retry_at) {
		snprintf(pg->err, sizeof(pg->err), "the server is "
		    "unavailable (next try in %u ms)",
		    (unsigned)(pg->retry_at - now));
		return SQL_UNAVAILABLE;
	}
	if (sql_pg_connect(pg) == -1) {
		pg->backoff_ms = pg->backoff_ms * 2 > SQL_PG_BACKOFF_MAX_MS ?
		    SQL_PG_BACKOFF_MAX_MS : pg->backoff_ms * 2;
		pg->retry_at = sql_pg_now_ms() + pg->backoff_ms;
		return SQL_UNAVAILABLE;
	}
	pg->backoff_ms = SQL_PG_BACKOFF_MIN_MS;
	return SQL_OK;
}

/* Map a failed result. */
static enum sql_rc
sql_pg_result_error(struct sql_pg *pg, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	sql_pg_seterr(pg, "", msg != NULL ? msg : PQresultErrorMessage(res));
	if (sql_pg_state_ended(state))
		pg->unrun = true;
	switch (sql_pg_state_class(state)) {
	case SQL_PG_STATE_CONSTRAINT:
		return SQL_CONSTRAINT;
	case SQL_PG_STATE_UNAVAILABLE:
		return SQL_UNAVAILABLE;
	default:
		return SQL_ERROR;
	}
}

/* Rows changed, as sqlite3_changes counts them: only INSERT, UPDATE and
 * DELETE set it. */
static void
sql_pg_count_changes(struct sql_pg *pg, PGresult *res)
{
	const char *cmd = PQcmdStatus(res), *n = PQcmdTuples(res);
	int64_t v;

	if ((strncmp(cmd, "INSERT ", 7) == 0 || strncmp(cmd, "UPDATE ", 7) ==
	    0 || strncmp(cmd, "DELETE ", 7) == 0) &&
	    sql_pg_int64_parse(n, strlen(n), &v) == 0)
		pg->changes = v;
}

/* Grow the arena to hold need more bytes, within the result's budget. */
static int
sql_pg_reserve(struct sql_pg_stmt *st, size_t need)
{
	size_t index = st->rowcap * (size_t)st->ncols * 2 * sizeof(size_t);
	size_t cap;

	if (st->dlen + index > SQL_PG_RESULT_MAX ||
	    need > SQL_PG_RESULT_MAX - st->dlen - index)
		return -1;
	if (st->dlen + need <= st->dcap)
		return 0;
	cap = st->dcap ? st->dcap : 1024;
	while (cap < st->dlen + need)
		cap *= 2;
	if (cap > SQL_PG_RESULT_MAX - index)
		cap = SQL_PG_RESULT_MAX - index;
	st->data = xreallocarray(st->data, cap, 1);
	st->dcap = cap;
	return 0;
}

/* Room in the index for one more row. */
static int
sql_pg_reserve_row(struct sql_pg_stmt *st)
{
	size_t cap, per = (size_t)st->ncols * 2 * sizeof(size_t);

	if (st->nrows < st->rowcap)
		return 0;
	cap = st->rowcap ? st->rowcap * 2 : 16;
	if (st->dcap > SQL_PG_RESULT_MAX ||
	    cap > (SQL_PG_RESULT_MAX - st->dcap) / per)
		return -1;
	st->off = xreallocarray(st->off, cap, (size_t)st->ncols *
	    sizeof(size_t));
	st->len = xreallocarray(st->len, cap, (size_t)st->ncols *
	    sizeof(size_t));
	st->rowcap = cap;
	return 0;
}

/* Copy one value into the arena: bytea decoded, booleans as 1 and 0 (as
 * SQLite stores them), anything else as the server wrote it. */
static int
sql_pg_keep_value(struct sql_pg_stmt *st, unsigned type, const char *v,
    size_t l, size_t *off, size_t *len)
{
	size_t n;

	if (type == SQL_PG_BOOLOID && l == 1 && (*v == 't' || *v == 'f')) {
		v = *v == 't' ? "1" : "0";
	} else if (type == SQL_PG_BYTEAOID) {
		if (sql_pg_reserve(st, l / 2 + 1) == -1)
			return -1;
		if (sql_pg_bytea_decode(v, l, (uint8_t *)st->data + st->dlen,
		    l / 2, &n) == -1)
			return -2;
		goto done;
	}
	if (sql_pg_reserve(st, l + 1) == -1)
		return -1;
	memcpy(st->data + st->dlen, v, l);
	n = l;
done:
	st->data[st->dlen + n] = '\0';
	*off = st->dlen;
	*len = n;
	st->dlen += n + 1;
	return 0;
}

/* Keep the row of a single-row result; -1 past the budget, -2 for a value
 * we cannot read (the error set either way). */
static int
sql_pg_keep_row(struct sql_pg_stmt *st, const PGresult *res)
{
	int ncols = PQnfields(res), r;

	if (st->nrows == 0 && st->ctypes == NULL) {
		if (ncols < 1 || ncols > SQL_PG_COLS_MAX) {
			sql_pg_seterr(st->pg, "", "result has too many columns");
			return -2;
		}
		st->ncols = ncols;
		st->ctypes = xcalloc((size_t)ncols, sizeof(*st->ctypes));
		for (int c = 0; c < ncols; c++)
			st->ctypes[c] = PQftype(res, c);
	}
	if (ncols != st->ncols || PQntuples(res) != 1) {
		sql_pg_seterr(st->pg, "", "rows of a result differ in shape");
		return -2;
	}
	if (sql_pg_reserve_row(st) == -1)
		goto big;
	for (int c = 0; c < ncols; c++) {
		size_t i = st->nrows * (size_t)ncols + (size_t)c;
		int l = PQgetlength(res, 0, c);

		if (PQgetisnull(res, 0, c)) {
			st->off[i] = SQL_PG_NULL;
			st->len[i] = 0;
			continue;
		}
		if (l < 0) {
			sql_pg_seterr(st->pg, "", "bad value length");
			return -2;
		}
		r = sql_pg_keep_value(st, st->ctypes[c], PQgetvalue(res, 0, c),
		    (size_t)l, &st->off[i], &st->len[i]);
		if (r == -1)
			goto big;
		if (r == -2) {
			sql_pg_seterr(st->pg, "", "bad bytea value");
			return -2;
		}
	}
	st->nrows++;
	return 0;
big:
	snprintf(st->pg->err, sizeof(st->pg->err), "result larger than %u "
	    "bytes: refused", SQL_PG_RESULT_MAX);
	return -1;
}

/* Ask the server to stop sending a result we will not keep. */
static void
sql_pg_cancel(struct sql_pg *pg)
{
	PGcancel *c = PQgetCancel(pg->conn);
	char buf[256];

	if (c != NULL) {
		(void)PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
}

/* Read every result of the query just sent: the rows into st (NULL: drop
 * them), the first error as the outcome. */
static enum sql_rc
sql_pg_collect(struct sql_pg *pg, struct sql_pg_stmt *st)
{
	enum sql_rc rc = SQL_OK;
	PGresult *res;

	while ((res = PQgetResult(pg->conn)) != NULL) {
		ExecStatusType s = PQresultStatus(res);

		if (rc != SQL_OK)
			;	/* drain what follows the failure */
		else if (s == PGRES_SINGLE_TUPLE) {
			if (st != NULL && sql_pg_keep_row(st, res) < 0) {
				rc = SQL_ERROR;
				sql_pg_cancel(pg);
			}
		} else if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
			sql_pg_count_changes(pg, res);
		else if (s != PGRES_EMPTY_QUERY)
			rc = sql_pg_result_error(pg, res);
		PQclear(res);
	}
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		if (rc == SQL_OK)
			sql_pg_seterr(pg, "", PQerrorMessage(pg->conn));
		return sql_pg_break(pg);
	}
	if (rc == SQL_UNAVAILABLE)
		return sql_pg_break(pg);
	pg->in_tx = PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
	return rc;
}

/* A send failed: the connection is gone, or the query could not go. */
static enum sql_rc
sql_pg_send_failed(struct sql_pg *pg)
{
	sql_pg_seterr(pg, "", PQerrorMessage(pg->conn));
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		pg->unrun = true;
		return sql_pg_break(pg);
	}
	return SQL_ERROR;
}

static void sql_pg_clear_rows(struct sql_pg_stmt *st);

/* Whether an idle connection is still there: what the server sent while
 * it sat idle (its goodbye at a shutdown, the end of the stream after a
 * crash) is read now, before a statement is sent on it. Dropped if not,
 * with no backoff: nothing has been asked of the server yet. */
static void
sql_pg_probe(struct sql_pg *pg)
{
	struct pollfd p = { .fd = PQsocket(pg->conn), .events = POLLIN };

	/* One read each: a goodbye, then the end of the stream (a few rounds
	 * at most, so a chatty server cannot keep us here). */
	for (int i = 0; i < 4; i++) {
		if (p.fd < 0 || poll(&p, 1, 0) != 1)
			return;
		if (!PQconsumeInput(pg->conn) ||
		    PQstatus(pg->conn) != CONNECTION_OK)
			break;
		if (i == 3)
			return;
	}
	PQfinish(pg->conn);
	pg->conn = NULL;
	pg->retry_at = 0;
}

/* Send st (NULL: text, no parameters, no rows kept) and collect. */
static enum sql_rc
sql_pg_send(struct sql_pg *pg, struct sql_pg_stmt *st, const char *text)
{
	if (!(st != NULL ? PQsendQueryParams(pg->conn, st->text, st->nparams,
	    (const Oid *)st->types, (const char *const *)st->values,
	    st->lengths, st->formats, 0) : PQsendQuery(pg->conn, text)))
		return sql_pg_send_failed(pg);
	(void)PQsetSingleRowMode(pg->conn);
	return sql_pg_collect(pg, st);
}

/*
 * Run on the connection. A connection that sat idle through a restart of
 * the server is found broken before the statement goes (sql_pg_probe),
 * or by the statement itself when the server ended the session just
 * then: when that statement never ran (the send failed, or
 * sql_pg_state_ended) and no transaction was open, it goes once more on
 * a new connection at once. So a restart does not fail one call for every
 * connection it left behind. A break that could have come after the
 * statement ran (the connection just closing) is not retried.
 */
static enum sql_rc
sql_pg_go(struct sql_pg *pg, struct sql_pg_stmt *st, const char *text)
{
	enum sql_rc rc;
	bool in_tx;

	if (pg->conn != NULL && !pg->in_tx)
		sql_pg_probe(pg);
	if ((rc = sql_pg_ready(pg)) != SQL_OK)
		return rc;
	in_tx = pg->in_tx;
	pg->unrun = false;
	rc = sql_pg_send(pg, st, text);
	if (rc != SQL_UNAVAILABLE || in_tx || !pg->unrun || pg->conn != NULL)
		return rc;
	pg->retry_at = 0;
	if ((rc = sql_pg_ready(pg)) != SQL_OK)
		return rc;
	if (st != NULL)
		sql_pg_clear_rows(st);	/* any the break cut short */
	return sql_pg_send(pg, st, text);
}

/* Run text (no parameters, no rows kept). */
static enum sql_rc
sql_pg_run_simple(struct sql_pg *pg, const char *text)
{
	return sql_pg_go(pg, NULL, text);
}

static struct sql_pg *
sql_pg_of(struct sql *sql)
{
	return (struct sql_pg *)sql;
}

static const struct sql_pg *
sql_pg_of_const(const struct sql *sql)
{
	return (const struct sql_pg *)sql;
}

static struct sql_pg_stmt *
sql_pg_stmt_of(struct sql_stmt *st)
{
	return (struct sql_pg_stmt *)st;
}

/* Whether the DSN sets key. */
static bool
sql_pg_dsn_has(PQconninfoOption *opts, const char *key)
{
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, key) == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			return true;
	return false;
}

/* A handle with no connection yet: its first call connects, as after a
 * break (sql_pg_ready). NULL for a DSN libpq cannot parse. */
static struct sql_pg *
sql_pg_new(const char *dsn, const char *password, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	struct sql_pg *pg;
	char *perr = NULL;

	if ((opts = PQconninfoParse(dsn, &perr)) == NULL) {
		size_t n = perr != NULL ? strcspn(perr, "\r\n") : 0;

		snprintf(err, errlen, "invalid PostgreSQL connection string: "
		    "%.*s", (int)n, perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		return NULL;
	}
	pg = xcalloc(1, sizeof(*pg));
	pg->base.drv = &sql_pg_driver;
	pg->add_timeout = !sql_pg_dsn_has(opts, "connect_timeout");
	pg->add_tcp = true;
	for (size_t i = 0; i < SQL_PG_TCP_N; i++)
		if (sql_pg_dsn_has(opts, sql_pg_tcp_kw[i]))
			pg->add_tcp = false;
	PQconninfoFree(opts);
	pg->dsn = xstrdup(dsn);
	pg->password = password != NULL ? xstrdup(password) : NULL;
	pg->backoff_ms = SQL_PG_BACKOFF_MIN_MS;
	return pg;
}

struct sql *
sql_open_pg(const char *dsn, const char *password, char *err, size_t errlen)
{
	struct sql_pg *pg;

	if ((pg = sql_pg_new(dsn, password, err, errlen)) == NULL)
		return NULL;
	if (sql_pg_connect(pg) == -1) {
		snprintf(err, errlen, "%s", pg->err);
		sql_close(&pg->base);
		return NULL;
	}
	return &pg->base;
}

struct sql *
sql_open_pg_later(const char *dsn, const char *password, char *err,
    size_t errlen)
{
	struct sql_pg *pg = sql_pg_new(dsn, password, err, errlen);

	return pg != NULL ? &pg->base : NULL;
}

static void sql_pg_finalize(struct sql_stmt *);

static void
sql_pg_close(struct sql *sql)
{
	struct sql_pg *pg = sql_pg_of(sql);

	while (pg->stmts != NULL)
		sql_pg_finalize(&pg->stmts->base);
	PQfinish(pg->conn);
	free(pg->dsn);
	if (pg->password != NULL) {
		explicit_bzero(pg->password, strlen(pg->password));
		free(pg->password);
	}
	free(pg);
}

static const char *
sql_pg_errmsg(const struct sql *sql)
{
	return sql_pg_of_const(sql)->err;
}

static enum sql_rc
sql_pg_exec(struct sql *sql, const char *text)
{
	return sql_pg_run_simple(sql_pg_of(sql), text);
}

/*
 * A new transaction starts apart from one lost before. A writing one
 * takes the store's write lock first, as SQLite's BEGIN IMMEDIATE does:
 * PostgreSQL would let two read-then-write transactions (a report lease)
 * both read the old row; with the lock, writers of all nodes take turns
 * from the start, and readers never wait. It is a transaction-scoped
 * advisory lock, gone at COMMIT, ROLLBACK or a broken connection.
 */
static enum sql_rc
sql_pg_begin(struct sql *sql, bool write)
{
	struct sql_pg *pg = sql_pg_of(sql);

	pg->tx_lost = false;
	return sql_pg_run_simple(pg, write ? "BEGIN; SELECT "
	    "pg_advisory_xact_lock(" SQL_PG_WRITE_LOCK ")" : "BEGIN");
}

static enum sql_rc
sql_pg_commit(struct sql *sql)
{
	struct sql_pg *pg = sql_pg_of(sql);
	enum sql_rc rc;
	PGresult *res;

	if (pg->tx_lost) {
		/* Told once more, then the transaction is over. */
		(void)sql_pg_ready(pg);
		pg->tx_lost = false;
		return SQL_UNAVAILABLE;
	}
	if ((rc = sql_pg_ready(pg)) != SQL_OK)
		return rc;
	if ((res = PQexec(pg->conn, "COMMIT")) == NULL) {
		/* This failure is the caller's news of the lost transaction. */
		rc = sql_pg_send_failed(pg);
		pg->tx_lost = false;
		return rc;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = sql_pg_result_error(pg, res);
		if (rc == SQL_OK)
			rc = SQL_ERROR;
	} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* A statement of it had failed: PostgreSQL rolls back. */
		snprintf(pg->err, sizeof(pg->err), "the transaction failed "
		    "earlier and was rolled back");
		rc = SQL_ERROR;
	}
	PQclear(res);
	if (PQstatus(pg->conn) == CONNECTION_BAD || rc == SQL_UNAVAILABLE) {
		sql_pg_break(pg);
		pg->tx_lost = false;
		return SQL_UNAVAILABLE;
	}
	pg->in_tx = PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
	return rc;
}

static void
sql_pg_rollback(struct sql *sql)
{
	struct sql_pg *pg = sql_pg_of(sql);
	PGresult *res;

	pg->tx_lost = false;
	if (pg->conn == NULL || PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(pg->conn, "ROLLBACK");
	PQclear(res);
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		sql_pg_break(pg);
		pg->tx_lost = false;
		return;
	}
	pg->in_tx = PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
}

static struct sql_stmt *
sql_pg_prepare(struct sql *sql, const char *text)
{
	struct sql_pg *pg = sql_pg_of(sql);
	struct sql_pg_stmt *st;
	size_t len = strlen(text);
	char *out = xmalloc(len + 1);
	int n;

	if (sql_pg_params_rewrite(text, len, out, len + 1, &n) == -1) {
		snprintf(pg->err, sizeof(pg->err), "bad parameters or quotes "
		    "in SQL: %.200s", text);
		free(out);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->base.drv = &sql_pg_driver;
	st->pg = pg;
	st->text = out;
	st->nparams = n;
	if (n > 0) {
		st->values = xcalloc((size_t)n, sizeof(*st->values));
		st->lengths = xcalloc((size_t)n, sizeof(*st->lengths));
		st->formats = xcalloc((size_t)n, sizeof(*st->formats));
		st->types = xcalloc((size_t)n, sizeof(*st->types));
	}
	st->next_st = pg->stmts;
	if (pg->stmts != NULL)
		pg->stmts->prev = st;
	pg->stmts = st;
	return &st->base;
}

/* Forget the rows of the last run. */
static void
sql_pg_clear_rows(struct sql_pg_stmt *st)
{
	free(st->ctypes);
	free(st->off);
	free(st->len);
	free(st->data);
	st->ctypes = NULL;
	st->off = st->len = NULL;
	st->data = NULL;
	st->ncols = 0;
	st->nrows = st->rowcap = st->next = st->dlen = st->dcap = 0;
	st->run = SQL_PG_IDLE;
}

static void
sql_pg_clear_binds(struct sql_pg_stmt *st)
{
	for (int i = 0; i < st->nparams; i++) {
		free(st->values[i]);
		st->values[i] = NULL;
		st->lengths[i] = st->formats[i] = 0;
		st->types[i] = 0;
	}
}

static void
sql_pg_finalize(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);

	if (st->prev != NULL)
		st->prev->next_st = st->next_st;
	else
		st->pg->stmts = st->next_st;
	if (st->next_st != NULL)
		st->next_st->prev = st->prev;
	sql_pg_clear_rows(st);
	sql_pg_clear_binds(st);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->types);
	free(st->text);
	free(st);
}

/* Set parameter idx to a copy of len bytes of p (NULL: SQL NULL). */
static enum sql_rc
sql_pg_bind(struct sql_pg_stmt *st, int idx, const void *p, size_t len,
    int format, unsigned type)
{
	int i = idx - 1;

	if (idx < 1 || idx > st->nparams || len > INT_MAX - 1) {
		snprintf(st->pg->err, sizeof(st->pg->err), "bind: parameter "
		    "%d of %d", idx, st->nparams);
		return SQL_ERROR;
	}
	free(st->values[i]);
	st->values[i] = NULL;
	if (p != NULL) {
		st->values[i] = xmalloc(len + 1);
		memcpy(st->values[i], p, len);
		st->values[i][len] = '\0';
	}
	st->lengths[i] = (int)len;
	st->formats[i] = format;
	st->types[i] = type;
	return SQL_OK;
}

static enum sql_rc
sql_pg_bind_text(struct sql_stmt *st, int idx, const char *s)
{
	return sql_pg_bind(sql_pg_stmt_of(st), idx, s, s != NULL ?
	    strlen(s) : 0, 0, 0);
}

static enum sql_rc
sql_pg_bind_int64(struct sql_stmt *st, int idx, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	return sql_pg_bind(sql_pg_stmt_of(st), idx, buf, (size_t)n, 0,
	    SQL_PG_INT8OID);
}

static enum sql_rc
sql_pg_bind_blob(struct sql_stmt *st, int idx, const void *p, size_t len)
{
	/* Binary format: bytea's binary form is the bytes themselves. */
	return sql_pg_bind(sql_pg_stmt_of(st), idx, p != NULL ? p : "", len,
	    1, SQL_PG_BYTEAOID);
}

static enum sql_rc
sql_pg_bind_null(struct sql_stmt *st, int idx)
{
	return sql_pg_bind(sql_pg_stmt_of(st), idx, NULL, 0, 0, 0);
}

static int
sql_pg_bind_count(const struct sql_stmt *st)
{
	return ((const struct sql_pg_stmt *)st)->nparams;
}

/* Run the statement and keep its rows. */
static enum sql_rc
sql_pg_run(struct sql_pg_stmt *st)
{
	return sql_pg_go(st->pg, st, NULL);
}

static enum sql_rc
sql_pg_step(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);
	enum sql_rc rc;

	if (st->run == SQL_PG_FAILED)
		return st->failed;
	if (st->run == SQL_PG_IDLE) {
		if ((rc = sql_pg_run(st)) != SQL_OK) {
			sql_pg_clear_rows(st);
			st->run = SQL_PG_FAILED;
			st->failed = rc;
			return rc;
		}
		st->run = SQL_PG_ROWS;
	}
	if (st->next >= st->nrows) {
		st->next = st->nrows + 1;	/* no current row */
		return SQL_DONE;
	}
	st->next++;
	return SQL_ROW;
}

/* The index of (current row, col), or SIZE_MAX if there is none. */
static size_t
sql_pg_cell(const struct sql_pg_stmt *st, int col)
{
	if (st->run != SQL_PG_ROWS || st->next == 0 || st->next > st->nrows ||
	    col < 0 || col >= st->ncols)
		return SIZE_MAX;
	return (st->next - 1) * (size_t)st->ncols + (size_t)col;
}

static bool
sql_pg_column_null(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);
	size_t i = sql_pg_cell(st, col);

	return i == SIZE_MAX || st->off[i] == SQL_PG_NULL;
}

static const char *
sql_pg_column_text(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);
	size_t i = sql_pg_cell(st, col);

	if (i == SIZE_MAX || st->off[i] == SQL_PG_NULL)
		return NULL;
	return st->data + st->off[i];
}

/* 0 for NULL, as SQLite reads it, and for what is no integer. */
static int64_t
sql_pg_column_int64(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);
	size_t i = sql_pg_cell(st, col);
	int64_t v;

	if (i == SIZE_MAX || st->off[i] == SQL_PG_NULL ||
	    sql_pg_int64_parse(st->data + st->off[i], st->len[i], &v) == -1)
		return 0;
	return v;
}

static const void *
sql_pg_column_blob(struct sql_stmt *base, int col, size_t *len)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);
	size_t i = sql_pg_cell(st, col);

	if (i == SIZE_MAX || st->off[i] == SQL_PG_NULL) {
		*len = 0;
		return NULL;
	}
	*len = st->len[i];
	return st->data + st->off[i];
}

static void
sql_pg_reset(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg_stmt_of(base);

	sql_pg_clear_rows(st);
	sql_pg_clear_binds(st);
}

static int64_t
sql_pg_changes(const struct sql *sql)
{
	return sql_pg_of_const(sql)->changes;
}

/* The rows of a statement go at its reset; libpq keeps nothing else. */
static void
sql_pg_release_memory(struct sql *sql)
{
	(void)sql;
}

static const struct sql_driver sql_pg_driver = {
	.backend = SQL_POSTGRESQL,
	.close = sql_pg_close,
	.errmsg = sql_pg_errmsg,
	.exec = sql_pg_exec,
	.begin = sql_pg_begin,
	.commit = sql_pg_commit,
	.rollback = sql_pg_rollback,
	.prepare = sql_pg_prepare,
	.finalize = sql_pg_finalize,
	.bind_text = sql_pg_bind_text,
	.bind_int64 = sql_pg_bind_int64,
	.bind_blob = sql_pg_bind_blob,
	.bind_null = sql_pg_bind_null,
	.bind_count = sql_pg_bind_count,
	.step = sql_pg_step,
	.column_null = sql_pg_column_null,
	.column_text = sql_pg_column_text,
	.column_int64 = sql_pg_column_int64,
	.column_blob = sql_pg_column_blob,
	.reset = sql_pg_reset,
	.changes = sql_pg_changes,
	.release_memory = sql_pg_release_memory,
};
