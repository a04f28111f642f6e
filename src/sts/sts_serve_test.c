/* SPDX-License-Identifier: ISC */
/* Unit tests for the MTA-STS policy we serve: it parses with our own
 * policy reader, and its id follows its text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts/sts_policy.h"
#include "sts/sts_serve.h"

static void
test_policy_default_mx(void **state)
{
	struct conf c = { .hostname = "mx1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_TESTING, .mta_sts_max_age = 604800 };
	struct sts_policy pol;
	char *text = sts_serve_policy(&c, &d, NULL, 0);

	(void)state;
	assert_string_equal(text, "version: STSv1\r\nmode: testing\r\n"
	    "mx: mx1.example.org\r\nmax_age: 604800\r\n");
	assert_int_equal(sts_policy_parse(text, strlen(text), &pol, NULL, 0), 0);
	assert_int_equal(pol.mode, STS_MODE_TESTING);
	assert_int_equal(pol.nmx, 1);
	sts_policy_clear(&pol);
	free(text);
}

static void
test_id_follows_text(void **state)
{
	char *mx[] = { "mx1.example.org", "*.mx.example.org" };
	struct conf c = { .hostname = "host.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400,
	    .mta_sts_mx = mx, .nmta_sts_mx = 2 };
	char *t1 = sts_serve_txt(&c, &d, NULL, 0), *t2, *t3;

	(void)state;
	assert_int_equal(strlen(t1), strlen("v=STSv1; id=") +
	    STS_SERVE_ID_LEN);
	assert_memory_equal(t1, "v=STSv1; id=", 12);
	t2 = sts_serve_txt(&c, &d, NULL, 0);
	assert_string_equal(t1, t2);		/* stable */
	d.mta_sts = CONF_STS_TESTING;
	t3 = sts_serve_txt(&c, &d, NULL, 0);
	assert_string_not_equal(t1, t3);	/* changes with the text */
	free(t1);
	free(t2);
	free(t3);
}

/* The cluster's policy: every node's MX, the same text on every node
 * whatever its own hostname and the registry's order and case. */
static void
test_policy_lists_every_node(void **state)
{
	const char *rows1[] = { "MX2.example.org", "mx1.example.org" };
	const char *rows2[] = { "mx1.example.org", "mx2.example.org",
	    "mx2.example.org" };
	struct conf c1 = { .hostname = "mx1.example.org" };
	struct conf c2 = { .hostname = "mx2.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400 };
	char *p1 = sts_serve_policy(&c1, &d, rows1, 2);
	char *p2 = sts_serve_policy(&c2, &d, rows2, 3);
	struct sts_policy pol;

	(void)state;
	assert_string_equal(p1, "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx1.example.org\r\nmx: mx2.example.org\r\n"
	    "max_age: 86400\r\n");
	assert_string_equal(p1, p2);
	assert_int_equal(sts_policy_parse(p1, strlen(p1), &pol, NULL, 0), 0);
	assert_true(sts_policy_match_mx(&pol, "mx2.example.org"));
	sts_policy_clear(&pol);
	free(p1);
	free(p2);
}

/* A node not yet in the registry (its first beat is pending) still
 * lists itself; a registry of only this node changes nothing. */
static void
test_policy_single_node_unchanged(void **state)
{
	const char *self[] = { "mx1.example.org" };
	struct conf c = { .hostname = "mx1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_TESTING, .mta_sts_max_age = 604800 };
	char *p0 = sts_serve_policy(&c, &d, NULL, 0);
	char *p1 = sts_serve_policy(&c, &d, self, 1);

	(void)state;
	assert_string_equal(p0, p1);
	assert_string_equal(p0, "version: STSv1\r\nmode: testing\r\n"
	    "mx: mx1.example.org\r\nmax_age: 604800\r\n");
	free(p0);
	free(p1);
}

/* Rows come from other nodes: a name that is not a host name never
 * reaches the text (no line injection), NULL is skipped. */
static void
test_policy_skips_bad_names(void **state)
{
	const char *rows[] = { "mx2.example.org\r\nmode: none", NULL,
	    "*.example.org", "", "mx3.example.org" };
	struct conf c = { .hostname = "mx1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400 };
	char *p = sts_serve_policy(&c, &d, rows, 5);

	(void)state;
	assert_string_equal(p, "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx1.example.org\r\nmx: mx3.example.org\r\n"
	    "max_age: 86400\r\n");
	free(p);
}

/* A configured mta_sts_mx is the whole list (every node's file says
 * the same); the registry does not add to it. */
static void
test_policy_configured_mx_wins(void **state)
{
	char *mx[] = { "mx.example.org", "*.lb.example.org" };
	const char *rows[] = { "node7.example.org" };
	struct conf c = { .hostname = "node1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400,
	    .mta_sts_mx = mx, .nmta_sts_mx = 2 };
	char *p = sts_serve_policy(&c, &d, rows, 1);

	(void)state;
	assert_string_equal(p, "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx.example.org\r\nmx: *.lb.example.org\r\n"
	    "max_age: 86400\r\n");
	free(p);
}

/* The id follows the set of nodes: forgetting one changes it, the
 * registry's order does not. */
static void
test_id_follows_nodes(void **state)
{
	const char *two[] = { "mx1.example.org", "mx2.example.org" };
	const char *swapped[] = { "mx2.example.org", "mx1.example.org" };
	const char *one[] = { "mx1.example.org" };
	struct conf c = { .hostname = "mx1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400 };
	char *a = sts_serve_txt(&c, &d, two, 2);
	char *b = sts_serve_txt(&c, &d, swapped, 2);
	char *e = sts_serve_txt(&c, &d, one, 1);

	(void)state;
	assert_string_equal(a, b);
	assert_string_not_equal(a, e);
	free(a);
	free(b);
	free(e);
}

static void
test_domain_for_host(void **state)
{
	struct conf_domain doms[] = { { .name = "example.org" },
	    { .name = "b.test" } };
	struct conf c = { .domains = doms, .ndomains = 2 };

	(void)state;
	assert_ptr_equal(sts_serve_domain_for_host(&c, "MTA-STS.Example.ORG."),
	    &doms[0]);
	assert_ptr_equal(sts_serve_domain_for_host(&c, "mta-sts.b.test"),
	    &doms[1]);
	assert_null(sts_serve_domain_for_host(&c, "mta-sts.c.test"));
	assert_null(sts_serve_domain_for_host(&c, "example.org"));
	assert_null(sts_serve_domain_for_host(&c, "mta-sts."));
	assert_null(sts_serve_domain_for_host(&c, "www.example.org"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_default_mx),
		cmocka_unit_test(test_id_follows_text),
		cmocka_unit_test(test_domain_for_host),
		cmocka_unit_test(test_policy_lists_every_node),
		cmocka_unit_test(test_policy_single_node_unchanged),
		cmocka_unit_test(test_policy_skips_bad_names),
		cmocka_unit_test(test_policy_configured_mx_wins),
		cmocka_unit_test(test_id_follows_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
