/* SPDX-License-Identifier: ISC */
/* A fresh store in a temporary folder for unit tests (cmocka fixtures). */
#ifndef SEALMAIL_TESTS_TESTSTORE_H
#define SEALMAIL_TESTS_TESTSTORE_H

struct db;

struct teststore {
	char		 dir[64];
	char		 path[128];
	struct db	*db;
};

/* cmocka setup: *state becomes a struct teststore with an open store. */
int teststore_setup(void **state);
/* cmocka teardown: closes the store and removes its folder. */
int teststore_teardown(void **state);

#endif
