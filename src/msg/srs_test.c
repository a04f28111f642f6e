/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/srs: SRS0 round trip, SRS1 for an address that is
 * already SRS, wrong hashes, expiry (and the 1024-day wrap), case folding
 * and malformed or oversized input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "msg/srs.h"

static const uint8_t key[SRS_SECRET_LEN] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[SRS_SECRET_LEN] = "fedcba9876543210fedcba9876543210";
/* Noon of Unix day 20427 (20427 % 1024 = 971). */
static const long long now = 20427LL * 86400 + 43200;
#define DAY 86400LL

static enum srs_result
fwd(const uint8_t *k, const char *sender, const char *dom, long long t,
    char *out)
{
	return srs_forward(k, SRS_SECRET_LEN, sender, dom, t, out,
	    LIMIT_PATH + 1);
}

static enum srs_result
rev(const uint8_t *k, const char *addr, long long t, unsigned max,
    char *out)
{
	return srs_reverse(k, SRS_SECRET_LEN, addr, t, max, out,
	    LIMIT_PATH + 1);
}

static void
test_srs0_round_trip(void **state)
{
	char a[LIMIT_PATH + 1], b[LIMIT_PATH + 1];
	char tt[3] = { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(971 >> 5) & 31],
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[971 & 31], 0 };

	(void)state;
	assert_int_equal(fwd(key, "alice@origin.example", "fwd.example", now,
	    a), SRS_OK);
	/* SRS0=HHHHHH=TT=origin.example=alice@fwd.example */
	assert_int_equal(strncmp(a, "SRS0=", 5), 0);
	assert_int_equal(a[5 + SRS_HASH_LEN], '=');
	assert_memory_equal(a + 6 + SRS_HASH_LEN, tt, 2);
	assert_string_equal(a + 6 + SRS_HASH_LEN + 2,
	    "=origin.example=alice@fwd.example");
	assert_true(srs_is_srs(a));
	assert_int_equal(rev(key, a, now, 21, b), SRS_OK);
	assert_string_equal(b, "alice@origin.example");
	/* The same input gives the same address (a pure function). */
	assert_int_equal(fwd(key, "alice@origin.example", "fwd.example", now,
	    b), SRS_OK);
	assert_string_equal(a, b);
	/* A local part with '=' and '+' survives. */
	assert_int_equal(fwd(key, "a=b+c@origin.example", "fwd.example", now,
	    a), SRS_OK);
	assert_int_equal(rev(key, a, now, 21, b), SRS_OK);
	assert_string_equal(b, "a=b+c@origin.example");
	/* UTF-8 (SMTPUTF8 mail) too. */
	assert_int_equal(fwd(key, "j\xc3\xb6rg@origin.example", "fwd.example",
	    now, a), SRS_OK);
	assert_int_equal(rev(key, a, now, 21, b), SRS_OK);
	assert_string_equal(b, "j\xc3\xb6rg@origin.example");
}

static void
test_srs1(void **state)
{
	char first[LIMIT_PATH + 1], second[LIMIT_PATH + 1];
	char third[LIMIT_PATH + 1], back[LIMIT_PATH + 1], orig[LIMIT_PATH + 1];
	const char *p;

	(void)state;
	/* Forwarder 1 (key2) made SRS0 at one.example; we forward it on. */
	assert_int_equal(fwd(key2, "alice@origin.example", "one.example", now,
	    first), SRS_OK);
	assert_int_equal(fwd(key, first, "two.example", now, second), SRS_OK);
	/* SRS1=HHHHHH=one.example==HHHHHH=TT=origin.example=alice@two... */
	assert_int_equal(strncmp(second, "SRS1=", 5), 0);
	p = second + 5 + SRS_HASH_LEN;
	assert_int_equal(strncmp(p, "=one.example==", 14), 0);
	/* ... then first's local part after "SRS0", unchanged. */
	assert_int_equal(strncmp(p + 13, first + 4,
	    (size_t)(strchr(first, '@') - first) - 4), 0);
	assert_int_equal(strcmp(strrchr(second, '@'), "@two.example"), 0);
	/* Reversed by us: the SRS0 address at the first forwarder, which
	 * reverses there to the original sender. */
	assert_int_equal(rev(key, second, now, 21, back), SRS_OK);
	assert_string_equal(back, first);
	assert_int_equal(rev(key2, back, now, 21, orig), SRS_OK);
	assert_string_equal(orig, "alice@origin.example");
	/* A third forwarder re-wraps the SRS1, keeping one.example. */
	assert_int_equal(fwd(key2, second, "three.example", now, third),
	    SRS_OK);
	assert_int_equal(strncmp(third + 5 + SRS_HASH_LEN,
	    "=one.example==", 14), 0);
	assert_int_equal(rev(key2, third, now, 21, back), SRS_OK);
	assert_string_equal(back, first);
	/* The key of forwarder 2 does not verify forwarder 3's hash. */
	assert_int_equal(rev(key, third, now, 21, back), SRS_ERR_HASH);
	/* SRS1 has no timestamp: years later it still reverses. */
	assert_int_equal(rev(key, second, now + 900 * DAY, 21, back), SRS_OK);
	/* A malformed SRS1 sender is wrapped as SRS0. */
	assert_int_equal(fwd(key, "SRS1=x@bad.example", "two.example", now,
	    third), SRS_OK);
	assert_int_equal(strncmp(third, "SRS0=", 5), 0);
	assert_int_equal(rev(key, third, now, 21, back), SRS_OK);
	assert_string_equal(back, "SRS1=x@bad.example");
}

