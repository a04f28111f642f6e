/* SPDX-License-Identifier: ISC */
/* A fresh store in a temporary folder for unit tests (see teststore.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/db.h"
#include "teststore.h"

int
teststore_setup(void **state)
{
	struct teststore *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-store-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sealmail.db", t->dir);
	if ((t->db = db_open(t->path, true, NULL, err, sizeof(err))) == NULL)
		fail_msg("db_open: %s", err);
	*state = t;
	return 0;
}

int
teststore_teardown(void **state)
{
	struct teststore *t = *state;
	char p[160];

	db_close(t->db);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-journal", t->path);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}
