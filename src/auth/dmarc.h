/* SPDX-License-Identifier: ISC */
/*
 * DMARC evaluation (RFC 9989): policy discovery and the Organizational
 * Domain by the DNS Tree Walk (§4.10, no Public Suffix List), relaxed and
 * strict Identifier Alignment of the SPF- and DKIM-Authenticated
 * Identifiers (§4.4, §4.10.2), the result (pass, fail, none, temperror,
 * permerror; §9.2) and the disposition a receiver applies (p, sp, np, psd,
 * t; §4.7, §4.10.1).
 *
 * Two layers:
 *  - a pure core, struct dmarc_ctx, that never does I/O: it says which DNS
 *    names it needs (dmarc_ctx_step) and is fed the answers
 *    (dmarc_ctx_feed). Unit tests drive it from tables of fake zones;
 *  - the asynchronous evaluation on src/dns/dns.h (dmarc_eval_start), and
 *    a blocking wrapper for the offline `check-auth` (dmarc_eval_sync).
 *
 * Inputs are the already computed SPF and DKIM outcomes and the Author
 * Domain(s) of the message; every name in them and every DNS answer is
 * untrusted. The work per message is bounded by the limits below.
 *
 * Reading of the RFC where it leaves a choice (documented for reviewers):
 *  - Author Domains (§5.3.1, §11.5). Addresses of all From: fields are
 *    collected and their domains de-duplicated case-insensitively. Zero
 *    domains: DMARC cannot be evaluated, the result is permerror (the
 *    message is not a valid RFC 5322 message). One domain: normal
 *    evaluation. Several domains: §5.3.1 allows going on, and §11.5
 *    recommends evaluating each domain and applying the strictest policy
 *    among those that fail; we do that for up to DMARC_AUTHORS_MAX domains
 *    and return permerror (evaluation incomplete) beyond. The overall
 *    result is the worst of the per-domain results in the order fail >
 *    temperror > permerror > pass > none, and the disposition the
 *    strictest among failing domains.
 *  - The Author Domain walk always runs to its end (at most
 *    DMARC_WALK_MAX queries), so the Organizational Domain is known for
 *    reports and BIMI, even when alignment is strict.
 *  - An identifier is walked only if it is the Author Organizational
 *    Domain or below it; any other identifier cannot have the same
 *    Organizational Domain (an Organizational Domain is always the name
 *    itself or one of its ancestors).
 *  - DNS errors (SERVFAIL, REFUSED, timeout, DNSSEC-bogus data) at the
 *    Author Domain's own _dmarc name give temperror (§4.10.1 leaves it to
 *    the receiver). Above a record found there they only leave the
 *    Organizational Domain unknown (org_domain ""): the policy still
 *    applies, identifiers identical to the Author Domain still align, and
 *    only relaxed alignment of another name becomes an error. During an
 *    identifier's walk they make that identifier unusable; the result is
 *    temperror only if no other identifier aligns. may_reject tells the
 *    receiver whether deferring is called for.
 *  - A policy record without a valid p (or with an invalid sp/np) is used
 *    as p=none when it has a valid rua URI, otherwise the result is
 *    permerror (§4.10.1 "applies no DMARC processing", §9.2 permerror).
 *  - np needs the existence of the Author Domain (§3.2.13, Appendix A.4):
 *    a NOERROR answer for _dmarc.<author> proves it (RFC 8020), otherwise
 *    an A query for the Author Domain decides (NXDOMAIN: it does not
 *    exist). This query is made only when the message fails and np is
 *    published, because only then does it change the disposition.
 *  - t=y (and pct=0 without t, Appendix A.6) lowers the disposition one
 *    level, as §4.7 "t" says: reject -> quarantine, quarantine -> none.
 *  - Non-ASCII Author Domains must be converted to A-labels (§5.3.1); we
 *    have no IDNA library, so such a domain gives permerror.
 */
#ifndef SEALMAIL_AUTH_DMARC_H
#define SEALMAIL_AUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/dmarc_record.h"

struct conf;
struct event_base;
struct dns_resolver;
struct dns_answer;

