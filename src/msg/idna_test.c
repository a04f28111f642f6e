/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/idna: IDNA2008 (RFC 5890-5893, UTS #46) conversions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "msg/idna.h"

static void
alabel_ok(const char *in, const char *want)
{
	char out[256];
	const char *why = NULL;

	if (idna_to_alabels(in, strlen(in), out, sizeof(out), &why) != 0)
		fail_msg("%s: %s", in, why);
	assert_string_equal(out, want);
}

static void
alabel_bad(const char *in, const char *reason)
{
	char out[256];
	const char *why = NULL;

	if (idna_to_alabels(in, strlen(in), out, sizeof(out), &why) == 0)
		fail_msg("%s accepted as %s", in, out);
	assert_non_null(why);
	if (strstr(why, reason) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", in, why, reason);
}

/* RFC 3492 §7.1 samples, well-known names, and the A-label input form. */
static void
test_idna_valid(void **state)
{
	(void)state;
	alabel_ok("b\xc3\xbc" "cher.example", "xn--bcher-kva.example");
	alabel_ok("xn--bcher-kva.example", "xn--bcher-kva.example");
	alabel_ok("XN--BCHER-KVA.Example", "xn--bcher-kva.example");
	alabel_ok("m\xc3\xbcnchen.test", "xn--mnchen-3ya.test");
	/* 日本語.jp; RFC 3492 (L) 3年B組金八先生 (its "B" mapped to "b") */
	alabel_ok("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.jp",
	    "xn--wgv71a119e.jp");
	alabel_ok("3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab"
	    "\xe5\x85\x88\xe7\x94\x9f.test", "xn--3b-ww4c5e180e575a65lsy2b.test");
	/* UTS #46 mapping: upper case to lower case; nontransitional keeps
	 * ß (IDNA2008 PVALID) instead of turning it into "ss". */
	alabel_ok("B\xc3\x9c" "CHER.example", "xn--bcher-kva.example");
	alabel_ok("fa\xc3\x9f.de", "xn--fa-hia.de");
	/* CONTEXTO satisfied: l·l (Catalan), ・ next to Katakana. */
	alabel_ok("l\xc2\xb7l.example", "xn--ll-0ea.example");
	alabel_ok("\xe3\x83\xbb\xe3\x82\xa2.example", "xn--cckyj.example");
	/* CONTEXTJ satisfied: ZWNJ after a virama (RFC 5892 A.1). */
	alabel_ok("\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8c\xe0\xa4\xb7.example",
	    "xn--11b2ezcs70k.example");
	/* Mixed scripts are not an IDNA error (UTS #39 is the lookalike
	 * check's business): Cyrillic е in a Latin name. */
	alabel_ok("\xd0\xb5xample.org", "xn--xample-2of.org");
	alabel_ok("xn--xample-2of.org", "xn--xample-2of.org");
	/* A right-to-left label that keeps the Bidi rule. */
	alabel_ok("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d.example",
	    "xn--9dbne9b.example");
	/* Plain ASCII is only lower-cased, "_" included (DNS names). */
	alabel_ok("Example.ORG", "example.org");
	alabel_ok("_dmarc.example.org", "_dmarc.example.org");
}

static void
test_idna_invalid(void **state)
{
	(void)state;
	/* Punycode that does not decode, or decodes to no valid U-label. */
	alabel_bad("xn--bcher-kva-.example", "Punycode");
	alabel_bad("xn--.example", "Punycode");
	alabel_bad("xn--bad.example", "disallowed");
	alabel_bad("xn--n3h.example", "disallowed");	/* ☃ */
	/* Disallowed code points (RFC 5892): ☃, ؀, ≪ as an A-label. */
	alabel_bad("\xe2\x98\x83.example", "disallowed");
	alabel_bad("ab\xd8\x80.example", "disallowed");
	alabel_bad("xn--a-ego.example", "disallowed");
	/* CONTEXTJ: ZWJ / ZWNJ with no virama before them. */
	alabel_bad("a\xe2\x80\x8d" "b.example", "CONTEXTJ");
	alabel_bad("a\xe2\x80\x8c.example", "CONTEXTJ");
	/* CONTEXTO: · not between two l; ͵ not before Greek;
	 * ・ with no Han/Hiragana/Katakana.
	 * Also in A-label form. */
	alabel_bad("l\xc2\xb7x.example", "CONTEXTO");
	alabel_bad("xn--lx-0ea.example", "CONTEXTO");
	alabel_bad("a\xcd\xb5.example", "CONTEXTO");
	alabel_bad("a\xe3\x83\xbb" "b.example", "CONTEXTO");
	/* Bidi rule (RFC 5893): an RTL label ending in a Latin letter. */
	alabel_bad("\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a" "1a.example", "Bidi");
	/* U+FF0E FULLWIDTH FULL STOP separates labels like a dot. */
	alabel_ok("b\xc3\xbc" "cher\xef\xbc\x8e" "example", "xn--bcher-kva.example");
	/* Code points UTS #46 maps to ASCII no host name has: U+00A0
	 * to a space, U+FF1C to '<' (fuzz_addr). */
	alabel_bad("0\xc2\xa0", "host name");
	alabel_bad("a\xef\xbc\x9c" "b.example", "host name");
	/* U+00AD SOFT HYPHEN maps to nothing: no name is left. */
	alabel_bad("\xc2\xad", "host name");
	/* Leading combining mark; hyphens; not UTF-8; too long. */
	alabel_bad("\xcc\x81" "a.example", "combining");
	alabel_bad("\xc3\xbc-.example", "hyphen");
	alabel_bad("\xc3\x28.example", "UTF-8");
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[299] = '\0';
	memcpy(big, "\xc3\xbc", 2);
	alabel_bad(big, "too long");
	memset(big, 'a', 70);
	memcpy(big, "\xc3\xbc", 2);
	memcpy(big + 70, ".example", 9);
	alabel_bad(big, "too long");
}

/* The 255-octet limit is on the A-label form: a U-label form that is
 * longer (8 labels of 日本 x 10: 487 octets of UTF-8, 247 as A-labels)
 * converts, and back (found by fuzz_idna). */
static void
test_idna_long_ulabels(void **state)
{
	char in[600] = "", a[256], u[IDNA_DISPLAY_MAX], a2[256];

	(void)state;
	for (int i = 0; i < 8; i++) {
		if (i > 0)
			strcat(in, ".");
		for (int k = 0; k < 10; k++)
			strcat(in, "\xe6\x97\xa5\xe6\x9c\xac");
	}
	assert_int_equal(strlen(in), 487);
	assert_int_equal(idna_to_alabels(in, strlen(in), a, sizeof(a), NULL),
	    0);
	assert_int_equal(strlen(a), 247);
	assert_int_equal(idna_to_ulabels(a, u, sizeof(u), NULL), 0);
	assert_string_equal(u, in);
	assert_int_equal(idna_to_alabels(u, strlen(u), a2, sizeof(a2), NULL),
	    0);
	assert_string_equal(a2, a);
}

static void
test_idna_plain(void **state)
{
	(void)state;
	assert_true(idna_is_plain("example.org", 11));
	assert_true(idna_is_plain("xn-a.org", 8));
	assert_false(idna_is_plain("xn--a.org", 9));
	assert_false(idna_is_plain("a.XN--a", 7));
	assert_false(idna_is_plain("\xc3\xbc.org", 6));
	assert_true(idna_is_plain("", 0));
}

static void
test_idna_ulabels(void **state)
{
	char out[IDNA_DISPLAY_MAX];
	const char *why = NULL;

	(void)state;
	assert_int_equal(idna_to_ulabels("xn--bcher-kva.example", out,
	    sizeof(out), &why), 0);
	assert_string_equal(out, "b\xc3\xbc" "cher.example");
	assert_int_equal(idna_to_ulabels("B\xc3\x9c" "cher.example", out,
	    sizeof(out), &why), 0);
	assert_string_equal(out, "b\xc3\xbc" "cher.example");
	assert_int_equal(idna_to_ulabels("example.org", out, sizeof(out),
	    &why), 0);
	assert_string_equal(out, "example.org");
	assert_int_equal(idna_to_ulabels("xn--bad.example", out, sizeof(out),
	    &why), -1);
	assert_non_null(strstr(why, "disallowed"));
	assert_int_equal(idna_to_ulabels("xn--bcher-kva.example", out, 14,
	    &why), -1);
}

static void
test_idna_display(void **state)
{
	char out[IDNA_DISPLAY_MAX];

	(void)state;
	idna_display("xn--bcher-kva.example", out, sizeof(out));
	assert_string_equal(out,
	    "b\xc3\xbc" "cher.example (xn--bcher-kva.example)");
	idna_display("b\xc3\xbc" "cher.example", out, sizeof(out));
	assert_string_equal(out,
	    "b\xc3\xbc" "cher.example (xn--bcher-kva.example)");
	idna_display("example.org", out, sizeof(out));
	assert_string_equal(out, "example.org");
	/* Invalid names are shown as they are (the reason is elsewhere). */
	idna_display("xn--bad.example", out, sizeof(out));
	assert_string_equal(out, "xn--bad.example");
	/* Fullwidth letters map to plain ASCII: one form to show. */
	idna_display("\xef\xbd\x85xample.org", out, sizeof(out));
	assert_string_equal(out, "example.org");
	idna_display("xn--bcher-kva.example", out, 8);
	assert_string_equal(out, "b\xc3\xbc" "cher");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idna_valid),
		cmocka_unit_test(test_idna_invalid),
		cmocka_unit_test(test_idna_long_ulabels),
		cmocka_unit_test(test_idna_plain),
		cmocka_unit_test(test_idna_ulabels),
		cmocka_unit_test(test_idna_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
