/* SPDX-License-Identifier: ISC */
/* Unit tests for DNSBL query names (IPv4, IPv4-mapped, IPv6 nibbles) and
 * answer classification (listed codes, any-code zones, error codes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "dns/dnsbl.h"

static void
name_of(const char *addr, const char *zone, char *out, size_t len, int want)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	assert_int_equal(dnsbl_query_name((struct sockaddr *)&ss, zone, out,
	    len), want);
}

static void
test_query_names(void **state)
{
	char out[300];

	(void)state;
	name_of("192.0.2.99", "zen.example", out, sizeof(out), 0);
	assert_string_equal(out, "99.2.0.192.zen.example");
	name_of("::ffff:127.0.0.2", "bl.test", out, sizeof(out), 0);
	assert_string_equal(out, "2.0.0.127.bl.test");
	/* RFC 5782 §2.4's example. */
	name_of("2001:db8:1:2:3:4:567:89ab", "bl.test", out, sizeof(out), 0);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0."
	    "1.0.0.0.8.b.d.0.1.0.0.2.bl.test");
	/* Too small: refused, never cut. */
	name_of("192.0.2.99", "zen.example", out, 10, -1);
	name_of("2001:db8::1", "bl.test", out, 64, -1);
	name_of("2001:db8::1", "bl.test", out, 64 + 7, -1);
	name_of("2001:db8::1", "bl.test", out, 64 + 8, 0);
}

static void
test_classify_listed_codes(void **state)
{
	struct conf_dnsbl z = { .zone = "bl.test", .ncodes = 2,
	    .codes = { 0x7f000002, 0x7f000004 } };
	uint32_t a[3] = { 0 }, code;

	(void)state;
	assert_int_equal(dnsbl_classify(&z, a, 0, &code), DNSBL_NOT_LISTED);
	a[0] = 0x7f000003;	/* a code the zone does not count */
	assert_int_equal(dnsbl_classify(&z, a, 1, &code), DNSBL_NOT_LISTED);
	a[1] = 0x7f000004;
	assert_int_equal(dnsbl_classify(&z, a, 2, &code), DNSBL_LISTED);
	assert_int_equal(code, 0x7f000004);
	/* An error code spoils the whole answer. */
	a[2] = 0x7ffffffe;
	assert_int_equal(dnsbl_classify(&z, a, 3, &code), DNSBL_ERROR);
	assert_int_equal(code, 0x7ffffffe);
}

static void
test_classify_any_code(void **state)
{
	struct conf_dnsbl z = { .zone = "bl.test" };
	uint32_t a[1] = { 0 }, code;

	(void)state;
	a[0] = 0x7f000002;
	assert_int_equal(dnsbl_classify(&z, a, 1, &code), DNSBL_LISTED);
	a[0] = 0x7f00000a;
	assert_int_equal(dnsbl_classify(&z, a, 1, &code), DNSBL_LISTED);
	a[0] = 0x7f000001;
	assert_int_equal(dnsbl_classify(&z, a, 1, &code), DNSBL_NOT_LISTED);
	/* 127.255.255.252..255 (Spamhaus: public resolver, typo, ...). */
	for (uint32_t x = 0x7fffff00; x <= 0x7fffffff; x += 0x3f) {
		a[0] = x;
		assert_int_equal(dnsbl_classify(&z, a, 1, &code),
		    DNSBL_ERROR);
	}
	/* A resolver answering NXDOMAIN with its own web server. */
	a[0] = 0xc0000201;
	assert_int_equal(dnsbl_classify(&z, a, 1, NULL), DNSBL_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_names),
		cmocka_unit_test(test_classify_listed_codes),
		cmocka_unit_test(test_classify_any_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
