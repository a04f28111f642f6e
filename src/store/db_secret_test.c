/* SPDX-License-Identifier: ISC */
/* Unit tests for the store's named secrets (db_secret_get): made once,
 * the same through every handle, agreed on by processes that ask first at
 * the same moment, and kept across reopening. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/db.h"

struct st {
	char	dir[64];
	char	path[128];
};

static int
setup(void **state)
{
	struct st *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-secret-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sealmail.db", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct st *t = *state;
	char p[160];

	unlink(t->path);
	snprintf(p, sizeof(p), "%s-journal", t->path);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}

static struct db *
open_db(const struct st *t)
{
	char err[256];
	struct db *db = db_open(t->path, true, NULL, err, sizeof(err));

	if (db == NULL)
		fail_msg("db_open: %s", err);
	return db;
}

static void
test_made_once_and_kept(void **state)
{
	struct st *t = *state;
	uint8_t a[32], b[32], c[32], zero[32] = { 0 };
	struct db *db = open_db(t), *db2;

	assert_int_equal(db_secret_get(db, "srs", a, sizeof(a)), DB_OK);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(db_secret_get(db, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
	/* Another name is another secret. */
	assert_int_equal(db_secret_get(db, "other", c, sizeof(c)), DB_OK);
	assert_memory_not_equal(a, c, sizeof(a));
	/* A relaxed handle (the runner's, the workers') reads the same. */
	db2 = open_db(t);
	db_relaxed_durability(db2);
	memset(b, 0, sizeof(b));
	assert_int_equal(db_secret_get(db2, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
	/* A length that does not match the stored value is an error. */
	assert_int_equal(db_secret_get(db2, "srs", b, 16), DB_ERROR);
	assert_non_null(strstr(db_error(db2), "srs"));
	assert_int_equal(db_secret_get(db2, "srs", b, DB_SECRET_MAX + 1),
	    DB_ERROR);
	db_close(db2);
	db_close(db);
	/* Reopened: still the same. */
	db = open_db(t);
	assert_int_equal(db_secret_get(db, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
	db_close(db);
}

#define NPROC	6

static void
test_concurrent_first_use_agrees(void **state)
{
	struct st *t = *state;
	uint8_t got[NPROC][32], mine[32];
	int fds[NPROC][2];
	pid_t pid[NPROC];
	struct db *db;

	/* The store exists (schema made) but has no secret yet. */
	db_close(open_db(t));
	for (int i = 0; i < NPROC; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct db *c = open_db(t);
			uint8_t s[32];
			int ok = db_secret_get(c, "srs", s, sizeof(s)) == DB_OK;

			db_close(c);
			if (!ok || write(fds[i][1], s, sizeof(s)) != sizeof(s))
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < NPROC; i++) {
		int status;

		assert_int_equal(read(fds[i][0], got[i], 32), 32);
		close(fds[i][0]);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	db = open_db(t);
	assert_int_equal(db_secret_get(db, "srs", mine, sizeof(mine)), DB_OK);
	db_close(db);
	for (int i = 0; i < NPROC; i++)
		assert_memory_equal(got[i], mine, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_made_once_and_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_first_use_agrees, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
