/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of SPF macro expansion: the examples of RFC 7208 §7.4, URL
 * escaping of uppercase letters, the explanation-only letters, syntax
 * errors and the §7.3 left truncation of long names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>

#include <string.h>

#include "auth/spf_macro.h"
#include "core/buf.h"

static void
smt_ctx(struct spf_macro_ctx *c, const char *ip)
{
	memset(c, 0, sizeof(*c));
	c->sender = "strong-bad@email.example.com";
	c->local = "strong-bad";
	c->sender_domain = "email.example.com";
	c->domain = "email.example.com";
	c->helo = "mx.example.org";
	c->receiver = "mx.receiver.test";
	c->now = 1234567890;
	if (inet_pton(AF_INET, ip, c->ip) == 1)
		c->family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, c->ip), 1);
		c->family = AF_INET6;
	}
}

static void
smt_expect(const char *ip, enum spf_macro_mode mode, const char *in,
    const char *want)
{
	struct spf_macro_ctx c;
	struct buf b;
	enum spf_macro_result r;

	smt_ctx(&c, ip);
	assert_int_equal(spf_macro_check(in, strlen(in), mode, NULL),
	    SPF_MACRO_OK);
	buf_init(&b, 4096);
	r = spf_macro_expand(in, strlen(in), mode, &c, &b);
	if (r != SPF_MACRO_OK)
		fail_msg("%s: %s", in, spf_macro_result_name(r));
	if (strcmp(buf_cstr(&b), want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", in, buf_cstr(&b), want);
	buf_clear(&b);
}

static void
test_rfc_examples(void **state)
{
	static const char *const t[][2] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		  "example.com.trusted-domains.example.net" },
		{ "%{D999R}", "com.example.email" },
		{ "%{h}", "mx.example.org" },
		{ "%{p}", "unknown" },
		{ "%%%_%-", "% %20" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		smt_expect("192.0.2.3", SPF_MACRO_DOMAIN, t[i][0], t[i][1]);
	smt_expect("2001:db8::cb01", SPF_MACRO_DOMAIN, "%{ir}.%{v}._spf.%{d2}",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
	    ".ip6._spf.example.com");
	smt_expect("2001:db8::cb01", SPF_MACRO_DOMAIN, "%{i2}", "0.1");
}

static void
test_explain(void **state)
{
	(void)state;
	smt_expect("192.0.2.3", SPF_MACRO_EXPLAIN,
	    "%{i} is not one of %{d}'s designated mail servers.",
	    "192.0.2.3 is not one of email.example.com's designated mail "
	    "servers.");
	smt_expect("192.0.2.3", SPF_MACRO_EXPLAIN, "%{c} %{r} %{t}",
	    "192.0.2.3 mx.receiver.test 1234567890");
	smt_expect("2001:db8::cb01", SPF_MACRO_EXPLAIN, "%{c} %{C}",
	    "2001:db8::cb01 2001%3Adb8%3A%3Acb01");
	smt_expect("192.0.2.3", SPF_MACRO_EXPLAIN, "%{S}",
	    "strong-bad%40email.example.com");
}

static void
test_url_escape(void **state)
{
	struct spf_macro_ctx c;
	struct buf b;

	(void)state;
	smt_ctx(&c, "192.0.2.3");
	c.local = "a+b/c~d_e.f";
	buf_init(&b, 256);
	assert_int_equal(spf_macro_expand("%{L}", 4, SPF_MACRO_DOMAIN, &c, &b),
	    SPF_MACRO_OK);
	assert_string_equal(buf_cstr(&b), "a%2Bb%2Fc~d_e.f");
	buf_clear(&b);
}

static void
test_errors(void **state)
{
	static const char *const bad[] = {
		"%", "a%", "%x", "%(ir)", "%{x}", "%{d0}", "%{d", "%{}",
		"%{d2r+x}", "%{dd}", "a b", "\x01", "%{d-",
	};
	size_t last;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (spf_macro_check(bad[i], strlen(bad[i]), SPF_MACRO_DOMAIN,
		    NULL) == SPF_MACRO_OK)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(spf_macro_check("%{c}", 4, SPF_MACRO_DOMAIN, NULL),
	    SPF_MACRO_ERR_LETTER);
	assert_int_equal(spf_macro_check("%{r}", 4, SPF_MACRO_DOMAIN, NULL),
	    SPF_MACRO_ERR_LETTER);
	assert_int_equal(spf_macro_check("%{t}", 4, SPF_MACRO_EXPLAIN, NULL),
	    SPF_MACRO_OK);
	assert_int_equal(spf_macro_check("a b", 3, SPF_MACRO_EXPLAIN, NULL),
	    SPF_MACRO_OK);
	assert_int_equal(spf_macro_check("a\0b", 3, SPF_MACRO_EXPLAIN, NULL),
	    SPF_MACRO_ERR_SYNTAX);
	assert_int_equal(spf_macro_check("x.%{d}.y", 8, SPF_MACRO_DOMAIN,
	    &last), SPF_MACRO_OK);
	assert_int_equal(last, 6);
	assert_int_equal(spf_macro_check("x.y", 3, SPF_MACRO_DOMAIN, &last),
	    SPF_MACRO_OK);
	assert_int_equal(last, 0);
}

static void
test_uses(void **state)
{
	(void)state;
	assert_true(spf_macro_uses("a.%{p}.b", 8, 'p'));
	assert_true(spf_macro_uses("%{P2}", 5, 'p'));
	assert_false(spf_macro_uses("%%{p}", 5, 'p'));
	assert_false(spf_macro_uses("%{d}.p", 6, 'p'));
}

static void
test_domain_fit(void **state)
{
	char s[600];
	const char *p;

	(void)state;
	strcpy(s, "example.com.");
	assert_string_equal(spf_macro_domain_fit(s), "example.com");
	/* 60 labels of "abcd" = 299 characters: cut from the left. */
	s[0] = '\0';
	for (int i = 0; i < 60; i++)
		strcat(s, i ? ".abcd" : "abcd");
	p = spf_macro_domain_fit(s);
	assert_true(strlen(p) <= SPF_DOMAIN_TEXT_MAX);
	assert_true(strlen(p) > SPF_DOMAIN_TEXT_MAX - 5);
	assert_int_equal(p[0], 'a');
	assert_int_equal(p[-1], '.');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_url_escape),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_uses),
		cmocka_unit_test(test_domain_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
