/* SPDX-License-Identifier: ISC */
/* Unit tests for msg/tlsrequired: "TLS-Required: No" (RFC 8689 §3) in a
 * header section, its case, folding, other values, duplicates, limits, and
 * the REQUIRETLS MAIL parameter that makes it be ignored (§4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "msg/rfc5322_headers.h"
#include "msg/tlsrequired.h"

static enum tlsrequired_result
parse(const char *s)
{
	return tlsrequired_parse(s, strlen(s));
}

/* RFC 8689 Appendix A.2, verbatim (CRLF line ends). */
static const char rfc_example[] =
    "From: Roger Reporter <roger@example.org>\r\n"
    "To: Andy Admin <admin@example.com>\r\n"
    "Subject: Certificate problem?\r\n"
    "TLS-Required: No\r\n"
    "Date: Fri, 18 Jan 2019 10:26:55 -0800\r\n"
    "Message-ID: <5c421a6f79c0e_d153ff8286d45c468473@mail.example.org>\r\n"
    "\r\n"
    "Andy, there seems to be a problem with the TLS certificate\r\n"
    "on your mail server. Are you aware of this?\r\n"
    "\r\n"
    "Roger\r\n";

static void
test_rfc_example(void **state)
{
	(void)state;
	assert_int_equal(parse(rfc_example), TLSREQUIRED_NO);
	/* The header section alone, without the empty line, is enough. */
	assert_int_equal(tlsrequired_parse(rfc_example,
	    (size_t)(strstr(rfc_example, "\r\n\r\n") - rfc_example) + 2),
	    TLSREQUIRED_NO);
	assert_int_equal(parse("From: a@example.org\r\nSubject: s\r\n\r\n"
	    "body\r\n"), TLSREQUIRED_ABSENT);
	assert_int_equal(tlsrequired_parse("", 0), TLSREQUIRED_ABSENT);
	assert_int_equal(tlsrequired_parse(NULL, 0), TLSREQUIRED_ABSENT);
}

static void
test_case_space_and_folding(void **state)
{
	static const char *const no[] = {
		"TLS-Required: No\r\n",
		"tls-required: no\r\n",
		"TLS-REQUIRED: NO\r\n",
		"Tls-Required:nO\r\n",		/* FWS is optional */
		"TLS-Required:\tNo\r\n",
		"TLS-Required:   No   \r\n",	/* trailing WSP tolerated */
		"TLS-Required:\r\n No\r\n",	/* folded before the value */
		"TLS-Required: \r\n\t \r\n No\r\n",	/* folded twice */
		"TLS-Required: No\r\n \r\n",	/* folded after it */
		"TLS-Required: No\n",		/* LF line ends (Maildir) */
		"TLS-Required:\n\tNo\n",
		"TLS-Required : No\r\n",	/* obs-optional WSP before ':' */
		"TLS-Required: No",		/* no line end at all */
	};
	char m[128];

	(void)state;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(m, sizeof(m), "From: a@example.org\r\n%s", no[i]);
		if (parse(m) != TLSREQUIRED_NO)
			fail_msg("not No: %s", no[i]);
	}
}

