/* SPDX-License-Identifier: ISC */
/*
 * False positives of msg/lookalike on real domain names: every name in
 * Debian's publicsuffix list (public and private sections; "*." and "!"
 * dropped) and the brand domains of tests/data/lookalike/brands.txt,
 * each as an authenticated From: domain, against the protected set of
 * tests/data/lookalike/protected.txt. None of them imitates a protected
 * name, so every hit is a false positive; the test prints them with the
 * count and fails above LK_FP_MAX_PER_10K.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "msg/lookalike.h"

#define PSL_FILE	"/usr/share/publicsuffix/public_suffix_list.dat"
#define BRANDS_FILE	"tests/data/lookalike/brands.txt"
#define PROTECTED_FILE	"tests/data/lookalike/protected.txt"

/*
 * At most 5 hits per 10000 names compared (4 of the ~8400 today). The
 * rules give 0 on these lists (2026-12-05: publicsuffix 0 of 8017, brands
 * 0 of 363). The bound leaves room for a few real near-neighbours as the
 * lists grow (with LOOKALIKE_TYPO_MIN 4, mil.ru resembles mail.ru), but
 * fails for typo distance on 3-letter labels (7 hits: web.do/web.de,
 * ubs.com/ups.com, bing.com/ing.com...), where warnings would stop
 * meaning anything to the people reading them.
 */
#define LK_FP_MAX_PER_10K	5

struct lk_counts {
	size_t	 names;		/* with two labels or more: comparable */
	size_t	 flagged;
};

/* The name on line (comments, blank lines and PSL markers removed), or
 * NULL. */
static char *
lk_line_name(char *line)
{
	char *s = line + strspn(line, " \t");

	s[strcspn(s, " \t\r\n")] = '\0';
	if (s[0] == '\0' || s[0] == '#' || strncmp(s, "//", 2) == 0)
		return NULL;
	if (s[0] == '!')
		s++;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	return s;
}

static void
lk_measure(const struct lookalike_set *set, const char *path,
    struct lk_counts *c)
{
	FILE *fp = fopen(path, "r");
	char line[1024];

	if (fp == NULL)
		fail_msg("%s: missing (Debian package publicsuffix; run from "
		    "the source tree)", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *name = lk_line_name(line);
		struct lookalike_from f = { name, NULL, NULL, true };
		struct lookalike_hit hit;

		if (name == NULL || strchr(name, '.') == NULL)
			continue;
		c->names++;
		if (lookalike_check(set, &f, &hit)) {
			c->flagged++;
			fprintf(stderr, "lookalike_fp: %s resembles %s (%s)\n",
			    name, hit.resembles,
			    lookalike_reason_name(hit.reason));
		}
	}
	fclose(fp);
}

static void
test_false_positives(void **state)
{
	struct lookalike_set *set = lookalike_set_new();
	struct lk_counts psl = { 0, 0 }, brands = { 0, 0 };
	FILE *fp = fopen(PROTECTED_FILE, "r");
	char line[1024];

	(void)state;
	assert_non_null(set);
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *name = lk_line_name(line);

		if (name != NULL)
			assert_int_equal(lookalike_set_add(set, name), 0);
	}
	fclose(fp);
	lk_measure(set, PSL_FILE, &psl);
	lk_measure(set, BRANDS_FILE, &brands);
	fprintf(stderr, "lookalike_fp: %zu protected; publicsuffix %zu of %zu "
	    "flagged, brands %zu of %zu flagged\n", lookalike_set_count(set),
	    psl.flagged, psl.names, brands.flagged, brands.names);
	/* The lists are real: thousands of names, hundreds of brands. */
	assert_true(psl.names > 5000);
	assert_true(brands.names >= 300);
	assert_true((psl.flagged + brands.flagged) * 10000 <=
	    (psl.names + brands.names) * LK_FP_MAX_PER_10K);
	lookalike_set_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_false_positives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
