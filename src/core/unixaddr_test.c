/* SPDX-License-Identifier: ISC */
/* Unit tests for unix socket addresses from paths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/unixaddr.h"

static void
test_fits(void **state)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path)];

	(void)state;
	assert_int_equal(unixaddr_set(&sun, "/run/x.sock"), 0);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_string_equal(sun.sun_path, "/run/x.sock");
	/* The longest path that still ends with its NUL inside sun_path. */
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(unixaddr_set(&sun, path), 0);
	assert_string_equal(sun.sun_path, path);
}

static void
test_refused(void **state)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path) + 1];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	errno = 0;
	assert_int_equal(unixaddr_set(&sun, path), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	errno = 0;
	assert_int_equal(unixaddr_set(&sun, ""), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(unixaddr_set(&sun, NULL), -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
