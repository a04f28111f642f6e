/* SPDX-License-Identifier: ISC */
/* Unit tests of DKIM tag-lists and DKIM-Signature parsing (RFC 6376 §3.2,
 * §3.5): a table of good and bad fields with the expected result. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/dkim_sig.h"

#define BH	"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"
#define BASE	"v=1; a=rsa-sha256; d=example.org; s=sel; h=from:to; " BH

static void
test_tag_list(void **state)
{
	struct dkim_tag_iter it;
	struct dkim_tag t;
	const char *s = " a = 1 2 ;\r\n\tb_c=x;e=;";

	(void)state;
	dkim_tag_init(&it, s, strlen(s));
	assert_int_equal(dkim_tag_next(&it, &t), 1);
	assert_int_equal(t.namelen, 1);
	assert_memory_equal(t.val, "1 2", 3);
	assert_int_equal(t.vallen, 3);
	assert_int_equal(dkim_tag_next(&it, &t), 1);
	assert_memory_equal(t.name, "b_c", 3);
	assert_int_equal(dkim_tag_next(&it, &t), 1);
	assert_int_equal(t.vallen, 0);
	assert_int_equal(dkim_tag_next(&it, &t), 0);
	/* Bare LF, empty tag-spec, missing "=", bad name. */
	const char *bad[] = { "a=1\nb", "a=1;;b=2", "a", "1a=2", "a=\x01" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int k;
		dkim_tag_init(&it, bad[i], strlen(bad[i]));
		while ((k = dkim_tag_next(&it, &t)) == 1)
			;
		assert_int_equal(k, -1);
	}
}

static void
test_good(void **state)
{
	struct dkim_sig sig;
	const char *v = " v=1; a=ed25519-sha256; c=relaxed;\r\n d=Example.ORG;"
	    " i=joe@mail.example.org; s=brisbane; t=100; x=200; l=12;\r\n"
	    " q=dns/txt; h=From : to\r\n :subject; z=From:foo|To:bar;\r\n"
	    " " BH "\r\n b=AAAA\r\n BBBB ";

	(void)state;
	assert_int_equal(dkim_sig_parse(v, strlen(v), &sig), DKIM_SIG_OK);
	assert_int_equal(sig.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(sig.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(sig.bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig.d, "Example.ORG");
	assert_string_equal(sig.s, "brisbane");
	assert_string_equal(sig.i, "joe@mail.example.org");
	assert_int_equal(sig.nh, 3);
	assert_memory_equal(sig.h[0].p, "From", 4);
	assert_int_equal(sig.h[0].len, 4);
	assert_memory_equal(sig.h[2].p, "subject", 7);
	assert_true(sig.has_l && sig.l == 12);
	assert_true(sig.has_t && sig.t == 100 && sig.x == 200);
	assert_int_equal(sig.blen, 6);
	assert_string_equal(sig.b_prefix, "AAAABBBB");
	/* The b= span runs from after "=" to the end, whitespace included. */
	assert_int_equal(sig.b_end, strlen(v));
	assert_memory_equal(v + sig.b_start - 2, "b=", 2);
	dkim_sig_clear(&sig);
	/* Defaults: c=simple/simple, i=@d. */
	v = BASE " b=AAAA";
	assert_int_equal(dkim_sig_parse(v, strlen(v), &sig), DKIM_SIG_OK);
	assert_int_equal(sig.hcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig.i, "@example.org");
	dkim_sig_clear(&sig);
}

static void
test_bad(void **state)
{
	static const struct {
		const char		*v;
		enum dkim_sig_result	 r;
	} cases[] = {
		{ BASE " b=AAAA; d=example.org", DKIM_SIG_ERR_DUP_TAG },
		{ BASE " b=AAAA; foo=1; foo=2", DKIM_SIG_ERR_DUP_TAG },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; b=AAAA",
		    DKIM_SIG_ERR_MISSING },
		{ "v=2; a=rsa-sha256; d=example.org; s=s; h=from; " BH " b=AA"
		    "AA", DKIM_SIG_ERR_VERSION },
		{ "v=1; a=rsa-md5; d=example.org; s=s; h=from; " BH " b=AAAA",
		    DKIM_SIG_ERR_ALG },
		{ BASE " b=AAAA; c=relaxed/fancy", DKIM_SIG_ERR_CANON },
		{ BASE " b=AAA", DKIM_SIG_ERR_BASE64 },
		{ "v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=AAAA; "
		    "b=AAAA", DKIM_SIG_ERR_BASE64 },
		{ "v=1; a=rsa-sha256; d=org; s=s; h=from; " BH " b=AAAA",
		    DKIM_SIG_ERR_DOMAIN },
		{ "v=1; a=rsa-sha256; d=ex..org; s=s; h=from; " BH " b=AAAA",
		    DKIM_SIG_ERR_DOMAIN },
		{ "v=1; a=rsa-sha256; d=example.org; s=s; h=to:subject; " BH
		    " b=AAAA", DKIM_SIG_ERR_FROM },
		{ "v=1; a=rsa-sha256; d=example.org; s=s; h=from::to; " BH
		    " b=AAAA", DKIM_SIG_ERR_FROM },
		{ BASE " b=AAAA; i=joe@example.com", DKIM_SIG_ERR_AUID },
		{ BASE " b=AAAA; i=joe@badexample.org", DKIM_SIG_ERR_AUID },
		{ BASE " b=AAAA; i=joe", DKIM_SIG_ERR_AUID },
		{ BASE " b=AAAA; q=http", DKIM_SIG_ERR_QUERY },
		{ BASE " b=AAAA; l=-1", DKIM_SIG_ERR_NUMBER },
		{ BASE " b=AAAA; t=1234567890123", DKIM_SIG_ERR_NUMBER },
		{ BASE " b=AAAA; t=200; x=100", DKIM_SIG_ERR_NUMBER },
		{ BASE " b=AAAA;; ", DKIM_SIG_ERR_SYNTAX },
		/* d= with an invalid IDN: bad Punycode, a disallowed one */
		{ "v=1; a=rsa-sha256; d=xn--bad.org; s=s; h=from; " BH
		    " b=AAAA", DKIM_SIG_ERR_DOMAIN },
		{ "v=1; a=rsa-sha256; d=\xe2\x98\x83.org; s=s; h=from; " BH
		    " b=AAAA", DKIM_SIG_ERR_DOMAIN },
	};
	struct dkim_sig sig;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum dkim_sig_result r = dkim_sig_parse(cases[i].v,
		    strlen(cases[i].v), &sig);
		if (r != cases[i].r)
			fail_msg("case %zu \"%s\": %s", i, cases[i].v,
			    dkim_sig_result_name(r));
		dkim_sig_clear(&sig);
	}
}

