/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the DATA/BDAT stream machine. Four header bytes
 * pick the mode and bare-newline policy, max_line, max_size and the seed
 * of the piece sizes; the rest is the stream. It is fed once in one push
 * and once in pseudo-random pieces. Invariants:
 *  - the output never holds a bare CR or bare LF;
 *  - output, end position, errors and size do not depend on the split;
 *  - DATA ends exactly at the first CRLF "." CRLF (or a leading ".CRLF"),
 *    and never elsewhere; BDAT consumes everything;
 *  - the output re-stuffed and fed again gives the same output;
 *  - without bare newlines, BDAT output equals its input;
 *  - REJECT flags a bare newline exactly when the input held one;
 *  - no line longer than max_line without LINE_TOO_LONG, no more than
 *    max_size octets of output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_data.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	uint8_t	*p;
	size_t	 len, cap;
};

struct params {
	enum smtpd_data_mode	mode;
	enum smtpd_data_bare	bare;
	size_t			max_line;
	uint64_t		max_size;
};

struct result {
	struct sink	out;
	size_t		consumed;
	bool		done;
	unsigned	errors;
	uint64_t	size;
};

static int
sink_cb(const uint8_t *p, size_t n, void *arg)
{
	struct sink *s = arg;

	CHECK(n > 0 && s->len + n <= s->cap);
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

/* Feed in; piece sizes come from seed (0 = one push). */
static void
run(const struct params *pr, const uint8_t *in, size_t len, uint32_t seed,
    struct result *r)
{
	struct smtpd_data *d;
	size_t pos = 0;

	r->out.cap = 2 * len + 16;
	r->out.p = malloc(r->out.cap);
	r->out.len = 0;
	d = smtpd_data_new(pr->mode, pr->bare, pr->max_line, pr->max_size,
	    sink_cb, &r->out);
	while (pos < len && !smtpd_data_done(d)) {
		size_t piece = len - pos;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			piece = (seed >> 16) % 24;
			if (piece > len - pos)
				piece = len - pos;
		}
		size_t n = smtpd_data_push(d, in + pos, piece);
		CHECK(n <= piece);
		CHECK(n == piece || smtpd_data_done(d));
		pos += n;
	}
	if (pr->mode == SMTPD_DATA_MODE_BDAT)
		smtpd_data_finish(d);
	r->consumed = pos;
	r->done = smtpd_data_done(d);
	r->errors = smtpd_data_errors(d);
	r->size = smtpd_data_size(d);
	smtpd_data_free(d);
}

/* Every CR is followed by LF and every LF preceded by CR. */
static bool
crlf_only(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'))
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
	}
	return true;
}

/* Where DATA must end: after the first terminator, or 0 if none. */
static size_t
data_end(const uint8_t *p, size_t n)
{
	if (n >= 3 && memcmp(p, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

static void
check_lines(const struct params *pr, const struct result *r)
{
	size_t start = 0;

	if (pr->max_line == 0 || (r->errors & SMTPD_DATA_ERR_LINE_TOO_LONG))
		return;
	for (size_t i = 0; i < r->out.len; i++)
		if (r->out.p[i] == '\n') {
			CHECK(i + 1 - start <= pr->max_line);
			start = i + 1;
		}
	if (r->out.len > start)
		CHECK(r->out.len - start + 2 <= pr->max_line);
}

/* NORMALIZE never flags; REJECT flags exactly when the consumed input
 * held a bare newline (a CR at the very end of an unfinished DATA stream
 * is still undecided). */
static void
check_bare(const struct params *pr, const uint8_t *in, const struct result *r)
{
	bool flagged = r->errors & SMTPD_DATA_ERR_BARE_NEWLINE;
	size_t n = r->consumed;

	if (pr->bare == SMTPD_DATA_BARE_NORMALIZE) {
		CHECK(!flagged);
		return;
	}
	if (!r->done && n > 0 && in[n - 1] == '\r')
		n--;
	CHECK(flagged == !crlf_only(in, n));
}

/* Dot-stuff the output, add the terminator, and parse it again. */
static void
check_restuff(const struct params *pr, const struct result *r)
{
	struct params p2 = { SMTPD_DATA_MODE_DATA, SMTPD_DATA_BARE_REJECT, 0,
	    0 };
	uint8_t *s = malloc(2 * r->out.len + 8);
	size_t n = 0;
	struct result r2;

	(void)pr;
	for (size_t i = 0; i < r->out.len; i++) {
		if (r->out.p[i] == '.' && (i == 0 || r->out.p[i - 1] == '\n'))
			s[n++] = '.';
		s[n++] = r->out.p[i];
	}
	memcpy(s + n, ".\r\n", 3);
	n += 3;
	run(&p2, s, n, 0, &r2);
	CHECK(r2.done && r2.consumed == n && r2.errors == 0);
	CHECK(r2.out.len == r->out.len);
	CHECK(memcmp(r2.out.p, r->out.p, r->out.len) == 0);
	free(r2.out.p);
	free(s);
}

static void
check(const struct params *pr, const uint8_t *in, size_t len,
    const struct result *r)
{
	bool big = r->errors & SMTPD_DATA_ERR_TOO_BIG;

	CHECK(crlf_only(r->out.p, r->out.len));
	CHECK(r->consumed <= len);
	if (pr->max_size) {
		CHECK(r->out.len <= pr->max_size);
		CHECK(big == (r->size > pr->max_size));
	}
	if (big)
		CHECK(r->out.len == pr->max_size ||
		    r->out.len + 1 == pr->max_size);
	else
		CHECK(r->out.len == r->size);
	check_bare(pr, in, r);
	check_lines(pr, r);
	if (pr->mode == SMTPD_DATA_MODE_BDAT) {
		CHECK(r->consumed == len && r->done);
		if (!big && crlf_only(in, len))
			CHECK(r->out.len == len &&
			    memcmp(r->out.p, in, len) == 0);
		return;
	}
	size_t end = data_end(in, len);
	CHECK(r->done == (end != 0));
	CHECK(r->consumed == (end ? end : len));
	if (r->done && !big)
		check_restuff(pr, r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct params pr;
	struct result one, split;

	if (size < 4 || size > 65536)
		return 0;
	pr.mode = data[0] & 1 ? SMTPD_DATA_MODE_BDAT : SMTPD_DATA_MODE_DATA;
	pr.bare = data[0] & 2 ? SMTPD_DATA_BARE_REJECT :
	    SMTPD_DATA_BARE_NORMALIZE;
	pr.max_line = data[1] ? (size_t)data[1] : 0;
	pr.max_size = data[2] ? (uint64_t)data[2] * 3 : 0;
	uint32_t seed = data[3] | 0x100u;
	const uint8_t *in = data + 4;
	size_t len = size - 4;

	run(&pr, in, len, 0, &one);
	run(&pr, in, len, seed, &split);
	check(&pr, in, len, &one);
	CHECK(one.consumed == split.consumed && one.done == split.done);
	CHECK(one.errors == split.errors && one.size == split.size);
	CHECK(one.out.len == split.out.len);
	CHECK(memcmp(one.out.p, split.out.p, one.out.len) == 0);
	free(one.out.p);
	free(split.out.p);
	return 0;
}
