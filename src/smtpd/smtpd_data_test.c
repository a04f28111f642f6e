/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtpd/smtpd_data. Every case is run with the input in
 * one piece, split at every point, split at every pair of points (short
 * inputs) and byte by byte: output, end position and errors must not
 * depend on the split. The SMTP smuggling sequences each get a case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "smtpd/smtpd_data.h"

#define D SMTPD_DATA_MODE_DATA
#define B SMTPD_DATA_MODE_BDAT
#define NORM SMTPD_DATA_BARE_NORMALIZE
#define REJ SMTPD_DATA_BARE_REJECT
#define E_BARE SMTPD_DATA_ERR_BARE_NEWLINE
#define E_LONG SMTPD_DATA_ERR_LINE_TOO_LONG
#define E_BIG SMTPD_DATA_ERR_TOO_BIG
#define ALL ((size_t)-1)

struct data_case {
	const char		*name;
	enum smtpd_data_mode	 mode;
	enum smtpd_data_bare	 bare;
	size_t			 max_line;
	uint64_t		 max_size;
	const char		*in;
	const char		*out;
	bool			 done;
	size_t			 consumed;	/* ALL: the whole input */
	unsigned		 errors;
};

struct data_sink {
	struct buf	b;
	size_t		calls;
	size_t		fail_after;	/* return -1 from this call on */
};

static int
data_sink_cb(const uint8_t *p, size_t n, void *arg)
{
	struct data_sink *s = arg;

	assert_true(n > 0);
	if (++s->calls > s->fail_after)
		return -1;
	assert_int_equal(buf_append(&s->b, p, n), 0);
	return 0;
}

struct data_run {
	size_t		consumed;
	bool		done;
	unsigned	errors;
	uint64_t	size;
	size_t		calls;
};

/* Feed in[0..len) cut at the ncuts offsets in cuts (ascending). */
static void
data_run(const struct data_case *c, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, struct data_sink *s, struct data_run *r)
{
	struct smtpd_data *d = smtpd_data_new(c->mode, c->bare, c->max_line,
	    c->max_size, data_sink_cb, s);
	size_t pos = 0;

	buf_init(&s->b, 1 << 20);
	s->calls = 0;
	for (size_t k = 0; k <= ncuts && !smtpd_data_done(d); k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		size_t n = smtpd_data_push(d, (const uint8_t *)in + pos,
		    end - pos);
		assert_true(n <= end - pos);
		if (!smtpd_data_done(d))
			assert_int_equal(n, end - pos);
		pos += n;
	}
	if (c->mode == B)
		smtpd_data_finish(d);
	/* Nothing is taken once the message is over. */
	if (c->mode == D && smtpd_data_done(d))
		assert_int_equal(smtpd_data_push(d, (const uint8_t *)"x\r\n",
		    3), 0);
	r->consumed = pos;
	r->done = smtpd_data_done(d);
	r->errors = smtpd_data_errors(d);
	r->size = smtpd_data_size(d);
	r->calls = s->calls;
	smtpd_data_free(d);
}

static void
data_expect(const struct data_case *c, const size_t *cuts, size_t ncuts)
{
	struct data_sink s = { .fail_after = SIZE_MAX };
	struct data_run r;
	size_t len = strlen(c->in), want_len = strlen(c->out);

	data_run(c, c->in, len, cuts, ncuts, &s, &r);
	if (r.consumed != (c->consumed == ALL ? len : c->consumed) ||
	    r.done != c->done || r.errors != c->errors || s.b.len != want_len ||
	    memcmp(buf_cstr(&s.b), c->out, want_len) != 0)
		fail_msg("%s (cuts %zu: %zu,%zu): consumed %zu done %d "
		    "errors %u out[%zu] \"%s\"", c->name, ncuts,
		    ncuts > 0 ? cuts[0] : 0, ncuts > 1 ? cuts[1] : 0,
		    r.consumed, r.done, r.errors, s.b.len, buf_cstr(&s.b));
	buf_clear(&s.b);
}

