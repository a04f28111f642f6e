/* SPDX-License-Identifier: ISC */
/*
 * BIMI (draft-brand-indicators-for-message-identification-12): the
 * Assertion Record parser ("v=BIMI1; l=...; a=..."), the BIMI-Selector
 * header parser, local-part selectors (lps=), the DMARC conditions a
 * message must meet, the asynchronous Assertion Record discovery with its
 * fallback to the Organizational Domain, the BIMI-Location field we add,
 * and the ranges of sender-supplied BIMI-Location / BIMI-Indicator /
 * BIMI-Logo-Preference fields to remove ("Header Removal").
 *
 * Record texts, header values and DNS answers are untrusted; parsers are
 * pure and take bytes plus a length.
 *
 * Not done here (documented gap): fetching the SVG Indicator over HTTPS,
 * validating it and the evidence document (a=), and the BIMI-Indicator
 * field. A found, well-formed record with an https l= is reported as
 * bimi=pass and its l= is handed to the MUA in BIMI-Location, which
 * fetches the Indicator itself.
 */
#ifndef SEALMAIL_AUTH_BIMI_H
#define SEALMAIL_AUTH_BIMI_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/authres.h"
#include "core/buf.h"

struct conf;
struct event_base;
struct dns_resolver;
struct dmarc_verdict;

/* Longest l= / a= URI we accept (longer is a record error). */
#define BIMI_URI_MAX		1024
/* A selector: sub-domain *("." sub-domain), kept under DNS name limits. */
#define BIMI_SELECTOR_MAX	128
/* Local-part prefixes of lps= we keep; each is 1*63 characters. */
#define BIMI_LPS_MAX		8
#define BIMI_LPS_LEN		63
/* Discovery makes at most 4 queries: selector and lps at the Author
 * Domain, then at the Organizational Domain ("Assertion Record
 * Discovery" steps 3, 5, 6, 8). */
#define BIMI_QUERIES_MAX	4
#define BIMI_QUERY_TIMEOUT_MS	5000
#define BIMI_DOMAIN_MAX		256

enum bimi_avp {
	BIMI_AVP_BRAND,		/* default */
	BIMI_AVP_PERSONAL,
	BIMI_AVP_INVALID,	/* "MUST be ignored", not reported */
};

struct bimi_record {
	char		 l[BIMI_URI_MAX + 1];	/* "" when empty */
	char		 a[BIMI_URI_MAX + 1];	/* "" when empty or absent */
	bool		 has_lps;
	char		 lps[BIMI_LPS_MAX][BIMI_LPS_LEN + 1];
	size_t		 nlps;
	enum bimi_avp	 avp;
};

enum bimi_record_result {
	BIMI_RECORD_OK,
	BIMI_RECORD_NOT_BIMI,	/* no leading v=BIMI1: discard the record */
	BIMI_RECORD_INVALID,	/* BIMI record with an error: bimi=fail */
};

/*
 * Parse an Assertion Record (DKIM tag-list syntax, RFC 6376 §3.2; tag names
 * and "BIMI1" case-sensitive, no fixing of errors). Required: v first, l
 * present (maybe empty). l and a must be empty or one https URI with a
 * host name; a duplicate tag, a bad lps list or a malformed tag-spec is
 * an error; unknown tags are ignored.
 */
enum bimi_record_result bimi_record_parse(const char *txt, size_t len,
    struct bimi_record *out);

/* True if the record declines to publish: l= and a= both empty. */
bool bimi_record_declined(const struct bimi_record *r);

/*
 * The selector of a BIMI-Selector field value ("v=BIMI1; s=sel;"), lower
 * case, into out (size outlen). -1 when the field is not valid, in which
 * case "default" is used ("Invalid BIMI-Selector Header" example).
 */
int bimi_selector_parse(const char *value, size_t len, char *out,
    size_t outlen);

