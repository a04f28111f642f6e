/* SPDX-License-Identifier: ISC */
/* Unit tests for the outbound TLS decision (remote_policy.h) and the TLSA
 * classification it is fed (smtpc_dane.h): every branch of RFC 7672 §2.2,
 * the [policy] levels, MTA-STS modes, REQUIRETLS and TLS-Required: No. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "deliver/remote_policy.h"
#include "smtpc/smtpc_dane.h"

static struct remote_tls_facts
facts(enum conf_tls_policy level)
{
	struct remote_tls_facts f;

	memset(&f, 0, sizeof(f));
	f.level = level;
	f.dane_enabled = true;
	f.mx_match = true;
	return f;
}

static void
test_auto(void **state)
{
	struct remote_tls_facts f = facts(CONF_TLSPOL_AUTO);
	struct remote_tls_plan p;

	(void)state;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_string_equal(p.policy, "may");
	assert_string_equal(p.rpt_type, "no-policy-found");
	assert_int_equal(p.tls, SMTPC_TLS_OPPORTUNISTIC);
	assert_false(p.verify);

	/* DANE usable, but the MX or addresses did not validate: ignored. */
	f.dane = SMTPC_DANE_USABLE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "may");

	f.dnssec = true;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "dane");
	assert_string_equal(p.rpt_type, "tlsa");
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_true(p.verify);
	assert_true(p.use_dane);

	/* [delivery] dane = no */
	f.dane_enabled = false;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "may");
	f.dane_enabled = true;

	f.dane = SMTPC_DANE_UNUSABLE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "dane");
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_false(p.verify);
	assert_false(p.use_dane);

	f.dane = SMTPC_DANE_FAILED;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.skip, "dnssec-invalid");
}

static void
test_sts(void **state)
{
	struct remote_tls_facts f = facts(CONF_TLSPOL_AUTO);
	struct remote_tls_plan p;

	(void)state;
	f.sts = REMOTE_STS_ENFORCE;
	f.sts_match = true;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_string_equal(p.policy, "mta-sts");
	assert_string_equal(p.rpt_type, "sts");
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_true(p.verify);

	f.sts_match = false;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.skip, "validation-failure");

	/* DANE wins for a host where it is usable (RFC 8461 §2). */
	f.dnssec = true;
	f.dane = SMTPC_DANE_USABLE;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_string_equal(p.policy, "dane");

	/* Secure TLSA records that cannot authenticate (e.g. PKIX-TA only)
	 * do not lift the enforced policy: host listed, certificate
	 * verified. */
	f.dane = SMTPC_DANE_UNUSABLE;
	remote_tls_decide(&f, &p);
	assert_non_null(p.skip);
	assert_string_equal(p.skip, "validation-failure");
	f.sts_match = true;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_string_equal(p.policy, "mta-sts");
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_true(p.verify);

	f = facts(CONF_TLSPOL_AUTO);
	f.sts = REMOTE_STS_TESTING;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_string_equal(p.policy, "mta-sts");
	assert_int_equal(p.tls, SMTPC_TLS_OPPORTUNISTIC);
	assert_false(p.verify);

	/* A [policy] section replaces MTA-STS. */
	f = facts(CONF_TLSPOL_ENCRYPT);
	f.sts = REMOTE_STS_ENFORCE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "encrypt");
}

static void
test_levels(void **state)
{
	struct remote_tls_facts f;
	struct remote_tls_plan p;

	(void)state;
	f = facts(CONF_TLSPOL_NONE);
	f.dnssec = true;
	f.dane = SMTPC_DANE_USABLE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "none");
	assert_int_equal(p.tls, SMTPC_TLS_NONE);

	f = facts(CONF_TLSPOL_VERIFY);
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "verify");
	assert_true(p.verify);
	f.mx_match = false;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.skip, "validation-failure");

	f = facts(CONF_TLSPOL_DANE);
	f.dane_enabled = false;		/* the section asks for it anyway */
	f.dnssec = true;
	f.dane = SMTPC_DANE_USABLE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "dane");
	f.dane = SMTPC_DANE_NONE;
	remote_tls_decide(&f, &p);
	assert_string_equal(p.policy, "may");

	f = facts(CONF_TLSPOL_DANE_ONLY);
	remote_tls_decide(&f, &p);
	assert_string_equal(p.skip, "dane-required");
	f.dnssec = true;
	f.dane = SMTPC_DANE_USABLE;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_true(p.use_dane);
	/* RFC 7672 §6: mandatory DANE needs a TLSA record to authenticate
	 * with; secure but unusable ones are not enough. */
	f.dane = SMTPC_DANE_UNUSABLE;
	remote_tls_decide(&f, &p);
	assert_non_null(p.skip);
	assert_string_equal(p.skip, "dane-required");
	assert_string_equal(p.policy, "dane");
	/* Opportunistic DANE: encrypted, not authenticated (§2.2). */
	f.level = CONF_TLSPOL_DANE;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_false(p.verify);
}

