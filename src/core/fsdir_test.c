/* SPDX-License-Identifier: ISC */
/* Unit tests of the shared directory fsync: concurrent callers on one
 * directory all succeed, errors reach every caller, and more directories
 * than the table holds still work. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsdir.h"

#define NTHREADS	8
#define ROUNDS		40

static char dir[64];

static void *
syncer(void *arg)
{
	long id = (long)arg;
	char path[128];

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(path, sizeof(path), "%s/f%ld.%d", dir, id, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd == -1 || close(fd) == -1 || fsdir_sync(dir) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_concurrent(void **unused)
{
	pthread_t t[NTHREADS];

	(void)unused;
	snprintf(dir, sizeof(dir), "/tmp/fsdir_test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (long i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, syncer,
		    (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *rv;
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_errors_and_many_dirs(void **unused)
{
	char base[64] = "/tmp/fsdir_test.XXXXXX", path[128];

	(void)unused;
	errno = 0;
	assert_int_equal(fsdir_sync("/nonexistent/fsdir/test"), -1);
	assert_int_equal(errno, ENOENT);
	/* A failure is not remembered: the same path works once it exists. */
	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/later", base);
	assert_int_equal(fsdir_sync(path), -1);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(fsdir_sync(path), 0);
	/* More directories than the table's slots: entries are recycled. */
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "%s/d%d", base, i);
		assert_int_equal(mkdir(path, 0700), 0);
		assert_int_equal(fsdir_sync(path), 0);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_errors_and_many_dirs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
