/* SPDX-License-Identifier: ISC */
/* Unit tests for web/web_users (an admin listener's password_file). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "web/web_users.h"

/* Parse s; NULL on success (u set), else the error text. */
static const char *
parse(const char *s, struct web_users **u)
{
	static char err[256];

	*u = web_users_parse(s, strlen(s), err, sizeof(err));
	return *u ? NULL : err;
}

static void
test_lines(void **state)
{
	struct web_users *u;

	(void)state;
	assert_null(parse("# admins\n\nops:$y$j9T$abc$def\r\n"
	    "root:$2b$05$xyz\nlast:$6$s$h", &u));
	assert_int_equal(web_users_count(u), 3);
	assert_string_equal(web_users_hash(u, "ops", 3), "$y$j9T$abc$def");
	assert_string_equal(web_users_hash(u, "root", 4), "$2b$05$xyz");
	assert_string_equal(web_users_hash(u, "last", 4), "$6$s$h");
	/* Names are exact: no prefix match, no case folding. */
	assert_null(web_users_hash(u, "op", 2));
	assert_null(web_users_hash(u, "OPS", 3));
	assert_null(web_users_hash(u, "opsx", 4));
	web_users_free(u);

	assert_null(parse("", &u));
	assert_int_equal(web_users_count(u), 0);
	web_users_free(u);
}

static void
test_bad_lines(void **state)
{
	struct web_users *u;

	(void)state;
	assert_string_equal(parse("a:h\nnocolon\n", &u),
	    "line 2: no ':' between user and hash");
	assert_non_null(strstr(parse(":hash\n", &u), "line 1: bad user"));
	assert_non_null(strstr(parse("a b:hash\n", &u), "bad user"));
	assert_non_null(strstr(parse("a\tb:hash\n", &u), "bad user"));
	assert_non_null(strstr(parse("user:\n", &u), "bad hash"));
	assert_non_null(strstr(parse("user:ha sh\n", &u), "bad hash"));
	assert_non_null(strstr(parse("user:ha\rsh\n", &u), "bad hash"));
	assert_non_null(strstr(parse("a:h\nb:h\na:h2\n", &u),
	    "line 3: user listed twice"));
	/* A NUL inside a line is a control character, not an end. */
	{
		static const char nul[] = "us\0er:hash\n";
		char err[128];
		assert_null(web_users_parse(nul, sizeof(nul) - 1, err,
		    sizeof(err)));
	}
}

static void
test_bounds(void **state)
{
	struct web_users *u;
	char name[WEB_USERS_NAME_MAX + 2], line[WEB_USERS_HASH_MAX + 80];
	char *big;
	size_t n;

	(void)state;
	memset(name, 'u', sizeof(name));
	name[WEB_USERS_NAME_MAX] = '\0';
	snprintf(line, sizeof(line), "%s:h", name);
	assert_null(parse(line, &u));
	web_users_free(u);
	name[WEB_USERS_NAME_MAX] = 'u';
	name[WEB_USERS_NAME_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "%s:h", name);
	assert_non_null(strstr(parse(line, &u), "bad user"));

	memset(line, 'h', sizeof(line));
	memcpy(line, "u:", 2);
	line[2 + WEB_USERS_HASH_MAX] = '\0';
	assert_null(parse(line, &u));
	web_users_free(u);
	line[2 + WEB_USERS_HASH_MAX] = 'h';
	line[3 + WEB_USERS_HASH_MAX] = '\0';
	assert_non_null(strstr(parse(line, &u), "bad hash"));

	/* WEB_USERS_MAX users, then one more. */
	big = calloc(WEB_USERS_MAX + 1, 16);
	n = 0;
	for (int i = 0; i <= WEB_USERS_MAX; i++)
		n += (size_t)sprintf(big + n, "u%d:h\n", i);
	char err[128];
	u = web_users_parse(big, n, err, sizeof(err));
	assert_null(u);
	assert_non_null(strstr(err, "more than"));
	u = web_users_parse(big, n - strlen("u256:h\n"), err, sizeof(err));
	assert_non_null(u);
	assert_int_equal(web_users_count(u), WEB_USERS_MAX);
	web_users_free(u);
	free(big);

	/* The whole text is bounded before any line is looked at. */
	big = malloc(WEB_USERS_FILE_MAX + 1);
	memset(big, '#', WEB_USERS_FILE_MAX + 1);
	assert_null(web_users_parse(big, WEB_USERS_FILE_MAX + 1, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "larger than"));
	assert_non_null(u = web_users_parse(big, WEB_USERS_FILE_MAX, err,
	    sizeof(err)));
	web_users_free(u);
	free(big);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/web_users_testXXXXXX", err[512];
	int fd = mkstemp(path);
	struct web_users *u;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ops:$6$s$h\n", 11), 11);
	close(fd);
	u = web_users_load(path, err, sizeof(err));
	assert_non_null(u);
	assert_string_equal(web_users_hash(u, "ops", 3), "$6$s$h");
	web_users_free(u);

	/* An oversized file is refused, not cut. */
	fd = open(path, O_WRONLY | O_TRUNC);
	char *big = malloc(WEB_USERS_FILE_MAX + 100);
	memset(big, '#', WEB_USERS_FILE_MAX + 100);
	assert_int_equal(write(fd, big, WEB_USERS_FILE_MAX + 100),
	    WEB_USERS_FILE_MAX + 100);
	close(fd);
	free(big);
	assert_null(web_users_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
	assert_null(web_users_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
