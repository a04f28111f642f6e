/* SPDX-License-Identifier: ISC */
/* Tests of check-domain's findings: facts in, levels and advice out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/checkdom.h"

#define SPKI "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"

/* A domain that does everything right: signed MX and host, a matching
 * DANE-EE record, STARTTLS, a verifying certificate with 90 days left,
 * REQUIRETLS, SPF, DMARC p=reject with rua, an MTA-STS enforce policy
 * listing the host, TLS-RPT. */
static struct checkdom *
good(void)
{
	struct checkdom *cd = checkdom_new("Example.ORG.", 25, 0);
	assert_non_null(cd);
	assert_string_equal(cd->domain, "example.org");
	cd->mx_sec = DNS_SEC_SECURE;
	cd->nmx = 1;
	struct checkdom_mx *m = &cd->mx[0];
	snprintf(m->host, sizeof(m->host), "mx1.example.org");
	snprintf(m->tlsa_name, sizeof(m->tlsa_name), "_25._tcp.mx1.example.org");
	m->pref = 10;
	m->addr_sec = DNS_SEC_SECURE;
	m->tlsa_sec = DNS_SEC_SECURE;
	m->ntlsa = 1;
	m->tlsa_usable = 1;
	m->sts_match = true;
	m->naddr = 1;
	struct checkdom_probe *p = &m->addr[0];
	snprintf(p->address, sizeof(p->address), "192.0.2.1");
	p->ptr_found = p->fcrdns = true;
	snprintf(p->ptr, sizeof(p->ptr), "mx1.example.org");
	p->probed = p->connected = p->ehlo_ok = p->starttls = p->tls = true;
	p->greeting_code = 220;
	snprintf(p->tls_version, sizeof(p->tls_version), "TLSv1.3");
	p->verified = p->name_ok = true;
	p->has_days = true;
	p->days_left = 90;
	snprintf(p->spki_sha256, sizeof(p->spki_sha256), SPKI);
	p->requiretls = true;
	p->dane_checked = p->dane_match = true;
	p->dane_usage = 3;
	cd->sts.nrecords = 1;
	cd->sts.txt_valid = cd->sts.fetch_tried = cd->sts.fetched = true;
	snprintf(cd->sts.mode, sizeof(cd->sts.mode), "enforce");
	cd->tlsrpt.nrecords = 1;
	cd->tlsrpt.valid = true;
	cd->spf.nrecords = 1;
	cd->spf.parsed = true;
	cd->spf.lookups = 3;
	snprintf(cd->spf.all, sizeof(cd->spf.all), "-all");
	cd->dmarc.found = true;
	snprintf(cd->dmarc.p, sizeof(cd->dmarc.p), "reject");
	snprintf(cd->dmarc.policy_domain, sizeof(cd->dmarc.policy_domain),
	    "example.org");
	cd->dmarc.nrua = 1;
	snprintf(cd->bimi.result, sizeof(cd->bimi.result), "none");
	return cd;
}

/* The finding of level whose text contains needle, or NULL. */
static const char *
find(const struct checkdom *cd, enum checkdom_level level, const char *needle)
{
	for (size_t i = 0; i < cd->nfindings; i++)
		if (cd->findings[i].level == level &&
		    strstr(cd->findings[i].text, needle) != NULL)
			return cd->findings[i].text;
	return NULL;
}

static size_t
count(const struct checkdom *cd, enum checkdom_level level)
{
	size_t n = 0;

	for (size_t i = 0; i < cd->nfindings; i++)
		n += cd->findings[i].level == level;
	return n;
}

static void
test_good_domain(void **state)
{
	struct checkdom *cd = good();

	(void)state;
	checkdom_findings(cd);
	assert_false(checkdom_has_error(cd));
	assert_int_equal(count(cd, CHECKDOM_WARNING), 0);
	/* The record for the presented key is always printed. */
	assert_non_null(find(cd, CHECKDOM_INFO, "_25._tcp.mx1.example.org. IN "
	    "TLSA 3 1 1 " SPKI));
	checkdom_free(cd);
}

static void
test_bad_names(void **state)
{
	(void)state;
	assert_null(checkdom_new("", 25, 0));
	assert_null(checkdom_new("a b.example", 25, 0));
	assert_null(checkdom_new("x\n.example", 25, 0));
}

static void
test_certificate(void **state)
{
	struct checkdom *cd = good();
	struct checkdom_probe *p = &cd->mx[0].addr[0];

	(void)state;
	p->days_left = 6;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_WARNING, "your certificate for "
	    "mx1.example.org (192.0.2.1) expires in 6 days"));
	assert_false(checkdom_has_error(cd));
	p->days_left = -3;
	p->verified = false;
	snprintf(p->verify_error, sizeof(p->verify_error),
	    "certificate has expired");
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "expired 3 days ago"));
	/* Under an enforce MTA-STS policy a DANE match does not excuse a
	 * certificate that does not verify. */
	assert_non_null(find(cd, CHECKDOM_ERROR, "does not verify for "
	    "mx1.example.org (certificate has expired)"));
	snprintf(cd->sts.mode, sizeof(cd->sts.mode), "testing");
	p->days_left = 40;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_INFO, "DANE authenticates it"));
	assert_false(checkdom_has_error(cd));
	checkdom_free(cd);
}

