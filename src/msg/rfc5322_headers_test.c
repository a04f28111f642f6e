/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/rfc5322_headers: splitting, folding, line ends,
 * malformed lines, bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/rfc5322_headers.h"

/* Split msg and write "name=[unfolded value]" per field, "|bad=N|body=B|"
 * and the terminal result into out. */
static enum rfc5322_headers_result
split(const char *msg, size_t len, char *out, size_t outlen)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;
	size_t o = 0;

	out[0] = '\0';
	rfc5322_headers_init(&h, msg, len);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		struct buf b;
		buf_init(&b, 4096);
		assert_int_equal(rfc5322_field_unfold(&f, &b), 0);
		assert_true(f.raw + f.raw_len == f.value + f.value_len);
		assert_true(f.raw == msg + f.offset);
		o += (size_t)snprintf(out + o, outlen - o, "%.*s=[%s]",
		    (int)f.name_len, f.name, buf_cstr(&b));
		buf_clear(&b);
		assert_true(o < outlen);
	}
	snprintf(out + o, outlen - o, "|bad=%zu|body=%zu",
	    rfc5322_headers_bad_lines(&h), rfc5322_headers_body_offset(&h));
	/* Terminal results repeat. */
	assert_int_equal(rfc5322_headers_next(&h, &f), r);
	return r;
}

static void
test_rfc5322_headers_split(void **state)
{
	static const struct {
		const char	*msg;
		const char	*want;
	} cases[] = {
		{ "A: 1\r\nB:2\r\n\r\nbody", "A=[1]B=[2]|bad=0|body=13" },
		{ "A: 1\nB:2\n\nbody", "A=[1]B=[2]|bad=0|body=10" },
		{ "Subject: a\r\n b\r\n\tc\r\n\r\n",
		    "Subject=[a b\tc]|bad=0|body=22" },
		{ "Subject: a\n  b\nX: y\n", "Subject=[a  b]X=[y]|bad=0|body=20" },
		{ "A: 1", "A=[1]|bad=0|body=4" },
		{ "", "|bad=0|body=0" },
		{ "\r\nbody", "|bad=0|body=2" },
		{ "From sender@example.org Mon Jan 1\nA: 1\n\n",
		    "A=[1]|bad=0|body=40" },
		{ "no colon here\nA: 1\n\n", "A=[1]|bad=1|body=20" },
		{ " leading\n cont\nA: 1\n\n", "A=[1]|bad=1|body=21" },
		{ "Name : v\r\n\r\n", "Name=[v]|bad=0|body=12" },
		{ ": v\r\nA:\r\n\r\n", "A=[]|bad=1|body=11" },
		{ "A: x\ry\r\n\r\n", "A=[x\ry]|bad=0|body=10" },
		{ "B\xc3\xa9: x\r\n\r\n", "|bad=1|body=10" },
		{ "A:\r\n v\r\n", "A=[v]|bad=0|body=8" },
	};
	char out[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		split(cases[i].msg, strlen(cases[i].msg), out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, out,
			    cases[i].want);
	}
}

static void
test_rfc5322_headers_nul(void **state)
{
	static const char msg[] = "A: x\0y\r\n\r\n";
	char out[128];

	(void)state;
	split(msg, sizeof(msg) - 1, out, sizeof(out));
	assert_string_equal(out, "A=[x y]|bad=0|body=10");
}

static void
test_rfc5322_headers_field_is(void **state)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	static const char msg[] = "received: a\r\nReceived-SPF: b\r\n\r\n";

	(void)state;
	rfc5322_headers_init(&h, msg, sizeof(msg) - 1);
	assert_int_equal(rfc5322_headers_next(&h, &f), RFC5322_HEADERS_FIELD);
	assert_true(rfc5322_field_is(&f, "Received"));
	assert_true(rfc5322_field_is(&f, "RECEIVED"));
	assert_int_equal(rfc5322_headers_next(&h, &f), RFC5322_HEADERS_FIELD);
	assert_false(rfc5322_field_is(&f, "Received"));
	assert_memory_equal(f.raw, "Received-SPF: b", f.raw_len);
	assert_int_equal(rfc5322_headers_next(&h, &f), RFC5322_HEADERS_END);
}

static void
test_rfc5322_headers_limits(void **state)
{
	size_t n = (RFC5322_HEADERS_MAX_FIELDS + 5) * 5;
	char *msg = malloc(n + RFC5322_HEADERS_MAX_SECTION + 16);
	static char out[2 * RFC5322_HEADERS_MAX_SECTION];
	struct rfc5322_headers h;
	struct rfc5322_field f;
	size_t count = 0;

	(void)state;
	for (size_t i = 0; i < n; i += 5)
		memcpy(msg + i, "A: 1\n", 5);
	rfc5322_headers_init(&h, msg, n);
	enum rfc5322_headers_result r;
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD)
		count++;
	assert_int_equal(r, RFC5322_HEADERS_TOO_MANY);
	assert_int_equal(count, RFC5322_HEADERS_MAX_FIELDS);

	/* One field longer than the section limit. */
	n = RFC5322_HEADERS_MAX_SECTION + 10;
	memset(msg, 'x', n);
	memcpy(msg, "A: ", 3);
	assert_int_equal(split(msg, n, out, sizeof(out)),
	    RFC5322_HEADERS_TOO_LONG);
	/* A field ending exactly at the limit with more input after it:
	 * its continuation is unknowable, so the section is too long. */
	msg[RFC5322_HEADERS_MAX_SECTION - 1] = '\n';
	assert_int_equal(split(msg, n, out, sizeof(out)),
	    RFC5322_HEADERS_TOO_LONG);
	/* Ending before the limit is fine, whatever the body's size. */
	memcpy(msg + 100, "\n\n", 2);
	assert_int_equal(split(msg, n, out, sizeof(out)),
	    RFC5322_HEADERS_END);
	assert_string_equal(strstr(out, "|bad"), "|bad=0|body=102");
	free(msg);
}

static void
test_rfc5322_headers_unfold_full(void **state)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	struct buf b;
	static const char msg[] = "A: 0123456789\r\n\r\n";

	(void)state;
	rfc5322_headers_init(&h, msg, sizeof(msg) - 1);
	assert_int_equal(rfc5322_headers_next(&h, &f), RFC5322_HEADERS_FIELD);
	buf_init(&b, 11);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_int_equal(rfc5322_field_unfold(&f, &b), -1);
	assert_string_equal(buf_cstr(&b), "ab");
	b.max = 12;
	assert_int_equal(rfc5322_field_unfold(&f, &b), 0);
	assert_string_equal(buf_cstr(&b), "ab0123456789");
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5322_headers_split),
		cmocka_unit_test(test_rfc5322_headers_nul),
		cmocka_unit_test(test_rfc5322_headers_field_is),
		cmocka_unit_test(test_rfc5322_headers_limits),
		cmocka_unit_test(test_rfc5322_headers_unfold_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
