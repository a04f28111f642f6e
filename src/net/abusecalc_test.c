/* SPDX-License-Identifier: ISC */
/* Unit tests for the hour windows (sliding estimate, roll-over, gaps,
 * saturation) and the per-(name, address) AUTH schedule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/abusecalc.h"

/* An hour boundary well inside the 24-bit hour index. */
#define H0	(3600LL * 500000)

static void
test_window_counts_this_hour(void **state)
{
	uint64_t w = 0;

	(void)state;
	assert_true(hourwin_stale(w, H0));
	for (int i = 0; i < 5; i++)
		w = hourwin_add(w, H0 + 10 * i, 1);
	w = hourwin_add(w, H0 + 100, 3);
	assert_int_equal(hourwin_count(w, H0 + 100), 8);
	assert_int_equal(hourwin_count(w, H0 + 3599), 8);
	assert_false(hourwin_stale(w, H0 + 3599));
}

static void
test_window_slides(void **state)
{
	uint64_t w = hourwin_add(0, H0 + 1800, 100);

	(void)state;
	/* Next hour: the previous hour's 100 weigh by what is left of it
	 * in the last 3600 s, rounded up (never an under-count). */
	assert_int_equal(hourwin_count(w, H0 + 3600), 100);
	assert_int_equal(hourwin_count(w, H0 + 3600 + 900), 75);
	assert_int_equal(hourwin_count(w, H0 + 3600 + 1800), 50);
	assert_int_equal(hourwin_count(w, H0 + 3600 + 3599), 1);
	w = hourwin_add(w, H0 + 3600 + 1800, 10);
	assert_int_equal(hourwin_count(w, H0 + 3600 + 1800), 60);
	/* Two hours on, everything is gone. */
	assert_int_equal(hourwin_count(w, H0 + 3 * 3600), 0);
	assert_true(hourwin_stale(w, H0 + 3 * 3600));
	/* A gap of hours drops the old counts when adding, too. */
	w = hourwin_add(w, H0 + 5 * 3600, 2);
	assert_int_equal(hourwin_count(w, H0 + 5 * 3600), 2);
}

static void
test_window_never_rolls_back(void **state)
{
	uint64_t w = hourwin_add(0, H0 + 3600, 7);

	(void)state;
	/* A process still in the hour before (it read the clock just before
	 * another rolled the word over) neither wipes nor rolls back: it
	 * counts into the newer hour and sees all of it. */
	w = hourwin_add(w, H0 + 3599, 1);
	assert_int_equal(hourwin_count(w, H0 + 3599), 8);
	assert_int_equal(hourwin_count(w, H0 + 3600), 8);
	/* Far in the past (a word of another era): unrelated. */
	assert_int_equal(hourwin_count(hourwin_add(0, H0 + 10 * 3600, 5),
	    H0 + 3600 * 9LL * (1 << 22)), 0);
}

static void
test_window_saturates(void **state)
{
	uint64_t w = hourwin_add(0, H0, HOURWIN_MAX - 1);

	(void)state;
	w = hourwin_add(w, H0, 5);
	assert_int_equal(hourwin_count(w, H0), HOURWIN_MAX);
	w = hourwin_add(w, H0 + 3600, HOURWIN_MAX);
	assert_int_equal(hourwin_count(w, H0 + 3600), 2 * HOURWIN_MAX);
}

/* A slot taken back comes off the hour it was counted in, wherever the
 * word has moved that hour since; older ones are gone anyway. */
static void
test_window_sub(void **state)
{
	uint64_t w = hourwin_add(0, H0 + 100, 3);

	(void)state;
	w = hourwin_sub(w, H0 + 200, H0 + 100, 1);
	assert_int_equal(hourwin_count(w, H0 + 200), 2);
	/* Never below zero. */
	assert_int_equal(hourwin_count(hourwin_sub(w, H0 + 200, H0 + 100, 9),
	    H0 + 200), 0);
	/* Taken this hour, given back in the next: off the previous hour. */
	w = hourwin_add(w, H0 + 3600, 4);
	w = hourwin_sub(w, H0 + 3600, H0 + 100, 2);
	assert_int_equal(hourwin_count(w, H0 + 3600), 4);
	w = hourwin_add(hourwin_add(0, H0 + 100, 2), H0 + 3600, 4);
	assert_int_equal(hourwin_count(hourwin_sub(w, H0 + 3600, H0 + 100, 1),
	    H0 + 3600), 5);
	assert_int_equal(hourwin_count(hourwin_sub(w, H0 + 3600, H0 + 3600, 1),
	    H0 + 3600), 5);
	/* Two hours later it counts for nothing: nothing to take. */
	assert_int_equal(hourwin_sub(w, H0 + 3 * 3600, H0 + 100, 1),
	    hourwin_add(0, H0 + 3 * 3600, 0));
	/* Another process already rolled the word into the next hour. */
	w = hourwin_add(hourwin_add(0, H0 + 3599, 2), H0 + 3600, 1);
	w = hourwin_sub(w, H0 + 3599, H0 + 3599, 1);
	assert_int_equal(hourwin_count(w, H0 + 3600), 2);
}

static void
test_authpair_schedule(void **state)
{
	long long now = 1000, next = 0;

	(void)state;
	assert_int_equal(authpair_step(0), 0);
	assert_int_equal(authpair_step(1), 1);
	assert_int_equal(authpair_step(2), 2);
	assert_int_equal(authpair_step(6), 32);
	assert_int_equal(authpair_step(7), AUTHPAIR_STEP_MAX);
	assert_int_equal(authpair_step(100000), AUTHPAIR_STEP_MAX);
	/* Three failures in the same second queue up: 1, 1+2, 3+4. */
	next = authpair_reserve(next, now, 1);
	assert_int_equal(next - now, 1);
	next = authpair_reserve(next, now, 2);
	assert_int_equal(next - now, 3);
	next = authpair_reserve(next, now, 3);
	assert_int_equal(next - now, 7);
	/* One at a time, waiting each answer out: just the step. */
	now = next;
	next = authpair_reserve(next, now, 4);
	assert_int_equal(next - now, 8);
	/* A long-past queue starts from now. */
	assert_int_equal(authpair_reserve(10, 5000, 1), 5001);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_counts_this_hour),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_window_never_rolls_back),
		cmocka_unit_test(test_window_saturates),
		cmocka_unit_test(test_window_sub),
		cmocka_unit_test(test_authpair_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
