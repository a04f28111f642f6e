/* SPDX-License-Identifier: ISC */
/* Unit tests for core/hostport. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/hostport.h"

/* Split s; "host|port|b" (port "-" when absent, b 1 if bracketed) or
 * "error". */
static const char *
split(const char *s, size_t hostlen)
{
	static char out[600];
	char host[300];
	const char *port;
	bool br;

	if (hostport_split(s, host, hostlen, &port, &br) == -1)
		return "error";
	snprintf(out, sizeof(out), "%s|%s|%d", host, port ? port : "-", br);
	return out;
}

static void
test_forms(void **state)
{
	(void)state;
	assert_string_equal(split("mail.example.org", 256),
	    "mail.example.org|-|0");
	assert_string_equal(split("mail.example.org:587", 256),
	    "mail.example.org|587|0");
	assert_string_equal(split("192.0.2.1:25", 256), "192.0.2.1|25|0");
	assert_string_equal(split("[2001:db8::1]:24", 256),
	    "2001:db8::1|24|1");
	assert_string_equal(split("[::1]", 256), "::1|-|1");
	/* Unbracketed, the port is after the last colon. */
	assert_string_equal(split("::1:25", 256), "::1|25|0");
	/* An empty port is the caller's to refuse. */
	assert_string_equal(split("host:", 256), "host||0");
}

static void
test_malformed(void **state)
{
	(void)state;
	assert_string_equal(split("", 256), "error");
	assert_string_equal(split(":25", 256), "error");
	assert_string_equal(split("[::1", 256), "error");
	assert_string_equal(split("[::1]25", 256), "error");
	assert_string_equal(split("[]:25", 256), "error");
	/* The bound counts the NUL. */
	assert_string_equal(split("abcd:1", 5), "abcd|1|0");
	assert_string_equal(split("abcde:1", 5), "error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
