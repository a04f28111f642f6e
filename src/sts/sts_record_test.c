/* SPDX-License-Identifier: ISC */
/* Tests of the _mta-sts TXT record parser and RRset choice (RFC 8461 §3.1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "sts/sts_record.h"

static enum sts_record_result
parse(const char *s, struct sts_record *r)
{
	char why[128];

	return sts_record_parse(s, strlen(s), r, why, sizeof(why));
}

static void
test_valid(void **state)
{
	static const char *const good[] = {
		"v=STSv1; id=20160831085700Z;",		/* RFC 8461 §3.1 */
		"v=STSv1;id=1",
		"v=STSv1 ;\tid=abc ; ",
		"v=STSv1; id=A1; ext-1.x=va:l/ue!",
		"v=STSv1; foo=bar; id=12345678901234567890123456789012",
		"v=STSv1; id=first; id=second",
	};
	static const char *const ids[] = {
		"20160831085700Z", "1", "abc", "A1",
		"12345678901234567890123456789012", "first",
	};
	struct sts_record r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(parse(good[i], &r), STS_RECORD_OK);
		assert_string_equal(r.id, ids[i]);
	}
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"v=STSv1",			/* no field */
		"v=STSv1;",
		"v=STSv1; ext=1",		/* no id */
		"v=STSv1; id=",			/* empty id */
		"v=STSv1; id=abc-def",		/* id not alnum */
		"v=STSv1; id=123456789012345678901234567890123", /* 33 */
		"v=STSv1; id=1 ",		/* trailing space, no ';' */
		"v=STSv1 id=1",			/* no ';' */
		"v=STSv1; id=1;; x=y",		/* empty field */
		"v=STSv1; =1; id=1",
		"v=STSv1; _x=1; id=1",		/* name starts with '_' */
		"v=STSv1; x=a=b; id=1",
		"v=STSv1; x=a b; id=1",
		"v=STSv1; id=1; x",
		"v=STSv1; ID=1",		/* %s: case-sensitive */
		"v=STSv1; abcdefghijabcdefghijabcdefghijabc=1; id=1", /* 33 */
	};
	struct sts_record r;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(sts_record_parse(bad[i], strlen(bad[i]), &r,
		    why, sizeof(why)), STS_RECORD_INVALID);
		assert_true(why[0] != '\0');
	}
	/* NUL byte inside */
	assert_int_equal(sts_record_parse("v=STSv1; id=a\0b", 15, &r, NULL, 0),
	    STS_RECORD_INVALID);
}

static void
test_not_sts(void **state)
{
	static const char *const other[] = {
		"", "v=spf1 -all", "v=STSv2; id=1", "v=stsv1; id=1",
		" v=STSv1; id=1", "v=STSv10; id=1", "id=1; v=STSv1",
	};
	struct sts_record r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(parse(other[i], &r), STS_RECORD_NONE);
		assert_false(sts_record_is_sts(other[i], strlen(other[i])));
	}
}

static void
test_select(void **state)
{
	const char *set1[] = { "v=spf1 -all", "v=STSv1; id=abc", "hello" };
	const char *set2[] = { "v=STSv1; id=abc", "v=STSv1; id=abc" };
	const char *set3[] = { "v=STSv1; id=a", "v=STSv1; id=b" };
	const char *set4[] = { "v=spf1 -all" };
	const char *set5[] = { "v=STSv1; id=a-b", "x" };
	size_t l1[3], l2[2], l3[2], l4[1], l5[2], i;
	struct sts_record r;
	char why[128];

	(void)state;
	for (i = 0; i < 3; i++)
		l1[i] = strlen(set1[i]);
	for (i = 0; i < 2; i++) {
		l2[i] = strlen(set2[i]);
		l3[i] = strlen(set3[i]);
		l5[i] = strlen(set5[i]);
	}
	l4[0] = strlen(set4[0]);
	assert_int_equal(sts_record_select(set1, l1, 3, &r, why, sizeof(why)),
	    STS_RECORD_OK);
	assert_string_equal(r.id, "abc");
	/* §3.1: not exactly one record → no policy, even when identical. */
	assert_int_equal(sts_record_select(set2, l2, 2, &r, why, sizeof(why)),
	    STS_RECORD_MULTIPLE);
	assert_int_equal(sts_record_select(set3, l3, 2, &r, why, sizeof(why)),
	    STS_RECORD_MULTIPLE);
	assert_int_equal(sts_record_select(set4, l4, 1, &r, why, sizeof(why)),
	    STS_RECORD_NONE);
	assert_int_equal(sts_record_select(NULL, NULL, 0, &r, why, sizeof(why)),
	    STS_RECORD_NONE);
	assert_int_equal(sts_record_select(set5, l5, 2, &r, why, sizeof(why)),
	    STS_RECORD_INVALID);
	assert_string_equal(sts_record_result_name(STS_RECORD_MULTIPLE),
	    "multiple");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_not_sts),
		cmocka_unit_test(test_select),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
