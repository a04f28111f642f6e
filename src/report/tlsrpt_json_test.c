/* SPDX-License-Identifier: ISC */
/* Unit tests for report/tlsrpt_json: the RFC 8460 Appendix B report
 * rebuilt from store rows, file name, subject, and its gzip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "report/report_gzip.h"
#include "report/tlsrpt_json.h"

/* Appendix B's policy with its three failure-details. */
static struct db_tls_failure appb_fail[] = {
	{ "certificate-expired", "2001:db8:abcd:12::1",
	  "mx1.mail.company-y.example", "", "", "", 100 },
	{ "starttls-not-supported", "2001:db8:abcd:13::1",
	  "mx2.mail.company-y.example", "", "203.0.113.56", "", 200 },
	{ "validation-failure", "198.51.100.62",
	  "mx-backup.mail.company-y.example", "mx-backup.\xc3\xa9xample",
	  "203.0.113.58", "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED", 3 },
};

static struct db_tls_policy appb_policy = {
	"company-y.example", "sts",
	"version: STSv1\nmode: testing\nmx: *.mail.company-y.example\n"
	"max_age: 86400", "*.mail.company-y.example", 5326, 303,
	appb_fail, 3,
};

static json_object *
get(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static const char *
gets(json_object *o, const char *key)
{
	return json_object_get_string(get(o, key));
}

static void
test_tlsrpt_json_appendix_b(void **state)
{
	struct tlsrpt_meta m = { "Company-X", "sts-reporting@company-x.example",
	    "5065427c-23d3-47ca-b6e0-946ea0e8c4be", 1459468800,
	    1459468800 + 86400 };
	char *text;
	json_object *o, *pols, *p, *pol, *sum, *fd, *ps;

	(void)state;
	text = tlsrpt_json_report(&m, &appb_policy, 1);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_string_equal(gets(o, "organization-name"), "Company-X");
	assert_string_equal(gets(get(o, "date-range"), "start-datetime"),
	    "2016-04-01T00:00:00Z");
	assert_string_equal(gets(get(o, "date-range"), "end-datetime"),
	    "2016-04-01T23:59:59Z");
	assert_string_equal(gets(o, "contact-info"),
	    "sts-reporting@company-x.example");
	assert_string_equal(gets(o, "report-id"), m.report_id);
	pols = get(o, "policies");
	assert_true(json_object_is_type(pols, json_type_array));
	assert_int_equal(json_object_array_length(pols), 1);
	p = json_object_array_get_idx(pols, 0);
	pol = get(p, "policy");
	assert_string_equal(gets(pol, "policy-type"), "sts");
	assert_string_equal(gets(pol, "policy-domain"), "company-y.example");
	ps = get(pol, "policy-string");
	assert_int_equal(json_object_array_length(ps), 4);
	assert_string_equal(json_object_get_string(
	    json_object_array_get_idx(ps, 2)), "mx: *.mail.company-y.example");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    get(pol, "mx-host"), 0)), "*.mail.company-y.example");
	sum = get(p, "summary");
	assert_int_equal(json_object_get_int64(get(sum,
	    "total-successful-session-count")), 5326);
	assert_int_equal(json_object_get_int64(get(sum,
	    "total-failure-session-count")), 303);
	fd = get(p, "failure-details");
	assert_int_equal(json_object_array_length(fd), 3);
	for (size_t i = 0; i < 3; i++) {
		json_object *f = json_object_array_get_idx(fd, i);
		assert_string_equal(gets(f, "result-type"),
		    appb_fail[i].result);
		assert_string_equal(gets(f, "sending-mta-ip"),
		    appb_fail[i].sending_ip);
		assert_string_equal(gets(f, "receiving-mx-hostname"),
		    appb_fail[i].receiving_mx);
		assert_int_equal(json_object_get_int64(get(f,
		    "failed-session-count")), appb_fail[i].count);
	}
	/* Optional fields only when known; non-ASCII bytes replaced. */
	assert_false(json_object_object_get_ex(json_object_array_get_idx(fd,
	    0), "receiving-ip", NULL));
	assert_string_equal(gets(json_object_array_get_idx(fd, 1),
	    "receiving-ip"), "203.0.113.56");
	assert_string_equal(gets(json_object_array_get_idx(fd, 2),
	    "receiving-mx-helo"), "mx-backup.??xample");
	assert_string_equal(gets(json_object_array_get_idx(fd, 2),
	    "failure-reason-code"), "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	json_object_put(o);
	free(text);
}

