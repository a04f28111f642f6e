/* SPDX-License-Identifier: ISC */
/* Unit tests for MX ordering: preference order, shuffling among equal
 * preferences, null MX, implicit MX, our own name among the MXs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dns/dns_rr.h"
#include "smtpc/smtpc_route.h"

/* Deterministic "random": always the upper bound minus one (no swap
 * partner other than itself is picked when it returns i). */
static uint32_t
rtt_last(uint32_t upper, void *arg)
{
	(void)arg;
	return upper - 1;
}

/* Always 0: reverses the order of each equal-preference run's tail. */
static uint32_t
rtt_zero(uint32_t upper, void *arg)
{
	(void)upper;
	(void)arg;
	return 0;
}

static void
rtt_mx(struct smtpc_mx *mx, uint16_t pref, const char *host)
{
	mx->pref = pref;
	mx->too_long = false;
	snprintf(mx->host, sizeof(mx->host), "%s", host);
}

static void
test_order(void **state)
{
	struct smtpc_mx mx[4];
	struct smtpc_route r;

	(void)state;
	rtt_mx(&mx[0], 20, "b.example");
	rtt_mx(&mx[1], 10, "a.example");
	rtt_mx(&mx[2], 30, "c.example");
	rtt_mx(&mx[3], 20, "b2.example");
	assert_int_equal(smtpc_route_plan("example", mx, 4, NULL, rtt_last,
	    NULL, &r), SMTPC_ROUTE_OK);
	assert_int_equal(r.nhosts, 4);
	assert_false(r.implicit);
	assert_string_equal(r.hosts[0].host, "a.example");
	assert_string_equal(r.hosts[1].host, "b.example");
	assert_string_equal(r.hosts[2].host, "b2.example");
	assert_string_equal(r.hosts[3].host, "c.example");
	assert_int_equal(smtpc_route_plan("example", mx, 4, NULL, rtt_zero,
	    NULL, &r), SMTPC_ROUTE_OK);
	assert_string_equal(r.hosts[1].host, "b2.example");
	assert_string_equal(r.hosts[2].host, "b.example");
}

static void
test_shuffle_spreads(void **state)
{
	struct smtpc_mx mx[3];
	struct smtpc_route r;
	int first[3] = { 0, 0, 0 }, i;

	(void)state;
	rtt_mx(&mx[0], 10, "x0");
	rtt_mx(&mx[1], 10, "x1");
	rtt_mx(&mx[2], 10, "x2");
	for (i = 0; i < 300; i++) {
		assert_int_equal(smtpc_route_plan("d", mx, 3, NULL, NULL, NULL,
		    &r), SMTPC_ROUTE_OK);
		first[r.hosts[0].host[1] - '0']++;
	}
	/* Each should lead about 100 times; 30 is far outside chance. */
	for (i = 0; i < 3; i++)
		assert_true(first[i] > 30);
}

static void
test_null_and_implicit(void **state)
{
	struct smtpc_mx mx[2];
	struct smtpc_route r;

	(void)state;
	rtt_mx(&mx[0], 0, ".");
	assert_true(smtpc_route_is_null_mx(mx, 1));
	assert_int_equal(smtpc_route_plan("nomail.example", mx, 1, NULL, NULL,
	    NULL, &r), SMTPC_ROUTE_NULL_MX);
	rtt_mx(&mx[0], 0, "");
	assert_int_equal(smtpc_route_plan("nomail.example", mx, 1, NULL, NULL,
	    NULL, &r), SMTPC_ROUTE_NULL_MX);
	/* A "." mixed with a real MX is ignored. */
	rtt_mx(&mx[1], 10, "mx.example");
	assert_false(smtpc_route_is_null_mx(mx, 2));
	assert_int_equal(smtpc_route_plan("example", mx, 2, NULL, NULL, NULL,
	    &r), SMTPC_ROUTE_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].host, "mx.example");
	/* MX records, none usable: an error (RFC 5321 §5.1), never the
	 * implicit MX. */
	rtt_mx(&mx[1], 10, "x.example");
	mx[1].too_long = true;
	assert_false(smtpc_route_is_null_mx(mx, 2));
	assert_int_equal(smtpc_route_plan("example", mx, 2, NULL, NULL, NULL,
	    &r), SMTPC_ROUTE_NO_USABLE);
	assert_int_equal(smtpc_route_plan("example", &mx[1], 1, NULL, NULL,
	    NULL, &r), SMTPC_ROUTE_NO_USABLE);
	/* No MX at all: the domain itself. */
	assert_false(smtpc_route_is_null_mx(mx, 0));
	assert_int_equal(smtpc_route_plan("plain.example", NULL, 0, NULL,
	    NULL, NULL, &r), SMTPC_ROUTE_OK);
	assert_true(r.implicit);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].host, "plain.example");
	assert_int_equal(smtpc_route_plan("", NULL, 0, NULL, NULL, NULL, &r),
	    SMTPC_ROUTE_BAD_DOMAIN);
}

