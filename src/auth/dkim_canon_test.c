/* SPDX-License-Identifier: ISC */
/* Unit tests of DKIM canonicalisation (RFC 6376 §3.4, with its §3.4.5
 * examples), header section walking and the streaming body under every
 * chunking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/dkim_canon.h"
#include "core/buf.h"

static void
collect(void *arg, const uint8_t *p, size_t n)
{
	buf_append(arg, p, n);
}

/* Canonicalise body in chunks of `chunk` octets; compare with want. */
static void
body_is(enum dkim_canon_mode m, const char *body, uint64_t limit,
    const char *want)
{
	size_t len = strlen(body);

	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		struct dkim_body_canon c;
		struct buf out;

		buf_init(&out, 1 << 16);
		dkim_body_canon_init(&c, m, limit, collect, &out);
		for (size_t off = 0; off < len; off += chunk)
			dkim_body_canon_push(&c, body + off, off + chunk > len ?
			    len - off : chunk);
		dkim_body_canon_finish(&c);
		if (out.len != strlen(want) || memcmp(buf_cstr(&out), want,
		    out.len) != 0)
			fail_msg("mode %d chunk %zu: got \"%s\" want \"%s\"", m,
			    chunk, buf_cstr(&out), want);
		if (limit == DKIM_CANON_NOLIMIT)
			assert_int_equal(c.total, strlen(want));
		buf_clear(&out);
	}
}

static void
test_body_rfc_example(void **state)
{
	/* RFC 6376 §3.4.5. */
	const char *b = " C \r\nD \t E\r\n\r\n\r\n";

	(void)state;
	body_is(DKIM_CANON_RELAXED, b, DKIM_CANON_NOLIMIT, " C\r\nD E\r\n");
	body_is(DKIM_CANON_SIMPLE, b, DKIM_CANON_NOLIMIT, " C \r\nD \t E\r\n");
}

static void
test_body_edges(void **state)
{
	(void)state;
	body_is(DKIM_CANON_SIMPLE, "", DKIM_CANON_NOLIMIT, "\r\n");
	body_is(DKIM_CANON_RELAXED, "", DKIM_CANON_NOLIMIT, "");
	body_is(DKIM_CANON_SIMPLE, "\r\n\r\n", DKIM_CANON_NOLIMIT, "\r\n");
	body_is(DKIM_CANON_RELAXED, " \r\n\t\r\n", DKIM_CANON_NOLIMIT, "");
	body_is(DKIM_CANON_SIMPLE, "abc", DKIM_CANON_NOLIMIT, "abc\r\n");
	body_is(DKIM_CANON_RELAXED, "abc  ", DKIM_CANON_NOLIMIT, "abc\r\n");
	/* Bare CR and LF are ordinary octets. */
	body_is(DKIM_CANON_RELAXED, "a \rb\nc \r\n", DKIM_CANON_NOLIMIT,
	    "a \rb\nc\r\n");
	body_is(DKIM_CANON_SIMPLE, "a\r\r\n\r", DKIM_CANON_NOLIMIT,
	    "a\r\r\n\r\r\n");
	/* Empty lines inside the body are kept. */
	body_is(DKIM_CANON_RELAXED, "a\r\n\r\n \r\nb\r\n\r\n",
	    DKIM_CANON_NOLIMIT, "a\r\n\r\n\r\nb\r\n");
	/* l=: only the first octets of the canonical body. */
	body_is(DKIM_CANON_SIMPLE, "hello\r\nworld\r\n", 7, "hello\r\n");
	body_is(DKIM_CANON_RELAXED, "a  b\r\n", 0, "");
}

static void
test_header(void **state)
{
	struct buf out;
	/* RFC 6376 §3.4.5's header example. */
	const char *f1 = "A: X\r\n", *f2 = "B : Y\t\r\n\tZ  \r\n";

	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, f1, strlen(f1),
	    &out), 0);
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, f2, strlen(f2),
	    &out), 0);
	assert_string_equal(buf_cstr(&out), "a:X\r\nb:Y Z\r\n");
	buf_reset(&out);
	assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, f2, strlen(f2),
	    &out), 0);
	assert_string_equal(buf_cstr(&out), f2);
	buf_reset(&out);
	assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, "A:b", 3, &out),
	    0);
	assert_string_equal(buf_cstr(&out), "A:b\r\n");
	buf_clear(&out);
	/* The bound of out is honoured. */
	buf_init(&out, 4);
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, f2, strlen(f2),
	    &out), -1);
	buf_clear(&out);
}

static void
test_header_walk(void **state)
{
	const char *h = "From: a\r\nSubject: x\r\n y\r\nbogus line\r\nTo : b\r\n"
	    "\r\nBody: no\r\n";
	struct dkim_field f;
	size_t pos = 0;

	(void)state;
	assert_int_equal(dkim_header_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.namelen, 4);
	assert_int_equal(f.valuelen, 2);
	assert_int_equal(dkim_header_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.len, strlen("Subject: x\r\n y\r\n"));
	assert_memory_equal(f.value, " x\r\n y", f.valuelen);
	assert_int_equal(dkim_header_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.namelen, 0);
	assert_int_equal(dkim_header_next(h, strlen(h), &pos, &f), 1);
	assert_memory_equal(f.name, "To", 2);
	assert_int_equal(f.namelen, 2);
	assert_int_equal(dkim_header_next(h, strlen(h), &pos, &f), 0);
	/* No final CRLF. */
	pos = 0;
	assert_int_equal(dkim_header_next("A: b", 4, &pos, &f), 1);
	assert_int_equal(f.valuelen, 2);
	assert_int_equal(dkim_header_next("A: b", 4, &pos, &f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_rfc_example),
		cmocka_unit_test(test_body_edges),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_header_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
