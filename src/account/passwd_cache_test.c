/* SPDX-License-Identifier: ISC */
/* Unit tests of the verified-login cache. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "account/passwd_cache.h"

static void
test_passwd_cache(void **state)
{
	(void)state;
	assert_false(passwd_cache_hit("a@example.org", "$y$h1", "pw"));
	passwd_cache_store("a@example.org", "$y$h1", "pw");
	assert_true(passwd_cache_hit("a@example.org", "$y$h1", "pw"));
	/* another password, a changed hash, another user: all miss */
	assert_false(passwd_cache_hit("a@example.org", "$y$h1", "pw2"));
	assert_false(passwd_cache_hit("a@example.org", "$y$h2", "pw"));
	assert_false(passwd_cache_hit("b@example.org", "$y$h1", "pw"));
	/* the newest success of a user replaces the older one */
	passwd_cache_store("a@example.org", "$y$h2", "new");
	assert_true(passwd_cache_hit("a@example.org", "$y$h2", "new"));
	assert_false(passwd_cache_hit("a@example.org", "$y$h1", "pw"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
