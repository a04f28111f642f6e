/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/lookalike: a corpus of confusable, mixed-script,
 * whole-script, typo and display-name senders that must be flagged (with
 * the protected name and the reason), and look-alike-free or own senders
 * that must not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "msg/lookalike.h"

static const char *const protect[] = {
	"example.org", "PayPal.com.", "gmail.com", "westbank.example",
	"bücher.example", "ietf.org", "mybank.example", "scope.pc",
};

struct lk_case {
	const char	*domain;
	const char	*address;
	const char	*display;
	bool		 dmarc_pass;
	enum lookalike_reason reason;	/* LOOKALIKE_NONE: must not flag */
	const char	*resembles;
};

static const struct lk_case cases[] = {
	/* typo: the classic substitutions and one edit */
	{ "examp1e.org", NULL, NULL, true, LOOKALIKE_TYPO, "example.org" },
	{ "exarnple.org", NULL, NULL, false, LOOKALIKE_TYPO, "example.org" },
	{ "vvestbank.example", NULL, NULL, false, LOOKALIKE_TYPO,
	    "westbank.example" },
	{ "paypa1.com", NULL, NULL, false, LOOKALIKE_TYPO, "paypal.com" },
	{ "PAYPAL0.com", NULL, NULL, false, LOOKALIKE_TYPO, "paypal.com" },
	{ "examplle.org", NULL, NULL, false, LOOKALIKE_TYPO, "example.org" },
	{ "exmaple.org", NULL, NULL, false, LOOKALIKE_TYPO, "example.org" },
	{ "exampe.org", NULL, NULL, false, LOOKALIKE_TYPO, "example.org" },
	{ "gmai1.com", NULL, NULL, false, LOOKALIKE_TYPO, "gmail.com" },
	{ "gmall.com", NULL, NULL, false, LOOKALIKE_TYPO, "gmail.com" },
	{ "mybank.example.co", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	/* a parent (the Organizational Domain) imitates */
	{ "mail.examp1e.org", NULL, NULL, false, LOOKALIKE_TYPO,
	    "example.org" },
	/* confusables: a Cyrillic е (U+0435) in the A-label or raw UTF-8 */
	{ "xn--xample-2of.org", NULL, NULL, true, LOOKALIKE_MIXED_SCRIPT,
	    "example.org" },
	{ "\xd0\xb5xample.org", NULL, NULL, false, LOOKALIKE_MIXED_SCRIPT,
	    "example.org" },
	/* раураl with Cyrillic р, а, у: mixed with the Latin l */
	{ "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0" "l.com", NULL, NULL, false,
	    LOOKALIKE_MIXED_SCRIPT, "paypal.com" },
	/* ехаmрlе.org, Latin only in m, l and .org */
	{ "\xd0\xb5\xd1\x85\xd0\xb0m\xd1\x80l\xd0\xb5.org", NULL, NULL, false,
	    LOOKALIKE_MIXED_SCRIPT, "example.org" },
	/* ѕсоре.рс: all Cyrillic against all Latin */
	{ "\xd1\x95\xd1\x81\xd0\xbe\xd1\x80\xd0\xb5.\xd1\x80\xd1\x81", NULL,
	    NULL, false, LOOKALIKE_WHOLE_SCRIPT, "scope.pc" },
	/* a fullwidth Ｅ is mapped to e (UTS #46) when the address is
	 * parsed: the name is example.org itself, which DMARC judges */
	{ "\xef\xbc\xa5xample.org", NULL, NULL, false, LOOKALIKE_NONE,
	    NULL },
	/* display names */
	{ "evil.test", "x@evil.test", "support@example.org", false,
	    LOOKALIKE_DISPLAY_NAME, "example.org" },
	{ "evil.test", "x@evil.test", "PayPal Service (paypal.com)", false,
	    LOOKALIKE_DISPLAY_NAME, "paypal.com" },
	{ "evil.test", "x@evil.test", "Help desk \xd0\xb5xample.org", false,
	    LOOKALIKE_DISPLAY_NAME, "example.org" },
	{ "evil.test", "x@evil.test", "billing@other.test", false,
	    LOOKALIKE_DISPLAY_NAME, "other.test" },
	{ "evil.test", "x@evil.test", "ceo@examp1e.org", false,
	    LOOKALIKE_DISPLAY_NAME, "example.org" },
	/* the domain is ours but not authenticated: its display name is
	 * still looked at */
	{ "example.org", "a@example.org", "paypal.com billing", false,
	    LOOKALIKE_DISPLAY_NAME, "paypal.com" },
	/* must not flag */
	{ "example.org", "a@example.org", "paypal.com billing", true,
	    LOOKALIKE_NONE, NULL },
	{ "example.org", "a@example.org", NULL, false, LOOKALIKE_NONE, NULL },
	{ "lists.example.org", "a@lists.example.org", "Example Lists", true,
	    LOOKALIKE_NONE, NULL },
	{ "evil.test", "ceo@evil.test", "CEO@evil.test", false,
	    LOOKALIKE_NONE, NULL },
	{ "evil.test", "x@evil.test", "Example Team", false, LOOKALIKE_NONE,
	    NULL },
	{ "evil.test", "x@evil.test", "see example.organic", false,
	    LOOKALIKE_NONE, NULL },
	{ "evil.test", "x@evil.test", "myexample.org fans", false,
	    LOOKALIKE_NONE, NULL },
	{ "example.net", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "exampleco.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "debian.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	/* ietf is shorter than LOOKALIKE_TYPO_MIN: one edit is not enough,
	 * but a skeleton still is */
	{ "iets.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "letf.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "ietf.org.", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "i\xd0\xb5tf.org", NULL, NULL, false, LOOKALIKE_MIXED_SCRIPT,
	    "ietf.org" },
	{ "bucher.example", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "xn--bcher-kva.example", NULL, NULL, true, LOOKALIKE_NONE, NULL },
	{ "gmail.co.uk", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "[192.0.2.1]", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "xn--zz!.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "xn--99999999999.org", NULL, NULL, false, LOOKALIKE_NONE, NULL },
	{ "evil.test", "x@evil.test", "\xff\xfe bad utf-8", false,
	    LOOKALIKE_NONE, NULL },
};

static int
setup(void **state)
{
	struct lookalike_set *set = lookalike_set_new();

	assert_non_null(set);
	for (size_t i = 0; i < sizeof(protect) / sizeof(protect[0]); i++)
		assert_int_equal(lookalike_set_add(set, protect[i]), 0);
	/* Duplicates (any form) are kept once; unusable names refused. */
	assert_int_equal(lookalike_set_add(set, "EXAMPLE.org"), 0);
	assert_int_equal(lookalike_set_add(set, "xn--bcher-kva.example"), 0);
	assert_int_equal(lookalike_set_add(set, ""), -1);
	assert_int_equal(lookalike_set_add(set, "a..b"), -1);
	assert_int_equal(lookalike_set_add(set, "localhost"), -1);
	assert_int_equal(lookalike_set_add(set, "xn--9.org"), -1);
	assert_int_equal(lookalike_set_count(set),
	    sizeof(protect) / sizeof(protect[0]));
	assert_true(lookalike_set_covers(set, "lists.example.org"));
	assert_true(lookalike_set_covers(set, "B\xc3\xbc" "cher.example"));
	assert_false(lookalike_set_covers(set, "examp1e.org"));
	*state = set;
	return 0;
}

static int
teardown(void **state)
{
	lookalike_set_free(*state);
	return 0;
}

static void
test_corpus(void **state)
{
	const struct lookalike_set *set = *state;
	int bad = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lk_case *c = &cases[i];
		struct lookalike_from f = { c->domain, c->address, c->display,
		    c->dmarc_pass };
		struct lookalike_hit hit;
		bool got = lookalike_check(set, &f, &hit);

		if (got != (c->reason != LOOKALIKE_NONE) ||
		    hit.reason != c->reason || (got &&
		    strcmp(hit.resembles, c->resembles) != 0)) {
			fprintf(stderr, "case %zu %s / %s: got %s %s\n", i,
			    c->domain, c->display ? c->display : "-",
			    lookalike_reason_name(hit.reason), hit.resembles);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* A display text whose skeleton grows (U+FDFA, 3 bytes, has an 18-letter
 * skeleton) still has its protected name found: a skeleton cut or refused
 * for its length would let a sender hide "paypal.com" behind 300 of them. */
static void
test_display_skeleton_grows(void **state)
{
	char display[LOOKALIKE_DISPLAY_MAX + 1] = "Billing paypal.com ";
	size_t n = strlen(display);
	struct lookalike_hit hit;

	while (n + 3 <= LOOKALIKE_DISPLAY_MAX) {
		memcpy(display + n, "\xef\xb7\xba", 3);
		n += 3;
	}
	display[n] = '\0';
	struct lookalike_from f = { "evil.test", "x@evil.test", display,
	    false };
	assert_true(lookalike_check(*state, &f, &hit));
	assert_int_equal(hit.reason, LOOKALIKE_DISPLAY_NAME);
	assert_string_equal(hit.resembles, "paypal.com");
}

/* A byte that is no UTF-8 (raw Latin-1, a stray continuation byte) next
 * to a protected name does not hide it: a reader shows the name with a
 * replacement character, so the check must see it too. */
static void
test_display_invalid_utf8(void **state)
{
	static const char *const texts[] = {
		"PayPal Service (paypal.com) \xff",
		"\xe9quipe paypal.com",
		"paypal.com \xe2\x82",
	};
	struct lookalike_hit hit;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct lookalike_from f = { "evil.test", "x@evil.test",
		    texts[i], false };

		assert_true(lookalike_check(*state, &f, &hit));
		assert_int_equal(hit.reason, LOOKALIKE_DISPLAY_NAME);
		assert_string_equal(hit.resembles, "paypal.com");
	}
}

/* The hit names the From: domain in its ASCII (A-label) form. */
static void
test_hit_from(void **state)
{
	struct lookalike_from f = { "\xd0\xb5xample.org", NULL, NULL, false };
	struct lookalike_hit hit;

	assert_true(lookalike_check(*state, &f, &hit));
	assert_string_equal(hit.from, "xn--xample-2of.org");
	assert_string_equal(lookalike_reason_name(hit.reason), "mixed-script");
}

static void
check_display(const char *value, const char *want)
{
	char out[LOOKALIKE_DISPLAY_MAX + 1];

	assert_int_equal(lookalike_display_text(value, strlen(value), out,
	    sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* Display text as a reader shows it: quotes and address gone, encoded
 * words decoded (whitespace between two of them dropped). */
static void
test_display_text(void **state)
{
	char small[4];

	(void)state;
	check_display("\"Support\" <x@evil.test>", "Support");
	check_display("=?UTF-8?B?0LV4YW1wbGUub3Jn?= <x@evil.test>",
	    "\xd0\xb5xample.org");
	check_display("=?iso-8859-1?Q?J=F6rg?= =?utf-8?q?_x?=\r\n <a@b.test>",
	    "J\xc3\xb6rg x");
	check_display("x@evil.test", "x@evil.test");
	check_display("\"a \\\"q\\\" b\" (note) <x@y.test>", "a \"q\" b (note)");
	check_display("=?utf-8?X?abc?= <x@y.test>", "=?utf-8?X?abc?=");
	check_display("=?no-such-charset?Q?abc?= <x@y.test>",
	    "=?no-such-charset?Q?abc?=");
	check_display("=?utf-8?B?!!!?= <x@y.test>", "=?utf-8?B?!!!?=");
	assert_int_equal(lookalike_display_text("abcdef", 6, small,
	    sizeof(small)), 0);
	assert_string_equal(small, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_hit_from),
		cmocka_unit_test(test_display_skeleton_grows),
		cmocka_unit_test(test_display_invalid_utf8),
		cmocka_unit_test(test_display_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