/* RFC 8616 §5: d= and the i= domain may be U-labels in an EAI message;
 * the key name and DMARC use the A-label form, which an A-label d= has. */
static void
test_idn(void **state)
{
	static const char *v[] = {
	    "v=1; a=rsa-sha256; d=b\xc3\xbc" "cher.example; s=sel; "
	    "i=j\xc3\xb6rg@mail.b\xc3\xbc" "cher.example; h=from; " BH
	    " b=AAAA",
	    "v=1; a=rsa-sha256; d=xn--bcher-kva.example; s=sel; "
	    "i=@b\xc3\xbc" "cher.example; h=from; " BH " b=AAAA",
	};
	struct dkim_sig sig;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(dkim_sig_parse(v[i], strlen(v[i]), &sig),
		    DKIM_SIG_OK);
		assert_string_equal(sig.d, "xn--bcher-kva.example");
		dkim_sig_clear(&sig);
	}
}

static void
test_limits(void **state)
{
	char v[8192];
	struct dkim_sig sig;
	int n;

	(void)state;
	/* h= over DKIM_SIG_H_MAX entries. */
	n = snprintf(v, sizeof(v), BASE " b=AAAA; h=from");
	for (int i = 0; i < DKIM_SIG_H_MAX; i++)
		n += snprintf(v + n, sizeof(v) - (size_t)n, ":to");
	assert_int_equal(dkim_sig_parse(v, strlen(v) - 0, &sig),
	    DKIM_SIG_ERR_DUP_TAG);
	n = snprintf(v, sizeof(v), "v=1; a=rsa-sha256; d=example.org; s=s; "
	    BH " b=AAAA; h=from");
	for (int i = 0; i < DKIM_SIG_H_MAX; i++)
		n += snprintf(v + n, sizeof(v) - (size_t)n, ":to");
	assert_int_equal(dkim_sig_parse(v, strlen(v), &sig),
	    DKIM_SIG_ERR_TOO_BIG);
	/* Too many tags. */
	n = snprintf(v, sizeof(v), BASE " b=AAAA");
	for (int i = 0; i < DKIM_TAGS_MAX; i++)
		n += snprintf(v + n, sizeof(v) - (size_t)n, "; y%d=1", i);
	assert_int_equal(dkim_sig_parse(v, strlen(v), &sig),
	    DKIM_SIG_ERR_TOO_BIG);
	/* l= saturates rather than wraps. */
	snprintf(v, sizeof(v), BASE " b=AAAA; l=99999999999999999999999");
	assert_int_equal(dkim_sig_parse(v, strlen(v), &sig), DKIM_SIG_OK);
	assert_true(sig.l == UINT64_MAX);
	dkim_sig_clear(&sig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_list),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_idn),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
