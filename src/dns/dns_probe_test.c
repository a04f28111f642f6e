/* SPDX-License-Identifier: ISC */
/* Unit tests for dns_anchor_zone: which zone the DNSSEC probe asks for,
 * from the text of a trust anchor file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dns/dns.h"

static int
zone_of(const char *text, char *out, size_t outlen)
{
	return dns_anchor_zone(text, strlen(text), out, outlen);
}

static void
test_anchor_zone_found(void **state)
{
	static const struct {
		const char *text, *zone;
	} cases[] = {
		/* Debian's root.key */
		{ ". IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh ; keytag 20326\n",
		    "." },
		/* ldns-key2ds output, as dnsserver.py writes it */
		{ "secure.test.\t3600\tIN\tDS\t4794 13 2 3ff9dc9a\n"
		    "bogus.test.\t3600\tIN\tDS\t15838 13 2 0d06e486\n",
		    "secure.test." },
		/* comments, blank lines, directives, other types first */
		{ "; trust anchors\n\n$TTL 3600\n"
		    "example. 300 IN NS ns.example.\n"
		    "   ; indented comment\n"
		    "a.example. IN 300 dnskey 257 3 13 abc\n", "a.example." },
		/* owner-less continuation lines are not records */
		{ "\tIN DS 1 13 2 aa\nz.example. DS 1 13 2 aa\n", "z.example." },
		/* no final newline, CRLF */
		{ "crlf.example. IN DS 1 13 2 aa\r\n", "crlf.example." },
		{ "last.example. DS 1 13 2 aa", "last.example." },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(zone_of(cases[i].text, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].zone);
	}
}

static void
test_anchor_zone_none(void **state)
{
	static const char *const cases[] = {
		"",
		"; only a comment\n",
		"example. IN NS ns.example.\n",
		/* the type must come within TTL and class */
		"x.example. IN 300 IN 20 DS 1 13 2 aa\n",
		/* "DS" in the rdata or a comment is not the type */
		"x.example. IN TXT DS\n",
		"x.example. IN A 192.0.2.1 ; DS\n",
		"$ORIGIN DS\n",
		/* an owner that is not printable ASCII */
		"a\001b. DS 1 13 2 aa\n",
		"caf\xc3\xa9. DS 1 13 2 aa\n",
		/* a line starting with blanks (a CR too) has no owner */
		"\rx.example. DS 1 13 2 aa\n",
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(zone_of(cases[i], out, sizeof(out)), -1);
}

static void
test_anchor_zone_bounds(void **state)
{
	char text[2100], out[16];

	(void)state;
	/* An owner that does not fit out, or is longer than a name. */
	assert_int_equal(zone_of("sixteen.example. DS 1 13 2 aa\n", out,
	    sizeof(out)), -1);
	assert_int_equal(zone_of("fifteen.example DS 1 13 2 aa\n", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "fifteen.example");
	memset(text, 'a', sizeof(text));
	memcpy(text + sizeof(text) - 12, " DS 1 13 2\n", 12);
	char big[4096];
	assert_int_equal(dns_anchor_zone(text, sizeof(text) - 1, big,
	    sizeof(big)), -1);
	/* len bounds the text: nothing after it is read. */
	assert_int_equal(dns_anchor_zone("a. DS 1\nb. DS 1\n", 2, out,
	    sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anchor_zone_found),
		cmocka_unit_test(test_anchor_zone_none),
		cmocka_unit_test(test_anchor_zone_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
