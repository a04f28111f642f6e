/* SPDX-License-Identifier: ISC */
/* Unit tests for the MTA-STS policy rows of the store (db_sts.c), on a
 * fresh store in a mkdtemp folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"

/* The store's journal persists beside it (db_open). */
static void
dbst_unlink_journal(const char *path)
{
	char j[4096];

	snprintf(j, sizeof(j), "%s-journal", path);
	unlink(j);
}

static void
test_put_get_del(void **state)
{
	char dir[64] = "/tmp/sealmail-dbsts-test.XXXXXX", path[128], err[256];
	struct db_sts_row row = { (char *)"example.org", (char *)"id1",
	    (char *)"version: STSv1\nmode: enforce\n", 100, 200 }, got;
	struct db *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sealmail.db", dir);
	db = db_open(path, true, NULL, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db_sts_get(db, "example.org", &got), DB_NOTFOUND);
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	row.domain = (char *)"other.example";
	row.id = (char *)"x";
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	/* Replacing keeps one row per domain. */
	row.domain = (char *)"example.org";
	row.id = (char *)"id2";
	row.fetched = 300;
	row.expires = 4000000000LL;	/* past 2038: 64-bit */
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	db_close(db);

	db = db_open(path, false, NULL, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db_sts_get(db, "example.org", &got), DB_OK);
	assert_string_equal(got.id, "id2");
	assert_string_equal(got.policy, row.policy);
	assert_int_equal(got.fetched, 300);
	assert_int_equal(got.expires, 4000000000LL);
	db_sts_row_clear(&got);
	assert_null(got.id);
	assert_int_equal(db_sts_del(db, "example.org"), DB_OK);
	assert_int_equal(db_sts_del(db, "example.org"), DB_NOTFOUND);
	assert_int_equal(db_sts_get(db, "example.org", &got), DB_NOTFOUND);
	assert_int_equal(db_sts_get(db, "other.example", &got), DB_OK);
	db_sts_row_clear(&got);
	db_close(db);
	unlink(path);
	dbst_unlink_journal(path);
	rmdir(dir);
}

/* Which stored policies the background refresh picks (RFC 8461 §10.2). */
static void
test_due(void **state)
{
	char dir[64] = "/tmp/sealmail-dbsts-test.XXXXXX", path[128], err[256];
	struct db_sts_row row = { NULL, (char *)"1", (char *)"p", 0, 0 };
	const int64_t now = 1800000000;
	char **due;
	size_t n;
	struct db *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sealmail.db", dir);
	db = db_open(path, true, NULL, err, sizeof(err));
	assert_non_null(db);
	/* Two days old of a week: due. */
	row.domain = (char *)"old.example";
	row.fetched = now - 2 * 86400;
	row.expires = now + 5 * 86400;
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	/* An hour old of a week: not yet. */
	row.domain = (char *)"fresh.example";
	row.fetched = now - 3600;
	row.expires = now + 7 * 86400;
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	/* An hour old, but past half of a 90-minute max_age: due. */
	row.domain = (char *)"short.example";
	row.fetched = now - 3600;
	row.expires = now + 1800;
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	/* Expired: never (it no longer applies; mail refetches it). */
	row.domain = (char *)"expired.example";
	row.fetched = now - 10 * 86400;
	row.expires = now - 1;
	assert_int_equal(db_sts_put(db, &row), DB_OK);
	assert_int_equal(db_sts_due(db, now, &due, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(due[0], "old.example");	/* oldest first */
	assert_string_equal(due[1], "short.example");
	db_strv_free(due, n);
	db_close(db);
	unlink(path);
	dbst_unlink_journal(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
