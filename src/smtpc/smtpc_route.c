/* SPDX-License-Identifier: ISC */
/*
 * MX ordering for outbound delivery (RFC 5321 §5.1), null MX (RFC 7505) and
 * implicit MX. The records come from DNS and so from whoever runs the
 * domain: host names are length-checked and copied into fixed arrays, and
 * the list is capped at SMTPC_ROUTE_MAX_HOSTS.
 */
#include "smtpc/smtpc_route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns_rr.h"

static bool
smtpc_route_is_dot(const char *host)
{
	return host[0] == '\0' || strcmp(host, ".") == 0;
}

bool
smtpc_route_is_null_mx(const struct smtpc_mx *mx, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (mx[i].too_long || !smtpc_route_is_dot(mx[i].host))
			return false;
	return true;
}

size_t
smtpc_route_mx_from_answer(const struct dns_answer *ans, struct smtpc_mx *mx)
{
	size_t n = 0;

	for (size_t i = 0; i < ans->nrr; i++) {
		const struct dns_rr *rr = &ans->rr[i];
		size_t len;

		if (rr->type != DNS_T_MX || rr->u.mx.host == NULL)
			continue;
		memset(&mx[n], 0, sizeof(mx[n]));
		mx[n].pref = rr->u.mx.pref;
		if ((len = strlen(rr->u.mx.host)) > LIMIT_DOMAIN)
			mx[n].too_long = true;
		else
			memcpy(mx[n].host, rr->u.mx.host, len + 1);
		n++;
	}
	return n;
}

static uint32_t
smtpc_route_default_rand(uint32_t upper, void *arg)
{
	(void)arg;
	return arc4random_uniform(upper);
}

bool
smtpc_route_same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Insertion sort by preference (n is small and bounded); then shuffle each
 * run of equal preferences (Fisher-Yates) so load spreads over equal MXs. */
static void
smtpc_route_sort(struct smtpc_route *out, smtpc_route_rand_fn *rnd,
    void *arg)
{
	struct smtpc_mx tmp;
	size_t i, j, start, end;

	for (i = 1; i < out->nhosts; i++) {
		tmp = out->hosts[i];
		for (j = i; j > 0 && out->hosts[j - 1].pref > tmp.pref; j--)
			out->hosts[j] = out->hosts[j - 1];
		out->hosts[j] = tmp;
	}
	for (start = 0; start < out->nhosts; start = end) {
		for (end = start + 1; end < out->nhosts &&
		    out->hosts[end].pref == out->hosts[start].pref; end++)
			;
		for (i = end - 1; i > start; i--) {
			j = start + rnd((uint32_t)(i - start + 1), arg);
			tmp = out->hosts[i];
			out->hosts[i] = out->hosts[j];
			out->hosts[j] = tmp;
		}
	}
}

static bool
smtpc_route_usable(const struct smtpc_mx *m)
{
	return !m->too_long && !smtpc_route_is_dot(m->host) &&
	    strnlen(m->host, sizeof(m->host)) < sizeof(m->host);
}

/* RFC 5321 §5.1: our own preference among the records (UINT32_MAX when
 * we are not one of them). Every record counts, also those the cap on
 * hosts would drop. */
static uint32_t
smtpc_route_self_pref(const struct smtpc_mx *mx, size_t n, const char *self)
{
	uint32_t mine = UINT32_MAX;

	for (size_t i = 0; self != NULL && i < n; i++)
		if (smtpc_route_usable(&mx[i]) &&
		    smtpc_route_same_host(mx[i].host, self) && mx[i].pref < mine)
			mine = mx[i].pref;
	return mine;
}

/* Copy the usable records with a preference below below into out,
 * unsorted. When there are more than fit, the lowest preferences are
 * kept. */
static void
smtpc_route_collect(const struct smtpc_mx *mx, size_t n, uint32_t below,
    struct smtpc_route *out)
{
	size_t i, worst, k;

	for (i = 0; i < n; i++) {
		if (!smtpc_route_usable(&mx[i]) || mx[i].pref >= below)
			continue;
		if (out->nhosts < SMTPC_ROUTE_MAX_HOSTS) {
			out->hosts[out->nhosts++] = mx[i];
			continue;
		}
		for (worst = 0, k = 1; k < out->nhosts; k++)
			if (out->hosts[k].pref > out->hosts[worst].pref)
				worst = k;
		if (mx[i].pref < out->hosts[worst].pref)
			out->hosts[worst] = mx[i];
	}
}

enum smtpc_route_result
smtpc_route_plan(const char *domain, const struct smtpc_mx *mx, size_t n,
    const char *self, smtpc_route_rand_fn *rnd, void *rnd_arg,
    struct smtpc_route *out)
{
	size_t dlen = strnlen(domain, LIMIT_DOMAIN + 1);
	uint32_t mine;

	memset(out, 0, sizeof(*out));
	if (dlen == 0 || dlen > LIMIT_DOMAIN)
		return SMTPC_ROUTE_BAD_DOMAIN;
	if (rnd == NULL)
		rnd = smtpc_route_default_rand;
	if (smtpc_route_is_null_mx(mx, n))
		return SMTPC_ROUTE_NULL_MX;
	/* If we are among the MXs, only hosts with a strictly lower
	 * preference than ours may be tried; none left is a mail loop. */
	mine = smtpc_route_self_pref(mx, n, self);
	smtpc_route_collect(mx, n, mine, out);
	if (out->nhosts == 0 && mine != UINT32_MAX)
		return SMTPC_ROUTE_SELF;
	/* RFC 5321 §5.1: "If MX records are present, but none of them are
	 * usable, [...] this situation MUST be reported as an error." */
	if (out->nhosts == 0 && n > 0)
		return SMTPC_ROUTE_NO_USABLE;
	if (out->nhosts == 0) {
		/* RFC 5321 §5.1: no MX, so the domain is its own implicit MX
		 * with preference 0. */
		memcpy(out->hosts[0].host, domain, dlen);
		out->hosts[0].host[dlen] = '\0';
		out->hosts[0].pref = 0;
		out->nhosts = 1;
		out->implicit = true;
		return SMTPC_ROUTE_OK;
	}
	smtpc_route_sort(out, rnd, rnd_arg);
	return SMTPC_ROUTE_OK;
}
