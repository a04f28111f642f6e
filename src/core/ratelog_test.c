/* SPDX-License-Identifier: ISC */
/* Unit tests for core/ratelog: one line a second, held-back counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/ratelog.h"

static void
test_ratelog_burst(void **state)
{
	struct ratelog r = { 0 };
	unsigned n = 99;

	(void)state;
	assert_true(ratelog_allow(&r, 100, &n));
	assert_int_equal(n, 0);
	for (int i = 0; i < 5; i++)
		assert_false(ratelog_allow(&r, 100, &n));
	/* The next second writes again and reports the five held back. */
	assert_true(ratelog_allow(&r, 101, &n));
	assert_int_equal(n, 5);
	assert_false(ratelog_allow(&r, 101, &n));
	/* A quiet spell: the count survives until the next line. */
	assert_true(ratelog_allow(&r, 500, &n));
	assert_int_equal(n, 1);
	assert_true(ratelog_allow(&r, 501, &n));
	assert_int_equal(n, 0);
}

static void
test_ratelog_first_at_zero(void **state)
{
	struct ratelog r = { 0 };
	unsigned n;

	(void)state;
	/* A zeroed struct must not take second 0 for a line written. */
	assert_true(ratelog_allow(&r, 0, &n));
	assert_false(ratelog_allow(&r, 0, &n));
	/* A clock that went back does not silence it for good. */
	assert_true(ratelog_allow(&r, -5, &n));
	assert_int_equal(n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelog_burst),
		cmocka_unit_test(test_ratelog_first_at_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
