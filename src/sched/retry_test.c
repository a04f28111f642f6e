/* SPDX-License-Identifier: ISC */
/* Unit tests for the retry schedule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sched/retry.h"

/* The default of DESIGN.md: 5m, 10m, 30m, 1h, 4h; the last repeats. */
static const unsigned rt_sched[] = { 300, 600, 1800, 3600, 14400 };

static void
test_interval(void **state)
{
	(void)state;
	assert_int_equal(retry_interval(0, rt_sched, 5), 0);
	assert_int_equal(retry_interval(1, rt_sched, 5), 300);
	assert_int_equal(retry_interval(2, rt_sched, 5), 600);
	assert_int_equal(retry_interval(5, rt_sched, 5), 14400);
	assert_int_equal(retry_interval(6, rt_sched, 5), 14400);
	assert_int_equal(retry_interval(4000000000u, rt_sched, 5), 14400);
	assert_int_equal(retry_interval(3, NULL, 0), RETRY_DEFAULT_INTERVAL);
}

static void
test_next_attempt(void **state)
{
	const time_t c = 1700000000;

	(void)state;
	assert_int_equal(retry_next_attempt(c, 0, rt_sched, 5), c);
	assert_int_equal(retry_next_attempt(c, 1, rt_sched, 5), c + 300);
	assert_int_equal(retry_next_attempt(c, 2, rt_sched, 5), c + 900);
	assert_int_equal(retry_next_attempt(c, 3, rt_sched, 5), c + 2700);
	assert_int_equal(retry_next_attempt(c, 4, rt_sched, 5), c + 6300);
	assert_int_equal(retry_next_attempt(c, 5, rt_sched, 5), c + 20700);
	/* Past the end the last interval repeats. */
	assert_int_equal(retry_next_attempt(c, 6, rt_sched, 5), c + 35100);
	assert_int_equal(retry_next_attempt(c, 10, rt_sched, 5),
	    c + 20700 + 5 * 14400);
	assert_int_equal(retry_next_attempt(c, 2, NULL, 0), c + 600);
	/* A one-entry schedule is a fixed interval. */
	static const unsigned one[] = { 60 };
	assert_int_equal(retry_next_attempt(c, 7, one, 1), c + 420);
}

static void
test_monotonic_and_saturating(void **state)
{
	static const unsigned big[] = { 4000000000u };
	time_t prev = 0;

	(void)state;
	for (unsigned a = 0; a < 100; a++) {
		time_t t = retry_next_attempt(1000, a, rt_sched, 5);
		assert_true(t >= prev);
		prev = t;
	}
	time_t far = retry_next_attempt(1700000000, 4000000000u, big, 1);
	assert_true(far > 1700000000);
	assert_true(retry_next_attempt(1700000000, 4000000001u, big, 1) >=
	    far);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_next_attempt),
		cmocka_unit_test(test_monotonic_and_saturating),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