static void
test_wrong_hash(void **state)
{
	char a[LIMIT_PATH + 1], b[LIMIT_PATH + 1], c[LIMIT_PATH + 1];

	(void)state;
	assert_int_equal(fwd(key, "user@a.bc", "fwd.example", now, a),
	    SRS_OK);
	/* Another key. */
	assert_int_equal(rev(key2, a, now, 21, b), SRS_ERR_HASH);
	/* One hash character changed. */
	strcpy(c, a);
	c[5] = c[5] == 'Q' ? 'R' : 'Q';
	assert_int_equal(rev(key, c, now, 21, b), SRS_ERR_HASH);
	/* Another original local part under the same hash. */
	strcpy(c, a);
	memcpy(strrchr(c, '@') - 4, "evil", 4);
	assert_int_equal(rev(key, c, now, 21, b), SRS_ERR_HASH);
	/* A byte moved from the domain to the local part: libsrs2's plain
	 * concatenation would hash "a.bcuser" alike. */
	snprintf(c, sizeof(c), "SRS0=%.*s=%.2s=a.b=cuser@fwd.example",
	    SRS_HASH_LEN, a + 5, a + 6 + SRS_HASH_LEN);
	assert_int_equal(rev(key, c, now, 21, b), SRS_ERR_HASH);
	/* Another timestamp under the same hash. */
	strcpy(c, a);
	c[6 + SRS_HASH_LEN + 1] = c[6 + SRS_HASH_LEN + 1] == 'A' ? 'B' : 'A';
	assert_int_equal(rev(key, c, now, 1000, b), SRS_ERR_HASH);
	/* Too short or too long a hash. */
	assert_int_equal(rev(key, "SRS0=abc=AA=a.example=u@f.example", now,
	    21, b), SRS_ERR_HASH);
	assert_int_equal(rev(key, "SRS0=abcdefghijkl=AA=a.example=u@f.example",
	    now, 21, b), SRS_ERR_HASH);
	/* A forged SRS1 (made with another key). */
	assert_int_equal(fwd(key2, "alice@origin.example", "one.example", now,
	    c), SRS_OK);
	assert_int_equal(fwd(key2, c, "two.example", now, a), SRS_OK);
	assert_int_equal(rev(key, a, now, 21, b), SRS_ERR_HASH);
}

static void
test_expiry(void **state)
{
	char a[LIMIT_PATH + 1], b[LIMIT_PATH + 1];

	(void)state;
	assert_int_equal(fwd(key, "alice@origin.example", "fwd.example", now,
	    a), SRS_OK);
	assert_int_equal(rev(key, a, now + 21 * DAY, 21, b), SRS_OK);
	assert_int_equal(rev(key, a, now + 22 * DAY, 21, b), SRS_ERR_EXPIRED);
	assert_int_equal(rev(key, a, now + 1 * DAY, 0, b), SRS_ERR_EXPIRED);
	assert_int_equal(rev(key, a, now, 0, b), SRS_OK);
	/* A stamp from "tomorrow" is 1023 days old in the cycle. */
	assert_int_equal(rev(key, a, now - DAY, 21, b), SRS_ERR_EXPIRED);
	/* Across the wrap of the 1024-day cycle: made on day 1023 of a
	 * cycle, five days later (day 4 of the next) it is valid. */
	long long t = (1024LL * 20 + 1023) * DAY;
	assert_int_equal(fwd(key, "alice@origin.example", "fwd.example", t, a),
	    SRS_OK);
	assert_memory_equal(a + 6 + SRS_HASH_LEN, "77", 2);
	assert_int_equal(rev(key, a, t + 5 * DAY, 21, b), SRS_OK);
	assert_int_equal(rev(key, a, t + 30 * DAY, 21, b), SRS_ERR_EXPIRED);
	/* A full cycle later the stamp repeats: that is the scheme. */
	assert_int_equal(rev(key, a, t + 1024 * DAY, 21, b), SRS_OK);
}

