/* SPDX-License-Identifier: ISC */
/* Unit tests for the node registry's rules (cluster_node.c): when a node
 * is stale, and which MX names may enter a policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster_node.h"

static void
test_stale_after_missed_beats(void **state)
{
	(void)state;
	/* every 10 s: 30 s late is still alive, 31 s is stale */
	assert_false(cluster_node_is_stale(1030, 1000, 10));
	assert_true(cluster_node_is_stale(1031, 1000, 10));
	/* the row's own period counts: a 1 s beater is stale after 3 s */
	assert_false(cluster_node_is_stale(1003, 1000, 1));
	assert_true(cluster_node_is_stale(1004, 1000, 1));
	/* a beat from the future (clocks apart) is not stale */
	assert_false(cluster_node_is_stale(1000, 5000, 10));
	assert_false(cluster_node_is_stale(1000, 1000, 10));
}

static void
test_stale_period_out_of_range(void **state)
{
	(void)state;
	/* 0, negative or huge periods fall back to CLUSTER_BEAT_EVERY, so a
	 * row with a broken period is neither never nor always stale */
	long long limit = CLUSTER_STALE_BEATS * CLUSTER_BEAT_EVERY;

	assert_false(cluster_node_is_stale(1000 + limit, 1000, 0));
	assert_true(cluster_node_is_stale(1001 + limit, 1000, 0));
	assert_true(cluster_node_is_stale(1001 + limit, 1000, -5));
	assert_true(cluster_node_is_stale(1001 + limit, 1000, 1LL << 40));
	assert_false(cluster_node_is_stale(1000 + 3 * 3600, 1000, 3600));
}

static void
test_valid_mx(void **state)
{
	char long_label[70], long_name[300];

	(void)state;
	assert_true(cluster_valid_mx("mx1.example.org"));
	assert_true(cluster_valid_mx("MX-2.Example.ORG"));
	assert_true(cluster_valid_mx("localhost"));
	assert_false(cluster_valid_mx(""));
	assert_false(cluster_valid_mx("."));
	assert_false(cluster_valid_mx("a..b"));
	assert_false(cluster_valid_mx(".a.b"));
	assert_false(cluster_valid_mx("a.b."));
	assert_false(cluster_valid_mx("*.example.org"));
	assert_false(cluster_valid_mx("mx.example.org\r\nmode: none"));
	assert_false(cluster_valid_mx("mx example.org"));
	/* LDH: no label starts or ends with '-' (found by fuzz_sts_serve:
	 * "-" made a policy our own reader refuses) */
	assert_false(cluster_valid_mx("-"));
	assert_false(cluster_valid_mx("-mx.example.org"));
	assert_false(cluster_valid_mx("mx-.example.org"));
	assert_false(cluster_valid_mx("mx.example.org-"));
	assert_true(cluster_valid_mx("mx-1.example.org"));
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	assert_false(cluster_valid_mx(long_label));
	long_label[63] = '\0';
	assert_true(cluster_valid_mx(long_label));
	memset(long_name, 'a', 254);
	for (int i = 10; i < 254; i += 10)
		long_name[i] = '.';
	long_name[254] = '\0';
	assert_false(cluster_valid_mx(long_name));
	long_name[253] = '\0';
	assert_true(cluster_valid_mx(long_name));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_after_missed_beats),
		cmocka_unit_test(test_stale_period_out_of_range),
		cmocka_unit_test(test_valid_mx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
