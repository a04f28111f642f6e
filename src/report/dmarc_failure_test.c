/* SPDX-License-Identifier: ISC */
/* Unit tests for the pure parts of DMARC failure reports: fo=, Identity-
 * Alignment, redaction of the header section, the A-R value, the ARF
 * parts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/dmarc_record.h"
#include "report/dmarc_failure.h"

static void
test_dmarc_failure_fo(void **state)
{
	struct dmarc_failure_facts none = { DMARC_FO_0, false, false, false,
	    false };
	struct dmarc_failure_facts one = { DMARC_FO_0, true, false, false,
	    false };

	(void)state;
	/* fo=0: only when nothing produced an aligned pass. */
	assert_string_equal(dmarc_failure_wanted(&none), "dmarc");
	assert_null(dmarc_failure_wanted(&one));
	/* fo=1: when anything did not. */
	one.fo = DMARC_FO_1;
	assert_string_equal(dmarc_failure_wanted(&one), "dmarc");
	one.spf_aligned = true;
	assert_null(dmarc_failure_wanted(&one));
	/* fo=d / fo=s: a failed signature / SPF fail, aligned or not. */
	one.fo = DMARC_FO_D;
	assert_null(dmarc_failure_wanted(&one));
	one.dkim_failed = true;
	assert_string_equal(dmarc_failure_wanted(&one), "dkim");
	one.fo = DMARC_FO_S;
	assert_null(dmarc_failure_wanted(&one));
	one.spf_failed = true;
	assert_string_equal(dmarc_failure_wanted(&one), "spf");
	/* fo=0:d with DMARC failing: the DMARC report. */
	none.fo = DMARC_FO_0 | DMARC_FO_D;
	none.dkim_failed = true;
	assert_string_equal(dmarc_failure_wanted(&none), "dmarc");
	assert_string_equal(dmarc_failure_alignment(&none), "dkim, spf");
	none.spf_aligned = true;
	assert_string_equal(dmarc_failure_alignment(&none), "dkim");
	none.dkim_aligned = true;
	assert_string_equal(dmarc_failure_alignment(&none), "none");
	none.spf_aligned = false;
	assert_string_equal(dmarc_failure_alignment(&none), "spf");
}

static void
test_dmarc_failure_redact(void **state)
{
	static const char in[] =
	    "Received: from mail.forwarder.example by mail.gen.example\r\n"
	    "\tfor <x.y+z@gen.example>; Sun, 14 Aug 2022 07:58:29 -0700\r\n"
	    "From: Message Author <author@consumer.example>\r\n"
	    "To: users@forwarder.example, \"John Q\\\" Doe\"@b.example\n"
	    "Cc: a@b.example,c@d.example\r\n"
	    "List-Post: <mailto:users@forwarder.example>\r\n"
	    "DKIM-Signature: v=1; d=consumer.example; i=@consumer.example\r\n"
	    "Authentication-Results: mx; smtp.mailfrom=bob=x@a.example\r\n"
	    "Message-ID: <2431dc66.author@consumer.example>\r\n"
	    "References: <abc@x.example>\r\n"
	    "  <def@y.example>\r\n"
	    "Subject: caf\xc3\xa9@home\r\n"
	    "\r\n"
	    "body author@consumer.example\r\n";
	static const char want[] =
	    "Received: from mail.forwarder.example by mail.gen.example\r\n"
	    "\tfor <redacted@gen.example>; Sun, 14 Aug 2022 07:58:29 -0700\r\n"
	    "From: Message Author <redacted@consumer.example>\r\n"
	    "To: redacted@forwarder.example, redacted@b.example\r\n"
	    "Cc: redacted@b.example,redacted@d.example\r\n"
	    "List-Post: <mailto:redacted@forwarder.example>\r\n"
	    "DKIM-Signature: v=1; d=consumer.example; i=@consumer.example\r\n"
	    "Authentication-Results: mx; smtp.mailfrom=redacted@a.example\r\n"
	    "Message-ID: <2431dc66.author@consumer.example>\r\n"
	    "References: <abc@x.example>\r\n"
	    "  <def@y.example>\r\n"
	    "Subject: redacted@home\r\n";
	char *out;

	(void)state;
	out = dmarc_failure_redact(in, sizeof(in) - 1, 1 << 20);
	assert_string_equal(out, want);
	assert_null(strstr(out, "body"));
	free(out);
	/* Cut after the last whole line within the bound. */
	out = dmarc_failure_redact(in, sizeof(in) - 1, 70);
	assert_string_equal(out, "Received: from mail.forwarder.example by "
	    "mail.gen.example\r\n");
	free(out);
	out = dmarc_failure_redact_addr("some.one+tag@example.org");
	assert_string_equal(out, "redacted@example.org");
	free(out);
	out = dmarc_failure_redact("", 0, 100);
	assert_string_equal(out, "");
	free(out);
	/* An '@' inside a quoted local part: nothing of it is left (this
	 * once appended from before the start of the line's rest). */
	out = dmarc_failure_redact("To: \"a@b\"@c\r\n", 13, 100);
	assert_string_equal(out, "To: \"redactedredacted@c\r\n");
	free(out);
	/* NUL and bare CR dropped; an unbalanced quote left alone. */
	out = dmarc_failure_redact("To: a\0b\r@c\r\nX: q\"@d\r\n", 21, 100);
	assert_string_equal(out, "To: redacted@c\r\nX: q\"@d\r\n");
	free(out);
}

