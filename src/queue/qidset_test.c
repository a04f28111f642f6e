/* SPDX-License-Identifier: ISC */
/* Unit tests for the queue id set: bulk fill, lookups, removal, re-adding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/qidset.h"

static void
qs_id(char *out, unsigned i)
{
	/* Out of order: the time part jumps around. */
	snprintf(out, IDS_QID_LEN + 1, "%013x%07x",
	    0x65000000u + i * 7919u % 1000u, i);
}

static void
test_fill_has_del(void **state)
{
	enum { N = 5000 };
	static char ids[N + 1][IDS_QID_LEN + 1];
	char other[IDS_QID_LEN + 1];
	struct qidset s;

	(void)state;
	qidset_init(&s);
	assert_false(qidset_has(&s, "0000000000000aaaaaaa"));
	/* Unsorted input with a duplicate. */
	for (unsigned i = 0; i < N; i++)
		qs_id(ids[i], i);
	snprintf(ids[N], sizeof(ids[N]), "%s", ids[17]);
	qidset_fill(&s, ids, N + 1);
	assert_int_equal(s.live, N);
	for (unsigned i = 0; i < N; i++)
		assert_true(qidset_has(&s, ids[i]));
	qs_id(other, N + 1);
	assert_false(qidset_has(&s, other));
	qidset_del(&s, ids[3]);
	qidset_del(&s, ids[3]);
	qidset_del(&s, other);
	assert_false(qidset_has(&s, ids[3]));
	assert_true(qidset_has(&s, ids[4]));
	assert_int_equal(s.live, N - 1);
	qidset_add(&s, ids[3]);
	qidset_add(&s, other);
	assert_true(qidset_has(&s, ids[3]));
	assert_true(qidset_has(&s, other));
	assert_int_equal(s.live, N + 1);
	for (unsigned i = 0; i < N; i++)
		qidset_del(&s, ids[i]);
	qidset_del(&s, other);
	/* Emptied: the array is given back. */
	assert_int_equal(s.live, 0);
	assert_null(s.v);
	assert_false(qidset_has(&s, ids[0]));
	qidset_clear(&s);
}

static void
test_add_keeps_order(void **state)
{
	static const char *const in[] = {
		"00000000000050000000", "00000000000010000000",
		"00000000000090000000", "00000000000030000000",
	};
	struct qidset s;

	(void)state;
	qidset_init(&s);
	for (size_t i = 0; i < 4; i++)
		qidset_add(&s, in[i]);
	for (size_t i = 0; i < 4; i++)
		assert_true(qidset_has(&s, in[i]));
	for (size_t i = 1; i < s.n; i++)
		assert_true(strcmp(s.v[i - 1].id, s.v[i].id) < 0);
	assert_false(qidset_has(&s, "00000000000020000000"));
	qidset_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_has_del),
		cmocka_unit_test(test_add_keeps_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
