/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/hops. The input is a message; its first line
 * (up to the first LF, at most 300 bytes) is also used as the address
 * to look for in Delivered-To fields, the rest as a second header block.
 * Invariants: counts never pass their limit; the count over two blocks
 * agrees with counting them one after the other; a Delivered-To match is
 * case-insensitive, and the field we write for an address (bare or in
 * angle brackets) matches it; trace fields are written whole or not at
 * all and hold no bare CR or LF.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "msg/hops.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_counts(const uint8_t *data, size_t size, const uint8_t *rest,
    size_t nrest)
{
	size_t all = hops_received(data, size, 2000), n5, total;

	CHECK(all <= 2000);
	n5 = hops_received(data, size, 5);
	CHECK(n5 <= 5 && n5 == (all < 5 ? all : 5));
	(void)hops_too_many((const char *)data, size, rest, nrest, 3, &total);
	CHECK(total <= 4);
	size_t a = hops_received(data, size, 4);
	size_t b = a < 4 ? hops_received(rest, nrest, 4 - a) : 0;
	CHECK(total == a + b);
	CHECK(hops_too_many((const char *)data, size, rest, nrest, 3, NULL) ==
	    (total > 3));
}

static void
check_trace(const char *addr)
{
	struct buf b;

	buf_init(&b, 4096);
	if (hops_trace_fields(&b, addr, addr) == 0) {
		const char *s = buf_cstr(&b);
		CHECK(strncmp(s, "Return-Path: <", 14) == 0);
		for (size_t i = 0; i < b.len; i++)
			if (s[i] == '\n')
				CHECK(i > 0 && s[i - 1] == '\r');
		for (size_t i = 0; i < b.len; i++)
			if (s[i] == '\r')
				CHECK(i + 1 < b.len && s[i + 1] == '\n');
	} else
		CHECK(b.len == 0);
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
	size_t alen = nl != NULL ? (size_t)(nl - data) : 0;
	char addr[302], upper[302], angled[304];

	memcpy(addr, data, alen);
	addr[alen] = '\0';
	check_counts(data, size, nl ? nl + 1 : data, nl ? size - alen - 1 : 0);
	check_trace(addr);
	if (strlen(addr) != alen)
		return 0;	/* a NUL inside: not an address */
	bool hit = hops_delivered_to(data, size, addr);
	for (size_t i = 0; i <= alen; i++)
		upper[i] = (char)(addr[i] >= 'a' && addr[i] <= 'z' ?
		    addr[i] - 32 : addr[i]);
	CHECK(hops_delivered_to(data, size, upper) == hit);
	/* A message that carries the field built for addr (a path's worth
	 * at most, without WSP that unfolding would trim) matches it, with
	 * or without angle brackets around the value. */
	struct buf m;
	buf_init(&m, 8192);
	if (alen > 0 && alen <= 250 && strchr(addr, ' ') == NULL &&
	    strchr(addr, '\t') == NULL && addr[0] != '<' &&
	    hops_trace_fields(&m, NULL, addr) == 0) {
		buf_append_str(&m, "\r\n");
		CHECK(hops_delivered_to(m.data, m.len, addr));
		buf_reset(&m);
		snprintf(angled, sizeof(angled), "<%s>", addr);
		CHECK(hops_trace_fields(&m, NULL, angled) == 0);
		buf_append_str(&m, "\r\n");
		CHECK(hops_delivered_to(m.data, m.len, addr));
	}
	buf_clear(&m);
	return 0;
}
