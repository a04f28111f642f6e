/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for DMARC evaluation without DNS (auth/dmarc): Author
 * Domain extraction from the header section (dmarc_author_domains), then
 * the pure core (dmarc_ctx_step / dmarc_ctx_feed) with every lookup it
 * asks for answered from a script in the input: the DNS Tree Walk,
 * alignment walks, the np existence check, and the combination of several
 * Author Domains. Input: the header section, a NUL, byte 0 of the script
 * (which SPF and DKIM identifiers pass), then one byte per answer (rcode
 * and which TXT records; 7 takes a length-prefixed record from the
 * script); an exhausted script answers NXDOMAIN. Invariants:
 *  - the evaluation ends, asks each lookup once, at most DMARC_QUERIES_MAX
 *    of them, each a "_dmarc." TXT name or an A name that fits its array,
 *    and counts them in nqueries;
 *  - the Author Domains found, when not too many, are distinct
 *    (case-insensitively);
 *  - the verdict is coherent: the combined result is the worst per-domain
 *    result (permerror without a usable Author Domain), the disposition
 *    the strictest of the failing domains', pass only when aligned, a
 *    disposition only on fail, and the policy and Organizational Domains
 *    are the Author Domain or one of its parents.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc.h"
#include "dns/dns_rr.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const records[] = {
	"v=DMARC1; p=reject",
	"v=DMARC1; p=quarantine; sp=none; np=reject; t=y; adkim=s",
	"v=DMARC1; p=none; psd=y; aspf=s",
	"v=DMARC1; rua=mailto:agg@example.test",
	"v=DMARC1; p=bogus",
	"v=spf1 -all",
};

struct script {
	const uint8_t	*p;
	size_t		 len;
};

static int
take(struct script *s)
{
	if (s->len == 0)
		return -1;
	s->len--;
	return *s->p++;
}

static void
add_txt(struct dns_answer *a, const char *txt, size_t len)
{
	struct dns_rr *rr;

	a->rr = realloc(a->rr, (a->nrr + 1) * sizeof(*a->rr));
	CHECK(a->rr != NULL);
	rr = &a->rr[a->nrr++];
	memset(rr, 0, sizeof(*rr));
	rr->type = DNS_T_TXT;
	rr->u.txt.text = malloc(len + 1);
	CHECK(rr->u.txt.text != NULL);
	memcpy(rr->u.txt.text, txt, len);
	rr->u.txt.text[len] = '\0';
	rr->u.txt.len = len;
	rr->u.txt.nstrings = 1;
}

/* The scripted answer to one lookup; NULL is "the query failed". */
static struct dns_answer *
answer(struct script *s, uint16_t type)
{
	int b = take(s), n;
	struct dns_answer *a;

	if (b == 0xff)
		return NULL;
	a = dns_answer_new();
	a->qtype = type;
	if (b == -1) {
		a->rcode = DNS_RCODE_NXDOMAIN;
		return a;
	}
	switch (b & 3) {
	case 1:
		a->rcode = DNS_RCODE_NXDOMAIN;
		return a;
	case 2:
		a->rcode = (b & 4) ? DNS_RCODE_SERVFAIL : DNS_RCODE_TIMEOUT;
		return a;
	case 3:
		/* NOERROR, but bogus now and then. */
		a->sec = (b & 4) ? DNS_SEC_BOGUS : DNS_SEC_SECURE;
		break;
	}
	if (type == DNS_T_A)
		return a;	/* existence: NOERROR is enough */
	for (int k = 0; k < 1 + ((b >> 6) & 1); k++) {
		unsigned which = (unsigned)(b >> 3) & 7;
		if (k == 1)
			which = 0;
		if (which < sizeof(records) / sizeof(records[0]))
			add_txt(a, records[which], strlen(records[which]));
		else if (which == 7 && (n = take(s)) > 0) {
			size_t len = (size_t)n < s->len ? (size_t)n : s->len;
			add_txt(a, (const char *)s->p, len);
			s->p += len;
			s->len -= len;
		}
	}
	return a;
}

static int
rank(enum dmarc_result r)
{
	static const int ranks[] = {
		[DMARC_RESULT_NONE] = 0, [DMARC_RESULT_PASS] = 1,
		[DMARC_RESULT_PERMERROR] = 2, [DMARC_RESULT_TEMPERROR] = 3,
		[DMARC_RESULT_FAIL] = 4,
	};
	CHECK((unsigned)r <= DMARC_RESULT_PERMERROR);
	return ranks[r];
}

/* d is p itself or below it. */
static bool
at_or_below(const char *d, const char *p)
{
	size_t dl = strlen(d), pl = strlen(p);

	return strcmp(d, p) == 0 || (dl > pl && d[dl - pl - 1] == '.' &&
	    strcmp(d + dl - pl, p) == 0);
}