static void
test_case_folding(void **state)
{
	char a[LIMIT_PATH + 1], b[LIMIT_PATH + 1], c[LIMIT_PATH + 1];

	(void)state;
	assert_int_equal(fwd(key, "Alice@Origin.Example", "fwd.example", now,
	    a), SRS_OK);
	for (size_t i = 0; a[i]; i++)
		c[i] = (char)tolower((unsigned char)a[i]), c[i + 1] = '\0';
	assert_int_equal(rev(key, c, now, 21, b), SRS_OK);
	assert_string_equal(b, "alice@origin.example");
	for (size_t i = 0; a[i]; i++)
		c[i] = (char)toupper((unsigned char)a[i]), c[i + 1] = '\0';
	assert_int_equal(rev(key, c, now, 21, b), SRS_OK);
	assert_string_equal(b, "ALICE@origin.example");
	/* The separator after SRS0 may come back as '+' or '-'. */
	strcpy(c, a);
	c[4] = '+';
	assert_int_equal(rev(key, c, now, 21, b), SRS_OK);
	c[4] = '-';
	assert_int_equal(rev(key, c, now, 21, b), SRS_OK);
}

static void
test_malformed(void **state)
{
	static const char *const syntax[] = {
		"SRS0=abcdef@f.example",
		"SRS0=abcdef=AA@f.example",
		"SRS0=abcdef=AA=a.example@f.example",
		"SRS0=abcdef=AA=a.example=@f.example",
		"SRS0=abcdef=AA==u@f.example",
		"SRS0=abcdef=A1=a.example=u@f.example",
		"SRS0=abcdef=AAA=a.example=u@f.example",
		"SRS0=abcdef=A=a.example=u@f.example",
		"SRS1=abcdef@f.example",
		"SRS1=abcdef=host@f.example",
		"SRS1=abcdef==x@f.example",
		"SRS1=abcdef=host=x@f.example",
		"SRS1=abcdef=host==@f.example",
		"SRS0=abcdef=AA=a.example=u",		/* no '@' */
	};
	char b[LIMIT_PATH + 1], big[2 * LIMIT_PATH];

	(void)state;
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		strcpy(b, "unchanged");
		assert_int_equal(rev(key, syntax[i], now, 21, b),
		    SRS_ERR_SYNTAX);
		assert_string_equal(b, "unchanged");
	}
	assert_int_equal(rev(key, "bob@f.example", now, 21, b), SRS_NOT_SRS);
	assert_int_equal(rev(key, "SRS2=x=y@f.example", now, 21, b),
	    SRS_NOT_SRS);
	assert_int_equal(rev(key, "SRS0@f.example", now, 21, b), SRS_NOT_SRS);
	assert_int_equal(rev(key, "SRS0x@f.example", now, 21, b), SRS_NOT_SRS);
	assert_false(srs_is_srs("bob@f.example"));
	assert_false(srs_is_srs("SRS0"));
	assert_true(srs_is_srs("srs1-x@f.example"));
	/* A local part over 64 octets is refused before it is read. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "SRS0=abcdef=AA=a.example=", 25);
	strcpy(big + 70, "@f.example");
	assert_int_equal(rev(key, big, now, 21, b), SRS_ERR_TOO_LONG);
	/* Longer than a path: never read past LIMIT_PATH. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "SRS0=abcdef=AA=a.example=", 25);
	big[sizeof(big) - 12] = '@';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(rev(key, big, now, 21, b), SRS_ERR_SYNTAX);
}

static void
test_forward_limits(void **state)
{
	char a[LIMIT_PATH + 1], local[80];

	(void)state;
	/* 16 octets of SRS0 overhead + domain + local part must fit 64. */
	memset(local, 'l', sizeof(local));
	snprintf(local + 64 - 16 - 9, 16, "@d.example");
	assert_int_equal(fwd(key, local, "fwd.example", now, a), SRS_OK);
	assert_int_equal((int)(strchr(a, '@') - a), 64);
	memset(local, 'l', sizeof(local));
	snprintf(local + 64 - 16 - 9 + 1, 16, "@d.example");
	assert_int_equal(fwd(key, local, "fwd.example", now, a),
	    SRS_ERR_TOO_LONG);
	/* A quoted local part or an address literal cannot be wrapped. */
	assert_int_equal(fwd(key, "\"john doe\"@d.example", "fwd.example", now,
	    a), SRS_ERR_SYNTAX);
	assert_int_equal(fwd(key, "u@[192.0.2.1]", "fwd.example", now, a),
	    SRS_ERR_SYNTAX);
	assert_int_equal(fwd(key, "nodomain", "fwd.example", now, a),
	    SRS_ERR_SYNTAX);
	assert_int_equal(fwd(key, "@d.example", "fwd.example", now, a),
	    SRS_ERR_SYNTAX);
	assert_int_equal(fwd(key, "u@d.example", "", now, a), SRS_ERR_SYNTAX);
	assert_string_equal(srs_result_text(SRS_ERR_HASH),
	    "hash does not verify");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srs0_round_trip),
		cmocka_unit_test(test_srs1),
		cmocka_unit_test(test_wrong_hash),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_case_folding),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_forward_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
