/* SPDX-License-Identifier: ISC */
/*
 * The outbound TLS decision (see remote_policy.h). Order of precedence:
 * REQUIRETLS (the sender's demand) > DANE where usable (RFC 7672, RFC 8461
 * §2) > the [policy] level or MTA-STS > opportunistic. "TLS-Required: No"
 * (RFC 8689 §4) turns every refusal into opportunistic delivery.
 */
#include "deliver/remote_policy.h"

#include <string.h>

static void
remote_tls_set(struct remote_tls_plan *p, const char *policy,
    const char *rpt, enum smtpc_tls_mode tls, bool verify)
{
	p->policy = policy;
	p->rpt_type = rpt;
	p->tls = tls;
	p->verify = verify;
}

static void
remote_tls_skip(struct remote_tls_plan *p, const char *skip, const char *why)
{
	p->skip = skip;
	p->why = why;
}

/* The level the [policy] section (or its absence) asks for, DANE aside. */
static void
remote_tls_level(const struct remote_tls_facts *f, struct remote_tls_plan *p)
{
	switch (f->level) {
	case CONF_TLSPOL_NONE:
		remote_tls_set(p, "none", "no-policy-found", SMTPC_TLS_NONE,
		    false);
		return;
	case CONF_TLSPOL_ENCRYPT:
		remote_tls_set(p, "encrypt", "no-policy-found",
		    SMTPC_TLS_STARTTLS, false);
		return;
	case CONF_TLSPOL_VERIFY:
		remote_tls_set(p, "verify", "no-policy-found",
		    SMTPC_TLS_STARTTLS, true);
		if (!f->mx_match)
			remote_tls_skip(p, "validation-failure", "MX host not "
			    "in the mx_match list of its [policy]");
		return;
	case CONF_TLSPOL_DANE_ONLY:
		remote_tls_set(p, "dane", "tlsa", SMTPC_TLS_STARTTLS, true);
		remote_tls_skip(p, "dane-required", f->dnssec ? "no TLSA "
		    "records, and the policy is dane-only" : "MX host not "
		    "DNSSEC-validated, and the policy is dane-only");
		return;
	case CONF_TLSPOL_AUTO:
		if (f->sts == REMOTE_STS_ENFORCE) {
			remote_tls_set(p, "mta-sts", "sts", SMTPC_TLS_STARTTLS,
			    true);
			if (!f->sts_match)
				remote_tls_skip(p, "validation-failure", "MX "
				    "host not in the domain's MTA-STS policy");
			return;
		}
		if (f->sts == REMOTE_STS_TESTING) {
			/* RFC 8461 §5: deliver, report what failed. */
			remote_tls_set(p, "mta-sts", "sts",
			    SMTPC_TLS_OPPORTUNISTIC, false);
			return;
		}
		break;
	case CONF_TLSPOL_MAY:
	case CONF_TLSPOL_DANE:
		break;
	}
	remote_tls_set(p, "may", "no-policy-found", SMTPC_TLS_OPPORTUNISTIC,
	    false);
}

/* DANE for this host, if it decides; false if it does not apply. */
static bool
remote_tls_dane(const struct remote_tls_facts *f, struct remote_tls_plan *p)
{
	bool allowed = f->level == CONF_TLSPOL_DANE ||
	    f->level == CONF_TLSPOL_DANE_ONLY ||
	    (f->level == CONF_TLSPOL_AUTO && f->dane_enabled);

	if (!allowed || !f->dnssec)
		return false;
	switch (f->dane) {
	case SMTPC_DANE_USABLE:
		remote_tls_set(p, "dane", "tlsa", SMTPC_TLS_STARTTLS, true);
		p->use_dane = true;
		return true;
	case SMTPC_DANE_UNUSABLE:
		/* DANE takes precedence where it authenticates (RFC 8461
		 * §2); without a usable record an enforced MTA-STS policy
		 * still wants a listed host and a verified certificate. */
		if (f->level == CONF_TLSPOL_AUTO &&
		    f->sts == REMOTE_STS_ENFORCE)
			return false;
		/* RFC 7672 §2.2: encrypted, not authenticated; but §6:
		 * mandatory DANE needs a record to authenticate with. */
		remote_tls_set(p, "dane", "tlsa", SMTPC_TLS_STARTTLS,
		    f->level == CONF_TLSPOL_DANE_ONLY);
		if (f->level == CONF_TLSPOL_DANE_ONLY)
			remote_tls_skip(p, "dane-required", "no usable TLSA "
			    "records, and the policy is dane-only");
		return true;
	case SMTPC_DANE_FAILED:
		/* §2.2: a host whose TLSA records cannot be had is not
		 * used for this attempt. */
		remote_tls_set(p, "dane", "tlsa", SMTPC_TLS_STARTTLS, true);
		remote_tls_skip(p, "dnssec-invalid", "TLSA lookup failed or "
		    "was bogus");
		return true;
	case SMTPC_DANE_NONE:
		break;
	}
	return false;
}

/* RFC 8689 §4.2.1 steps 2-3: a DNSSEC-validated MX or one in the MTA-STS
 * policy, and a certificate that authenticates it. */
static void
remote_tls_requiretls(const struct remote_tls_facts *f,
    struct remote_tls_plan *p)
{
	if (p->skip != NULL)
		return;
	if (!f->dnssec && !(f->sts != REMOTE_STS_NONE && f->sts_match)) {
		remote_tls_skip(p, "requiretls", "REQUIRETLS: MX host neither "
		    "DNSSEC-validated nor in an MTA-STS policy");
		return;
	}
	p->tls = SMTPC_TLS_STARTTLS;
	p->verify = true;
}

void
remote_tls_decide(const struct remote_tls_facts *f, struct remote_tls_plan *p)
{
	memset(p, 0, sizeof(*p));
	if (!remote_tls_dane(f, p))
		remote_tls_level(f, p);
	if (f->requiretls) {
		remote_tls_requiretls(f, p);
		return;
	}
	if (!f->tls_required_no)
		return;
	/* RFC 8689 §4: the sender prefers delivery to these checks; still
	 * encrypted when the server offers TLS. */
	if (p->skip != NULL || p->verify || p->tls == SMTPC_TLS_STARTTLS) {
		p->overridden = true;
		p->skip = NULL;
		p->why = NULL;
		p->verify = false;
		p->tls = SMTPC_TLS_OPPORTUNISTIC;
	}
}
