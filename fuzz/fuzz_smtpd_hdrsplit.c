/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the header/body split of the SMTP transaction:
 * wire bytes go through the DATA machine (smtpd_data) in pieces, and its
 * output into smtpd_hdrsplit_push() as smtpd_txn.c feeds it, the body
 * after the split collected apart. Input: byte 0 sets the header bound
 * (8..1028 octets, so it is reached), byte 1 seeds the piece sizes, the
 * rest is the DATA stream (ended with CRLF.CRLF when it has no end).
 * Invariants, against the whole message split in one go:
 *  - the split does not depend on the pieces: the header section is the
 *    message up to its first empty line (none when the message starts
 *    with it; all of it when it has none), and the body is what follows;
 *  - the bound holds exactly: the section (with its empty line) is
 *    refused when it is over the bound, and only then;
 *  - the bytes taken by the split plus the body are the message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_hdrsplit.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct split {
	struct buf		 whole;		/* every message byte */
	struct buf		 hdrs;		/* as the split keeps it */
	struct buf		 body;		/* after the split */
	enum smtpd_hdrsplit	 st;
	size_t			 taken;		/* bytes the split took */
};

static int
out(const uint8_t *p, size_t n, void *arg)
{
	struct split *s = arg;

	CHECK(buf_append(&s->whole, p, n) == 0);
	if (s->st == SMTPD_HDRSPLIT_MORE) {
		size_t used = smtpd_hdrsplit_push(&s->hdrs, p, n, &s->st);
		CHECK(used <= n);
		CHECK(s->st == SMTPD_HDRSPLIT_END || used == n);
		s->taken += used;
		p += used;
		n -= used;
	}
	if (s->st != SMTPD_HDRSPLIT_OVERFLOW)
		CHECK(buf_append(&s->body, p, n) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct split s = { .st = SMTPD_HDRSPLIT_MORE };
	struct smtpd_data *d;
	size_t max, off = 2, hlen, rest;
	uint32_t seed;
	const uint8_t *m, *end;

	if (size < 2)
		return 0;
	max = 8 + (size_t)data[0] * 4;
	seed = data[1] * 2654435761u;
	buf_init(&s.whole, 1 << 20);
	buf_init(&s.hdrs, max);
	buf_init(&s.body, 1 << 20);
	d = smtpd_data_new(SMTPD_DATA_MODE_DATA, SMTPD_DATA_BARE_NORMALIZE,
	    0, 0, out, &s);
	while (off < size && !smtpd_data_done(d)) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % 64;
		if (n > size - off)
			n = size - off;
		off += smtpd_data_push(d, data + off, n);
	}
	if (!smtpd_data_done(d))
		smtpd_data_push(d, (const uint8_t *)"\r\n.\r\n", 5);
	CHECK(smtpd_data_done(d));
	smtpd_data_free(d);

	/* The reference split of the whole message. */
	m = s.whole.data;
	if (s.whole.len >= 2 && memcmp(m, "\r\n", 2) == 0) {
		hlen = 0;
		rest = 2;
	} else if (s.whole.len >= 4 &&
	    (end = memmem(m, s.whole.len, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(end - m) + 2;
		rest = hlen + 2;
	} else {
		hlen = rest = s.whole.len;	/* all header, no empty line */
	}
	if (rest > max) {
		CHECK(s.st == SMTPD_HDRSPLIT_OVERFLOW);
	} else if (rest > hlen) {
		CHECK(s.st == SMTPD_HDRSPLIT_END);
		CHECK(s.hdrs.len == hlen && s.taken == rest);
		CHECK(hlen == 0 || memcmp(s.hdrs.data, m, hlen) == 0);
		CHECK(hlen == 0 || s.hdrs.data[hlen] == '\0');
		CHECK(s.body.len == s.whole.len - rest);
		CHECK(s.body.len == 0 ||
		    memcmp(s.body.data, m + rest, s.body.len) == 0);
	} else {
		CHECK(s.st == SMTPD_HDRSPLIT_MORE);
		CHECK(s.hdrs.len == s.whole.len && s.body.len == 0);
	}
	buf_clear(&s.whole);
	buf_clear(&s.hdrs);
	buf_clear(&s.body);
	return 0;
}
