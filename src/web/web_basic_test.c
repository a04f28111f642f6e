/* SPDX-License-Identifier: ISC */
/* Unit tests for web/web_basic (HTTP basic credentials). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "web/web_basic.h"

/* "Basic " + base64 of raw (rawlen bytes). */
static const char *
header(const char *scheme, const void *raw, size_t rawlen)
{
	static char out[1024];
	int n = snprintf(out, sizeof(out), "%s", scheme);

	assert_true(base64_encode(raw, rawlen, out + n,
	    sizeof(out) - (size_t)n) >= 0);
	return out;
}

static int
parse(const char *h, struct web_basic *b)
{
	return web_basic_parse(h, strlen(h), b);
}

static void
test_good(void **state)
{
	struct web_basic b;

	(void)state;
	/* RFC 7617 §2's example. */
	assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &b), 0);
	assert_string_equal(b.user, "Aladdin");
	assert_string_equal(b.pass, "open sesame");
	/* The scheme in any case, more than one space; the password may
	 * hold ':' and be empty. */
	assert_int_equal(parse(header("bAsIc   ", "u:a:b", 5), &b), 0);
	assert_string_equal(b.user, "u");
	assert_string_equal(b.pass, "a:b");
	assert_int_equal(parse(header("Basic ", "u:", 2), &b), 0);
	assert_string_equal(b.pass, "");
	web_basic_clear(&b);
	assert_string_equal(b.user, "");
}

static void
test_bad(void **state)
{
	struct web_basic b;
	char big[600];

	(void)state;
	assert_int_equal(parse("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &b), -1);
	assert_int_equal(parse("Basic", &b), -1);
	assert_int_equal(parse("Basic ", &b), -1);
	assert_int_equal(parse("BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==", &b), -1);
	assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", &b), -1);
	assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== ", &b),
	    -1);
	assert_int_equal(parse(header("Basic ", "nocolon", 7), &b), -1);
	assert_int_equal(parse(header("Basic ", ":pass", 5), &b), -1);
	assert_int_equal(parse(header("Basic ", "u\0x:p", 5), &b), -1);
	assert_int_equal(parse(header("Basic ", "u:p\0q", 5), &b), -1);
	assert_int_equal(parse(header("Basic ", "u\nx:p", 5), &b), -1);
	assert_string_equal(b.pass, "");
	/* Bounds: the longest user and password pass, one more does not. */
	memset(big, 'x', sizeof(big));
	big[WEB_USERS_NAME_MAX] = ':';
	assert_int_equal(parse(header("Basic ", big, WEB_USERS_NAME_MAX + 1 +
	    WEB_BASIC_PASS_MAX), &b), 0);
	assert_int_equal(strlen(b.pass), WEB_BASIC_PASS_MAX);
	assert_int_equal(parse(header("Basic ", big, WEB_USERS_NAME_MAX + 2 +
	    WEB_BASIC_PASS_MAX), &b), -1);
	big[WEB_USERS_NAME_MAX] = 'x';
	big[WEB_USERS_NAME_MAX + 1] = ':';
	assert_int_equal(parse(header("Basic ", big, WEB_USERS_NAME_MAX + 3),
	    &b), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
