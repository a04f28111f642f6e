/* SPDX-License-Identifier: ISC */
/*
 * Tests of the DMARC core (dmarc_ctx) against tables of fake zones: every
 * need is answered from the table, and the queries made are checked, so
 * the RFC 9989 Appendix B tree walks are verified name by name without a
 * DNS server. The asynchronous layer is tested against NSD by
 * tests/auth/test_dmarc_dns.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "core/xmalloc.h"
#include "dns/dns_rr.h"

/* A fake zone entry: name, TXT text ("" = NODATA, NULL = NXDOMAIN,
 * "SERVFAIL"), for TXT queries; A queries: "EXISTS" or absent. */
struct fz {
	const char	*name;
	const char	*txt;
};

static char dt_log[4096];

static const struct fz *
dt_find(const struct fz *z, const char *name)
{
	for (; z->name != NULL; z++)
		if (strcmp(z->name, name) == 0)
			return z;
	return NULL;
}

/* Is name (or a name below it) in the zone?  For NXDOMAIN vs NODATA. */
static bool
dt_exists(const struct fz *z, const char *name)
{
	size_t n = strlen(name);

	for (; z->name != NULL; z++) {
		size_t l = strlen(z->name);
		if (strcmp(z->name, name) == 0 || (l > n &&
		    z->name[l - n - 1] == '.' && strcmp(z->name + l - n, name) == 0))
			return true;
	}
	return false;
}

static struct dns_answer *
dt_answer(const struct fz *z, const char *name, uint16_t type)
{
	struct dns_answer *a = dns_answer_new();
	const struct fz *e = dt_find(z, name);

	a->qtype = type;
	if (e != NULL && e->txt != NULL && strcmp(e->txt, "SERVFAIL") == 0) {
		a->rcode = DNS_RCODE_SERVFAIL;
		return a;
	}
	if (!dt_exists(z, name)) {
		a->rcode = DNS_RCODE_NXDOMAIN;
		return a;
	}
	if (type == DNS_T_TXT && e != NULL && e->txt != NULL &&
	    e->txt[0] != '\0') {
		/* "|" separates several TXT records. */
		const char *p = e->txt;
		a->rr = xcalloc(4, sizeof(*a->rr));
		while (p != NULL && a->nrr < 4) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);
			a->rr[a->nrr].type = DNS_T_TXT;
			a->rr[a->nrr].u.txt.text = xstrndup(p, len);
			a->rr[a->nrr].u.txt.len = len;
			a->nrr++;
			p = bar ? bar + 1 : NULL;
		}
	}
	return a;
}

/* Run an evaluation against zone z; the queries go into dt_log. */
static struct dmarc_verdict *
dt_run(const struct fz *z, const struct dmarc_input *in)
{
	struct dmarc_ctx *c = dmarc_ctx_new(in);
	struct dmarc_need needs[4];
	struct dmarc_verdict *v;
	size_t n, i;
	int guard = 0;

	dt_log[0] = '\0';
	while (dmarc_ctx_step(c, needs, 4, &n) == DMARC_STEP_NEED) {
		assert_true(n > 0);
		assert_true(++guard < 100);
		for (i = 0; i < n; i++) {
			struct dns_answer *a = dt_answer(z, needs[i].name,
			    needs[i].type);
			size_t l = strlen(dt_log);
			snprintf(dt_log + l, sizeof(dt_log) - l, "%s%s%s",
			    l ? " " : "", needs[i].type == DNS_T_A ? "A:" : "",
			    needs[i].name);
			dmarc_ctx_feed(c, needs[i].name, needs[i].type, a);
			dns_answer_free(a);
		}
	}
	v = dmarc_ctx_take_verdict(c);
	dmarc_ctx_free(c);
	assert_non_null(v);
	return v;
}