/* One piece, every split, every double split (short input), bytewise. */
static void
data_check(const struct data_case *c)
{
	size_t len = strlen(c->in), cuts[2048];

	data_expect(c, NULL, 0);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		data_expect(c, cuts, 1);
	}
	for (size_t i = 0; len <= 64 && i <= len; i++)
		for (size_t j = i; j <= len; j++) {
			cuts[0] = i;
			cuts[1] = j;
			data_expect(c, cuts, 2);
		}
	assert_true(len < 2048);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	data_expect(c, cuts, len);
}

static void
data_check_all(const struct data_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		data_check(&cases[i]);
}

#define CHECK_ALL(t) data_check_all(t, sizeof(t) / sizeof(t[0]))

static void
test_smtpd_data_basic(void **state)
{
	static const struct data_case t[] = {
		{ "empty", D, NORM, 0, 0, ".\r\n", "", true, 3, 0 },
		{ "empty+next", D, NORM, 0, 0, ".\r\nQUIT\r\n", "", true, 3,
		  0 },
		{ "one", D, NORM, 0, 0, "abc\r\n.\r\n", "abc\r\n", true, ALL,
		  0 },
		{ "pipelined", D, NORM, 0, 0, "a\r\nb\r\n.\r\nMAIL FROM:<>\r\n",
		  "a\r\nb\r\n", true, 9, 0 },
		{ "blank lines", D, NORM, 0, 0, "\r\n\r\nx\r\n\r\n.\r\n",
		  "\r\n\r\nx\r\n\r\n", true, ALL, 0 },
		{ "unfinished", D, NORM, 0, 0, "abc\r\n.", "abc\r\n", false,
		  ALL, 0 },
		{ "unfinished cr", D, NORM, 0, 0, "abc\r\n.\r", "abc\r\n",
		  false, ALL, 0 },
		{ "no end", D, NORM, 0, 0, "abc\r\n", "abc\r\n", false, ALL,
		  0 },
		{ "dot mid-line", D, NORM, 0, 0, "a.b\r\n a.\r\n.\r\n",
		  "a.b\r\n a.\r\n", true, ALL, 0 },
		{ "8bit and NUL", D, NORM, 0, 0, "\xff\xfe\x01x\r\n.\r\n",
		  "\xff\xfe\x01x\r\n", true, ALL, 0 },
	};

	(void)state;
	CHECK_ALL(t);
}

static void
test_smtpd_data_unstuff(void **state)
{
	static const struct data_case t[] = {
		{ "dotdot", D, NORM, 0, 0, "..\r\n.\r\n", ".\r\n", true, ALL,
		  0 },
		{ "dotdotx", D, NORM, 0, 0, "..x\r\n.\r\n", ".x\r\n", true,
		  ALL, 0 },
		{ "dotx", D, NORM, 0, 0, ".x\r\n.\r\n", "x\r\n", true, ALL, 0 },
		{ "later", D, NORM, 0, 0, "a\r\n...\r\nb\r\n.\r\n",
		  "a\r\n..\r\nb\r\n", true, ALL, 0 },
		{ "dot space", D, NORM, 0, 0, "a\r\n. \r\n.\r\n", "a\r\n \r\n",
		  true, ALL, 0 },
		{ "dot crcr", D, NORM, 0, 0, "a\r\n.\r\r\n.\r\n",
		  "a\r\n\r\n\r\n", true, ALL, 0 },
		{ "many", D, NORM, 0, 0, "..\r\n..\r\n..\r\n.\r\n",
		  ".\r\n.\r\n.\r\n", true, ALL, 0 },
	};

	(void)state;
	CHECK_ALL(t);
}

/*
 * The smuggling sequences (SEC Consult 2023): none of them may end the
 * message; the real CRLF.CRLF after them does. Under REJECT the bare
 * newline is recorded.
 */
