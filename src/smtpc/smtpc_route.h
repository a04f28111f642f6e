/* SPDX-License-Identifier: ISC */
/*
 * Where to deliver a domain's mail: the MX records a lookup returned, put in
 * the order the client should try them (RFC 5321 §5.1: ascending preference,
 * random order among equal preferences), with null MX (RFC 7505) and the
 * implicit MX (the domain itself when it has no MX) decided here. Pure: DNS
 * results come in, a host list comes out; the randomness source can be
 * replaced for tests.
 */
#ifndef SEALMAIL_SMTPC_SMTPC_ROUTE_H
#define SEALMAIL_SMTPC_SMTPC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* More MX hosts than this are dropped (highest preferences first): nobody
 * needs them and each costs connection attempts. */
#define SMTPC_ROUTE_MAX_HOSTS	16

/* One MX record as the resolver returned it (exchange without trailing
 * dot; "." or "" for the RFC 7505 null MX). */
struct smtpc_mx {
	uint16_t	 pref;
	char		 host[LIMIT_DOMAIN + 1];
	bool		 too_long;	/* the exchange did not fit host:
					 * a record, but not a usable one */
};

enum smtpc_route_result {
	SMTPC_ROUTE_OK,		/* hosts to try, in order */
	SMTPC_ROUTE_NULL_MX,	/* the domain accepts no mail: bounce now */
	SMTPC_ROUTE_SELF,	/* we are the best MX: a loop, do not deliver */
	SMTPC_ROUTE_BAD_DOMAIN,	/* domain empty or too long */
	SMTPC_ROUTE_NO_USABLE,	/* MX records, none usable (RFC 5321 §5.1:
				 * an error, not the implicit MX) */
};

struct smtpc_route {
	struct smtpc_mx	 hosts[SMTPC_ROUTE_MAX_HOSTS];
	size_t		 nhosts;
	bool		 implicit;	/* no MX: the domain itself */
};

/* Uniform random number in [0, upper), upper > 0. */
typedef uint32_t smtpc_route_rand_fn(uint32_t upper, void *arg);

/*
 * Decide the route for domain from its n MX records (n == 0: the lookup
 * found no MX, so RFC 5321 §5.1 implicit MX applies; callers must not call
 * this for a lookup error). Records whose exchange is "." are a null MX when
 * they are the only records (RFC 7505 §3 says a null MX stands alone; when
 * mixed with real records they are ignored). self, if not NULL, is our own
 * host name: records with a preference equal to or above ours are dropped
 * (RFC 5321 §5.1) and SMTPC_ROUTE_SELF returned when we are the best. rnd may
 * be NULL (arc4random_uniform). Fills *out; returns the decision.
 */
enum smtpc_route_result smtpc_route_plan(const char *domain,
    const struct smtpc_mx *mx, size_t n, const char *self,
    smtpc_route_rand_fn *rnd, void *rnd_arg, struct smtpc_route *out);

/* Host names equal but for case and one final dot each (our own name
 * among the MXs, RFC 5321 §5.1). */
bool smtpc_route_same_host(const char *a, const char *b);

/* True if the records are exactly a null MX (RFC 7505 §3). */
bool smtpc_route_is_null_mx(const struct smtpc_mx *mx, size_t n);

/*
 * The MX records of a lookup's answer (ans->rr, untrusted) into mx, which
 * has room for ans->nrr entries; returns how many. Records of another type
 * are skipped. An exchange longer than LIMIT_DOMAIN (possible in
 * presentation form, with \DDD escapes) is kept as a record marked
 * too_long with an empty host: cut to fit, it would name another host, and
 * dropped, a domain whose MXs are all such would seem to have none.
 */
struct dns_answer;
size_t smtpc_route_mx_from_answer(const struct dns_answer *ans,
    struct smtpc_mx *mx);

#endif
