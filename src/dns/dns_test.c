/* SPDX-License-Identifier: ISC */
/*
 * Tests of the DNS module against a real authoritative server: the suite
 * starts NSD with tests/dns/zones through tests/dns/dnsserver.py on a free
 * loopback port (run from the repository root, or set SEALMAIL_SRCDIR),
 * and stops it at the end. Without nsd/ldnsutils every test is skipped
 * with a message. Runs inside `unshare --net` with only lo up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "dns/dns.h"
#include "testdns.h"

static struct {
	struct testdns		 ns;
	struct event_base	*base;
} dnst;

/* Set while dns_query() runs: a callback seeing it ran re-entrantly. */
static bool dnst_in_query;

struct dnst_res {
	struct dns_answer	*ans;
	int			 calls;
};

static int
dnst_setup(void **state)
{
	(void)state;
	if (testdns_start(&dnst.ns, "dns_test") == -1)
		return -1;
	if (dnst.ns.skip)
		return 0;
	dnst.base = event_base_new();
	return dnst.base != NULL ? 0 : -1;
}

static int
dnst_teardown(void **state)
{
	(void)state;
	if (dnst.base != NULL)
		event_base_free(dnst.base);
	return testdns_stop(&dnst.ns);
}

static void
dnst_conf(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->dns_resolver = dnst.ns.resolver;
	c->dns_unbound_config = dnst.ns.ubconf;
}

static struct dns_resolver *
dnst_resolver(void)
{
	struct dns_resolver *res;
	struct conf c;
	char err[256];

	if (dnst.ns.skip)
		skip();
	dnst_conf(&c);
	res = dns_resolver_new(dnst.base, &c, err, sizeof(err));
	if (res == NULL)
		fail_msg("dns_resolver_new: %s", err);
	return res;
}

static void
dnst_cb(struct dns_answer *ans, void *arg)
{
	struct dnst_res *r = arg;

	assert_false(dnst_in_query);
	r->calls++;
	dns_answer_free(r->ans);
	r->ans = ans;
	event_base_loopbreak(dnst.base);
}

static struct dns_query *
dnst_start(struct dns_resolver *res, const char *name, uint16_t type,
    unsigned ms, struct dnst_res *r)
{
	struct dns_query *q;

	dnst_in_query = true;
	q = dns_query(res, name, type, ms, dnst_cb, r);
	dnst_in_query = false;
	return q;
}

/* Run one lookup to its answer (owned by the caller). */
static struct dns_answer *
dnst_lookup(struct dns_resolver *res, const char *name, uint16_t type,
    unsigned ms)
{
	struct dnst_res r = { NULL, 0 };

	assert_non_null(dnst_start(res, name, type, ms, &r));
	assert_int_equal(r.calls, 0);
	while (r.calls == 0)
		assert_int_equal(event_base_dispatch(dnst.base), 0);
	assert_int_equal(r.calls, 1);
	assert_non_null(r.ans);
	assert_int_equal(r.ans->qtype, type);
	return r.ans;
}

/* Let the loop run for ms milliseconds. */
static void
dnst_run_for(unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	event_base_loopexit(dnst.base, &tv);
	event_base_dispatch(dnst.base);
}