static void
check_verdict(const struct dmarc_verdict *v, size_t nfrom, unsigned asked)
{
	int worst = 0;
	enum dmarc_disposition disp = DMARC_DISPOSITION_NONE;

	CHECK(v->nauthors <= DMARC_AUTHORS_MAX && v->nauthors <= nfrom);
	CHECK(v->nqueries == asked);
	for (size_t i = 0; i < v->nauthors; i++) {
		const struct dmarc_author *a = &v->author[i];

		CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
		CHECK(a->reason != NULL);
		if (rank(a->result) > worst)
			worst = rank(a->result);
		if (a->disposition > disp)
			disp = a->disposition;
		CHECK(a->disposition == DMARC_DISPOSITION_NONE ||
		    a->result == DMARC_RESULT_FAIL);
		CHECK(a->result != DMARC_RESULT_PASS ||
		    (a->has_record && (a->spf_aligned || a->dkim_aligned)));
		CHECK(a->result != DMARC_RESULT_FAIL ||
		    (a->has_record && !a->spf_aligned && !a->dkim_aligned));
		CHECK(!a->may_reject || a->result == DMARC_RESULT_TEMPERROR);
		if (a->has_record)
			CHECK(at_or_below(a->domain, a->policy_domain));
		if (a->org_domain[0] != '\0')
			CHECK(at_or_below(a->domain, a->org_domain));
		if (a->dkim_aligned)
			CHECK(a->dkim_domain[0] != '\0');
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(a->domain, v->author[j].domain) != 0);
	}
	/* More distinct From: domains than DMARC_AUTHORS_MAX (only possible
	 * with nfrom above it) make the whole verdict a permerror. */
	if (v->nauthors == 0)
		CHECK(v->result == DMARC_RESULT_PERMERROR &&
		    v->disposition == DMARC_DISPOSITION_NONE);
	else if (nfrom <= DMARC_AUTHORS_MAX) {
		CHECK(rank(v->result) == worst);
		CHECK(v->disposition == disp);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char doms[DMARC_AUTHORS_MAX + 1][DMARC_DOMAIN_MAX];
	const char *from[DMARC_AUTHORS_MAX + 1];
	char parent[DMARC_DOMAIN_MAX], sub[DMARC_DOMAIN_MAX + 8];
	struct dmarc_dkim_input dkim[3];
	struct dmarc_input in;
	struct dmarc_need needs[8], asked[DMARC_QUERIES_MAX];
	struct dmarc_ctx *c;
	struct dmarc_verdict *v;
	struct script s;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t hlen = nul != NULL ? (size_t)(nul - data) : size;
	size_t nn, nasked = 0, nfrom;
	int n, ids;
	const char *first, *dot;

	memset(doms, 0, sizeof(doms));
	n = dmarc_author_domains((const char *)data, hlen, doms,
	    DMARC_AUTHORS_MAX + 1);
	CHECK(n >= -1);
	/* More than max: too many to use (out may hold fewer, or none), as
	 * authcheck.c treats it. */
	nfrom = n < 0 || n > DMARC_AUTHORS_MAX + 1 ? 0 : (size_t)n;
	for (size_t i = 0; i < nfrom; i++) {
		CHECK(memchr(doms[i], '\0', DMARC_DOMAIN_MAX) != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcasecmp(doms[i], doms[j]) != 0);
		from[i] = doms[i];
	}
	s.p = nul != NULL ? nul + 1 : data + size;
	s.len = nul != NULL ? size - hlen - 1 : 0;
	ids = take(&s);
	if (ids < 0)
		ids = 0;

	/* Identifiers related to the first Author Domain, so that walks and
	 * alignment have something to find. */
	first = nfrom > 0 ? doms[0] : "example.test";
	dot = strchr(first, '.');
	snprintf(parent, sizeof(parent), "%s", dot != NULL ? dot + 1 : first);
	snprintf(sub, sizeof(sub), "mail.%s", first);
	memset(&in, 0, sizeof(in));
	in.from_domains = from;
	in.nfrom = nfrom;
	in.spf_pass = ids & 1;
	in.spf_domain = (ids & 2) ? parent : (ids & 4) ? sub : first;
	dkim[0] = (struct dmarc_dkim_input){ first, (ids & 8) != 0 };
	dkim[1] = (struct dmarc_dkim_input){ parent, (ids & 16) != 0 };
	dkim[2] = (struct dmarc_dkim_input){ (ids & 32) ? sub :
	    "other.example", (ids & 64) != 0 };
	in.dkim = dkim;
	in.ndkim = 3;

	c = dmarc_ctx_new(&in);
	for (int round = 0;; round++) {
		CHECK(round < 4 * DMARC_QUERIES_MAX);
		if (dmarc_ctx_step(c, needs, sizeof(needs) / sizeof(needs[0]),
		    &nn) == DMARC_STEP_DONE)
			break;
		/* Every lookup asked for is answered at once, so the core
		 * must always have a new one to ask for. */
		CHECK(nn > 0 && nn <= sizeof(needs) / sizeof(needs[0]));
		for (size_t i = 0; i < nn; i++) {
			struct dmarc_need *nd = &needs[i];
			struct dns_answer *a;

			CHECK(memchr(nd->name, '\0', sizeof(nd->name)) != NULL);
			CHECK(nd->type == DNS_T_TXT || nd->type == DNS_T_A);
			CHECK(nd->type != DNS_T_TXT ||
			    strncmp(nd->name, "_dmarc.", 7) == 0);
			for (size_t j = 0; j < nasked; j++)
				CHECK(asked[j].type != nd->type ||
				    strcmp(asked[j].name, nd->name) != 0);
			CHECK(nasked < DMARC_QUERIES_MAX);
			asked[nasked++] = *nd;
			a = answer(&s, nd->type);
			dmarc_ctx_feed(c, nd->name, nd->type, a);
			dns_answer_free(a);
		}
	}
	v = dmarc_ctx_take_verdict(c);
	CHECK(v != NULL);
	check_verdict(v, nfrom, (unsigned)nasked);
	dmarc_verdict_free(v);
	dmarc_ctx_free(c);
	return 0;
}
