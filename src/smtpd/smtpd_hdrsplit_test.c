/* SPDX-License-Identifier: ISC */
/* Unit tests for the header section / body split of an incoming message:
 * the split and the bound do not depend on how the bytes are pushed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "smtpd/smtpd_hdrsplit.h"

/* Push msg in pieces of step octets until the split ends; the bytes it
 * took into *taken. */
static enum smtpd_hdrsplit
split(const char *msg, size_t step, size_t max, struct buf *hdrs,
    size_t *taken)
{
	enum smtpd_hdrsplit st = SMTPD_HDRSPLIT_MORE;
	size_t len = strlen(msg), off = 0;

	buf_init(hdrs, max);
	*taken = 0;
	while (off < len && st == SMTPD_HDRSPLIT_MORE) {
		size_t n = len - off < step ? len - off : step;
		size_t used = smtpd_hdrsplit_push(hdrs,
		    (const uint8_t *)msg + off, n, &st);
		assert_true(used <= n);
		*taken += used;
		off += n;
	}
	return st;
}

static void
test_split_any_pieces(void **state)
{
	static const char msg[] = "Subject: a\r\n folded\r\nTo: b\r\n\r\n"
	    "body\r\n\r\nmore\r\n";
	struct buf h;
	size_t taken;

	(void)state;
	for (size_t step = 1; step <= sizeof(msg); step++) {
		assert_int_equal(split(msg, step, 1000, &h, &taken),
		    SMTPD_HDRSPLIT_END);
		assert_int_equal(taken, 30);
		assert_int_equal(h.len, 28);
		assert_memory_equal(h.data, msg, 28);
		assert_int_equal(h.data[28], 0);
		buf_clear(&h);
	}
	/* No header section at all, also when the CRLF is split. */
	for (size_t step = 1; step <= 3; step++) {
		assert_int_equal(split("\r\nbody\r\n", step, 1000, &h, &taken),
		    SMTPD_HDRSPLIT_END);
		assert_int_equal(taken, 2);
		assert_int_equal(h.len, 0);
		buf_clear(&h);
	}
}

/* The bound is on the header section with its empty line: body octets
 * that arrive in the same piece do not count (they used to, so a message
 * whose section fit was refused as "header section too large" when the
 * body came along in the same read). */
static void
test_bound_is_the_section(void **state)
{
	static const char msg[] = "ab\r\n\r\nbody longer than the bound\r\n";
	struct buf h;
	size_t taken;

	(void)state;
	for (size_t step = 1; step <= sizeof(msg); step++) {
		assert_int_equal(split(msg, step, 6, &h, &taken),
		    SMTPD_HDRSPLIT_END);
		assert_int_equal(taken, 6);
		assert_int_equal(h.len, 4);
		buf_clear(&h);
		assert_int_equal(split(msg, step, 5, &h, &taken),
		    SMTPD_HDRSPLIT_OVERFLOW);
		buf_clear(&h);
	}
	/* A section with no end is bounded too. */
	assert_int_equal(split("a: b\r\nc: d\r\n", 100, 8, &h, &taken),
	    SMTPD_HDRSPLIT_OVERFLOW);
	buf_clear(&h);
	assert_int_equal(split("a: b\r\nc: d\r\n", 100, 12, &h, &taken),
	    SMTPD_HDRSPLIT_MORE);
	assert_int_equal(taken, 12);
	buf_clear(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_any_pieces),
		cmocka_unit_test(test_bound_is_the_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
