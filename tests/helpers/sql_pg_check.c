/* SPDX-License-Identifier: ISC */
/*
 * Test helper (not installed): checks the PostgreSQL driver (sql_pg.c)
 * and schema (db_schema_pg.c) against a real server, for
 * tests/store/test_sql_pg.py, which starts the server.
 *
 *   sql_pg_check basic DSN PWFILE     driver and schema checks
 *   sql_pg_check migrate DSN PWFILE   migrate, print "from=N version=M"
 *   sql_pg_check worker DSN PWFILE    what a worker's role may read
 *   sql_pg_check open DSN PWFILE      open, print the error if it fails
 *   sql_pg_check outage DSN PWFILE    commands on stdin, one per line,
 *                                     answered "ok ..." or "fail ...":
 *                                     begin_insert, expect_unavailable,
 *                                     expect_lost, backoff,
 *                                     commit_unavailable, rollback,
 *                                     recover, quit
 *
 * PWFILE ("-": none) holds the password, as postgresql_password_file
 * does. Exit status 0 when every check passed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/db_schema_pg.h"
#include "store/sql.h"

static int failures;

static uint64_t now_ms(void);

#define CHECK(x) do { if (!(x)) { \
	fprintf(stderr, "sql_pg_check:%d: failed: %s\n", __LINE__, #x); \
	failures++; } } while (0)

static char *
read_password(const char *path)
{
	static char pw[256];
	FILE *fp;

	if (strcmp(path, "-") == 0)
		return NULL;
	if ((fp = fopen(path, "r")) == NULL ||
	    fgets(pw, sizeof(pw), fp) == NULL) {
		perror(path);
		exit(2);
	}
	fclose(fp);
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw;
}

static struct sql *
open_or_die(const char *dsn, const char *pwfile)
{
	char err[512];
	struct sql *sql = sql_open_pg(dsn, read_password(pwfile), err,
	    sizeof(err));

	if (sql == NULL) {
		fprintf(stderr, "sql_pg_check: open: %s\n", err);
		exit(2);
	}
	return sql;
}

/* Run text with up to two text parameters; the rc of its first step. */
static enum sql_rc
run2(struct sql *sql, const char *text, const char *a, const char *b)
{
	struct sql_stmt *st = sql_prepare(sql, text);
	enum sql_rc rc;

	if (st == NULL)
		return SQL_ERROR;
	if (a != NULL)
		sql_bind_text(st, 1, a);
	if (b != NULL)
		sql_bind_text(st, 2, b);
	rc = sql_step(st);
	sql_finalize(st);
	return rc;
}

/* The one integer a query with one text parameter returns (-1: none). */
static int64_t
int1(struct sql *sql, const char *text, const char *a)
{
	struct sql_stmt *st = sql_prepare(sql, text);
	int64_t v = -1;

	if (st == NULL)
		return -1;
	if (a != NULL)
		sql_bind_text(st, 1, a);
	if (sql_step(st) == SQL_ROW)
		v = sql_column_int64(st, 0);
	sql_finalize(st);
	return v;
}

static void
check_migrate(struct sql *sql)
{
	char err[512];
	int from = -1, v = -1;

	CHECK(db_schema_pg_migrate(sql, &from, err, sizeof(err)) == 0);
	CHECK(db_schema_pg_version(sql, &v, err, sizeof(err)) == 0);
	CHECK(v == db_schema_pg_latest());
	/* Again: nothing to do. */
	CHECK(db_schema_pg_migrate(sql, &from, err, sizeof(err)) == 0);
	CHECK(from == db_schema_pg_latest());
}