static void
test_self_and_cap(void **state)
{
	struct smtpc_mx mx[SMTPC_ROUTE_MAX_HOSTS + 4];
	struct smtpc_route r;
	char name[32];
	size_t i;

	(void)state;
	rtt_mx(&mx[0], 10, "a.example");
	rtt_mx(&mx[1], 20, "Me.Example.");
	rtt_mx(&mx[2], 30, "c.example");
	assert_int_equal(smtpc_route_plan("example", mx, 3, "me.example",
	    rtt_last, NULL, &r), SMTPC_ROUTE_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].host, "a.example");
	rtt_mx(&mx[0], 20, "me.example");
	assert_int_equal(smtpc_route_plan("example", mx, 3, "me.example",
	    rtt_last, NULL, &r), SMTPC_ROUTE_SELF);
	/* Too many records: the best SMTPC_ROUTE_MAX_HOSTS are kept. */
	for (i = 0; i < SMTPC_ROUTE_MAX_HOSTS + 4; i++) {
		snprintf(name, sizeof(name), "mx%zu.example", i);
		rtt_mx(&mx[i], (uint16_t)(1000 - i), name);
	}
	assert_int_equal(smtpc_route_plan("example", mx,
	    SMTPC_ROUTE_MAX_HOSTS + 4, NULL, rtt_last, NULL, &r),
	    SMTPC_ROUTE_OK);
	assert_int_equal(r.nhosts, SMTPC_ROUTE_MAX_HOSTS);
	assert_string_equal(r.hosts[0].host, "mx19.example");
	assert_int_equal(r.hosts[SMTPC_ROUTE_MAX_HOSTS - 1].pref, 1000 - 4);
}

/* RFC 5321 §5.1 looks at every record for our own name, also ones the
 * cap would drop: here we are one of 17 MXs of equal preference, so no
 * record may be tried (they used to be, when ours came after the cap). */
static void
test_self_beyond_cap(void **state)
{
	struct smtpc_mx mx[SMTPC_ROUTE_MAX_HOSTS + 2];
	struct smtpc_route r;
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < SMTPC_ROUTE_MAX_HOSTS; i++) {
		snprintf(name, sizeof(name), "mx%zu.example", i);
		rtt_mx(&mx[i], 10, name);
	}
	rtt_mx(&mx[i++], 10, "me.example");
	assert_int_equal(smtpc_route_plan("example", mx, i, "me.example",
	    rtt_last, NULL, &r), SMTPC_ROUTE_SELF);
	assert_int_equal(r.nhosts, 0);
	/* With a better one (which the cap keeps), only that is left. */
	rtt_mx(&mx[i++], 5, "best.example");
	assert_int_equal(smtpc_route_plan("example", mx, i, "me.example",
	    rtt_last, NULL, &r), SMTPC_ROUTE_OK);
	assert_int_equal(r.nhosts, 1);
	assert_string_equal(r.hosts[0].host, "best.example");
}

/* An MX answer as the resolver gives it: records of other types are
 * skipped, and an exchange too long for a host name (\DDD escapes make
 * up to 1020 characters) is dropped rather than cut into another name. */
static void
test_from_answer(void **state)
{
	struct dns_answer a = { .rcode = DNS_RCODE_NOERROR, .qtype = DNS_T_MX };
	struct dns_rr rr[4];
	struct smtpc_mx mx[4];
	char longname[4 * LIMIT_DOMAIN], cname[] = "alias.example";

	(void)state;
	memset(rr, 0, sizeof(rr));
	memset(longname, 0, sizeof(longname));
	for (size_t i = 0; i + 4 < sizeof(longname); i += 4)
		memcpy(longname + i, "\\046", 4);
	rr[0].type = DNS_T_MX;
	rr[0].u.mx.pref = 10;
	rr[0].u.mx.host = longname;
	rr[1].type = DNS_T_CNAME;
	rr[1].u.name = cname;
	rr[2].type = DNS_T_MX;
	rr[2].u.mx.pref = 20;
	rr[2].u.mx.host = (char *)"mx2.example";
	rr[3].type = DNS_T_MX;
	rr[3].u.mx.pref = 0;
	rr[3].u.mx.host = (char *)".";
	a.rr = rr;
	a.nrr = 4;
	/* The over-long exchange stays a record, marked, with no host. */
	assert_int_equal(smtpc_route_mx_from_answer(&a, mx), 3);
	assert_true(mx[0].too_long);
	assert_string_equal(mx[0].host, "");
	assert_int_equal(mx[1].pref, 20);
	assert_string_equal(mx[1].host, "mx2.example");
	assert_false(mx[1].too_long);
	assert_int_equal(mx[2].pref, 0);
	assert_string_equal(mx[2].host, ".");
	/* Alone, it is no usable MX: an error, not the implicit MX (before,
	 * it was dropped and the domain itself was tried). */
	a.nrr = 1;
	assert_int_equal(smtpc_route_mx_from_answer(&a, mx), 1);
	{
		struct smtpc_route r;
		assert_int_equal(smtpc_route_plan("example", mx, 1, NULL, NULL,
		    NULL, &r), SMTPC_ROUTE_NO_USABLE);
	}
	/* Exactly LIMIT_DOMAIN characters still fit. */
	memset(longname, 'a', LIMIT_DOMAIN);
	longname[LIMIT_DOMAIN] = '\0';
	a.nrr = 1;
	assert_int_equal(smtpc_route_mx_from_answer(&a, mx), 1);
	assert_int_equal(strlen(mx[0].host), LIMIT_DOMAIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_shuffle_spreads),
		cmocka_unit_test(test_null_and_implicit),
		cmocka_unit_test(test_self_and_cap),
		cmocka_unit_test(test_self_beyond_cap),
		cmocka_unit_test(test_from_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
