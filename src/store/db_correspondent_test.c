/* SPDX-License-Identifier: ISC */
/* Unit tests for the correspondents of the store (db_correspondent.c):
 * counts add up across batches, first_seen stays, the walk lists the most
 * written-to first and stops when asked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/db_correspondent.h"
#include "teststore.h"

struct seen {
	char		 domain[3][64];
	long long	 count[3], first[3];
	size_t		 n, stop;
};

static bool
collect(const char *domain, long long count, long long first, void *arg)
{
	struct seen *s = arg;

	if (s->n < 3) {
		snprintf(s->domain[s->n], sizeof(s->domain[0]), "%s", domain);
		s->count[s->n] = count;
		s->first[s->n] = first;
	}
	return ++s->n != s->stop;
}

static void
test_add_and_list(void **state)
{
	struct teststore *t = *state;
	const char *const a[] = { "bank.example", "supplier.example" };
	const unsigned na[] = { 1, 2 };
	const char *const b[] = { "bank.example" };
	const unsigned nb[] = { 3 };
	struct seen s = { .stop = 0 };

	assert_int_equal(db_correspondent_each(t->db, collect, &s), DB_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(db_correspondent_add(t->db, a, na, 2, 1000), DB_OK);
	assert_int_equal(db_correspondent_add(t->db, b, nb, 1, 2000), DB_OK);
	assert_int_equal(db_correspondent_add(t->db, b, nb, 0, 3000), DB_OK);
	assert_int_equal(db_correspondent_each(t->db, collect, &s), DB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.domain[0], "bank.example");
	assert_int_equal(s.count[0], 4);
	assert_int_equal(s.first[0], 1000);
	assert_string_equal(s.domain[1], "supplier.example");
	assert_int_equal(s.count[1], 2);
	memset(&s, 0, sizeof(s));
	s.stop = 1;
	assert_int_equal(db_correspondent_each(t->db, collect, &s), DB_OK);
	assert_int_equal(s.n, 1);
}

static void
test_lookalike_seen(void **state)
{
	struct teststore *t = *state;
	long long first = 0;

	assert_int_equal(db_lookalike_seen(t->db, "examp1e.org", 5000,
	    &first), DB_OK);
	assert_int_equal(first, 5000);
	assert_int_equal(db_lookalike_seen(t->db, "examp1e.org", 9000,
	    &first), DB_OK);
	assert_int_equal(first, 5000);
	assert_int_equal(db_lookalike_seen(t->db, "other.test", 9000,
	    &first), DB_OK);
	assert_int_equal(first, 9000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_list,
		    teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_lookalike_seen,
		    teststore_setup, teststore_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