/* §4.10: a Tree Walk makes at most eight queries. */
#define DMARC_WALK_MAX		8
/* §11.5: "Limiting the number of Author Domains processed". */
#define DMARC_AUTHORS_MAX	4
/* DKIM-Authenticated Identifiers considered (one per passing signature,
 * de-duplicated); later ones are ignored. */
#define DMARC_DKIM_MAX		16
/* Distinct DNS queries per message (walks share their answers); a walk
 * that would need more counts as a DNS error. 4 author walks of 8, plus
 * identifier walks that mostly reuse them, plus existence checks. */
#define DMARC_QUERIES_MAX	64
/* Deadline of each DNS query. */
#define DMARC_QUERY_TIMEOUT_MS	5000
/* Room for a domain name: RFC 5321's 255 octets + NUL (a usable DNS name
 * has at most 253 characters, RFC 1035 §2.3.4; longer ones are refused). */
#define DMARC_DOMAIN_MAX	256

enum dmarc_result {
	DMARC_RESULT_NONE,	/* no DMARC Policy Record applies */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,
};

/* What the receiver should do with the message (before local overrides
 * such as [auth] dmarc_enforce). */
enum dmarc_disposition {
	DMARC_DISPOSITION_NONE,
	DMARC_DISPOSITION_QUARANTINE,
	DMARC_DISPOSITION_REJECT,
};

/* Which tag of the policy record gave the policy (§4.10.1). */
enum dmarc_policy_source {
	DMARC_SOURCE_P,
	DMARC_SOURCE_SP,
	DMARC_SOURCE_NP,
};

struct dmarc_dkim_input {
	const char	*domain;	/* the signature's d= */
	bool		 pass;		/* the signature verified */
};

struct dmarc_input {
	/* Domains of the RFC5322.From addresses, as parsed (see
	 * dmarc_author_domains); duplicates are removed here. */
	const char	*const *from_domains;
	size_t		 nfrom;
	/* SPF result of the MAIL FROM identity (§4.4.2): spf_domain is the
	 * MAIL FROM domain, or the HELO domain for a null reverse-path
	 * (RFC 7208 §2.4); used only when spf_pass. */
	bool		 spf_pass;
	const char	*spf_domain;
	/* Every checked DKIM signature; only passing ones are identifiers. */
	const struct dmarc_dkim_input *dkim;
	size_t		 ndkim;
};

/* The evaluation of one Author Domain. */
struct dmarc_author {
	char		 domain[DMARC_DOMAIN_MAX];	/* lower case */
	enum dmarc_result result;
	enum dmarc_disposition disposition;
	const char	*reason;	/* static text for logs and comments */
	/* Set when a policy record applies (result pass or fail, and
	 * permerror for an unusable record). */
	bool		 has_record;
	char		 policy_domain[DMARC_DOMAIN_MAX];
	struct dmarc_record record;
	char		 org_domain[DMARC_DOMAIN_MAX];
	/* The record published at org_domain when it is not the policy
	 * record (the Author Domain had its own); BIMI looks at both. */
	bool		 has_org_record;
	struct dmarc_record org_record;
	enum dmarc_policy policy;	/* applicable p/sp/np after fallbacks */
	enum dmarc_policy_source source;
	bool		 testing;	/* t=y (or pct=0) */
	bool		 spf_aligned;
	bool		 dkim_aligned;
	char		 dkim_domain[DMARC_DOMAIN_MAX];	/* the aligned d= */
	/* With a temperror: the policy that would apply may be reject
	 * (known to be, or unknown because discovery failed). */
	bool		 may_reject;
};

struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_disposition disposition;
	size_t		 nauthors;
	struct dmarc_author author[DMARC_AUTHORS_MAX];
	unsigned	 nqueries;	/* DNS queries made */
};

/*
 * True if the verdict is a temperror for an Author Domain whose policy
 * may be reject: the receiver should then defer the message (4xx) rather
 * than deliver it as if there were no policy (§4.10.1 leaves the choice
 * to the receiver; failing open would let a DNS error upstream of the
 * policy record switch a reject policy off).
 */
