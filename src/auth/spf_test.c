/* SPDX-License-Identifier: ISC */
/*
 * Tests of the asynchronous SPF check against a real authoritative server:
 * NSD with tests/dns/zones started by tests/dns/dnsserver.py (run from the
 * repository root or set SEALMAIL_SRCDIR); skipped with a message when nsd
 * or ldnsutils is missing. example.test publishes
 * "v=spf1 ip4:192.0.2.0/24 include:_spf.example.test -all" and
 * _spf.example.test "v=spf1 ip6:2001:db8::/32 ~all". The full scenario set
 * is tests/auth/test_spf_crosscheck.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/spf.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "testdns.h"

static struct {
	struct testdns		 ns;
	struct event_base	*base;
} spft;

/* Set while spf_check_start() runs: the callback must never see it. */
static bool spft_in_start;

struct spft_res {
	struct spf_outcome	out;
	int			calls;
};

static int
spft_setup(void **state)
{
	(void)state;
	if (testdns_start(&spft.ns, "spf_test") == -1)
		return -1;
	if (spft.ns.skip)
		return 0;
	spft.base = event_base_new();
	return spft.base != NULL ? 0 : -1;
}

static int
spft_teardown(void **state)
{
	(void)state;
	if (spft.base != NULL)
		event_base_free(spft.base);
	return testdns_stop(&spft.ns);
}

static void
spft_conf(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->dns_resolver = spft.ns.resolver;
	c->dns_unbound_config = spft.ns.ubconf;
}

static void
spft_cb(const struct spf_outcome *out, void *arg)
{
	struct spft_res *r = arg;

	assert_false(spft_in_start);
	r->calls++;
	r->out = *out;
	event_base_loopbreak(spft.base);
}

static void
spft_addr(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
}

/* Run one asynchronous check to its end. */
static void
spft_check(const char *ip, const char *helo, const char *from, bool helo_only,
    struct spft_res *r)
{
	struct sockaddr_storage ss;
	struct spf_request req = { 0 };
	struct dns_resolver *res;
	struct spf_query *q;
	struct conf c;
	char err[256];

	if (spft.ns.skip)
		skip();
	spft_conf(&c);
	assert_non_null(res = dns_resolver_new(spft.base, &c, err,
	    sizeof(err)));
	spft_addr(ip, &ss);
	req.ip = (struct sockaddr *)&ss;
	req.helo = helo;
	req.mail_from = from;
	req.receiver = "mx.test";
	req.timeout_ms = 3000;
	memset(r, 0, sizeof(*r));
	spft_in_start = true;
	q = helo_only ? spf_check_helo_start(spft.base, res, &req, spft_cb, r) :
	    spf_check_start(spft.base, res, &req, spft_cb, r);
	spft_in_start = false;
	assert_non_null(q);
	while (r->calls == 0)
		assert_int_equal(event_base_dispatch(spft.base), 0);
	assert_int_equal(r->calls, 1);
	dns_resolver_free(res);
}

static void
test_pass_fail(void **state)
{
	struct spft_res r;

	(void)state;
	spft_check("192.0.2.5", "client.test", "u@example.test", false, &r);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_int_equal(r.out.identity, SPF_ID_MAILFROM);
	assert_string_equal(r.out.domain, "example.test");
	assert_string_equal(r.out.mechanism, "ip4:192.0.2.0/24");
	spft_check("2001:db8::1", "client.test", "u@EXAMPLE.test", false, &r);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_string_equal(r.out.mechanism, "include:_spf.example.test");
	assert_int_equal(r.out.lookups, 1);
	spft_check("2001:db9::1", "client.test", "u@example.test", false, &r);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_string_equal(r.out.mechanism, "-all");
	assert_string_equal(r.out.explanation, "");
	spft_check("::ffff:198.51.100.1", "client.test", "u@example.test",
	    false, &r);
	assert_int_equal(r.out.result, SPF_FAIL);
}

