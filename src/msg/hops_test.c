/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/hops: counting Received fields (bounded), matching
 * Delivered-To, and the trace fields written on delivery. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "msg/hops.h"

/* A header section with n Received fields (folded, with other fields in
 * between), then a body that has Received lines of its own. */
static char *
with_received(size_t n)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_append_str(&b, "From: a@example.org\r\n");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "Received: from h%zu.example\r\n\tby x; "
		    "Sat, 5 Dec 2026 09:00:00 +0000\r\nX-Other: %zu\r\n", i, i);
	buf_append_str(&b, "Subject: s\r\n\r\nReceived: in the body\r\n"
	    "Received: again\r\n");
	return buf_take(&b);
}

static void
test_count_received(void **state)
{
	char *m;

	(void)state;
	m = with_received(0);
	assert_int_equal(hops_received(m, strlen(m), 1000), 0);
	free(m);
	m = with_received(101);
	assert_int_equal(hops_received(m, strlen(m), 1000), 101);
	/* Bounded: the count stops at the limit. */
	assert_int_equal(hops_received(m, strlen(m), 7), 7);
	assert_int_equal(hops_received(m, strlen(m), 0), 0);
	/* Name case does not matter; "Received-SPF" and a "Received" line
	 * that is not a field are not hops. */
	const char *odd = "RECEIVED: a\r\nreceived : b\r\nReceived-SPF: pass\r\n"
	    "Received\r\nX: y\r\n\r\n";
	assert_int_equal(hops_received(odd, strlen(odd), 100), 2);
	free(m);
}

static void
test_too_many(void **state)
{
	const char *ours = "Received: from us\r\nDKIM-Signature: x\r\n";
	size_t n;
	char *m;

	(void)state;
	/* Ours is counted: 99 + 1 is the limit, 100 + 1 is past it. */
	m = with_received(99);
	assert_false(hops_too_many(ours, strlen(ours), m, strlen(m), 100, &n));
	assert_int_equal(n, 100);
	free(m);
	m = with_received(100);
	assert_true(hops_too_many(ours, strlen(ours), m, strlen(m), 100, &n));
	assert_int_equal(n, 101);
	free(m);
	m = with_received(101);
	assert_true(hops_too_many(NULL, 0, m, strlen(m), 100, &n));
	assert_int_equal(n, 101);
	free(m);
	/* A flood is counted only up to the limit + 1. */
	m = with_received(900);
	assert_true(hops_too_many(ours, strlen(ours), m, strlen(m), 5, &n));
	assert_int_equal(n, 6);
	free(m);
}

static void
test_delivered_to(void **state)
{
	const char *m = "Received: x\r\n"
	    "Delivered-To: list@Example.ORG\r\n"
	    "delivered-to:\r\n <other@example.org> \r\n"
	    "Delivered-To: \r\n"
	    "Subject: s\r\n\r\n"
	    "Delivered-To: body@example.org\r\n";

	(void)state;
	assert_true(hops_delivered_to(m, strlen(m), "list@example.org"));
	assert_true(hops_delivered_to(m, strlen(m), "LIST@example.org"));
	assert_true(hops_delivered_to(m, strlen(m), "other@example.org"));
	assert_false(hops_delivered_to(m, strlen(m), "body@example.org"));
	assert_false(hops_delivered_to(m, strlen(m), "list@example.or"));
	assert_false(hops_delivered_to(m, strlen(m), "ist@example.org"));
	assert_false(hops_delivered_to(m, strlen(m), ""));
	assert_false(hops_delivered_to(m, strlen(m), NULL));
	assert_false(hops_delivered_to("", 0, "list@example.org"));
	/* A value longer than a path never matches (and is not copied). */
	char big[2000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "Delivered-To: ", 14);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 4);
	big[sizeof(big) - 1] = '\0';
	assert_false(hops_delivered_to(big, strlen(big), big + 14));
}

static void
test_trace_fields(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(hops_trace_fields(&b, "s@example.org",
	    "r@example.net"), 0);
	assert_string_equal(buf_cstr(&b), "Return-Path: <s@example.org>\r\n"
	    "Delivered-To: r@example.net\r\n");
	buf_reset(&b);
	/* The null reverse-path of a bounce (RFC 5321 §4.4). */
	assert_int_equal(hops_trace_fields(&b, "", "r@example.net"), 0);
	assert_string_equal(buf_cstr(&b), "Return-Path: <>\r\n"
	    "Delivered-To: r@example.net\r\n");
	buf_reset(&b);
	/* Forwarding: Delivered-To only. */
	assert_int_equal(hops_trace_fields(&b, NULL, "alias@example.org"), 0);
	assert_string_equal(buf_cstr(&b), "Delivered-To: alias@example.org\r\n");
	/* No field injection; out unchanged. */
	assert_int_equal(hops_trace_fields(&b, NULL, "a@x\r\nBcc: y"), -1);
	assert_int_equal(hops_trace_fields(&b, "a\n@x", "b@x"), -1);
	assert_int_equal(hops_trace_fields(&b, "a@x", NULL), -1);
	assert_string_equal(buf_cstr(&b), "Delivered-To: alias@example.org\r\n");
	/* A full buffer leaves it unchanged. */
	struct buf small;
	buf_init(&small, 40);
	assert_int_equal(hops_trace_fields(&small, "s@example.org",
	    "r@example.net"), -1);
	assert_int_equal(small.len, 0);
	buf_clear(&small);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_received),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_delivered_to),
		cmocka_unit_test(test_trace_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
