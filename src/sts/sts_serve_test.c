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
	char *text = sts_serve_policy(&c, &d);

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
	char *t1 = sts_serve_txt(&c, &d), *t2, *t3;

	(void)state;
	assert_int_equal(strlen(t1), strlen("v=STSv1; id=") +
	    STS_SERVE_ID_LEN);
	assert_memory_equal(t1, "v=STSv1; id=", 12);
	t2 = sts_serve_txt(&c, &d);
	assert_string_equal(t1, t2);		/* stable */
	d.mta_sts = CONF_STS_TESTING;
	t3 = sts_serve_txt(&c, &d);
	assert_string_not_equal(t1, t3);	/* changes with the text */
	free(t1);
	free(t2);
	free(t3);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