static void
test_identities(void **state)
{
	struct spft_res r;

	(void)state;
	/* §2.4: the null sender is checked as postmaster@HELO. */
	spft_check("192.0.2.5", "example.test", "", false, &r);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_int_equal(r.out.identity, SPF_ID_HELO);
	assert_string_equal(r.out.sender, "postmaster@example.test");
	spft_check("192.0.2.5", "example.test", "u@nope.test", true, &r);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_int_equal(r.out.identity, SPF_ID_HELO);
	/* §4.3: a sender without local part gets "postmaster". */
	spft_check("192.0.2.5", "x.test", "@example.test", false, &r);
	assert_string_equal(r.out.sender, "postmaster@example.test");
	assert_int_equal(r.out.result, SPF_PASS);
}

/* RFC 8616 §4: %{l} and %{s} of a non-ASCII local part match nothing
 * (idnspf: "exists:%{l}.w.example.test -all", *.w has an A record). */
static void
test_utf8_local_part(void **state)
{
	struct spft_res r;

	(void)state;
	spft_check("192.0.2.5", "x.test", "joe@idnspf.example.test", false, &r);
	assert_int_equal(r.out.result, SPF_PASS);
	spft_check("192.0.2.5", "x.test", "j\xc3\xb6rg@idnspf.example.test",
	    false, &r);
	assert_int_equal(r.out.result, SPF_FAIL);
}

static void
test_none_and_errors(void **state)
{
	struct spft_res r;

	(void)state;
	spft_check("192.0.2.5", "x.test", "u@nope.example.test", false, &r);
	assert_int_equal(r.out.result, SPF_NONE);
	spft_check("192.0.2.5", "x.test", "u@localhost", false, &r);
	assert_int_equal(r.out.result, SPF_NONE);
	spft_check("192.0.2.5", "[192.0.2.5]", NULL, false, &r);
	assert_int_equal(r.out.result, SPF_NONE);
	spft_check("192.0.2.5", "x.test", "u@a.servfail.test", false, &r);
	assert_int_equal(r.out.result, SPF_TEMPERROR);
	assert_true(r.out.problem[0] != '\0');
}

static void
test_cancel(void **state)
{
	struct sockaddr_storage ss;
	struct spf_request req = { 0 };
	struct spft_res r = { .calls = 0 };
	struct dns_resolver *res;
	struct spf_query *q;
	struct timeval tv = { 0, 300000 };
	struct conf c;
	char err[256];

	(void)state;
	if (spft.ns.skip)
		skip();
	spft_conf(&c);
	assert_non_null(res = dns_resolver_new(spft.base, &c, err,
	    sizeof(err)));
	spft_addr("192.0.2.5", &ss);
	req.ip = (struct sockaddr *)&ss;
	req.helo = "x.test";
	req.mail_from = "u@example.test";
	assert_non_null(q = spf_check_start(spft.base, res, &req, spft_cb,
	    &r));
	spf_cancel(q);
	spf_cancel(NULL);
	event_base_loopexit(spft.base, &tv);
	event_base_dispatch(spft.base);
	assert_int_equal(r.calls, 0);
	dns_resolver_free(res);
	/* Not an IP address family: refused. */
	ss.ss_family = AF_UNIX;
	assert_null(spf_check_start(spft.base, NULL, &req, spft_cb, &r));
}

static void
test_sync(void **state)
{
	struct sockaddr_storage ss;
	struct spf_request req = { 0 };
	struct spf_outcome out;
	struct conf c;

	(void)state;
	if (spft.ns.skip)
		skip();
	spft_conf(&c);
	spft_addr("192.0.2.77", &ss);
	req.ip = (struct sockaddr *)&ss;
	req.helo = "x.test";
	req.mail_from = "u@example.test";
	assert_int_equal(spf_check_sync(&c, &req, 0, &out), 0);
	assert_int_equal(out.result, SPF_PASS);
	assert_string_equal(spf_result_name(out.result), "pass");
	assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_fail),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_utf8_local_part),
		cmocka_unit_test(test_none_and_errors),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_sync),
	};

	return cmocka_run_group_tests(tests, spft_setup, spft_teardown);
}