static void
test_tlsrpt_json_tlsa_and_none(void **state)
{
	struct db_tls_policy pol[2] = {
		{ "b.example", "tlsa", "3 1 1 AABB\n3 1 1 CCDD",
		  "mx.b.example", 2, 0, NULL, 0 },
		{ "b.example", "no-policy-found", "", "", 1, 0, NULL, 0 },
	};
	struct tlsrpt_meta m = { "org", "r@x.example", "id", 0, 10 };
	char *text = tlsrpt_json_report(&m, pol, 2);
	json_object *o = json_tokener_parse(text), *p0, *p1;

	(void)state;
	assert_non_null(o);
	p0 = get(json_object_array_get_idx(get(o, "policies"), 0), "policy");
	p1 = get(json_object_array_get_idx(get(o, "policies"), 1), "policy");
	assert_string_equal(gets(p0, "mx-host"), "mx.b.example");
	assert_int_equal(json_object_array_length(get(p0, "policy-string")),
	    2);
	assert_false(json_object_object_get_ex(p1, "mx-host", NULL));
	assert_int_equal(json_object_array_length(get(p1, "policy-string")),
	    0);
	json_object_put(o);
	free(text);
}

static void
test_tlsrpt_json_names(void **state)
{
	char name[128], subj[256];

	(void)state;
	assert_int_equal(tlsrpt_json_filename("mail.sndr.example.com",
	    "example.net", 1470013207, 1470186007, "0-0-1", name,
	    sizeof(name)), 0);
	assert_string_equal(name,
	    "mail.sndr.example.com!example.net!1470013207!1470186007!001"
	    ".json.gz");
	assert_int_equal(tlsrpt_json_filename("a", "b", 1, 2, "", name,
	    sizeof(name)), 0);
	assert_string_equal(name, "a!b!1!2.json.gz");
	assert_int_equal(tlsrpt_json_filename("a", "b", 1, 2, "", name, 8),
	    -1);
	assert_int_equal(tlsrpt_json_subject("example.net",
	    "mail.sender.example.com", "735ff@mail.sender.example.com", subj,
	    sizeof(subj)), 0);
	assert_string_equal(subj, "Report Domain: example.net Submitter: "
	    "mail.sender.example.com Report-ID: "
	    "<735ff@mail.sender.example.com>");
}

static void
test_tlsrpt_json_gzip(void **state)
{
	struct tlsrpt_meta m = { "org", "r@x.example", "id", 0, 86400 };
	char *text = tlsrpt_json_report(&m, &appb_policy, 1);
	struct buf gz;
	char back[8192];
	uLongf backlen = sizeof(back);
	z_stream z;

	(void)state;
	buf_init(&gz, 1 << 20);
	assert_int_equal(report_gzip(text, strlen(text), &gz), 0);
	assert_true(gz.len > 18);
	assert_int_equal(gz.data[0], 0x1f);
	assert_int_equal(gz.data[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = (Bytef *)back;
	z.avail_out = (uInt)backlen;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, strlen(text));
	assert_memory_equal(back, text, strlen(text));
	inflateEnd(&z);
	/* A bound too small: refused. */
	buf_reset(&gz);
	gz.max = 10;
	assert_int_equal(report_gzip(text, strlen(text), &gz), -1);
	buf_clear(&gz);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlsrpt_json_appendix_b),
		cmocka_unit_test(test_tlsrpt_json_tlsa_and_none),
		cmocka_unit_test(test_tlsrpt_json_names),
		cmocka_unit_test(test_tlsrpt_json_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