/*
 * Normalise a local-part into a local-part selector ("Local-part
 * Selectors" step 3): drop "+..." , turn runs of "_" and "." into one
 * "-", trim dashes, lower case; -1 if the result is empty, longer than
 * 63 or has other characters.
 */
int bimi_lps_selector(const char *local, char *out, size_t outlen);

/* Step 4: does the normalised selector match r's lps prefixes (any when
 * the list is empty)? Case-insensitive. */
bool bimi_lps_match(const struct bimi_record *r, const char *selector);

/*
 * The DMARC conditions of "Authentication Requirements": exactly one From
 * address (nfrom_addrs is the number of addresses in all From: fields),
 * DMARC pass, and an enforcing policy: p (of the policy record and of the
 * Organizational Domain's record) not none, no sp=none, applied policy
 * not none, no test mode (t=y / pct=0) and pct, when given, 100. On false,
 * *why is a static text for the "bimi=skipped (...)" comment.
 */
bool bimi_dmarc_eligible(const struct dmarc_verdict *v, size_t nfrom_addrs,
    const char **why);

enum bimi_result {
	BIMI_RESULT_NONE,	/* no record */
	BIMI_RESULT_PASS,
	BIMI_RESULT_FAIL,	/* bad record, several records, bad l= */
	BIMI_RESULT_TEMPERROR,
	BIMI_RESULT_DECLINED,
	BIMI_RESULT_SKIPPED,	/* conditions not met (set by the caller) */
};

const char *bimi_result_name(enum bimi_result r);

struct bimi_input {
	const char	*author_domain;	/* RFC5322.From domain */
	const char	*org_domain;	/* its Organizational Domain (DMARC) */
	const char	*local_part;	/* From local-part, for lps=; or NULL */
	const char	*selector;	/* from BIMI-Selector, or NULL: default */
};

struct bimi_outcome {
	enum bimi_result result;
	const char	*reason;		/* static text */
	char		 domain[BIMI_DOMAIN_MAX];	/* header.d */
	char		 selector[BIMI_SELECTOR_MAX + 1]; /* header.selector */
	struct bimi_record record;		/* valid for pass/declined */
	unsigned	 nqueries;
};

void bimi_outcome_free(struct bimi_outcome *o);

struct bimi_lookup;
/* Called once from the event loop, never inside bimi_lookup_start(); the
 * callback owns o (bimi_outcome_free). */
typedef void bimi_cb(struct bimi_outcome *o, void *arg);

/*
 * Discover the Assertion Record for in (copied) with res on base: the
 * selector at the Author Domain, then at the Organizational Domain when
 * the first set is empty, each followed by the lps= selector when the
 * record asks for it. Only call it when bimi_dmarc_eligible() said yes.
 * Never NULL; the handle is valid until cb starts or bimi_lookup_cancel.
 */
struct bimi_lookup *bimi_lookup_start(struct event_base *base,
    struct dns_resolver *res, const struct bimi_input *in, bimi_cb *cb,
    void *arg);
void bimi_lookup_cancel(struct bimi_lookup *l);

/* Blocking discovery for CLI tools (own base and resolver from conf). 0
 * and *out (caller frees), or -1 if the resolver cannot be set up. */
int bimi_lookup_sync(const struct conf *conf, const struct bimi_input *in,
    struct bimi_outcome **out);

/* Append "BIMI-Location: v=BIMI1; l=<uri>\r\n" (folded before l= when
 * long) for a pass outcome. -1 if o is not a pass or out is full. */
int bimi_location_format(struct buf *out, const struct bimi_outcome *o);

/*
 * Byte ranges of the BIMI-Location, BIMI-Indicator and
 * BIMI-Logo-Preference fields in the header section hdrs: the sender's,
 * to be removed in every case ("Handle Existing BIMI-Location and
 * BIMI-Indicator Headers"). Writes at most max fields (off and len give
 * each range) into out and returns how many there are.
 */
size_t bimi_strip_ranges(const char *hdrs, size_t len,
    struct authres_field *out, size_t max);

#endif
