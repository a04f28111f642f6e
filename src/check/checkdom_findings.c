/* SPDX-License-Identifier: ISC */
/*
 * check-domain's findings: what the gathered facts mean for a sender and
 * what to change, each with a level (error: mail is lost, sent in clear
 * or unauthenticated where the domain asks for protection, or a record is
 * broken; warning: protection missing or about to break; info: worth
 * knowing). Pure: reads struct checkdom, writes its findings list.
 */
#include "check/checkdom.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void finding(struct checkdom *cd, enum checkdom_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
finding(struct checkdom *cd, enum checkdom_level level, const char *fmt, ...)
{
	va_list ap;

	if (cd->nfindings == CHECKDOM_FINDINGS_MAX) {
		cd->findings_dropped++;
		return;
	}
	struct checkdom_finding *f = &cd->findings[cd->nfindings++];
	f->level = level;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

void
checkdom_text(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

const char *
checkdom_level_name(enum checkdom_level l)
{
	switch (l) {
	case CHECKDOM_ERROR:
		return "error";
	case CHECKDOM_WARNING:
		return "warning";
	case CHECKDOM_INFO:
		return "info";
	}
	return "?";
}

const char *
checkdom_tlsa_usage_name(uint8_t usage)
{
	static const char *const names[] = { "PKIX-TA", "PKIX-EE", "DANE-TA",
	    "DANE-EE" };

	return usage < 4 ? names[usage] : "?";
}

bool
checkdom_has_error(const struct checkdom *cd)
{
	for (size_t i = 0; i < cd->nfindings; i++)
		if (cd->findings[i].level == CHECKDOM_ERROR)
			return true;
	return false;
}

static const char *
rcode_text(enum dns_rcode rc)
{
	return rc == DNS_RCODE_TIMEOUT ? "timed out" : dns_rcode_name(rc);
}

/* The host's TLSA answer can be used by DANE senders (RFC 7672 §2.2):
 * secure MX RRset (or implicit MX), secure addresses, secure TLSA. */
static bool
mx_dane_ready(const struct checkdom *cd, const struct checkdom_mx *m)
{
	return cd->mx_sec == DNS_SEC_SECURE && m->addr_sec == DNS_SEC_SECURE;
}

static bool
mx_dane_active(const struct checkdom *cd, const struct checkdom_mx *m)
{
	return mx_dane_ready(cd, m) && m->tlsa_rcode == DNS_RCODE_NOERROR &&
	    m->tlsa_sec == DNS_SEC_SECURE && m->tlsa_usable > 0;
}

static bool
sts_enforce(const struct checkdom *cd)
{
	return cd->sts.fetched && strcmp(cd->sts.mode, "enforce") == 0;
}

/* The certificate of one address. */
static void
find_cert(struct checkdom *cd, const struct checkdom_mx *m,
    const struct checkdom_probe *p)
{
	bool dane = mx_dane_active(cd, m);

	if (p->has_days && p->days_left < 0)
		finding(cd, CHECKDOM_ERROR, "the certificate of %s (%s) "
		    "expired %ld day%s ago: renew it", m->host, p->address,
		    -p->days_left, p->days_left == -1 ? "" : "s");
	else if (p->has_days && p->days_left < CHECKDOM_EXPIRY_WARN_DAYS)
		finding(cd, CHECKDOM_WARNING, "your certificate for %s (%s) "
		    "expires in %ld days: renew it now", m->host, p->address,
		    p->days_left);
	if (!p->verified) {
		/* DANE authenticates the server without the Web PKI; only
		 * MTA-STS and verify-level senders need it then. */
		enum checkdom_level lv = dane && p->dane_match &&
		    !sts_enforce(cd) ? CHECKDOM_INFO : CHECKDOM_ERROR;
		finding(cd, lv, "the certificate of %s (%s) does not verify "
		    "for %s (%s)%s: use a certificate from a public CA whose "
		    "subjectAltName holds %s", m->host, p->address, m->host,
		    p->verify_error[0] ? p->verify_error : "not trusted",
		    lv == CHECKDOM_INFO ? "; DANE authenticates it, but "
		    "MTA-STS and verifying senders will not" : "", m->host);
	}
	if (p->spki_sha256[0] == '\0')
		return;
	/* The record that matches what the server presents: a DANE-EE
	 * SPKI SHA-256 record stays valid across renewals with the same
	 * key. */
	if (m->ntlsa == 0)
		finding(cd, mx_dane_ready(cd, m) ? CHECKDOM_WARNING :
		    CHECKDOM_INFO, "publish a TLSA record%s: %s. IN TLSA 3 1 1 "
		    "%s", mx_dane_ready(cd, m) ? "" : " (once the zone is "
		    "DNSSEC-signed)", m->tlsa_name, p->spki_sha256);
	else if (p->dane_checked && !p->dane_match &&
	    m->tlsa_sec != DNS_SEC_BOGUS)
		finding(cd, dane ? CHECKDOM_ERROR : CHECKDOM_WARNING,
		    "the certificate of %s (%s) matches no TLSA record of "
		    "%s (%s)%s: publish %s. IN TLSA 3 1 1 %s (keep the old "
		    "record until the new one has propagated)", m->host,
		    p->address, m->tlsa_name, p->dane_error, dane ?
		    "; DANE senders will defer mail" : "", m->tlsa_name,
		    p->spki_sha256);
	else if (p->dane_match)
		finding(cd, CHECKDOM_INFO, "%s (%s) matches a %s TLSA record; "
		    "the 3 1 1 record for its key is %s. IN TLSA 3 1 1 %s",
		    m->host, p->address, checkdom_tlsa_usage_name(
		    (uint8_t)p->dane_usage), m->tlsa_name, p->spki_sha256);
}

static void
find_probe(struct checkdom *cd, const struct checkdom_mx *m,
    const struct checkdom_probe *p)
{
	if (p->ptr_found && !p->fcrdns)
		finding(cd, CHECKDOM_WARNING, "the PTR name %s of %s does not "
		    "resolve back to it: add an address record for %s",
		    p->ptr, p->address, p->ptr);
	else if (!p->ptr_found)
		finding(cd, CHECKDOM_WARNING, "%s has no PTR record: ask the "
		    "owner of the address to set it to %s", p->address,
		    m->host);
	if (!p->connected || p->greeting_code != 220 || !p->ehlo_ok) {
		finding(cd, CHECKDOM_ERROR, "%s (%s) port %u: %s", m->host,
		    p->address, cd->port, p->error);
		return;
	}
	if (!p->starttls) {
		finding(cd, CHECKDOM_ERROR, "%s (%s) does not offer STARTTLS: "
		    "mail to it travels in plain text; enable STARTTLS with a "
		    "certificate for %s", m->host, p->address, m->host);
		return;
	}
	if (!p->tls) {
		finding(cd, CHECKDOM_ERROR, "%s (%s): %s", m->host, p->address,
		    p->error);
		return;
	}
	if (strcmp(p->tls_version, "TLSv1.2") != 0 &&
	    strcmp(p->tls_version, "TLSv1.3") != 0)
		finding(cd, CHECKDOM_WARNING, "%s (%s) negotiated %s: enable "
		    "TLS 1.2 and 1.3", m->host, p->address, p->tls_version);
	find_cert(cd, m, p);
	if (p->error[0] != '\0')
		finding(cd, CHECKDOM_WARNING, "%s (%s): %s", m->host,
		    p->address, p->error);
	else if (!p->requiretls)
		finding(cd, CHECKDOM_INFO, "%s (%s) does not offer REQUIRETLS "
		    "(RFC 8689)", m->host, p->address);
}

static void
find_tlsa(struct checkdom *cd, const struct checkdom_mx *m)
{
	if (m->tlsa_sec == DNS_SEC_BOGUS)
		finding(cd, CHECKDOM_ERROR, "the TLSA answer for %s is DNSSEC-"
		    "bogus: DANE senders will not deliver to %s; re-sign the "
		    "zone", m->tlsa_name, m->host);
	else if (m->tlsa_rcode == DNS_RCODE_SERVFAIL ||
	    m->tlsa_rcode == DNS_RCODE_TIMEOUT)
		finding(cd, mx_dane_ready(cd, m) ? CHECKDOM_ERROR :
		    CHECKDOM_WARNING, "the TLSA lookup for %s failed (%s): DANE "
		    "senders will not deliver to %s; fix the name servers",
		    m->tlsa_name, rcode_text(m->tlsa_rcode), m->host);
	else if (m->ntlsa > 0 && m->tlsa_sec != DNS_SEC_SECURE)
		finding(cd, CHECKDOM_WARNING, "the TLSA records of %s are not "
		    "DNSSEC-signed, so senders ignore them: sign the zone of "
		    "%s", m->tlsa_name, m->host);
	else if (m->ntlsa > 0 && !mx_dane_ready(cd, m))
		finding(cd, CHECKDOM_WARNING, "the TLSA records of %s are "
		    "ignored because the %s is not DNSSEC-signed: sign it",
		    m->tlsa_name, cd->mx_sec != DNS_SEC_SECURE ? "MX RRset" :
		    "address records of the host");
	else if (m->ntlsa > 0 && m->tlsa_usable == 0)
		finding(cd, CHECKDOM_WARNING, "%s has only PKIX-TA/PKIX-EE "
		    "records, which SMTP DANE cannot use (RFC 7672 §3.1.3): "
		    "publish DANE-EE (3 1 1) records", m->tlsa_name);
}

static void
find_mx(struct checkdom *cd)
{
	if (cd->mx_rcode == DNS_RCODE_NXDOMAIN) {
		finding(cd, CHECKDOM_ERROR, "%s does not exist in the DNS",
		    cd->domain);
		return;
	}
	if (cd->mx_rcode != DNS_RCODE_NOERROR || cd->mx_sec == DNS_SEC_BOGUS) {
		finding(cd, CHECKDOM_ERROR, "the MX lookup for %s failed (%s): "
		    "senders will defer mail", cd->domain, cd->mx_sec ==
		    DNS_SEC_BOGUS ? "DNSSEC-bogus" : rcode_text(cd->mx_rcode));
		return;
	}
	if (cd->null_mx) {
		finding(cd, CHECKDOM_INFO, "%s publishes a null MX (RFC 7505): "
		    "it accepts no mail", cd->domain);
		return;
	}
	if (cd->implicit_mx)
		finding(cd, CHECKDOM_WARNING, "%s has no MX record: senders "
		    "use its address records; publish %s. IN MX 10 <host>",
		    cd->domain, cd->domain);
	if (cd->mx_sec != DNS_SEC_SECURE)
		finding(cd, CHECKDOM_WARNING, "the MX records of %s are not "
		    "DNSSEC-signed: DANE cannot protect mail to it; sign the "
		    "zone and publish TLSA records", cd->domain);
	for (size_t i = 0; i < cd->nmx; i++) {
		const struct checkdom_mx *m = &cd->mx[i];
		if (m->naddr == 0 && (m->addr_rcode == DNS_RCODE_NOERROR ||
		    m->addr_rcode == DNS_RCODE_NXDOMAIN)) {
			finding(cd, CHECKDOM_ERROR, "MX host %s has no address "
			    "(%s): publish A/AAAA records for it", m->host,
			    m->addr_rcode == DNS_RCODE_NOERROR ? "no records" :
			    "NXDOMAIN");
			continue;
		}
		if (m->naddr == 0) {
			finding(cd, CHECKDOM_ERROR, "MX host %s has no address: "
			    "the lookup failed (%s); fix the name servers of %s",
			    m->host, rcode_text(m->addr_rcode), m->host);
			continue;
		}
		find_tlsa(cd, m);
		for (size_t j = 0; j < m->naddr; j++)
			find_probe(cd, m, &m->addr[j]);
		if (m->addr_skipped)
			finding(cd, CHECKDOM_INFO, "%s has %zu more addresses "
			    "that were not probed", m->host, m->addr_skipped);
	}
}

static void
find_sts(struct checkdom *cd)
{
	const struct checkdom_sts *s = &cd->sts;
	bool any_dane = false;

	for (size_t i = 0; i < cd->nmx; i++)
		any_dane |= mx_dane_active(cd, &cd->mx[i]);
	if (cd->null_mx || cd->nmx == 0)
		return;
	if (s->nrecords == 0 && s->txt_error[0] != '\0') {
		finding(cd, CHECKDOM_WARNING, "the _mta-sts.%s TXT record "
		    "cannot be read (%s): senders cannot discover or refresh the "
		    "MTA-STS policy; fix the name servers", cd->domain,
		    s->txt_error);
		return;
	}
	if (s->nrecords == 0) {
		finding(cd, any_dane ? CHECKDOM_INFO : CHECKDOM_WARNING,
		    "no MTA-STS policy: publish _mta-sts.%s. IN TXT "
		    "\"v=STSv1; id=<date>\" and a policy at "
		    "https://mta-sts.%s/.well-known/mta-sts.txt", cd->domain,
		    cd->domain);
		return;
	}
	if (s->nrecords > 1 || !s->txt_valid) {
		finding(cd, CHECKDOM_ERROR, "the _mta-sts.%s TXT record is "
		    "invalid (%s): senders ignore the policy; publish exactly "
		    "one \"v=STSv1; id=...\"", cd->domain, s->nrecords > 1 ?
		    "more than one record" : s->txt_error);
		return;
	}
	if (!s->fetch_tried)
		return;
	if (!s->fetched) {
		finding(cd, CHECKDOM_ERROR, "the MTA-STS policy of %s cannot be "
		    "fetched (%s): serve it at https://mta-sts.%s/.well-known/"
		    "mta-sts.txt with a valid certificate", cd->domain,
		    s->fetch_error, cd->domain);
		return;
	}
	for (size_t i = 0; i < cd->nmx; i++)
		if (!cd->mx[i].sts_match)
			finding(cd, sts_enforce(cd) ? CHECKDOM_ERROR :
			    CHECKDOM_WARNING, "MX host %s matches no mx: "
			    "pattern of the MTA-STS policy (mode %s)%s: add "
			    "\"mx: %s\" to the policy", cd->mx[i].host, s->mode,
			    sts_enforce(cd) ? "; senders will not deliver to "
			    "it" : "", cd->mx[i].host);
	if (strcmp(s->mode, "enforce") != 0)
		finding(cd, CHECKDOM_INFO, "the MTA-STS policy is in mode %s: "
		    "switch to enforce once TLS reports show no failures",
		    s->mode);
}

static void
find_tlsrpt(struct checkdom *cd)
{
	const struct checkdom_tlsrpt *t = &cd->tlsrpt;

	if (t->nrecords == 0)
		finding(cd, CHECKDOM_INFO, "no TLS-RPT record: publish "
		    "_smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=mailto:tls-"
		    "reports@%s\" to hear about TLS failures", cd->domain,
		    cd->domain);
	else if (t->nrecords > 1)
		finding(cd, CHECKDOM_WARNING, "_smtp._tls.%s has %zu TLS-RPT "
		    "records; senders ignore all of them (RFC 8460 §3): keep "
		    "one", cd->domain, t->nrecords);
	else if (!t->valid)
		finding(cd, CHECKDOM_WARNING, "the TLS-RPT record of %s is "
		    "invalid (%s)", cd->domain, t->error);
}

static void
find_spf(struct checkdom *cd)
{
	const struct checkdom_spf *s = &cd->spf;

	if (s->nrecords == 0 && s->error[0] == '\0') {
		finding(cd, CHECKDOM_WARNING, "no SPF record: publish %s. IN "
		    "TXT \"v=spf1 mx -all\" (listing every host that sends "
		    "for %s)", cd->domain, cd->domain);
		return;
	}
	if (s->error[0] != '\0')
		finding(cd, CHECKDOM_ERROR, "SPF: %s", s->error);
	if (s->lookups > CHECKDOM_SPF_LOOKUPS_MAX)
		finding(cd, CHECKDOM_ERROR, "SPF uses %u DNS lookups%s, over "
		    "the limit of %d (RFC 7208 §4.6.4): receivers return "
		    "permerror; replace include:, a and mx terms by ip4:/ip6: "
		    "ranges", s->lookups, s->incomplete ? " or more" : "",
		    CHECKDOM_SPF_LOOKUPS_MAX);
	if (!s->parsed)
		return;
	if (strcmp(s->all, "+all") == 0)
		finding(cd, CHECKDOM_ERROR, "the SPF record ends in +all: every "
		    "host on the Internet may send as %s; use -all", cd->domain);
	else if (strcmp(s->all, "-all") != 0 && strcmp(s->all, "~all") != 0)
		finding(cd, CHECKDOM_WARNING, "the SPF record has no -all or "
		    "~all: it does not say which hosts may not send; end it "
		    "with -all");
}

static void
find_dmarc(struct checkdom *cd)
{
	const struct checkdom_dmarc *d = &cd->dmarc;

	if (!d->found) {
		finding(cd, d->dns_error ? CHECKDOM_ERROR : CHECKDOM_WARNING,
		    "%s: publish _dmarc.%s. IN TXT \"v=DMARC1; p=reject; "
		    "rua=mailto:dmarc-reports@%s\"", d->dns_error ?
		    "the DMARC lookup failed" : "no DMARC policy", cd->domain,
		    cd->domain);
		return;
	}
	if (d->invalid)
		finding(cd, CHECKDOM_ERROR, "the DMARC record at _dmarc.%s has "
		    "no valid p= (or an invalid sp=/np=): set p=reject",
		    d->policy_domain);
	else if (strcmp(d->p, "none") == 0)
		finding(cd, CHECKDOM_WARNING, "the DMARC policy is p=none: "
		    "receivers do not act on failures; move to p=quarantine, "
		    "then p=reject");
	if (d->testing)
		finding(cd, CHECKDOM_WARNING, "the DMARC policy is in test "
		    "mode (t=y or pct=0): remove it");
	if (d->nrua == 0)
		finding(cd, CHECKDOM_INFO, "the DMARC record has no rua=: add "
		    "rua=mailto:dmarc-reports@%s to receive aggregate reports",
		    d->policy_domain);
	if (strcmp(d->policy_domain, cd->domain) != 0)
		finding(cd, CHECKDOM_INFO, "the DMARC policy comes from %s "
		    "(RFC 9989 tree walk)", d->policy_domain);
}

static void
find_dkim(struct checkdom *cd)
{
	for (size_t i = 0; i < cd->ndkim; i++) {
		const struct checkdom_dkim *d = &cd->dkim[i];
		if (!d->found) {
			finding(cd, CHECKDOM_ERROR, "no DKIM key at %s._domainkey"
			    ".%s (%s): publish the selector's key record",
			    d->selector, cd->domain, rcode_text(d->rcode));
			continue;
		}
		if (!d->valid) {
			finding(cd, CHECKDOM_ERROR, "the DKIM key record %s."
			    "_domainkey.%s is invalid (%s): signatures with it "
			    "fail", d->selector, cd->domain, d->error);
			continue;
		}
		if (d->revoked) {
			finding(cd, CHECKDOM_WARNING, "the DKIM key %s._domainkey"
			    ".%s is revoked (empty p=)", d->selector,
			    cd->domain);
			continue;
		}
		if (strcmp(d->type, "rsa") == 0 && d->bits < 1024)
			finding(cd, CHECKDOM_ERROR, "the DKIM key %s._domainkey."
			    "%s is RSA %u bits: verifiers ignore keys under "
			    "1024 bits (RFC 8301 §3.2); generate a 2048-bit "
			    "key: sealmail dkim keygen --type rsa --bits 2048",
			    d->selector, cd->domain, d->bits);
		else if (strcmp(d->type, "rsa") == 0 && d->bits < 2048)
			finding(cd, CHECKDOM_WARNING, "the DKIM key %s._domainkey"
			    ".%s is RSA %u bits: RFC 8301 §3.2 asks for at "
			    "least 2048; generate a 2048-bit key", d->selector,
			    cd->domain, d->bits);
		if (d->testing)
			finding(cd, CHECKDOM_INFO, "the DKIM key %s._domainkey.%s "
			    "is in test mode (t=y)", d->selector, cd->domain);
	}
}

static void
find_bimi(struct checkdom *cd)
{
	const struct checkdom_bimi *b = &cd->bimi;
	const struct checkdom_dmarc *d = &cd->dmarc;

	if (strcmp(b->result, "fail") == 0)
		finding(cd, CHECKDOM_WARNING, "the BIMI record of %s is invalid "
		    "(%s)", b->domain[0] ? b->domain : cd->domain, b->reason);
	else if (strcmp(b->result, "pass") == 0 && (!d->found ||
	    strcmp(d->p, "none") == 0 || d->testing))
		finding(cd, CHECKDOM_WARNING, "a BIMI record is published but "
		    "the DMARC policy is not enforcing: mail clients show no "
		    "logo until p=quarantine or p=reject");
}

void
checkdom_findings(struct checkdom *cd)
{
	cd->nfindings = 0;
	cd->findings_dropped = 0;
	find_mx(cd);
	find_sts(cd);
	find_tlsrpt(cd);
	find_spf(cd);
	find_dmarc(cd);
	find_dkim(cd);
	find_bimi(cd);
}
