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
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
