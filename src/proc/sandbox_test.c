/* SPDX-License-Identifier: ISC */
/* Unit tests for proc/sandbox: the Landlock ABI cap of the test hook and
 * the rights each ABI handles. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/landlock.h>

#include "proc/sandbox.h"

static void
test_abi_cap(void **state)
{
	(void)state;
	assert_int_equal(sandbox_landlock_abi(7, NULL), 7);
	assert_int_equal(sandbox_landlock_abi(7, ""), 7);
	assert_int_equal(sandbox_landlock_abi(7, "2"), 2);
	assert_int_equal(sandbox_landlock_abi(2, "5"), 2);
	/* The hook only lowers the ABI: it never turns Landlock off. */
	assert_int_equal(sandbox_landlock_abi(7, "0"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "-3"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "2x"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "99999999999999999999"), 7);
	/* Nor does it turn it on. */
	assert_int_equal(sandbox_landlock_abi(0, "2"), 0);
	assert_int_equal(sandbox_landlock_abi(-1, NULL), 0);
}

static void
test_handled(void **state)
{
	(void)state;
	assert_true(sandbox_landlock_handled(0) == 0);
	/* ABI 1: bits 0 (EXECUTE) to 12 (MAKE_SYM). */
	assert_true(sandbox_landlock_handled(1) == 0x1fff);
	/* ABI 2 (Debian 12's 6.1) adds REFER, not TRUNCATE. */
	assert_true(sandbox_landlock_handled(2) == 0x3fff);
	assert_true(sandbox_landlock_handled(3) == 0x7fff);
	assert_true(sandbox_landlock_handled(4) == 0x7fff);
	/* ABI 5 adds IOCTL_DEV; 6 and 7 add no filesystem right. */
	assert_true(sandbox_landlock_handled(5) == 0xffff);
	assert_true(sandbox_landlock_handled(7) == 0xffff);
	assert_true((sandbox_landlock_handled(2) &
	    LANDLOCK_ACCESS_FS_REFER) != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_cap),
		cmocka_unit_test(test_handled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