static void
test_smtpd_data_smuggling(void **state)
{
	static const struct data_case t[] = {
		{ "LF.CRLF", D, NORM, 0, 0, "A\n.\r\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "LF.LF", D, NORM, 0, 0, "A\n.\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "CR.CR", D, NORM, 0, 0, "A\r.\rB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "CRLF.LF", D, NORM, 0, 0, "A\r\n.\nB\r\n.\r\n",
		  "A\r\n\r\nB\r\n", true, ALL, 0 },
		{ "CR.CRLF", D, NORM, 0, 0, "A\r.\r\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "CRLF.CR", D, NORM, 0, 0, "A\r\n.\rB\r\n.\r\n",
		  "A\r\n\r\nB\r\n", true, ALL, 0 },
		{ "LF.CR", D, NORM, 0, 0, "A\n.\rB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "LF.LF at start", D, NORM, 0, 0, "\n.\nB\r\n.\r\n",
		  "\r\n.\r\nB\r\n", true, ALL, 0 },
		{ "LF.CRLF at start", D, NORM, 0, 0, "\n.\r\n.\r\n",
		  "\r\n.\r\n", true, ALL, 0 },
		/* ".<LF>": the dot is a stuffed one (dropped), the LF bare, so
		 * the ".<CR><LF>" after it is content. */
		{ ".LF at start", D, NORM, 0, 0, ".\n.\r\n", "\r\n.\r\n",
		  false, ALL, 0 },
		{ ".LF at start, end", D, NORM, 0, 0, ".\n.\r\n.\r\n",
		  "\r\n.\r\n", true, ALL, 0 },
		{ "smuggled cmd", D, NORM, 0, 0,
		  "A\r\n.\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n",
		  "A\r\n\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n",
		  false, ALL, 0 },
		{ "smuggled cmd 2", D, NORM, 0, 0, "A\n.\r\nQUIT\r\n",
		  "A\r\n.\r\nQUIT\r\n", false, ALL, 0 },
		/* A bare CR before a real CRLF: the CRLF is real, so a
		 * "." line after it does end the message. */
		{ "CR CRLF.CRLF", D, NORM, 0, 0, "A\r\r\n.\r\nX",
		  "A\r\n\r\n", true, 7, 0 },
		{ "REJECT LF.CRLF", D, REJ, 0, 0, "A\n.\r\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT LF.LF", D, REJ, 0, 0, "A\n.\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT CR.CR", D, REJ, 0, 0, "A\r.\rB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT CRLF.LF", D, REJ, 0, 0, "A\r\n.\nB\r\n.\r\n",
		  "A\r\n\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT CR.CRLF", D, REJ, 0, 0, "A\r.\r\nB\r\n.\r\n",
		  "A\r\n.\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT CRLF.CR", D, REJ, 0, 0, "A\r\n.\rB\r\n.\r\n",
		  "A\r\n\r\nB\r\n", true, ALL, E_BARE },
		{ "REJECT clean", D, REJ, 0, 0, "A\r\n..\r\n.\r\n",
		  "A\r\n.\r\n", true, ALL, 0 },
	};

	(void)state;
	CHECK_ALL(t);
}

static void
test_smtpd_data_bare(void **state)
{
	static const struct data_case t[] = {
		{ "bare LF", D, NORM, 0, 0, "a\nb\r\n.\r\n", "a\r\nb\r\n", true,
		  ALL, 0 },
		{ "bare CR", D, NORM, 0, 0, "a\rb\r\n.\r\n", "a\r\nb\r\n", true,
		  ALL, 0 },
		{ "LFCR", D, NORM, 0, 0, "a\n\rb\r\n.\r\n", "a\r\n\r\nb\r\n",
		  true, ALL, 0 },
		{ "CRCR", D, NORM, 0, 0, "a\r\r\r\n.\r\n", "a\r\n\r\n\r\n",
		  true, ALL, 0 },
		{ "LFLF", D, NORM, 0, 0, "a\n\n\r\n.\r\n", "a\r\n\r\n\r\n",
		  true, ALL, 0 },
		{ "REJECT LF", D, REJ, 0, 0, "a\nb\r\n.\r\n", "a\r\nb\r\n",
		  true, ALL, E_BARE },
		{ "REJECT CR", D, REJ, 0, 0, "a\rb\r\n.\r\n", "a\r\nb\r\n",
		  true, ALL, E_BARE },
		{ "BDAT plain", B, NORM, 0, 0, "a\r\nb\r\n", "a\r\nb\r\n", true,
		  ALL, 0 },
		{ "BDAT no dots", B, NORM, 0, 0, "..\r\n.\r\nx", "..\r\n.\r\nx",
		  true, ALL, 0 },
		{ "BDAT LF", B, NORM, 0, 0, "a\nb\n", "a\r\nb\r\n", true, ALL,
		  0 },
		{ "BDAT CR", B, NORM, 0, 0, "a\rb", "a\r\nb", true, ALL, 0 },
		{ "BDAT final CR", B, NORM, 0, 0, "ab\r", "ab\r\n", true, ALL,
		  0 },
		{ "BDAT REJECT final CR", B, REJ, 0, 0, "ab\r", "ab\r\n", true,
		  ALL, E_BARE },
		{ "BDAT REJECT LF", B, REJ, 0, 0, "a\n.\n", "a\r\n.\r\n", true,
		  ALL, E_BARE },
		{ "BDAT smuggling", B, NORM, 0, 0, "a\n.\r\nb\r.\rc\r\n.\r\n",
		  "a\r\n.\r\nb\r\n.\r\nc\r\n.\r\n", true, ALL, 0 },
	};

	(void)state;
	CHECK_ALL(t);
}