/* Addresses compare as SQLite's NOCASE does: ASCII case only. */
static void
check_addresses(struct sql *sql)
{
	static const char *add = "INSERT INTO users (address, created, seq) "
	    "VALUES (?1, 1, (SELECT coalesce(max(seq), 0) + 1 FROM users))";
	struct sql_stmt *st;

	CHECK(run2(sql, add, "Alice@Example.TEST", NULL) == SQL_DONE);
	CHECK(sql_changes(sql) == 1);
	CHECK(run2(sql, add, "alice@example.test", NULL) == SQL_CONSTRAINT);
	CHECK(strlen(sql_errmsg(sql)) > 0);
	CHECK(run2(sql, add, "\xc3\x89lise@example.test", NULL) == SQL_DONE);
	CHECK(run2(sql, add, "\xc3\xa9lise@example.test", NULL) == SQL_DONE);
	st = sql_prepare(sql, "SELECT address FROM users WHERE address = ?1");
	CHECK(st != NULL);
	sql_bind_text(st, 1, "aLICE@example.test");
	CHECK(sql_step(st) == SQL_ROW);
	CHECK(strcmp(sql_column_text(st, 0), "Alice@Example.TEST") == 0);
	CHECK(sql_step(st) == SQL_DONE);
	sql_reset(st);
	sql_bind_text(st, 1, "\xc3\xa9lise@EXAMPLE.test");
	CHECK(sql_step(st) == SQL_ROW);
	CHECK(strcmp(sql_column_text(st, 0), "\xc3\xa9lise@example.test") ==
	    0);
	CHECK(sql_step(st) == SQL_DONE);
	sql_finalize(st);
	/* LIKE ignores ASCII case too, as SQLite's does. */
	CHECK(int1(sql, "SELECT count(*) FROM users WHERE address LIKE '%' "
	    "|| ?1", "@EXAMPLE.test") == 3);
	/* Ordered ignoring ASCII case, then bytewise. */
	st = sql_prepare(sql, "SELECT address FROM users ORDER BY address");
	CHECK(sql_step(st) == SQL_ROW);
	CHECK(strcmp(sql_column_text(st, 0), "Alice@Example.TEST") == 0);
	sql_finalize(st);
}

/* The change counter moves with users and aliases, not otherwise. */
static void
check_changes(struct sql *sql)
{
	static const char *counter = "SELECT counter FROM sealmail_changes";
	static const char *alias = "INSERT INTO aliases (address, target) "
	    "VALUES (?1, ?2) ON CONFLICT DO NOTHING";
	int64_t c0 = int1(sql, counter, NULL), c1;

	CHECK(c0 >= 0);
	CHECK(run2(sql, alias, "sales@example.test", "alice@example.test") ==
	    SQL_DONE);
	CHECK(sql_changes(sql) == 1);
	c1 = int1(sql, counter, NULL);
	CHECK(c1 > c0);
	CHECK(run2(sql, alias, "SALES@example.test", "Alice@example.test") ==
	    SQL_DONE);
	CHECK(sql_changes(sql) == 0);
	CHECK(run2(sql, "INSERT INTO correspondents (domain, count, "
	    "first_seen, last_seen) VALUES (?1, 1, 1, 1)", "example.org",
	    NULL) == SQL_DONE);
	CHECK(int1(sql, counter, NULL) - c1 <= 1);
	CHECK(run2(sql, "DELETE FROM aliases WHERE address = ?1",
	    "Sales@Example.Test", NULL) == SQL_DONE);
	CHECK(sql_changes(sql) == 1);
	CHECK(int1(sql, counter, NULL) > c1);
	/* A SELECT leaves the count of the last change alone. */
	CHECK(int1(sql, "SELECT 7", NULL) == 7);
	CHECK(sql_changes(sql) == 1);
}

