/* SPDX-License-Identifier: ISC */
/*
 * DKIM verification of one message (RFC 6376 §6, RFC 8463, RFC 8301).
 *
 * Use: dkim_verify_new() with the header section once it is complete (the
 * header hash of each signature is computed there, so the header need not
 * be kept); dkim_verify_body() with the body octets as they stream in (one
 * body hash per distinct (canonicalisation, l=) pair); then
 * dkim_verify_start(), which finishes the body hashes, fetches the keys
 * (SELECTOR._domainkey.DOMAIN TXT, RFC 6376 §3.6.2.1) through dns.h and
 * calls done once every signature has a result. Signatures whose body hash
 * already fails, or that fail by syntax, policy or time, cost no lookup.
 *
 * Bounds: the header section is at most LIMIT_HEADER_SECTION, at most
 * DKIM_SIGS_MAX signatures are evaluated (the rest are counted), h= has
 * at most DKIM_SIG_H_MAX entries, keys are bounded in dkim_key.h.
 *
 * Results are values: each signature gets a result and a reason; no
 * function here fails because of the message or the DNS.
 */
#ifndef SEALMAIL_AUTH_DKIM_VERIFY_H
#define SEALMAIL_AUTH_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dkim_canon.h"
#include "auth/dkim_sig.h"

struct conf;
struct dns_answer;
struct dns_resolver;
struct event_base;
struct dkim_verify;

/* t= may be this far in the future before the signature fails (clock
 * skew between signer and us; RFC 6376 §3.5 leaves it to the verifier). */
#define DKIM_CLOCK_SKEW		3600
/* TXT records of a key answer we try (RFC 6376 §6.1.2 lets us pick). */
#define DKIM_KEY_RECORDS_MAX	4

/* RFC 8601 §2.7.1 dkim results. */
enum dkim_res {
	DKIM_RES_PASS,
	DKIM_RES_FAIL,
	DKIM_RES_NEUTRAL,
	DKIM_RES_POLICY,
	DKIM_RES_TEMPERROR,
	DKIM_RES_PERMERROR,
};

enum dkim_reason {
	DKIM_REASON_NONE,
	DKIM_REASON_BODY_HASH,		/* fail: bh= does not match */
	DKIM_REASON_SIGNATURE,		/* fail: b= does not verify */
	DKIM_REASON_KEY_REVOKED,	/* fail: p= empty */
	DKIM_REASON_EXPIRED,		/* fail: x= in the past */
	DKIM_REASON_FUTURE,		/* fail: t= in the future */
	DKIM_REASON_KEY_TOO_SMALL,	/* policy: RSA < 1024 bits */
	DKIM_REASON_SHA1,		/* policy: rsa-sha1 (RFC 8301) */
	DKIM_REASON_SYNTAX,		/* permerror: bad DKIM-Signature */
	DKIM_REASON_NO_KEY,		/* permerror: NXDOMAIN / no TXT */
	DKIM_REASON_KEY_SYNTAX,		/* permerror: bad key record */
	DKIM_REASON_KEY_MISMATCH,	/* permerror: k=, h=, s= or t=s */
	DKIM_REASON_DNS,		/* temperror: SERVFAIL, timeout */
	DKIM_REASON_CANCELLED,		/* temperror: not finished */
};

/* Result of one signature. Strings are NUL-terminated copies; d, s and i
 * are empty when the signature did not parse. */
struct dkim_result {
	enum dkim_res		 res;
	enum dkim_reason	 reason;
	const char		*detail;	/* static text for logs */
	char			 d[LIMIT_DOMAIN + 1];
	char			 s[DKIM_SELECTOR_MAX + 1];
	char			 i[DKIM_AUID_MAX + 1];
	enum dkim_alg		 alg;
	bool			 has_l;		/* l= given: body partly signed */
	uint64_t		 l;
	uint64_t		 body_len;	/* canonical body length seen */
	char			 b[9];		/* first 8 chars of b= */
	bool			 testing;	/* key has t=y */
};

/* Called once when every signature has a result, from the event loop,
 * never from inside dkim_verify_start(). It may free v. */
typedef void dkim_verify_cb(struct dkim_verify *v, void *arg);

/*
 * Parse the header section hdr[0..len) (CRLF lines; the empty line that
 * ends it is optional, anything after it is ignored) and prepare the body
 * hashes. now is the time for x= and t=. Never fails: a header section over
 * LIMIT_HEADER_SECTION gives no signatures at all. hdr is not kept.
 */
struct dkim_verify *dkim_verify_new(const char *hdr, size_t len, time_t now);

/* Body octets, in order, any chunking; ignored after dkim_verify_start. */
void dkim_verify_body(struct dkim_verify *v, const void *data, size_t len);

/*
 * End of body: finish the hashes, look up the keys with res and call
 * cb(v, arg) when all signatures are decided (also when there are none:
 * then on the next loop turn of base). Call once. res and base must
 * outlive the verification or dkim_verify_cancel() must come first.
 */
void dkim_verify_start(struct dkim_verify *v, struct event_base *base,
    struct dns_resolver *res, dkim_verify_cb *cb, void *arg);

/* Stop pending lookups; cb will not run; undecided signatures become
 * temperror (cancelled). May be called from any callback. */
void dkim_verify_cancel(struct dkim_verify *v);

/* Cancel if needed and free. NULL is a no-op. */
void dkim_verify_free(struct dkim_verify *v);

/* Signatures evaluated (<= DKIM_SIGS_MAX), in header order (top first),
 * and signatures ignored beyond the cap. */