static void
test_smtpd_data_limits(void **state)
{
	static const struct data_case t[] = {
		/* max_line 10: content 8 + CRLF fits, 9 does not. */
		{ "line fits", D, NORM, 10, 0, "12345678\r\n.\r\n",
		  "12345678\r\n", true, ALL, 0 },
		{ "line long", D, NORM, 10, 0, "123456789\r\n.\r\n",
		  "123456789\r\n", true, ALL, E_LONG },
		{ "stuffed dot not counted", D, NORM, 10, 0,
		  "..2345678\r\n.\r\n", ".2345678\r\n", true, ALL, 0 },
		{ "bare LF ends a line", D, NORM, 10, 0,
		  "12345678\n12345678\r\n.\r\n", "12345678\r\n12345678\r\n",
		  true, ALL, 0 },
		{ "long then short", D, NORM, 10, 0,
		  "123456789012\r\nab\r\n.\r\n", "123456789012\r\nab\r\n", true,
		  ALL, E_LONG },
		/* max_line 1: every line is too long, but an empty message
		 * has none, however it is split (found by fuzzing). */
		{ "max_line 1 empty", D, NORM, 1, 0, ".\r\n", "", true, 3, 0 },
		{ "max_line 1 line", D, NORM, 1, 0, "\r\n.\r\n", "\r\n", true,
		  ALL, E_LONG },
		{ "unterminated long", D, NORM, 10, 0, "123456789",
		  "123456789", false, ALL, E_LONG },
		{ "BDAT long", B, NORM, 10, 0, "123456789", "123456789", true,
		  ALL, E_LONG },
		{ "BDAT CR split", B, NORM, 10, 0, "12345678\r\n",
		  "12345678\r\n", true, ALL, 0 },
		/* max_size: output stops at max_size octets, less a CR that
		 * would be half of a CRLF. */
		{ "size fits", D, NORM, 0, 5, "abc\r\n.\r\n", "abc\r\n", true,
		  ALL, 0 },
		{ "size over", D, NORM, 0, 5, "abcdefgh\r\n.\r\n", "abcde",
		  true, ALL, E_BIG },
		{ "size over by CRLF", D, NORM, 0, 4, "abc\r\n.\r\n", "abc",
		  true, ALL, E_BIG },
		{ "size normalised", D, NORM, 0, 4, "abc\n\r\n.\r\n", "abc",
		  true, ALL, E_BIG },
		{ "size all errors", D, REJ, 4, 6, "abcdefg\n\r\n.\r\n",
		  "abcdef", true, ALL, E_BIG | E_LONG | E_BARE },
		{ "BDAT size", B, NORM, 0, 3, "abcdef", "abc", true, ALL,
		  E_BIG },
	};

	(void)state;
	CHECK_ALL(t);
}

/* Size counts every octet of the message, also past max_size. */
static void
test_smtpd_data_size(void **state)
{
	static const struct data_case c = { "size", D, NORM, 0, 5, "", "",
	    false, 0, 0 };
	/* No unstuffing after the bare LF: "..x" stays. */
	const char *in = "abcdefgh\n..x\r\n.\r\n";
	struct data_sink s = { .fail_after = SIZE_MAX };
	struct data_run r;

	(void)state;
	data_run(&c, in, strlen(in), NULL, 0, &s, &r);
	assert_true(r.done);
	assert_int_equal(r.size, 15);	/* "abcdefgh\r\n..x\r\n" */
	assert_int_equal(s.b.len, 5);
	buf_clear(&s.b);
}