static struct dmarc_verdict *
dt_eval(const struct fz *z, const char *from, const char *spf,
    const char *dkim)
{
	struct dmarc_dkim_input dk = { dkim, true };
	struct dmarc_input in = { &from, 1, spf != NULL, spf,
	    &dk, dkim != NULL ? 1 : 0 };

	return dt_run(z, &in);
}

/* RFC 9989 B.4.1 */
static void
test_b41_simple(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=reject" },
		{ "_dmarc.signing.example.com", "v=DMARC1; p=none" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "example.com", "example.com", "signing.example.com");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	assert_string_equal(v->author[0].org_domain, "example.com");
	assert_string_equal(v->author[0].policy_domain, "example.com");
	assert_true(v->author[0].spf_aligned);
	assert_true(v->author[0].dkim_aligned);
	assert_string_equal(dt_log, "_dmarc.example.com _dmarc.com "
	    "_dmarc.signing.example.com");
	dmarc_verdict_free(v);

	/* Without SPF the DKIM identifier alone aligns (relaxed). */
	v = dt_eval(z, "example.com", NULL, "signing.example.com");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	assert_true(v->author[0].dkim_aligned);
	dmarc_verdict_free(v);
}

/* RFC 9989 B.4.2: 8 queries for the deep Author Domain. */
static void
test_b42_deep(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.example.com", "v=DMARC1; p=quarantine" },
		{ "_dmarc.signing.example.com", "v=DMARC1; p=none" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "a.b.c.d.e.f.g.h.i.j.k.example.com", "example.com",
	    "signing.example.com");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	assert_string_equal(dt_log,
	    "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com "
	    "_dmarc.g.h.i.j.k.example.com _dmarc.h.i.j.k.example.com "
	    "_dmarc.i.j.k.example.com _dmarc.j.k.example.com "
	    "_dmarc.k.example.com _dmarc.example.com _dmarc.com "
	    "_dmarc.signing.example.com");
	assert_string_equal(v->author[0].org_domain, "example.com");
	assert_string_equal(v->author[0].policy_domain, "example.com");
	dmarc_verdict_free(v);

	/* Failing: the subdomain gets p (no sp). */
	v = dt_eval(z, "a.b.c.d.e.f.g.h.i.j.k.example.com", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_P);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);
}

/* RFC 9989 B.4.3: psd=y. */
static void
test_b43_psd(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.bank.example", "v=DMARC1; p=reject; psd=y" },
		{ "_dmarc.giant.bank.example", "v=DMARC1; p=quarantine" },
		{ "mail.mega.bank.example", "" },
		{ "mail.giant.bank.example", "" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "giant.bank.example", "mail.giant.bank.example",
	    "mail.mega.bank.example");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	assert_string_equal(v->author[0].org_domain, "giant.bank.example");
	assert_string_equal(v->author[0].policy_domain, "giant.bank.example");
	assert_true(v->author[0].spf_aligned);
	assert_false(v->author[0].dkim_aligned);
	/* The DKIM identifier is not under giant.bank.example: no walk. */
	assert_null(strstr(dt_log, "mega"));
	dmarc_verdict_free(v);

	/* Only the DKIM identifier: its org is mega.bank.example. */
	v = dt_eval(z, "giant.bank.example", NULL, "mail.mega.bank.example");
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);
}

/* No record at the Organizational Domain: the PSD's record, sp and np. */
static void
test_psd_policy(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.bank.example", "v=DMARC1; p=reject; sp=quarantine; "
		    "np=reject; psd=y" },
		{ "small.bank.example", "" },
		{ "www.small.bank.example", "" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "www.small.bank.example", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_string_equal(v->author[0].org_domain, "small.bank.example");
	assert_string_equal(v->author[0].policy_domain, "bank.example");
	assert_int_equal(v->author[0].source, DMARC_SOURCE_SP);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);

	/* A non-existent subdomain: np, after an existence query. */
	v = dt_eval(z, "nope.bank.example", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_NP);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	assert_non_null(strstr(dt_log, "A:nope.bank.example"));
	dmarc_verdict_free(v);

	/* Relaxed alignment inside the PSD-derived org domain. */
	v = dt_eval(z, "www.small.bank.example", "small.bank.example", NULL);
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	dmarc_verdict_free(v);
}

