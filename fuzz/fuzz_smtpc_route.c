/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for MX answer handling on the way out: a DNS response
 * decoded as an MX answer (dns_rr_decode), its records taken by
 * smtpc_route_mx_from_answer() and ordered by smtpc_route_plan(), as the
 * queue runner's remote delivery does. Input: byte 0 picks the domain and
 * whether we are one of the MXs (our own name, "self"), bytes 1-2 seed the
 * shuffle, the rest is the packet. Invariants:
 *  - the result matches the records: null MX exactly when every record is
 *    "." (RFC 7505), the implicit MX (the domain itself) exactly when no
 *    usable record is left, SMTPC_ROUTE_SELF only when self is named;
 *  - hosts come in ascending preference, at most SMTPC_ROUTE_MAX_HOSTS,
 *    each one of the records (same name and preference), none ".";
 *  - no kept host has a preference at or above ours, and none dropped
 *    by the cap is better than one kept.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_rr.h"
#include "smtpc/smtpc_route.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const domains[] = {
	"example.test", "mx.example.test", "", "a.b.c.d.e.f.example",
};
static const char *const selves[] = {
	NULL, "mx.example.test", "MX1.example.test", "mail.example.test.",
};

/* A small deterministic generator, so a crash replays. */
static uint32_t
fuzz_rand(uint32_t upper, void *arg)
{
	uint32_t *st = arg;

	CHECK(upper > 0);
	*st = *st * 1103515245u + 12345u;
	return (*st >> 8) % upper;
}

static int
usable(const struct smtpc_mx *m)
{
	return !m->too_long && m->host[0] != '\0' &&
	    strcmp(m->host, ".") != 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer *ans;
	struct smtpc_mx *mx;
	struct smtpc_route r;
	enum smtpc_route_result res;
	const char *domain, *self;
	uint32_t seed;
	size_t n, nusable = 0;
	uint32_t mine = UINT32_MAX;

	if (size < 3)
		return 0;
	domain = domains[data[0] & 3];
	self = selves[(data[0] >> 2) & 3];
	seed = (uint32_t)data[1] << 8 | data[2];
	ans = dns_answer_new();
	(void)dns_rr_decode(data + 3, size - 3, DNS_T_MX, ans);
	mx = calloc(ans->nrr + 1, sizeof(*mx));
	CHECK(mx != NULL);
	n = smtpc_route_mx_from_answer(ans, mx);
	CHECK(n <= ans->nrr);
	for (size_t i = 0; i < n; i++) {
		CHECK(strlen(mx[i].host) <= LIMIT_DOMAIN);
		if (!usable(&mx[i]))
			continue;
		nusable++;
		if (self != NULL && smtpc_route_same_host(mx[i].host, self) &&
		    mx[i].pref < mine)
			mine = mx[i].pref;
	}
	res = smtpc_route_plan(domain, mx, n, self, fuzz_rand, &seed, &r);
	if (domain[0] == '\0') {
		CHECK(res == SMTPC_ROUTE_BAD_DOMAIN);
		goto out;
	}
	if (n > 0 && nusable == 0 && smtpc_route_is_null_mx(mx, n)) {
		CHECK(res == SMTPC_ROUTE_NULL_MX);
		goto out;
	}
	/* RFC 5321 §5.1: records but none usable is an error. */
	if (n > 0 && nusable == 0) {
		CHECK(res == SMTPC_ROUTE_NO_USABLE);
		goto out;
	}
	CHECK(res == SMTPC_ROUTE_OK || res == SMTPC_ROUTE_SELF);
	CHECK(r.nhosts <= SMTPC_ROUTE_MAX_HOSTS);
	if (n == 0) {
		CHECK(res == SMTPC_ROUTE_OK && r.implicit && r.nhosts == 1);
		CHECK(strcmp(r.hosts[0].host, domain) == 0);
		goto out;
	}
	CHECK(!r.implicit);
	if (res == SMTPC_ROUTE_SELF) {
		CHECK(self != NULL && mine != UINT32_MAX && r.nhosts == 0);
		goto out;
	}
	CHECK(r.nhosts >= 1);
	for (size_t k = 0; k < r.nhosts; k++) {
		bool found = false;

		CHECK(usable(&r.hosts[k]));
		CHECK(r.hosts[k].pref < mine);
		CHECK(k == 0 || r.hosts[k - 1].pref <= r.hosts[k].pref);
		for (size_t i = 0; i < n && !found; i++)
			found = mx[i].pref == r.hosts[k].pref &&
			    strcmp(mx[i].host, r.hosts[k].host) == 0;
		CHECK(found);
	}
	/* The cap keeps the best: a usable record left out is no better
	 * than the worst kept one (unless it was ours or above). */
	if (self == NULL && nusable > SMTPC_ROUTE_MAX_HOSTS) {
		CHECK(r.nhosts == SMTPC_ROUTE_MAX_HOSTS);
		for (size_t i = 0; i < n; i++) {
			bool kept = false;
			for (size_t k = 0; k < r.nhosts && !kept; k++)
				kept = mx[i].pref == r.hosts[k].pref &&
				    strcmp(mx[i].host, r.hosts[k].host) == 0;
			CHECK(kept || !usable(&mx[i]) ||
			    mx[i].pref >= r.hosts[r.nhosts - 1].pref);
		}
	} else if (self == NULL)
		CHECK(r.nhosts == nusable);
out:
	free(mx);
	dns_answer_free(ans);
	return 0;
}