/* A failing callback stops output, but the end is still found. */
static void
test_smtpd_data_callback_failure(void **state)
{
	static const struct data_case c = { "cbfail", D, NORM, 0, 0, "", "",
	    false, 0, 0 };
	const char *in = "a\r\n..b\r\n..c\r\n.\r\nNOOP\r\n";
	struct data_sink s = { .fail_after = 1 };
	struct data_run r;

	(void)state;
	data_run(&c, in, strlen(in), NULL, 0, &s, &r);
	assert_true(r.done);
	assert_int_equal(r.consumed, strlen(in) - 6);
	assert_int_equal(r.calls, 2);	/* one accepted, one refused */
	assert_string_equal(buf_cstr(&s.b), "a\r\n");
	buf_clear(&s.b);
}

/* The hot path hands a clean push to the callback in one call. */
static void
test_smtpd_data_batching(void **state)
{
	static const struct data_case c = { "batch", D, NORM, 1000, 0, "",
	    "", false, 0, 0 };
	char in[8192];
	size_t n = 0;
	struct data_sink s = { .fail_after = SIZE_MAX };
	struct data_run r;

	(void)state;
	while (n + 80 < sizeof(in) - 5) {
		memset(in + n, 'x', 70);
		memcpy(in + n + 70, "\r\n", 2);
		n += 72;
	}
	memcpy(in + n, ".\r\n", 3);
	n += 3;
	data_run(&c, in, n, NULL, 0, &s, &r);
	assert_true(r.done);
	assert_int_equal(r.consumed, n);
	assert_int_equal(r.calls, 1);
	assert_int_equal(s.b.len, n - 3);
	buf_clear(&s.b);
}

/* A long random-looking stream: split results equal one-piece results. */
static void
test_smtpd_data_random_splits(void **state)
{
	static const char alphabet[] = "\r\n.\r\n.ab\r";
	static const struct data_case modes[] = {
		{ "r1", D, NORM, 7, 50, "", "", false, 0, 0 },
		{ "r2", D, REJ, 0, 0, "", "", false, 0, 0 },
		{ "r3", B, NORM, 5, 0, "", "", false, 0, 0 },
		{ "r4", B, REJ, 0, 40, "", "", false, 0, 0 },
	};
	uint32_t seed = 12345;

	(void)state;
	for (int iter = 0; iter < 400; iter++) {
		char in[200];
		size_t len = 1 + iter % 150, cuts[8];
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		for (size_t k = 0; k < 8; k++) {
			seed = seed * 1103515245 + 12345;
			cuts[k] = (seed >> 16) % (len + 1);
		}
		for (size_t a = 1; a < 8; a++)		/* sort the cuts */
			for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b];
			    b--) {
				size_t t = cuts[b];
				cuts[b] = cuts[b - 1];
				cuts[b - 1] = t;
			}
		const struct data_case *c = &modes[iter % 4];
		struct data_sink s1 = { .fail_after = SIZE_MAX };
		struct data_sink s2 = { .fail_after = SIZE_MAX };
		struct data_run r1, r2;
		data_run(c, in, len, NULL, 0, &s1, &r1);
		data_run(c, in, len, cuts, 8, &s2, &r2);
		assert_int_equal(r1.consumed, r2.consumed);
		assert_int_equal(r1.done, r2.done);
		assert_int_equal(r1.errors, r2.errors);
		assert_true(r1.size == r2.size);
		assert_int_equal(s1.b.len, s2.b.len);
		assert_memory_equal(buf_cstr(&s1.b), buf_cstr(&s2.b), s1.b.len);
		buf_clear(&s1.b);
		buf_clear(&s2.b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_data_basic),
		cmocka_unit_test(test_smtpd_data_unstuff),
		cmocka_unit_test(test_smtpd_data_smuggling),
		cmocka_unit_test(test_smtpd_data_bare),
		cmocka_unit_test(test_smtpd_data_limits),
		cmocka_unit_test(test_smtpd_data_size),
		cmocka_unit_test(test_smtpd_data_callback_failure),
		cmocka_unit_test(test_smtpd_data_batching),
		cmocka_unit_test(test_smtpd_data_random_splits),
	};

	return cmocka_run_group_tests_name("smtpd_data", tests, NULL, NULL);
}