static void
test_sp_np(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.example.org", "v=DMARC1; p=none; sp=reject; "
		    "np=quarantine" },
		{ "exists.example.org", "" },
		{ "_dmarc.own.example.org", "v=DMARC1; p=quarantine" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "example.org", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_P);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_NONE);
	dmarc_verdict_free(v);

	v = dt_eval(z, "exists.example.org", NULL, NULL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_SP);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	/* _dmarc.exists.example.org answered NXDOMAIN, so an A query. */
	assert_non_null(strstr(dt_log, "A:exists.example.org"));
	dmarc_verdict_free(v);

	v = dt_eval(z, "ghost.example.org", NULL, NULL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_NP);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);

	/* own.example.org has its own record: p applies, sp is ignored;
	 * relaxed alignment reaches example.org's org domain. */
	v = dt_eval(z, "own.example.org", NULL, NULL);
	assert_int_equal(v->author[0].source, DMARC_SOURCE_P);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	assert_string_equal(v->author[0].org_domain, "example.org");
	assert_true(v->author[0].has_org_record);
	dmarc_verdict_free(v);
	v = dt_eval(z, "own.example.org", "mail.example.org", NULL);
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	dmarc_verdict_free(v);
}

static void
test_strict_and_testing(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s" },
		{ "_dmarc.t.test", "v=DMARC1; p=reject; t=y" },
		{ "_dmarc.q.test", "v=DMARC1; p=quarantine; t=y" },
		{ "_dmarc.pct0.test", "v=DMARC1; p=reject; pct=0" },
		{ "_dmarc.pct50.test", "v=DMARC1; p=reject; pct=50" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "strict.test", "mail.strict.test", "x.strict.test");
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	/* Strict: no walk for the identifiers. */
	assert_string_equal(dt_log, "_dmarc.strict.test _dmarc.test");
	dmarc_verdict_free(v);
	v = dt_eval(z, "strict.test", "STRICT.test.", NULL);
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	dmarc_verdict_free(v);

	v = dt_eval(z, "t.test", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_true(v->author[0].testing);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);
	v = dt_eval(z, "q.test", NULL, NULL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_NONE);
	dmarc_verdict_free(v);
	v = dt_eval(z, "pct0.test", NULL, NULL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);
	v = dt_eval(z, "pct50.test", NULL, NULL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	dmarc_verdict_free(v);
}

static void
test_missing_and_errors(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.multi.test", "v=DMARC1; p=reject|v=DMARC1; p=none" },
		{ "_dmarc.other.test", "v=spf1 -all|hello" },
		{ "_dmarc.broken.test", "SERVFAIL" },
		{ "_dmarc.nop.test", "v=DMARC1; sp=reject" },
		{ "_dmarc.nopr.test", "v=DMARC1; p=bogus; "
		    "rua=mailto:r@nopr.test" },
		{ "_dmarc.psdn.test", "v=DMARC1; p=reject; psd=n" },
		{ "_dmarc.test", "v=DMARC1; p=quarantine" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	/* Several records at a name: all discarded, then the parent. */
	v = dt_eval(z, "multi.test", NULL, NULL);
	assert_string_equal(v->author[0].policy_domain, "test");
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	dmarc_verdict_free(v);

	v = dt_eval(z, "broken.test", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_TEMPERROR);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_NONE);
	assert_true(dmarc_verdict_may_reject(v));
	dmarc_verdict_free(v);

	v = dt_eval(z, "nop.test", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_PERMERROR);
	dmarc_verdict_free(v);

	v = dt_eval(z, "nopr.test", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_NONE);
	dmarc_verdict_free(v);

	/* psd=n: the walk stops at once; org = the domain itself. */
	v = dt_eval(z, "psdn.test", "x.psdn.test", NULL);
	assert_string_equal(v->author[0].org_domain, "psdn.test");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	dmarc_verdict_free(v);
}

/*
 * A DNS error above the policy record (RFC 9989 §4.10.1): the record at
 * the Author Domain is the one to apply whatever lies above it, and an
 * identifier identical to the Author Domain aligns without the
 * Organizational Domain. Only an identifier that needs the Organizational
 * Domain is a temperror, and then whether the policy may be reject says
 * whether the receiver should defer.
 */
static void
test_error_above_policy(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.a.test", "v=DMARC1; p=reject" },
		{ "_dmarc.q.test", "v=DMARC1; p=quarantine" },
		{ "_dmarc.s.test", "v=DMARC1; p=none; sp=reject" },
		{ "_dmarc.test", "SERVFAIL" },
		{ "x.s.test", "" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "a.test", "a.test", "a.test");
	assert_int_equal(v->result, DMARC_RESULT_PASS);
	assert_string_equal(v->author[0].policy_domain, "a.test");
	assert_true(v->author[0].spf_aligned);
	assert_true(v->author[0].dkim_aligned);
	assert_false(dmarc_verdict_may_reject(v));
	dmarc_verdict_free(v);

	/* Nothing aligns and nothing needed the walk: the policy applies. */
	v = dt_eval(z, "a.test", "other.example", NULL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	dmarc_verdict_free(v);

	/* Relaxed alignment of a subdomain needs the Organizational
	 * Domain, which the error hides. */
	v = dt_eval(z, "a.test", NULL, "sub.a.test");
	assert_int_equal(v->result, DMARC_RESULT_TEMPERROR);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_NONE);
	assert_true(v->author[0].has_record);
	assert_true(dmarc_verdict_may_reject(v));
	dmarc_verdict_free(v);

	v = dt_eval(z, "q.test", NULL, "sub.q.test");
	assert_int_equal(v->result, DMARC_RESULT_TEMPERROR);
	assert_false(dmarc_verdict_may_reject(v));
	dmarc_verdict_free(v);

	/* No record at the Author Domain: the policy is unknown. */
	v = dt_eval(z, "x.s.test", NULL, NULL);
	assert_int_equal(v->result, DMARC_RESULT_TEMPERROR);
	assert_true(dmarc_verdict_may_reject(v));
	dmarc_verdict_free(v);
}

static void
test_no_record(void **state)
{
	static const struct fz z[] = {
		{ "plain.example", "" },
		{ NULL, NULL },
	};
	struct dmarc_verdict *v;

	(void)state;
	v = dt_eval(z, "plain.example", "plain.example", NULL);
	assert_int_equal(v->result, DMARC_RESULT_NONE);
	assert_false(v->author[0].has_record);
	assert_string_equal(dt_log, "_dmarc.plain.example _dmarc.example");
	dmarc_verdict_free(v);
}

static void
test_authors(void **state)
{
	static const struct fz z[] = {
		{ "_dmarc.bank.test", "v=DMARC1; p=reject" },
		{ "_dmarc.evil.test", "v=DMARC1; p=none" },
		{ "_dmarc.xn--bnk-qla.test", "v=DMARC1; p=quarantine" },
		{ NULL, NULL },
	};
	const char *two[] = { "evil.test", "BANK.test", "bank.test" };
	const char *five[] = { "a.test", "b.test", "c.test", "d.test",
	    "e.test" };
	/* RFC 8616 §6: a U-label Author Domain is evaluated as its A-label
	 * form, as is an A-label one; an invalid IDN is a permerror. */
	const char *idn[] = { "B\xc3\xa4nk.test", "xn--bnk-qla.test" };
	const char *spf_idn[] = { "b\xc3\xa4nk.test" };
	const char *bad[] = { "xn--bad.test", "l\xc2\xb7x.test" };
	struct dmarc_input in = { two, 3, true, "evil.test", NULL, 0 };
	struct dmarc_verdict *v;

	(void)state;
	v = dt_run(z, &in);
	assert_int_equal(v->nauthors, 2);
	assert_int_equal(v->author[0].result, DMARC_RESULT_PASS);
	assert_int_equal(v->author[1].result, DMARC_RESULT_FAIL);
	assert_int_equal(v->result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_REJECT);
	dmarc_verdict_free(v);

	in.nfrom = 0;
	v = dt_run(z, &in);
	assert_int_equal(v->result, DMARC_RESULT_PERMERROR);
	dmarc_verdict_free(v);

	in.from_domains = five;
	in.nfrom = 5;
	v = dt_run(z, &in);
	assert_int_equal(v->result, DMARC_RESULT_PERMERROR);
	dmarc_verdict_free(v);

	in.from_domains = idn;
	in.nfrom = 2;
	v = dt_run(z, &in);
	assert_int_equal(v->nauthors, 1);
	assert_string_equal(v->author[0].domain, "xn--bnk-qla.test");
	assert_int_equal(v->author[0].result, DMARC_RESULT_FAIL);
	assert_int_equal(v->disposition, DMARC_DISPOSITION_QUARANTINE);
	assert_string_equal(dt_log, "_dmarc.xn--bnk-qla.test _dmarc.test");
	dmarc_verdict_free(v);

	in.spf_domain = spf_idn[0];
	v = dt_run(z, &in);
	assert_int_equal(v->author[0].result, DMARC_RESULT_PASS);
	assert_true(v->author[0].spf_aligned);
	dmarc_verdict_free(v);

	in.from_domains = bad;
	v = dt_run(z, &in);
	assert_int_equal(v->result, DMARC_RESULT_PERMERROR);
	assert_int_equal(v->nauthors, 2);
	assert_string_equal(v->author[0].domain, "xn--bad.test");
	assert_non_null(strstr(v->author[0].reason, "disallowed"));
	assert_int_equal(v->author[1].result, DMARC_RESULT_PERMERROR);
	assert_non_null(strstr(v->author[1].reason, "CONTEXTO"));
	assert_string_equal(dt_log, "");
	dmarc_verdict_free(v);
}

static void
test_author_domains(void **state)
{
	static const char h[] =
	    "Received: from x\r\n"
	    "From: A <a@Example.COM>, b@example.com,\r\n"
	    "\tc@other.test\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "From: body@not.header\r\n";
	char out[4][DMARC_DOMAIN_MAX];

	(void)state;
	assert_int_equal(dmarc_author_domains(h, sizeof(h) - 1, out, 4), 2);
	assert_string_equal(out[0], "example.com");
	assert_string_equal(out[1], "other.test");
	assert_int_equal(dmarc_author_domains("Subject: x\r\n\r\n", 14, out,
	    4), 0);
	assert_int_equal(dmarc_author_domains("From: <<<\r\n", 11, out, 4),
	    -1);
	/* U-labels become A-labels; an invalid IDN is kept as written. */
	static const char idn[] = "From: a@b\xc3\xbc" "cher.example, "
	    "b@XN--BAD.example\r\n\r\n";
	assert_int_equal(dmarc_author_domains(idn, sizeof(idn) - 1, out, 4), 2);
	assert_string_equal(out[0], "xn--bcher-kva.example");
	assert_string_equal(out[1], "xn--bad.example");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b41_simple),
		cmocka_unit_test(test_b42_deep),
		cmocka_unit_test(test_b43_psd),
		cmocka_unit_test(test_psd_policy),
		cmocka_unit_test(test_sp_np),
		cmocka_unit_test(test_strict_and_testing),
		cmocka_unit_test(test_missing_and_errors),
		cmocka_unit_test(test_error_above_policy),
		cmocka_unit_test(test_no_record),
		cmocka_unit_test(test_authors),
		cmocka_unit_test(test_author_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
