/* SPDX-License-Identifier: ISC */
/* Unit tests for report_https_url: the https: rua URIs of TLS-RPT. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "report/report_https.h"

static void
test_report_https_url_ok(void **state)
{
	static const struct {
		const char *url, *host;
		unsigned port;
		const char *path;
	} ok[] = {
		{ "https://reports.example.com/tlsrpt", "reports.example.com",
		  443, "/tlsrpt" },
		{ "HTTPS://R.Example:8443/a/b?x=1#top", "r.example", 8443,
		  "/a/b?x=1" },
		{ "https://r.example", "r.example", 443, "/" },
		{ "https://r.example?q", "r.example", 443, "/?q" },
		{ "https://r.example:1/", "r.example", 1, "/" },
	};
	char host[256], path[REPORT_HTTPS_PATH_MAX + 2];
	unsigned port;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(report_https_url(ok[i].url, host,
		    sizeof(host), &port, path, sizeof(path)), 0);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
		assert_string_equal(path, ok[i].path);
	}
}

static void
test_report_https_url_refused(void **state)
{
	static const char *bad[] = {
		"http://r.example/", "mailto:a@b.example", "https://",
		"https:///x", "https://user@r.example/",
		"https://[2001:db8::1]/", "https://r.example:0/",
		"https://r.example:65536/", "https://r.example:x/",
		"https://r.example:443x", "https://r.ex ample/",
		"https://r.example/a b", "https://r.example/\x7f",
		"https://r.example/\r\nX: y", "https://r_x.example/",
	};
	char host[256], path[REPORT_HTTPS_PATH_MAX + 2], big[2100];
	unsigned port;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(report_https_url(bad[i], host, sizeof(host),
		    &port, path, sizeof(path)), -1);
	memcpy(big, "https://r.example/", 18);
	memset(big + 18, 'a', sizeof(big) - 19);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(report_https_url(big, host, sizeof(host), &port,
	    path, sizeof(path)), -1);
	assert_int_equal(report_https_url("https://r.example/", host, 5,
	    &port, path, sizeof(path)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_https_url_ok),
		cmocka_unit_test(test_report_https_url_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