bool dmarc_verdict_may_reject(const struct dmarc_verdict *v);

/* Free a verdict; NULL is a no-op. */
void dmarc_verdict_free(struct dmarc_verdict *v);

/* Static names for A-R and logs: "pass", "fail", "none", "temperror",
 * "permerror"; "none", "quarantine", "reject". */
const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_disposition_name(enum dmarc_disposition d);

/*
 * Collect the distinct domains (lower case, A-labels: RFC 8616 §6; a name
 * that is not valid IDNA2008 as written, which dmarc_ctx_new makes a
 * permerror with its reason; at most max) of the addresses
 * of every From: field in the header section hdrs (len bytes, untrusted,
 * lines ending in CRLF or LF, ending at the first empty line or at len).
 * Returns the number of distinct domains found (may exceed max: then too
 * many to evaluate, and out holds at most max of them, maybe none), 0
 * when there is no From: field or no address, or -1 when
 * a From: field does not parse (the caller then passes zero domains).
 * Each out[i] has room for DMARC_DOMAIN_MAX bytes.
 */
int dmarc_author_domains(const char *hdrs, size_t len,
    char out[][DMARC_DOMAIN_MAX], size_t max);

/* ---- pure core ------------------------------------------------------- */

struct dmarc_ctx;

/* A DNS lookup the core needs: TXT of "_dmarc.<domain>" or A of an Author
 * Domain (the existence check for np). */
struct dmarc_need {
	char		 name[DMARC_DOMAIN_MAX + 8];
	uint16_t	 type;		/* DNS_T_TXT or DNS_T_A */
};

enum dmarc_step {
	DMARC_STEP_DONE,	/* the verdict is ready */
	DMARC_STEP_NEED,	/* feed the needs (maybe 0 new ones: wait) */
};

/* A new evaluation of in (copied: the caller's strings need not outlive
 * the call). Never fails. */
struct dmarc_ctx *dmarc_ctx_new(const struct dmarc_input *in);
void dmarc_ctx_free(struct dmarc_ctx *c);

/*
 * Advance the evaluation with what is known. On DMARC_STEP_NEED, writes
 * up to max lookups that have not been asked for before into needs and
 * their number into *nneeds; each lookup is asked for once, so 0 means
 * "wait for the answers already asked for".
 */
enum dmarc_step dmarc_ctx_step(struct dmarc_ctx *c, struct dmarc_need *needs,
    size_t max, size_t *nneeds);

/* Give the answer for a need (name and type as in the need; ans is only
 * read). ans NULL means the query could not be made (a DNS error). */
void dmarc_ctx_feed(struct dmarc_ctx *c, const char *name, uint16_t type,
    const struct dns_answer *ans);

/* After DMARC_STEP_DONE: the verdict, owned by the caller. */
struct dmarc_verdict *dmarc_ctx_take_verdict(struct dmarc_ctx *c);

/* ---- asynchronous evaluation ----------------------------------------- */

struct dmarc_eval;

/* Called once, from the event loop, never inside dmarc_eval_start(); the
 * callback owns v (free with dmarc_verdict_free). */
typedef void dmarc_cb(struct dmarc_verdict *v, void *arg);

/*
 * Start evaluating in with resolver res bound to base (in is copied).
 * Returns a handle valid until cb starts or dmarc_eval_cancel(); never
 * NULL. DNS lookups run in parallel where the walks allow it.
 */
struct dmarc_eval *dmarc_eval_start(struct event_base *base,
    struct dns_resolver *res, const struct dmarc_input *in, dmarc_cb *cb,
    void *arg);

/* Cancel an evaluation whose callback has not started; NULL is a no-op.
 * May be called from any callback. */
void dmarc_eval_cancel(struct dmarc_eval *e);

/*
 * Blocking evaluation for CLI tools: its own event base and resolver
 * from conf's [dns]. 0 and *out (owned by the caller) on success; -1 when
 * the resolver cannot be set up (logged). Never use it in the daemon.
 */
int dmarc_eval_sync(const struct conf *conf, const struct dmarc_input *in,
    struct dmarc_verdict **out);

#endif