static void
test_dmarc_failure_ar_value(void **state)
{
	static const char f[] =
	    "Authentication-Results: mx.example; spf=fail\r\n"
	    "\tsmtp.mailfrom=bob@example.org;\r\n"
	    " dmarc=fail header.from=example.org\r\n"
	    "BIMI-Location: v=BIMI1\r\n";
	char *v;

	(void)state;
	v = dmarc_failure_ar_value(f, sizeof(f) - 1);
	assert_string_equal(v, "mx.example; spf=fail smtp.mailfrom="
	    "redacted@example.org; dmarc=fail header.from=example.org");
	free(v);
	v = dmarc_failure_ar_value("X: y\r\n", 6);
	assert_string_equal(v, "");
	free(v);
}

static void
test_dmarc_failure_arf(void **state)
{
	struct db_dmarc_failure f = {
		.time = 1658210268, .source_ip = "192.0.2.2",
		.policy_domain = "consumer.example",
		.header_from = "consumer.example",
		.mail_from = "redacted@forwarder.example",
		.ruf = "mailto:f@consumer.example", .auth_failure = "dmarc",
		.auth_results = "mx.example; dmarc=fail "
		    "header.from=consumer.example\r\nX-Injected: 1",
		.alignment = "dkim, spf", .delivery = "delivered",
		.headers = "From: <redacted@consumer.example>\r\n",
		.dkim_domain = "consumer.example",
		.dkim_identity = "@consumer.example", .dkim_selector = "epsilon",
	};
	struct dmarc_failure_arf a;
	const char *fb;

	(void)state;
	assert_int_equal(dmarc_failure_arf_build(&f, "dmarc", "sealmail", &a),
	    0);
	fb = (const char *)a.feedback.data;
	assert_true(strncmp(fb, "Feedback-Type: auth-failure\r\n"
	    "User-Agent: sealmail\r\nVersion: 1\r\nAuth-Failure: dmarc\r\n",
	    80) == 0);
	assert_non_null(strstr(fb, "\r\nOriginal-Mail-From: "
	    "redacted@forwarder.example\r\n"));
	assert_non_null(strstr(fb, "\r\nArrival-Date: Tue, 19 Jul 2022 "
	    "05:57:48 +0000\r\n"));
	assert_non_null(strstr(fb, "\r\nSource-IP: 192.0.2.2\r\n"));
	assert_non_null(strstr(fb, "\r\nReported-Domain: consumer.example\r\n"));
	assert_non_null(strstr(fb, "\r\nIdentity-Alignment: dkim, spf\r\n"));
	assert_non_null(strstr(fb, "\r\nDelivery-Result: delivered\r\n"));
	/* RFC 9991 §4: REQUIRED for the DKIM failure of an aligned
	 * identifier (its example's values). */
	assert_non_null(strstr(fb, "\r\nDKIM-Domain: consumer.example\r\n"
	    "DKIM-Identity: @consumer.example\r\nDKIM-Selector: epsilon\r\n"));
	/* A stored value cannot add a field. */
	assert_null(strstr(fb, "\r\nX-Injected"));
	assert_non_null(strstr(fb, "\r\nAuthentication-Results: mx.example; "
	    "dmarc=fail"));
	assert_non_null(strstr(fb, "header.from=consumer.example??X-Injected:"));
	assert_string_equal((const char *)a.headers.data, f.headers);
	assert_non_null(strstr((const char *)a.text.data, "192.0.2.2"));
	assert_string_equal(a.subject, "DMARC failure report for "
	    "consumer.example from 192.0.2.2");
	dmarc_failure_arf_clear(&a);
}

/* Which failed signatures RFC 9991 §4's DKIM-* fields name. */
static void
test_dmarc_failure_dkim_aligned(void **state)
{
	(void)state;
	assert_true(dmarc_failure_dkim_aligned("example.org", "example.org",
	    "example.org", true));
	assert_true(dmarc_failure_dkim_aligned("Example.ORG",
	    "mail.example.org", "example.org", false));
	assert_true(dmarc_failure_dkim_aligned("a.example.org",
	    "mail.example.org", "example.org", false));
	assert_false(dmarc_failure_dkim_aligned("a.example.org",
	    "mail.example.org", "example.org", true));
	assert_false(dmarc_failure_dkim_aligned("badexample.org",
	    "mail.example.org", "example.org", false));
	assert_false(dmarc_failure_dkim_aligned("example.net", "example.org",
	    "example.org", false));
	assert_false(dmarc_failure_dkim_aligned("a.example.org",
	    "example.org", "", false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dmarc_failure_fo),
		cmocka_unit_test(test_dmarc_failure_redact),
		cmocka_unit_test(test_dmarc_failure_ar_value),
		cmocka_unit_test(test_dmarc_failure_arf),
		cmocka_unit_test(test_dmarc_failure_dkim_aligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