static void
check_values(struct sql *sql)
{
	uint8_t blob[300];
	struct sql_stmt *st;
	const void *p;
	size_t len;

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7);
	st = sql_prepare(sql, "INSERT INTO secrets (name, value, created) "
	    "VALUES (?1, ?2, ?3)");
	CHECK(sql_bind_count(st) == 3);
	CHECK(sql_bind_text(st, 1, "k") == SQL_OK);
	CHECK(sql_bind_blob(st, 2, blob, sizeof(blob)) == SQL_OK);
	CHECK(sql_bind_int64(st, 3, INT64_MIN) == SQL_OK);
	CHECK(sql_bind_text(st, 4, "x") == SQL_ERROR);
	CHECK(sql_bind_text(st, 0, "x") == SQL_ERROR);
	CHECK(sql_step(st) == SQL_DONE);
	sql_reset(st);
	CHECK(sql_bind_text(st, 1, "empty") == SQL_OK);
	CHECK(sql_bind_blob(st, 2, "", 0) == SQL_OK);
	CHECK(sql_bind_int64(st, 3, INT64_MAX) == SQL_OK);
	CHECK(sql_step(st) == SQL_DONE);
	sql_finalize(st);

	st = sql_prepare(sql, "SELECT value, created FROM secrets WHERE "
	    "name = ?1");
	sql_bind_text(st, 1, "k");
	CHECK(sql_step(st) == SQL_ROW);
	p = sql_column_blob(st, 0, &len);
	CHECK(len == sizeof(blob) && memcmp(p, blob, len) == 0);
	CHECK(sql_column_int64(st, 1) == INT64_MIN);
	sql_reset(st);
	sql_bind_text(st, 1, "empty");
	CHECK(sql_step(st) == SQL_ROW);
	p = sql_column_blob(st, 0, &len);
	CHECK(len == 0 && !sql_column_null(st, 0));
	CHECK(sql_column_int64(st, 1) == INT64_MAX);
	sql_finalize(st);

	/* NULL both ways; booleans read as 1 and 0; quoted ?s stay. */
	st = sql_prepare(sql, "SELECT ?1::text, 1 = 1, 1 = 2, '?1', \"?2\" "
	    "FROM (SELECT 'q' AS \"?2\") AS t, (SELECT ?2::bigint) AS u");
	CHECK(st != NULL && sql_bind_count(st) == 2);
	CHECK(sql_bind_null(st, 1) == SQL_OK);
	CHECK(sql_bind_int64(st, 2, 5) == SQL_OK);
	CHECK(sql_step(st) == SQL_ROW);
	CHECK(sql_column_null(st, 0) && sql_column_text(st, 0) == NULL);
	CHECK(sql_column_int64(st, 0) == 0);
	p = sql_column_blob(st, 0, &len);
	CHECK(p == NULL && len == 0);
	CHECK(sql_column_int64(st, 1) == 1 && sql_column_int64(st, 2) == 0);
	CHECK(strcmp(sql_column_text(st, 1), "1") == 0);
	CHECK(strcmp(sql_column_text(st, 3), "?1") == 0);
	CHECK(strcmp(sql_column_text(st, 4), "q") == 0);
	/* Out of range columns read as NULL. */
	CHECK(sql_column_text(st, 5) == NULL && sql_column_null(st, -1));
	CHECK(sql_step(st) == SQL_DONE);
	CHECK(sql_step(st) == SQL_DONE);
	CHECK(sql_column_text(st, 3) == NULL);
	sql_finalize(st);

	/* Text that is no integer reads as 0, strictly. */
	CHECK(int1(sql, "SELECT ' 12'", NULL) == 0);
	CHECK(int1(sql, "SELECT sum(x) FROM (VALUES (2), (3)) AS t(x)",
	    NULL) == 5);
	/* Rows are read in order, all of them. */
	st = sql_prepare(sql, "SELECT g FROM generate_series(1, 1000) g");
	for (int i = 1; i <= 1000; i++) {
		CHECK(sql_step(st) == SQL_ROW);
		CHECK(sql_column_int64(st, 0) == i);
	}
	CHECK(sql_step(st) == SQL_DONE);
	sql_finalize(st);
}

static void
check_errors(struct sql *sql)
{
	struct sql_stmt *st;

	CHECK(sql_prepare(sql, "SELECT ?") == NULL);
	CHECK(strlen(sql_errmsg(sql)) > 0);
	CHECK(sql_prepare(sql, "SELECT 'open") == NULL);
	st = sql_prepare(sql, "SELECT * FROM no_such_table");
	CHECK(st != NULL);
	CHECK(sql_step(st) == SQL_ERROR);
	CHECK(strstr(sql_errmsg(sql), "no_such_table") != NULL);
	CHECK(sql_step(st) == SQL_ERROR);	/* until reset */
	sql_finalize(st);
	CHECK(sql_exec(sql, "SELECT 1; SELECT 2") == SQL_OK);
	CHECK(sql_exec(sql, "SELECT 1; SELEKT 2") == SQL_ERROR);
	/* A result past the driver's bound is refused, and the connection
	 * stays usable. */
	st = sql_prepare(sql, "SELECT repeat('x', 1048576) FROM "
	    "generate_series(1, 80)");
	CHECK(sql_step(st) == SQL_ERROR);
	CHECK(strstr(sql_errmsg(sql), "larger") != NULL);
	sql_finalize(st);
	CHECK(int1(sql, "SELECT 3", NULL) == 3);
}

static void
check_transactions(struct sql *sql)
{
	static const char *add = "INSERT INTO report_rate (dest, hour, count) "
	    "VALUES (?1, 1, 1)";
	static const char *count = "SELECT count(*) FROM report_rate WHERE "
	    "dest = ?1";

	CHECK(sql_begin(sql, true) == SQL_OK);
	CHECK(run2(sql, add, "rolled", NULL) == SQL_DONE);
	CHECK(int1(sql, count, "rolled") == 1);
	sql_rollback(sql);
	CHECK(int1(sql, count, "rolled") == 0);
	sql_rollback(sql);	/* harmless without one */

	CHECK(sql_begin(sql, true) == SQL_OK);
	CHECK(run2(sql, add, "kept", NULL) == SQL_DONE);
	CHECK(sql_commit(sql) == SQL_OK);
	CHECK(int1(sql, count, "kept") == 1);

	/* A failed statement fails the whole transaction in PostgreSQL:
	 * the commit says so rather than pretending. */
	CHECK(sql_begin(sql, true) == SQL_OK);
	CHECK(run2(sql, add, "other", NULL) == SQL_DONE);
	CHECK(run2(sql, add, "kept", NULL) == SQL_CONSTRAINT);
	CHECK(sql_commit(sql) == SQL_ERROR);
	CHECK(int1(sql, count, "other") == 0);
}