static void
test_tlsa(void **state)
{
	struct checkdom *cd = good();
	struct checkdom_mx *m = &cd->mx[0];
	struct checkdom_probe *p = &m->addr[0];

	(void)state;
	p->dane_match = false;
	snprintf(p->dane_error, sizeof(p->dane_error), "no matching record");
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "publish "
	    "_25._tcp.mx1.example.org. IN TLSA 3 1 1 " SPKI));
	/* Without DNSSEC senders ignore the records: a warning. */
	cd->mx_sec = DNS_SEC_INSECURE;
	m->tlsa_sec = DNS_SEC_INSECURE;
	checkdom_findings(cd);
	assert_false(checkdom_has_error(cd));
	assert_non_null(find(cd, CHECKDOM_WARNING, "matches no TLSA record"));
	assert_non_null(find(cd, CHECKDOM_WARNING, "not DNSSEC-signed"));
	/* No record at all on a signed zone: publish one. */
	cd->mx_sec = DNS_SEC_SECURE;
	m->tlsa_sec = DNS_SEC_SECURE;
	m->ntlsa = m->tlsa_usable = 0;
	p->dane_checked = false;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_WARNING, "publish a TLSA record: "
	    "_25._tcp.mx1.example.org. IN TLSA 3 1 1 " SPKI));
	/* Bogus: an error whatever the certificate. */
	m->ntlsa = m->tlsa_usable = 1;
	m->tlsa_sec = DNS_SEC_BOGUS;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "DNSSEC-bogus"));
	checkdom_free(cd);
}

static void
test_transport(void **state)
{
	struct checkdom *cd = good();
	struct checkdom_probe *p = &cd->mx[0].addr[0];

	(void)state;
	p->starttls = p->tls = false;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "does not offer STARTTLS"));
	p->ehlo_ok = false;
	p->greeting_code = 0;
	snprintf(p->error, sizeof(p->error), "greeting: no reply within the "
	    "timeout");
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "mx1.example.org (192.0.2.1) "
	    "port 25: greeting: no reply within the timeout"));
	checkdom_free(cd);
}

static void
test_sts(void **state)
{
	struct checkdom *cd = good();

	(void)state;
	cd->mx[0].sts_match = false;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "MX host mx1.example.org "
	    "matches no mx: pattern of the MTA-STS policy (mode enforce)"));
	snprintf(cd->sts.mode, sizeof(cd->sts.mode), "testing");
	checkdom_findings(cd);
	assert_false(checkdom_has_error(cd));
	cd->sts.nrecords = 0;
	cd->mx[0].tlsa_usable = 0;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_WARNING, "no MTA-STS policy"));
	checkdom_free(cd);
}

static void
test_auth_records(void **state)
{
	struct checkdom *cd = good();

	(void)state;
	cd->spf.lookups = 12;
	snprintf(cd->dmarc.p, sizeof(cd->dmarc.p), "none");
	cd->ndkim = 2;
	snprintf(cd->dkim[0].selector, sizeof(cd->dkim[0].selector), "s1");
	snprintf(cd->dkim[1].selector, sizeof(cd->dkim[1].selector), "s2");
	for (int i = 0; i < 2; i++) {
		cd->dkim[i].found = cd->dkim[i].valid = true;
		snprintf(cd->dkim[i].type, sizeof(cd->dkim[i].type), "rsa");
	}
	cd->dkim[0].bits = 1024;
	cd->dkim[1].bits = 512;
	checkdom_findings(cd);
	assert_non_null(find(cd, CHECKDOM_ERROR, "SPF uses 12 DNS lookups, "
	    "over the limit of 10"));
	assert_non_null(find(cd, CHECKDOM_WARNING, "DMARC policy is p=none"));
	assert_non_null(find(cd, CHECKDOM_WARNING, "s1._domainkey.example.org "
	    "is RSA 1024 bits"));
	assert_non_null(find(cd, CHECKDOM_ERROR, "s2._domainkey.example.org "
	    "is RSA 512 bits"));
	cd->spf.lookups = 10;
	snprintf(cd->spf.all, sizeof(cd->spf.all), "+all");
	checkdom_findings(cd);
	assert_null(find(cd, CHECKDOM_ERROR, "SPF uses"));
	assert_non_null(find(cd, CHECKDOM_ERROR, "+all"));
	checkdom_free(cd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_domain),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_auth_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
