/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for DKIM canonicalisation (auth/dkim_canon). Byte 0
 * picks the mode (bit 0), a chunk size (bits 1-6) and whether an l= limit
 * applies (bit 7, limit = byte 1). Invariants: chunked and one-shot
 * pushes give identical output; output length equals the counted total;
 * the limited output is a prefix of the full one of length min(l, total);
 * canonicalising the output again changes nothing (idempotence); a
 * non-empty output ends in CRLF; simple output is never empty; relaxed
 * output has no WSP before CRLF and no two WSP in a row. The input is
 * also walked as a header section and every field is canonicalised:
 * fields tile the input and relaxed output ends in CRLF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_canon.h"
#include "core/buf.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
collect(void *arg, const uint8_t *p, size_t n)
{
	CHECK(n > 0);
	CHECK(buf_append(arg, p, n) == 0);
}

static uint64_t
run(enum dkim_canon_mode m, const uint8_t *p, size_t len, size_t chunk,
    uint64_t limit, struct buf *out)
{
	struct dkim_body_canon c;

	dkim_body_canon_init(&c, m, limit, collect, out);
	for (size_t off = 0; off < len; off += chunk)
		dkim_body_canon_push(&c, p + off, off + chunk > len ?
		    len - off : chunk);
	dkim_body_canon_finish(&c);
	return c.total;
}

static void
check_body(enum dkim_canon_mode m, const uint8_t *p, size_t len,
    size_t chunk, uint64_t limit)
{
	struct buf a, b, c, d;
	uint64_t total;

	buf_init(&a, 4 * len + 16);
	buf_init(&b, 4 * len + 16);
	buf_init(&c, 4 * len + 16);
	buf_init(&d, 4 * len + 16);
	total = run(m, p, len, len ? len : 1, DKIM_CANON_NOLIMIT, &a);
	CHECK(total == a.len);
	CHECK(run(m, p, len, chunk, DKIM_CANON_NOLIMIT, &b) == total);
	CHECK(a.len == b.len && (a.len == 0 ||
	    memcmp(a.data, b.data, a.len) == 0));
	run(m, p, len, chunk, limit, &c);
	CHECK(c.len == (limit < total ? limit : total));
	CHECK(c.len == 0 || memcmp(a.data, c.data, c.len) == 0);
	run(m, a.data, a.len, chunk, DKIM_CANON_NOLIMIT, &d);
	CHECK(d.len == a.len && (a.len == 0 || memcmp(a.data, d.data,
	    a.len) == 0));
	if (m == DKIM_CANON_SIMPLE)
		CHECK(a.len >= 2);
	if (a.len > 0)
		CHECK(memcmp(a.data + a.len - 2, "\r\n", 2) == 0);
	for (size_t i = 1; m == DKIM_CANON_RELAXED && i < a.len; i++) {
		bool w0 = a.data[i - 1] == ' ' || a.data[i - 1] == '\t';
		CHECK(!(w0 && (a.data[i] == ' ' || a.data[i] == '\t')));
		CHECK(!(w0 && a.data[i] == '\r' && i + 1 < a.len &&
		    a.data[i + 1] == '\n'));
	}
	buf_clear(&a);
	buf_clear(&b);
	buf_clear(&c);
	buf_clear(&d);
}

static void
check_header(const char *p, size_t len)
{
	struct dkim_field f;
	struct buf out;
	size_t pos = 0, last = 0;

	buf_init(&out, 2 * len + 4);
	while (dkim_header_next(p, len, &pos, &f) == 1) {
		CHECK(f.field == p + last && f.len > 0 && last + f.len == pos);
		CHECK(f.namelen <= f.len);
		buf_reset(&out);
		CHECK(dkim_canon_header(DKIM_CANON_RELAXED, f.field, f.len,
		    &out) == 0);
		CHECK(out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n",
		    2) == 0);
		buf_reset(&out);
		CHECK(dkim_canon_header(DKIM_CANON_SIMPLE, f.field, f.len,
		    &out) == 0);
		CHECK(out.len >= f.len);
		last = pos;
	}
	CHECK(pos <= len);
	buf_clear(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon_mode m;
	size_t chunk;
	uint64_t limit;

	if (size < 2 || size > 64 * 1024)
		return 0;
	m = data[0] & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	chunk = ((data[0] >> 1) & 0x3f) + 1;
	limit = data[0] & 0x80 ? data[1] : DKIM_CANON_NOLIMIT;
	check_body(m, data + 2, size - 2, chunk, limit);
	check_header((const char *)data + 2, size - 2);
	return 0;
}