static void
test_txt_join(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	a = dnst_lookup(res, "sel1._domainkey.example.test", DNS_T_TXT, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.txt.nstrings, 2);
	assert_int_equal(a->rr[0].u.txt.len, 410);
	assert_int_equal(strlen(a->rr[0].u.txt.text), 410);
	assert_memory_equal(a->rr[0].u.txt.text, "v=DKIM1; k=rsa; p=MIIB", 22);
	/* RFC 7208 §3.3: no space where the two strings meet. */
	assert_null(strchr(a->rr[0].u.txt.text + 18, ' '));
	dns_answer_free(a);
	/* 20 strings, 3 KB: truncated over UDP, then TCP. */
	a = dnst_lookup(res, "big.example.test", DNS_T_TXT, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.txt.nstrings, 20);
	assert_int_equal(a->rr[0].u.txt.len, 20 * 150);
	assert_memory_equal(a->rr[0].u.txt.text + 150, "01xxx", 5);
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_mx(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;
	unsigned seen = 0;

	(void)state;
	a = dnst_lookup(res, "example.test", DNS_T_MX, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->sec, DNS_SEC_INSECURE);
	assert_int_equal(a->nrr, 2);
	for (size_t i = 0; i < a->nrr; i++) {
		assert_int_equal(a->rr[i].type, DNS_T_MX);
		if (a->rr[i].u.mx.pref == 10) {
			assert_string_equal(a->rr[i].u.mx.host,
			    "mx1.example.test");
			seen |= 1;
		} else {
			assert_int_equal(a->rr[i].u.mx.pref, 20);
			assert_string_equal(a->rr[i].u.mx.host,
			    "mx2.example.test");
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	dns_answer_free(a);
	/* RFC 7505 null MX: one record, preference 0, host ".". */
	a = dnst_lookup(res, "nullmx.example.test.", DNS_T_MX, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.mx.pref, 0);
	assert_string_equal(a->rr[0].u.mx.host, ".");
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_a_aaaa_cname(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
	static const uint8_t v4[4] = { 192, 0, 2, 10 };
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	a = dnst_lookup(res, "mx1.example.test", DNS_T_A, 3000);
	assert_int_equal(a->nrr, 1);
	assert_memory_equal(a->rr[0].u.a, v4, 4);
	assert_int_equal(a->rr[0].ttl, 300);
	dns_answer_free(a);
	a = dnst_lookup(res, "MX1.Example.TEST", DNS_T_AAAA, 3000);
	assert_int_equal(a->nrr, 1);
	assert_memory_equal(a->rr[0].u.aaaa, v6, 16);
	dns_answer_free(a);
	/* alias -> alias2 -> mx1 */
	a = dnst_lookup(res, "alias.example.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->ncname, 2);
	assert_string_equal(a->qname, "alias.example.test");
	assert_string_equal(a->canon, "mx1.example.test");
	assert_int_equal(a->nrr, 1);
	assert_memory_equal(a->rr[0].u.a, v4, 4);
	dns_answer_free(a);
	/* c0 .. c10 -> mx1: 11 hops, over DNS_CNAME_MAX. */
	a = dnst_lookup(res, "c0.example.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(a->nrr, 0);
	dns_answer_free(a);
	/* NODATA: the name exists, the type does not. */
	a = dnst_lookup(res, "mx2.example.test", DNS_T_TLSA, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 0);
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_ptr(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	a = dnst_lookup(res, "10.2.0.192.in-addr.arpa", DNS_T_PTR, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.name, "mx1.example.test");
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
dnst_check_tlsa(struct dns_resolver *res, const char *name,
    enum dns_sec want)
{
	struct dns_answer *a = dnst_lookup(res, name, DNS_T_TLSA, 3000);

	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	if (a->sec != want)
		fail_msg("%s: sec %s, want %s (%s)", name,
		    dns_sec_name(a->sec), dns_sec_name(want),
		    a->why != NULL ? a->why : "");
	/* Bogus data is delivered too: sec is what tells. */
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.tlsa.usage, 3);
	assert_int_equal(a->rr[0].u.tlsa.selector, 1);
	assert_int_equal(a->rr[0].u.tlsa.mtype, 1);
	assert_int_equal(a->rr[0].u.tlsa.len, 32);
	if (want == DNS_SEC_BOGUS)
		assert_non_null(a->why);
	dns_answer_free(a);
}

static void
test_tlsa_dnssec(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	dnst_check_tlsa(res, "_25._tcp.mx.secure.test", DNS_SEC_SECURE);
	dnst_check_tlsa(res, "_25._tcp.mx.bogus.test", DNS_SEC_BOGUS);
	dnst_check_tlsa(res, "_25._tcp.mx.insecure.secure.test",
	    DNS_SEC_INSECURE);
	dnst_check_tlsa(res, "_25._tcp.mx1.example.test", DNS_SEC_INSECURE);
	/* Other records of the bogus zone still validate. */
	a = dnst_lookup(res, "mx.bogus.test", DNS_T_A, 3000);
	assert_int_equal(a->sec, DNS_SEC_SECURE);
	dns_answer_free(a);
	dns_resolver_free(res);
}

/* [dns] trust_anchor as a file instead of unbound_config lines. */
static void
test_trust_anchor_file(void **state)
{
	struct dns_resolver *res;
	struct dns_answer *a;
	struct conf c;
	char err[256];

	(void)state;
	if (dnst.ns.skip)
		skip();
	dnst_conf(&c);
	c.dns_unbound_config = NULL;
	c.dns_trust_anchor = dnst.ns.anchors;
	res = dns_resolver_new(dnst.base, &c, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s", err);
	a = dnst_lookup(res, "_25._tcp.mx.secure.test", DNS_T_TLSA, 3000);
	assert_int_equal(a->sec, DNS_SEC_SECURE);
	dns_answer_free(a);
	dns_resolver_free(res);
	/* No anchor at all: nothing validates. */
	c.dns_trust_anchor = "";
	res = dns_resolver_new(dnst.base, &c, err, sizeof(err));
	assert_non_null(res);
	a = dnst_lookup(res, "_25._tcp.mx.secure.test", DNS_T_TLSA, 3000);
	assert_int_equal(a->sec, DNS_SEC_INSECURE);
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_nxdomain(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	/* libunbound reports NXDOMAIN with rcode 0; it is in the packet. */
	a = dnst_lookup(res, "nope.example.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(a->nrr, 0);
	dns_answer_free(a);
	a = dnst_lookup(res, "nope.secure.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(a->sec, DNS_SEC_SECURE);	/* NSEC-proven */
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_servfail(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;

	(void)state;
	a = dnst_lookup(res, "www.servfail.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(a->nrr, 0);
	assert_string_equal(a->qname, "www.servfail.test");
	dns_answer_free(a);
	a = dnst_lookup(res, "_dmarc.broken.example.test", DNS_T_TXT, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_SERVFAIL);
	dns_answer_free(a);
	a = dnst_lookup(res, "_dmarc.example.test", DNS_T_TXT, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	dns_answer_free(a);
	dns_resolver_free(res);
}

static double
dnst_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_timeout(void **state)
{
	/* A fresh resolver: the infra cache marks the black hole down after
	 * the first miss (dns-testing.md, pitfall 6). */
	struct dns_resolver *res = dnst_resolver();
	struct dns_answer *a;
	double t0 = dnst_now(), dt;

	(void)state;
	a = dnst_lookup(res, "x.blackhole.test", DNS_T_A, 300);
	dt = dnst_now() - t0;
	assert_int_equal(a->rcode, DNS_RCODE_TIMEOUT);
	assert_int_equal(a->nrr, 0);
	assert_true(dt >= 0.29 && dt < 1.5);
	dns_answer_free(a);
	/* The server holding real data is not affected. */
	a = dnst_lookup(res, "mx1.example.test", DNS_T_A, 3000);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	dns_answer_free(a);
	dns_resolver_free(res);
}

static void
test_cancel(void **state)
{
	struct dns_resolver *res = dnst_resolver();
	struct dnst_res r = { NULL, 0 };
	struct dns_query *q;

	(void)state;
	/* In flight. */
	q = dnst_start(res, "mx2.example.test", DNS_T_AAAA, 3000, &r);
	assert_non_null(q);
	dns_query_cancel(q);
	dnst_run_for(200);
	assert_int_equal(r.calls, 0);
	/* Cached: libunbound answers inside ub_resolve_event(); the callback
	 * still waits for the loop, so cancel still wins. */
	dns_answer_free(dnst_lookup(res, "mx1.example.test", DNS_T_A, 3000));
	q = dnst_start(res, "mx1.example.test", DNS_T_A, 3000, &r);
	assert_non_null(q);
	assert_int_equal(r.calls, 0);
	dns_query_cancel(q);
	dnst_run_for(50);
	assert_int_equal(r.calls, 0);
	/* Cached and not cancelled: exactly one call, from the loop. */
	assert_non_null(dnst_start(res, "mx1.example.test", DNS_T_A, 3000,
	    &r));
	assert_int_equal(r.calls, 0);
	dnst_run_for(50);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.ans->nrr, 1);
	dns_answer_free(r.ans);
	/* Freeing the resolver drops pending queries without callbacks. */
	r.ans = NULL;
	r.calls = 0;
	assert_non_null(dnst_start(res, "mx1.example.test", DNS_T_A, 3000,
	    &r));
	assert_non_null(dnst_start(res, "example.test", DNS_T_MX, 3000, &r));
	dns_resolver_free(res);
	dnst_run_for(50);
	assert_int_equal(r.calls, 0);
}

static void
test_sync(void **state)
{
	struct dns_answer *a = NULL;
	struct conf c;

	(void)state;
	if (dnst.ns.skip)
		skip();
	dnst_conf(&c);
	assert_int_equal(dns_query_sync(&c, "mx2.example.test", DNS_T_A, 3000,
	    &a), 0);
	assert_non_null(a);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.a[3], 20);
	dns_answer_free(a);
	assert_int_equal(dns_query_sync(&c, "a..b", DNS_T_A, 3000, &a), -1);
	assert_null(a);
}

static void
test_bad_config(void **state)
{
	struct dns_resolver *res;
	struct conf c;
	char err[256];

	(void)state;
	if (dnst.ns.skip)
		skip();
	dnst_conf(&c);
	c.dns_resolver = "127.0.0.1@99999";
	assert_null(dns_resolver_new(dnst.base, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "ADDR[@PORT]"));
	c.dns_resolver = "not-an-address";
	assert_null(dns_resolver_new(dnst.base, &c, err, sizeof(err)));
	c.dns_resolver = " , ";
	assert_null(dns_resolver_new(dnst.base, &c, err, sizeof(err)));
	c.dns_resolver = dnst.ns.resolver;
	c.dns_trust_anchor = "/nonexistent/root.key";
	assert_null(dns_resolver_new(dnst.base, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "trust_anchor"));
	c.dns_trust_anchor = NULL;
	c.dns_unbound_config = "/nonexistent/unbound.conf";
	assert_null(dns_resolver_new(dnst.base, &c, err, sizeof(err)));
	assert_non_null(strstr(err, "unbound_config"));
	/* "system" reads /etc/resolv.conf. */
	c.dns_unbound_config = NULL;
	if (access("/etc/resolv.conf", R_OK) == 0) {
		c.dns_resolver = "system";
		res = dns_resolver_new(dnst.base, &c, err, sizeof(err));
		if (res == NULL)
			fail_msg("%s", err);
		dns_resolver_free(res);
	}
	/* Several forwarders, IPv6 included. */
	c.dns_unbound_config = NULL;
	c.dns_resolver = "::1@53, 127.0.0.1";
	res = dns_resolver_new(dnst.base, &c, err, sizeof(err));
	if (res == NULL)
		fail_msg("%s", err);
	/* Refused queries: no callback ever. */
	assert_null(dns_query(res, "a..b", DNS_T_A, 100, dnst_cb, NULL));
	assert_null(dns_query(res, "", DNS_T_A, 100, dnst_cb, NULL));
	assert_null(dns_query(res, "example.test", 6 /* SOA */, 100, dnst_cb,
	    NULL));
	dns_resolver_free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_join),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_a_aaaa_cname),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_tlsa_dnssec),
		cmocka_unit_test(test_trust_anchor_file),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_servfail),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests(tests, dnst_setup, dnst_teardown);
}