/* sql_begin(write) serializes writers of all connections from the
 * start, as SQLite's BEGIN IMMEDIATE does; readers do not wait. */
static void
check_write_lock(struct sql *sql, const char *dsn, const char *pwfile)
{
	int fd[2], status;
	uint64_t t0;
	char c;
	pid_t pid;

	CHECK(pipe(fd) == 0);
	CHECK(sql_begin(sql, true) == SQL_OK);
	if ((pid = fork()) == 0) {
		struct sql *other = open_or_die(dsn, pwfile);
		uint64_t waited;
		int bad = 0;

		close(fd[0]);
		/* A reader goes on at once. */
		t0 = now_ms();
		bad |= sql_begin(other, false) != SQL_OK;
		bad |= int1(other, "SELECT 4", NULL) != 4;
		bad |= sql_commit(other) != SQL_OK;
		bad |= now_ms() - t0 > 300;
		(void)!write(fd[1], "r", 1);
		t0 = now_ms();
		bad |= sql_begin(other, true) != SQL_OK;
		waited = now_ms() - t0;
		sql_rollback(other);
		sql_close(other);
		_exit(bad ? 1 : waited >= 400 ? 0 : 2);
	}
	close(fd[1]);
	CHECK(read(fd[0], &c, 1) == 1);
	close(fd[0]);
	usleep(600000);
	CHECK(sql_commit(sql) == SQL_OK);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int
cmd_basic(const char *dsn, const char *pwfile)
{
	struct sql *sql = open_or_die(dsn, pwfile);

	CHECK(sql_backend(sql) == SQL_POSTGRESQL);
	CHECK(strcmp(sql_errmsg(sql), "") == 0);
	check_migrate(sql);
	check_addresses(sql);
	check_changes(sql);
	check_values(sql);
	check_errors(sql);
	check_transactions(sql);
	check_write_lock(sql, dsn, pwfile);
	sql_release_memory(sql);
	/* Statements left open are the close's to finalize. */
	CHECK(sql_prepare(sql, "SELECT 1") != NULL);
	sql_close(sql);
	return failures == 0 ? 0 : 1;
}

static int
cmd_migrate(const char *dsn, const char *pwfile)
{
	struct sql *sql = open_or_die(dsn, pwfile);
	char err[512];
	int from = -1, v = -1;

	if (db_schema_pg_migrate(sql, &from, err, sizeof(err)) == -1 ||
	    db_schema_pg_version(sql, &v, err, sizeof(err)) == -1) {
		printf("error %s\n", err);
		sql_close(sql);
		return 1;
	}
	printf("from=%d version=%d latest=%d\n", from, v,
	    db_schema_pg_latest());
	sql_close(sql);
	return 0;
}

/* The workers' role reads and writes the accounts, never the hashes. */
static int
cmd_worker(const char *dsn, const char *pwfile)
{
	struct sql *sql = open_or_die(dsn, pwfile);

	CHECK(int1(sql, "SELECT count(*) FROM users WHERE address = ?1",
	    "alice@example.test") == 1);
	CHECK(run2(sql, "SELECT hash FROM passwords", NULL, NULL) ==
	    SQL_ERROR);
	CHECK(strstr(sql_errmsg(sql), "permission denied") != NULL);
	CHECK(run2(sql, "INSERT INTO aliases (address, target) VALUES (?1, "
	    "?2)", "w@example.test", "alice@example.test") == SQL_DONE);
	CHECK(run2(sql, "UPDATE sealmail_schema SET version = 0", NULL,
	    NULL) == SQL_ERROR);
	sql_close(sql);
	return failures == 0 ? 0 : 1;
}

static int
cmd_open(const char *dsn, const char *pwfile)
{
	char err[512];
	struct sql *sql = sql_open_pg(dsn, read_password(pwfile), err,
	    sizeof(err));

	if (sql == NULL) {
		printf("error %s\n", err);
		return 1;
	}
	printf("ok\n");
	sql_close(sql);
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *
rc_name(enum sql_rc rc)
{
	static const char *const n[] = { "OK", "ROW", "DONE", "CONSTRAINT",
	    "UNAVAILABLE", "ERROR" };

	return (unsigned)rc < 6 ? n[rc] : "?";
}

/* One command of the outage protocol. */
static void
outage_cmd(struct sql *sql, const char *cmd)
{
	static const char *lost = "SELECT count(*) FROM report_rate WHERE "
	    "dest = 'lost'";
	struct sql_stmt *st;
	enum sql_rc rc;
	uint64_t t0;
	int tries = 0;

	if (strcmp(cmd, "begin_insert") == 0) {
		rc = sql_begin(sql, true);
		if (rc == SQL_OK)
			rc = sql_exec(sql, "INSERT INTO report_rate (dest, "
			    "hour, count) VALUES ('lost', 1, 1)");
		printf("%s %s\n", rc == SQL_OK ? "ok" : "fail", rc_name(rc));
	} else if (strcmp(cmd, "expect_unavailable") == 0 ||
	    strcmp(cmd, "expect_lost") == 0) {
		st = sql_prepare(sql, "SELECT 1");
		rc = sql_step(st);
		sql_finalize(st);
		printf("%s %s %s\n", rc == SQL_UNAVAILABLE && (cmd[7] == 'u' ||
		    strstr(sql_errmsg(sql), "lost") != NULL) ? "ok" : "fail",
		    rc_name(rc), sql_errmsg(sql));
	} else if (strcmp(cmd, "backoff") == 0) {
		/* The server is down: calls every 10 ms for 3 s may try to
		 * connect only after 100, 200, 400, 800, 1600 ms. */
		int calls = 0, attempts = 0, other = 0;

		t0 = now_ms();
		while (now_ms() - t0 < 3000) {
			st = sql_prepare(sql, "SELECT 1");
			rc = sql_step(st);
			sql_finalize(st);
			calls++;
			if (rc == SQL_UNAVAILABLE && strncmp(sql_errmsg(sql),
			    "connect: ", 9) == 0)
				attempts++;
			else if (rc != SQL_UNAVAILABLE ||
			    strstr(sql_errmsg(sql), "next try") == NULL)
				other++;
			usleep(10000);
		}
		printf("%s attempts=%d calls=%d other=%d\n", attempts >= 2 &&
		    attempts <= 7 && calls > 50 && other == 0 ? "ok" : "fail",
		    attempts, calls, other);
	} else if (strcmp(cmd, "once") == 0) {
		/* One call, no second chance: a row or the failure. */
		st = sql_prepare(sql, lost);
		rc = sql_step(st);
		sql_finalize(st);
		printf("%s %s %s\n", rc == SQL_ROW ? "ok" : "fail", rc_name(rc),
		    sql_errmsg(sql));
	} else if (strcmp(cmd, "commit_unavailable") == 0) {
		rc = sql_commit(sql);
		printf("%s %s %s\n", rc == SQL_UNAVAILABLE ? "ok" : "fail",
		    rc_name(rc), sql_errmsg(sql));
	} else if (strcmp(cmd, "rollback") == 0) {
		sql_rollback(sql);
		printf("ok\n");
	} else if (strcmp(cmd, "recover") == 0) {
		t0 = now_ms();
		do {
			tries++;
			st = sql_prepare(sql, lost);
			rc = sql_step(st);
			if (rc == SQL_ROW && sql_column_int64(st, 0) != 0)
				rc = SQL_ERROR;	/* the lost insert came back */
			sql_finalize(st);
			if (rc != SQL_UNAVAILABLE)
				break;
			usleep(20000);
		} while (now_ms() - t0 < 20000);
		printf("%s %s ms=%llu tries=%d\n", rc == SQL_ROW ? "ok" :
		    "fail", rc_name(rc), (unsigned long long)(now_ms() - t0),
		    tries);
	} else
		printf("fail unknown command\n");
	fflush(stdout);
}

static int
cmd_outage(const char *dsn, const char *pwfile)
{
	struct sql *sql = open_or_die(dsn, pwfile);
	char line[128];

	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		outage_cmd(sql, line);
	}
	sql_close(sql);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sql_pg_check basic|migrate|worker|"
		    "open|outage DSN PWFILE\n");
		return 2;
	}
	if (strcmp(argv[1], "basic") == 0)
		return cmd_basic(argv[2], argv[3]);
	if (strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argv[2], argv[3]);
	if (strcmp(argv[1], "worker") == 0)
		return cmd_worker(argv[2], argv[3]);
	if (strcmp(argv[1], "open") == 0)
		return cmd_open(argv[2], argv[3]);
	if (strcmp(argv[1], "outage") == 0)
		return cmd_outage(argv[2], argv[3]);
	return 2;
}
