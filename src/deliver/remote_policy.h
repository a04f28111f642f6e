/* SPDX-License-Identifier: ISC */
/*
 * Which TLS an outbound connection to one MX host must have, decided from
 * everything known about the destination (DESIGN.md §6 step 5: DANE >
 * MTA-STS > opportunistic; [policy] sections; REQUIRETLS and TLS-Required,
 * RFC 8689). Pure: facts in, a decision out, so every branch is unit-tested.
 */
#ifndef SEALMAIL_DELIVER_REMOTE_POLICY_H
#define SEALMAIL_DELIVER_REMOTE_POLICY_H

#include <stdbool.h>

#include "conf/conf.h"
#include "smtpc/smtpc_dane.h"
#include "smtpc/smtpc_session.h"

enum remote_sts {
	REMOTE_STS_NONE,	/* no policy, or mode none */
	REMOTE_STS_TESTING,
	REMOTE_STS_ENFORCE,
};

/* What is known about one MX host of a destination. */
struct remote_tls_facts {
	enum conf_tls_policy	 level;		/* [policy] tls, or AUTO */
	bool			 dane_enabled;	/* [delivery] dane */
	bool			 dnssec;	/* MX RRset and the host's
						 * addresses validated */
	enum smtpc_dane_state	 dane;		/* TLSA outcome (NONE if not
						 * looked up) */
	enum remote_sts		 sts;		/* the domain's MTA-STS policy */
	bool			 sts_match;	/* host is in its mx list */
	bool			 mx_match;	/* host passes [policy] mx_match
						 * (true without patterns) */
	bool			 requiretls;	/* REQUIRETLS in the envelope */
	bool			 tls_required_no; /* "TLS-Required: No" */
};

/* The decision for that host. */
struct remote_tls_plan {
	/* Non-NULL: do not connect to this host in this attempt; an RFC 8460
	 * result type ("dnssec-invalid", "dane-required",
	 * "validation-failure") or "requiretls" for RFC 8689 §4.2.1 step 2,
	 * with a text for the result in why. */
	const char		*skip;
	const char		*why;
	const char		*policy;	/* dane | mta-sts | verify |
						 * encrypt | may | none */
	const char		*rpt_type;	/* tlsa | sts | no-policy-found */
	enum smtpc_tls_mode	 tls;
	bool			 verify;	/* authentication enforced */
	bool			 use_dane;	/* check against the TLSA
						 * records (enforced or not) */
	bool			 overridden;	/* TLS-Required: No relaxed a
						 * requirement */
};

/* Decide; never fails. */
void remote_tls_decide(const struct remote_tls_facts *f,
    struct remote_tls_plan *p);

#endif