size_t dkim_verify_count(const struct dkim_verify *v);
size_t dkim_verify_skipped(const struct dkim_verify *v);
/* Result i (< count); borrowed until dkim_verify_free. Before the
 * signature is decided its res is DKIM_RES_TEMPERROR/CANCELLED. */
const struct dkim_result *dkim_verify_result(const struct dkim_verify *v,
    size_t i);

/*
 * Offline steps, for the CLI and tests: finish the body hashes (what
 * dkim_verify_start does first), and then decide signature i from a key
 * answer the caller obtained (ans is borrowed; an answer to
 * SELECTOR._domainkey.DOMAIN TXT). dkim_verify_needs_key() says whether
 * signature i still waits for its key, and gives the name to look up
 * (static storage of v, valid until v is freed).
 */
void dkim_verify_body_end(struct dkim_verify *v);
bool dkim_verify_needs_key(const struct dkim_verify *v, size_t i,
    const char **name);
void dkim_verify_apply_key(struct dkim_verify *v, size_t i,
    const struct dns_answer *ans);

/*
 * Blocking convenience for `sealmail check-auth`: run dkim_verify_start on
 * a private event base with a resolver made from conf's [dns]. Returns 0
 * when every signature is decided, -1 (one line in err) if the resolver
 * could not be set up.
 */
int dkim_verify_run_sync(struct dkim_verify *v, const struct conf *conf,
    char *err, size_t errlen);

/*
 * Added for ARC (auth/arc.c), which checks DKIM-style signatures with the
 * same rules. dkim_verify_header_digest(): the RFC 6376 §3.7 header hash
 * (SHA-256) of sig into out: the fields[0..nfields) that sig's h= selects
 * (§5.4.2; fields may be NULL when h= is not used), then self, sig's own
 * field, with its b= value blanked and no final CRLF, all canonicalised
 * with sig->hcanon. sig must come from dkim_sig_parse*() on self->value.
 * dkim_verify_apply_answer(): decide sig, whose header digest is hdigest,
 * from a key answer, exactly as dkim_verify_apply_key() does: sets
 * r->res, reason, detail and testing, nothing else. Both are pure apart
 * from OpenSSL and may be called from any callback.
 */
struct dkim_field;
void dkim_verify_header_digest(const struct dkim_sig *sig,
    const struct dkim_field *fields, size_t nfields,
    const struct dkim_field *self, uint8_t out[32]);
void dkim_verify_apply_answer(const struct dkim_sig *sig,
    const uint8_t hdigest[32], const struct dns_answer *ans,
    struct dkim_result *r);

/*
 * Also shared with ARC, whose AMS and AS follow the DKIM rules.
 *
 * dkim_verify_precheck(): the checks made before any key lookup, in this
 * order: rsa-sha1 (policy, RFC 8301), x= before now, t= after now plus
 * DKIM_CLOCK_SKEW, and a key name that could not exist (RFC 1035 §2.3.4).
 * Returns true, with r->res, reason and detail set, if one decides sig.
 *
 * dkim_verify_key_name(): SELECTOR._domainkey.DOMAIN (§3.6.2.1) of sig
 * into out; only for a sig that passed dkim_verify_precheck(), which
 * bounds the length.
 *
 * dkim_verify_copy_ids(): copy d, s, the b= prefix, a=, and l= of sig
 * into r (not i: ARC's i= is an instance, not an AUID).
 */
#define DKIM_KEY_NAME_MAX	(LIMIT_DOMAIN + DKIM_SELECTOR_MAX + 16)
bool dkim_verify_precheck(const struct dkim_sig *sig, time_t now,
    struct dkim_result *r);
void dkim_verify_key_name(const struct dkim_sig *sig,
    char out[DKIM_KEY_NAME_MAX]);
void dkim_verify_copy_ids(const struct dkim_sig *sig, struct dkim_result *r);

/*
 * Body hashes shared between signatures (DKIM-Signature or ARC AMS): one
 * SHA-256 over the canonical body per distinct (c=, l=) pair, at most
 * DKIM_SIGS_MAX of them. Embedded in the caller's struct, zeroed; fields
 * are private. dkim_body_hashes_get() returns the hash for (mode, limit),
 * made on first use (borrowed until clear); push feeds body octets (any
 * chunking), finish ends every hash, clear frees the hash contexts.
 * dkim_body_hash_matches(): after finish, whether h's digest is bh
 * (constant time).
 */
struct dkim_body_hash {
	enum dkim_canon_mode	 mode;
	uint64_t		 limit;
	void			*md;		/* EVP_MD_CTX */
	struct dkim_body_canon	 canon;		/* canon.total: body length */
	uint8_t			 digest[32];
};

struct dkim_body_hashes {
	struct dkim_body_hash	 h[DKIM_SIGS_MAX];
	size_t			 n;
};

struct dkim_body_hash *dkim_body_hashes_get(struct dkim_body_hashes *bh,
    enum dkim_canon_mode mode, uint64_t limit);
void dkim_body_hashes_push(struct dkim_body_hashes *bh, const void *data,
    size_t len);
void dkim_body_hashes_finish(struct dkim_body_hashes *bh);
void dkim_body_hashes_clear(struct dkim_body_hashes *bh);
bool dkim_body_hash_matches(const struct dkim_body_hash *h,
    const uint8_t bh[32]);

/* "pass", "fail", ... as in RFC 8601; never NULL. */
const char *dkim_res_name(enum dkim_res r);

#endif
