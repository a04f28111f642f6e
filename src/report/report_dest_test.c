/* SPDX-License-Identifier: ISC */
/* Unit tests for report_mailto_addr (report_dest.c): the rua/ruf forms
 * real records use, the obsolete "!size", escapes, and what is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "report/report.h"

static void
test_mailto_ok(void **state)
{
	static const char *const cases[][2] = {
		{ "mailto:dmarc@example.org", "dmarc@example.org" },
		{ "MAILTO:dmarc@Example.ORG", "dmarc@example.org" },
		{ "mailto:dmarc@example.org!10m", "dmarc@example.org" },
		{ "mailto:dmarc@example.org!50", "dmarc@example.org" },
		{ "mailto:dmarc@example.org?subject=x", "dmarc@example.org" },
		{ "mailto:d%2Bagg@example.org", "d+agg@example.org" },
		{ "mailto:d%40x@example.org", NULL },
		{ "mailto:rua+x.y@sub.example.org", "rua+x.y@sub.example.org" },
	};
	char out[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = report_mailto_addr(cases[i][0], out, sizeof(out));

		if (cases[i][1] == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, cases[i][1]);
	}
}

static void
test_mailto_refused(void **state)
{
	static const char *const bad[] = {
		"", "mailto:", "https://example.org/r", "dmarc@example.org",
		"mailto:a@example.org,b@example.org",
		"mailto:a%2C@example.org", "mailto:a@example.org%",
		"mailto:a@example.org%4", "mailto:a@example.org%zz",
		"mailto:a%00b@example.org", "mailto:a%25b@example.org",
		"mailto:a%3Fb@example.org", "mailto:a%0d%0aBcc:x@example.org",
		"mailto:\"a b\"@example.org", "mailto:a@[127.0.0.1]",
		"mailto:@example.org", "mailto:a@", "mailto:a b@example.org",
		"mailto:a@exa mple.org", "mailto:a@example..org",
		"mailto:a@-example.org", "mailto:a@ex\xc3\xa9mple.org",
	};
	char out[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (report_mailto_addr(bad[i], out, sizeof(out)) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void
test_mailto_small_out(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(report_mailto_addr("mailto:dmarc@example.org", out,
	    sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailto_ok),
		cmocka_unit_test(test_mailto_refused),
		cmocka_unit_test(test_mailto_small_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
