/* SPDX-License-Identifier: ISC */
/*
 * MTA-STS policy discovery for outbound delivery (RFC 8461 §3, §5.1), on the
 * queue runner's libevent loop: the _mta-sts TXT record and the policy
 * host's addresses through the runner's resolver (dns/dns.h, never the
 * system resolver), the HTTPS fetch (sts/sts_fetch.h) on a small thread pool
 * of its own, and a cache in memory and in the store (db_sts_*).
 *
 * For each mtasts_get(DOMAIN):
 *  - _mta-sts.DOMAIN TXT is looked up (every time; libunbound caches it
 *    for its TTL). A single valid v=STSv1 record gives the current id.
 *  - A cached, unexpired policy fetched under that id is used as is, with
 *    no fetch. When it is a day old or past half its lifetime, a
 *    background refresh starts (§3.3, §5.1) without delaying the caller.
 *  - Otherwise (no cache, expired, or another id) the policy is fetched:
 *    mta-sts.DOMAIN A/AAAA, then GET https://mta-sts.DOMAIN/.well-known/
 *    mta-sts.txt on those addresses only; non-public addresses are dropped
 *    unless allow_private, and so are those of a DNSSEC-bogus answer. A valid policy replaces the cache; a failure
 *    falls back to a cached unexpired policy (from_cache, with the failure
 *    type) or to no policy. A failed fetch is not retried for the same id
 *    for five minutes (§3.3).
 *  - No TXT record, several, an invalid one, or a DNS temporary failure:
 *    a cached unexpired policy is still used (from_cache) and refreshed
 *    as above (§10.2: whatever the TXT record says); otherwise no
 *    policy, failure NULL, detail says why.
 *  - Requests for one domain share one lookup and one fetch.
 * Mode "none" is returned as a policy; the caller treats it as no
 * enforcement. Policy Domains are compared lower-case without a final dot.
 */
#ifndef SEALMAIL_DELIVER_MTASTS_H
#define SEALMAIL_DELIVER_MTASTS_H

#include <stdbool.h>
#include <stddef.h>

struct db;
struct workpool;
struct dns_resolver;
struct event_base;
struct sts_policy;
struct mtasts;
struct mtasts_req;

/* What the runner's conf says ([delivery] tls_ca, fetch_private_addresses)
 * and the bounds on discovery. Copied by mtasts_new(). */
struct mtasts_params {
	const char	*ca_file;		/* extra PEM CAs; NULL: none */
	bool		 allow_private;		/* fetch from non-public
						 * addresses (tests, LANs) */
	unsigned	 port;			/* 0: 443 */
	unsigned	 fetch_timeout_ms;	/* whole HTTPS fetch; 0: 60 s */
	unsigned	 dns_timeout_ms;	/* per lookup; 0: dns default */
	struct workpool	*store;			/* where the store is used (a
						 * server's, PostgreSQL: one
						 * thread, which alone uses
						 * db); NULL: on the loop.
						 * Borrowed: freed after m */
};

struct mtasts_result {
	bool			 have_policy;	/* a usable policy: fresh, or
						 * cached and unexpired */
	const struct sts_policy	*policy;	/* borrowed for the callback
						 * only; NULL if !have_policy */
	const char		*policy_text;	/* the body as fetched (TLS-RPT
						 * policy-string), borrowed;
						 * NULL if !have_policy */
	bool			 from_cache;	/* served from the cache after a
						 * failed refresh or a missing
						 * or unusable TXT record */
	const char		*failure;	/* NULL, or the RFC 8460 result
						 * type of a discovery failure:
						 * "sts-policy-fetch-error",
						 * "sts-policy-invalid",
						 * "sts-webpki-invalid" */
	const char		*detail;	/* reason for logs, "" if none;
						 * borrowed */
};

/* Runs exactly once per request that was not cancelled, always from the
 * event loop (never inside mtasts_get()). r and everything it points to
 * is valid only during the call. The callback may call mtasts_get(),
 * mtasts_cancel() on other requests, and mtasts_free(). */
typedef void mtasts_cb(const struct mtasts_result *r, void *arg);

/*
 * A policy source on base. dns and db are borrowed and must outlive it
 * (db may be NULL: memory cache only); p is copied. Starts two fetch
 * threads. Returns NULL with one line in err on failure.
 */
struct mtasts *mtasts_new(struct event_base *base, struct dns_resolver *dns,
    struct db *db, const struct mtasts_params *p, char *err, size_t errlen);

/* Drop pending requests (no callback) and free m; NULL is a no-op. May
 * block until fetches already running end (at most their timeout). */
void mtasts_free(struct mtasts *m);

/*
 * Start discovery for the Policy Domain domain (A-labels, final dot
 * optional). cb(result, arg) follows from the loop. The handle is valid
 * until cb starts or the request is cancelled. Never NULL.
 */
struct mtasts_req *mtasts_get(struct mtasts *m, const char *domain,
    mtasts_cb *cb, void *arg);

/* Withdraw r (whose callback has not started): cb will not run. The
 * shared lookup or fetch continues and still updates the cache. */
void mtasts_cancel(struct mtasts_req *r);

/*
 * Refresh, in the background, every stored policy that is due (a day old
 * or past half its max_age), whether or not mail goes to its domain
 * (RFC 8461 §10.2: a policy must not quietly expire). A source with a
 * store runs this every six hours by itself; exposed for tests.
 */
void mtasts_sweep(struct mtasts *m);

#endif
