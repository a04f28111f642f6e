/* SPDX-License-Identifier: ISC */
/* Tests of Authentication-Results formatting and parsing (RFC 8601). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/authres.h"

static void
test_format_golden(void **state)
{
	struct authres_result r[] = {
		{ "spf", "pass", NULL, NULL,
		    { { "smtp", "mailfrom", "alice@example.com" } }, 1 },
		{ "dkim", "pass", NULL, NULL,
		    { { "header", "d", "example.com" },
		      { "header", "s", "sel1" },
		      { "header", "b", "ab/c+d=E" } }, 3 },
		{ "dmarc", "pass", NULL, NULL,
		    { { "header", "from", "example.com" } }, 1 },
		{ "arc", "none", NULL, NULL, { { NULL, NULL, NULL } }, 0 },
		{ "bimi", "pass", NULL, NULL,
		    { { "header", "d", "example.com" },
		      { "header", "selector", "default" } }, 2 },
	};
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_format(&b, "mx.example.org", r, 5), 0);
	assert_string_equal(buf_cstr(&b),
	    "Authentication-Results: mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
	    "\tdkim=pass header.d=example.com header.s=sel1 "
	    "header.b=\"ab/c+d=E\";\r\n"
	    "\tdmarc=pass header.from=example.com;\r\n"
	    "\tarc=none;\r\n"
	    "\tbimi=pass header.d=example.com header.selector=default\r\n");
	buf_reset(&b);
	assert_int_equal(authres_format(&b, "mx.example.org", NULL, 0), 0);
	assert_string_equal(buf_cstr(&b),
	    "Authentication-Results: mx.example.org; none\r\n");
	buf_clear(&b);
}

static void
test_format_fold_quote(void **state)
{
	struct authres_result r = { "dmarc", "fail", "p=reject (\"x\")\n",
	    "a \"quoted\" reason\\", { { "header", "from",
	    "very-long-subdomain-name.with-many-labels.example.com" },
	    { "policy", "dmarc", "reject" },
	    { "smtp", "mailfrom", "odd local@example.com" } }, 3 };
	struct authres_result badm = { "bad method", "pass", NULL, NULL,
	    { { NULL, NULL, NULL } }, 0 };
	struct buf b;
	const char *s, *nl;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_format(&b, "mx.example.org", &r, 1), 0);
	s = buf_cstr(&b);
	assert_non_null(strstr(s, "(p=reject \\(\"x\"\\)?)"));
	assert_non_null(strstr(s, "reason=\"a \\\"quoted\\\" reason\\\\\""));
	assert_non_null(strstr(s, "smtp.mailfrom=\"odd local@example.com\""));
	/* Every line fits in 78 columns (tab counted as 8). */
	for (; (nl = strstr(s, "\r\n")) != NULL; s = nl + 2)
		assert_true(nl - s + (s[0] == '\t' ? 7 : 0) <= 78);
	buf_reset(&b);
	assert_int_equal(authres_format(&b, "mx", &badm, 1), -1);
	buf_clear(&b);
}

static void
test_parse(void **state)
{
	static const char v[] = " mx.example.org 1 (our server);\r\n"
	    "\tspf=pass (sender ok) smtp.mailfrom=alice@example.com;\r\n"
	    "\tdkim/1=fail reason=\"bad sig\" header.d=example.com "
	    "header.b=\"ab/c\";\r\n"
	    "\tDMARC = Pass header . from = example.com";
	struct authres *ar;

	(void)state;
	assert_int_equal(authres_parse(v, sizeof(v) - 1, &ar), AUTHRES_OK);
	assert_string_equal(ar->authserv_id, "mx.example.org");
	assert_int_equal(ar->version, 1);
	assert_int_equal(ar->nresults, 3);
	assert_string_equal(ar->results[0].method, "spf");
	assert_string_equal(ar->results[0].result, "pass");
	assert_string_equal(ar->results[0].props[0].value,
	    "alice@example.com");
	assert_string_equal(ar->results[1].reason, "bad sig");
	assert_string_equal(ar->results[1].props[1].value, "ab/c");
	assert_string_equal(ar->results[2].method, "dmarc");
	assert_string_equal(ar->results[2].result, "pass");
	assert_string_equal(ar->results[2].props[0].ptype, "header");
	assert_string_equal(ar->results[2].props[0].property, "from");
	authres_free(ar);

	assert_int_equal(authres_parse(" example.net; none", 18, &ar),
	    AUTHRES_OK);
	assert_true(ar->none);
	assert_int_equal(ar->nresults, 0);
	authres_free(ar);

	assert_int_equal(authres_parse(" x; spf", 7, &ar), AUTHRES_ERR_SYNTAX);
	assert_null(ar);
	assert_int_equal(authres_parse(" x; spf=pass (unclosed", 22, &ar),
	    AUTHRES_ERR_SYNTAX);
	assert_int_equal(authres_parse("", 0, &ar), AUTHRES_ERR_SYNTAX);
}

/* What we format parses back to the same results. */
static void
test_roundtrip(void **state)
{
	struct authres_result r[] = {
		{ "spf", "softfail", "x", NULL,
		    { { "smtp", "mailfrom", "a b@example.com" } }, 1 },
		{ "dkim", "pass", NULL, "ok \"fine\"",
		    { { "header", "d", "example.com" },
		      { "header", "b", "Zm9v/+==" } }, 2 },
	};
	struct authres *ar;
	struct buf b;
	const char *s;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_format(&b, "Mx.Example.Org", r, 2), 0);
	s = strchr(buf_cstr(&b), ':') + 1;
	assert_int_equal(authres_parse(s, strlen(s) - 2, &ar), AUTHRES_OK);
	assert_string_equal(ar->authserv_id, "Mx.Example.Org");
	assert_int_equal(ar->nresults, 2);
	assert_string_equal(ar->results[0].result, "softfail");
	assert_string_equal(ar->results[0].props[0].value, "a b@example.com");
	assert_string_equal(ar->results[1].reason, "ok \"fine\"");
	assert_string_equal(ar->results[1].props[1].value, "Zm9v/+==");
	authres_free(ar);
	buf_clear(&b);
}

static void
test_find_ours(void **state)
{
	static const char h[] =
	    "Received: from a\r\n"
	    "Authentication-Results: MX.example.org; spf=pass\r\n"
	    "authentication-results: other.example; dkim=pass\r\n"
	    "Authentication-Results: (forged) \"mx.example.org\";\r\n"
	    "\tdkim=pass header.d=bank.example\r\n"
	    "Authentication-Results: mx.example.org.evil; spf=pass\n"
	    "Subject: x\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; body\r\n";
	struct authres_field f[4];
	char id[64];

	(void)state;
	assert_int_equal(authres_find_ours(h, sizeof(h) - 1, "mx.example.org",
	    f, 4), 2);
	assert_int_equal(f[0].off, 18);
	assert_int_equal(f[0].len, 50);
	assert_memory_equal(h + f[1].off, "Authentication-Results: (forged)",
	    32);
	assert_memory_equal(h + f[1].off + f[1].len - 2, "\r\n", 2);
	assert_memory_equal(h + f[1].off + f[1].len, "Authentication", 14);
	assert_true(authres_authserv_id(" (c) \"q\\\"x\" ;", 13, id,
	    sizeof(id)));
	assert_string_equal(id, "q\"x");
	assert_false(authres_authserv_id(" ;", 2, id, sizeof(id)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_format_fold_quote),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_find_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