static void
test_other_values(void **state)
{
#define CASE(lit)	{ lit, sizeof(lit) - 1 }
	static const struct {
		const char	*s;
		size_t		 len;	/* the NUL case keeps its NUL */
	} bad[] = {
		CASE("TLS-Required: Yes\r\n"),
		CASE("TLS-Required:\r\n"),		/* empty */
		CASE("TLS-Required:  \r\n"),
		CASE("TLS-Required: Nope\r\n"),
		CASE("TLS-Required: N o\r\n"),
		CASE("TLS-Required: N\r\n o\r\n"),	/* folded inside */
		CASE("TLS-Required: No thanks\r\n"),
		CASE("TLS-Required: No (comment)\r\n"),	/* FWS, not CFWS */
		CASE("TLS-Required: \"No\"\r\n"),
		CASE("TLS-Required: No;\r\n"),
		CASE("TLS-Required: No\rX\r\n"),	/* a bare CR is text */
		CASE("TLS-Required: No\r\r\n"),
		CASE("TLS-Required: \xc2\xa0No\r\n"),	/* NBSP is not WSP */
		CASE("TLS-Required: No\0\r\n"),
	};
#undef CASE
	char m[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(m, "X: y\r\n", 6);
		memcpy(m + 6, bad[i].s, bad[i].len);
		if (tlsrequired_parse(m, 6 + bad[i].len) !=
		    TLSREQUIRED_INVALID)
			fail_msg("accepted: case %zu", i);
	}
	/* Other fields that only look alike are not it. */
	assert_int_equal(parse("TLS-Required-X: No\r\nX-TLS-Required: No\r\n"
	    "TLSRequired: No\r\nTLS Required: No\r\n\r\n"),
	    TLSREQUIRED_ABSENT);
	/* In the body it does not count. */
	assert_int_equal(parse("Subject: s\r\n\r\nTLS-Required: No\r\n"),
	    TLSREQUIRED_ABSENT);
	/* A continuation line is part of the field before it. */
	assert_int_equal(parse("Subject: s\r\n TLS-Required: No\r\n\r\n"),
	    TLSREQUIRED_ABSENT);
}

static void
test_duplicates(void **state)
{
	(void)state;
	/* §3: at most one instance; two make the message malformed, and
	 * the protection stays. */
	assert_int_equal(parse("TLS-Required: No\r\nTLS-Required: No\r\n"
	    "\r\n"), TLSREQUIRED_INVALID);
	assert_int_equal(parse("TLS-Required: No\r\nSubject: s\r\n"
	    "tls-required: yes\r\n\r\n"), TLSREQUIRED_INVALID);
	assert_int_equal(parse("TLS-Required: maybe\r\nTLS-Required: No\r\n"
	    "\r\n"), TLSREQUIRED_INVALID);
	/* A second one after the section ends is body text. */
	assert_int_equal(parse("TLS-Required: No\r\n\r\nTLS-Required: No\r\n"),
	    TLSREQUIRED_NO);
}

static void
test_limits(void **state)
{
	struct buf b;

	(void)state;
	/* Past the tokenizer's field count: unsure, so not No. */
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "TLS-Required: No\r\n");
	for (int i = 0; i < RFC5322_HEADERS_MAX_FIELDS + 5; i++)
		buf_append_str(&b, "X: y\r\n");
	buf_append_str(&b, "\r\n");
	assert_int_equal(tlsrequired_parse(b.data, b.len),
	    TLSREQUIRED_INVALID);
	/* Past the section size: likewise. */
	buf_reset(&b);
	buf_append_str(&b, "TLS-Required: No\r\nX-Long: ");
	while (b.len < RFC5322_HEADERS_MAX_SECTION + 10)
		buf_append_str(&b, "aaaaaaaaaaaaaaaa\r\n ");
	buf_append_str(&b, "z\r\n\r\n");
	assert_int_equal(tlsrequired_parse(b.data, b.len),
	    TLSREQUIRED_INVALID);
	buf_clear(&b);
}

static void
test_overrides_policy(void **state)
{
	(void)state;
	assert_true(tlsrequired_overrides_policy(false, rfc_example,
	    strlen(rfc_example)));
	/* §4.1: with REQUIRETLS on MAIL FROM the field is ignored. */
	assert_false(tlsrequired_overrides_policy(true, rfc_example,
	    strlen(rfc_example)));
	assert_false(tlsrequired_overrides_policy(false, "Subject: s\r\n\r\n",
	    14));
	assert_false(tlsrequired_overrides_policy(false,
	    "TLS-Required: No\r\nTLS-Required: No\r\n\r\n", 38));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_case_space_and_folding),
		cmocka_unit_test(test_other_values),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_overrides_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