static void
test_requiretls(void **state)
{
	struct remote_tls_facts f = facts(CONF_TLSPOL_AUTO);
	struct remote_tls_plan p;

	(void)state;
	f.requiretls = true;
	f.tls_required_no = true;	/* ignored under REQUIRETLS */
	remote_tls_decide(&f, &p);
	assert_string_equal(p.skip, "requiretls");

	f.dnssec = true;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_true(p.verify);
	assert_false(p.overridden);

	f.dnssec = false;
	f.sts = REMOTE_STS_TESTING;
	f.sts_match = true;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_true(p.verify);

	/* Even [policy] tls = none gives way to the sender's demand. */
	f = facts(CONF_TLSPOL_NONE);
	f.requiretls = true;
	f.dnssec = true;
	remote_tls_decide(&f, &p);
	assert_int_equal(p.tls, SMTPC_TLS_STARTTLS);
	assert_true(p.verify);
}

static void
test_tls_required_no(void **state)
{
	struct remote_tls_facts f = facts(CONF_TLSPOL_AUTO);
	struct remote_tls_plan p;

	(void)state;
	f.tls_required_no = true;
	f.dnssec = true;
	f.dane = SMTPC_DANE_FAILED;
	remote_tls_decide(&f, &p);
	assert_null(p.skip);
	assert_true(p.overridden);
	assert_int_equal(p.tls, SMTPC_TLS_OPPORTUNISTIC);
	assert_false(p.verify);

	f.dane = SMTPC_DANE_USABLE;	/* still checked, not enforced */
	remote_tls_decide(&f, &p);
	assert_true(p.use_dane);
	assert_false(p.verify);

	f = facts(CONF_TLSPOL_AUTO);
	f.tls_required_no = true;
	remote_tls_decide(&f, &p);
	assert_false(p.overridden);	/* nothing was relaxed */
}

static struct dns_rr
tlsa(uint8_t u, uint8_t s, uint8_t m, uint8_t *data, size_t len)
{
	struct dns_rr rr;

	memset(&rr, 0, sizeof(rr));
	rr.type = DNS_T_TLSA;
	rr.u.tlsa.usage = u;
	rr.u.tlsa.selector = s;
	rr.u.tlsa.mtype = m;
	rr.u.tlsa.data = data;
	rr.u.tlsa.len = len;
	return rr;
}

static void
test_dane_classify(void **state)
{
	uint8_t d32[32] = { 0xab }, d64[64] = { 1 };
	struct dns_rr rrs[6];
	struct dns_answer ans;
	struct smtpc_tlsa out[SMTPC_DANE_MAX];
	char text[200];
	size_t n;

	(void)state;
	memset(&ans, 0, sizeof(ans));
	ans.rr = rrs;
	rrs[0] = tlsa(0, 0, 1, d32, 32);	/* PKIX-TA: unusable */
	rrs[1] = tlsa(1, 1, 1, d32, 32);	/* PKIX-EE: unusable */
	rrs[2] = tlsa(3, 1, 1, d32, 31);	/* wrong length */
	rrs[3] = tlsa(3, 2, 1, d32, 32);	/* bad selector */
	rrs[4] = tlsa(2, 0, 2, d64, 64);
	rrs[5] = tlsa(3, 1, 1, d32, 32);

	assert_int_equal(smtpc_dane_classify(NULL, out, 8, &n),
	    SMTPC_DANE_FAILED);
	ans.nrr = 4;
	ans.sec = DNS_SEC_SECURE;
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_UNUSABLE);
	assert_int_equal(n, 0);
	ans.nrr = 6;
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_USABLE);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].usage, 2);
	smtpc_dane_text(&out[1], text, sizeof(text));
	assert_string_equal(text, "3 1 1 ab000000000000000000000000000000"
	    "00000000000000000000000000000000");
	smtpc_dane_clear(out, n);

	ans.sec = DNS_SEC_INSECURE;
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_NONE);
	ans.sec = DNS_SEC_BOGUS;
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_FAILED);
	ans.sec = DNS_SEC_SECURE;
	ans.rcode = DNS_RCODE_TIMEOUT;
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_FAILED);
	ans.rcode = DNS_RCODE_NXDOMAIN;		/* a secure denial */
	assert_int_equal(smtpc_dane_classify(&ans, out, 8, &n),
	    SMTPC_DANE_NONE);
	/* The bound on kept records holds. */
	ans.rcode = DNS_RCODE_NOERROR;
	assert_int_equal(smtpc_dane_classify(&ans, out, 1, &n),
	    SMTPC_DANE_USABLE);
	assert_int_equal(n, 1);
	smtpc_dane_clear(out, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_requiretls),
		cmocka_unit_test(test_tls_required_no),
		cmocka_unit_test(test_dane_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
