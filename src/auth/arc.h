/* SPDX-License-Identifier: ISC */
/*
 * ARC chain validation (RFC 8617 §5.2): the ARC-Authentication-Results,
 * ARC-Message-Signature and ARC-Seal fields of a received message are
 * collected into sets by instance, checked for structure, and their
 * signatures verified with the DKIM machinery (dkim_sig, dkim_canon,
 * dkim_verify), keys fetched through dns.h. The outcome is the chain
 * validation status for Authentication-Results: arc=none|pass|fail.
 *
 * Use (same shape as dkim_verify.h): arc_verify_new() with the complete
 * header section; arc_verify_body() with the body as it streams in (the
 * AMS body hashes); arc_verify_start(), which finishes the hashes, fetches
 * the keys and calls done once the chain is decided. Chains that fail on
 * structure or on the newest AMS body hash cost no lookup.
 *
 * Reading of the RFC, where it leaves room:
 *  - §5.2.1: "All errors, including DNS failures, become unrecoverable and
 *    are considered permanent": a key that cannot be fetched (SERVFAIL,
 *    timeout, bogus) makes the chain fail. There is no arc=temperror (the
 *    IANA registry, §10.1, has none, pass, fail); the reason
 *    ARC_REASON_DNS lets a caller log it or choose to tempfail locally.
 *  - Only the newest AMS must validate (§5.2 step 4); older ones only
 *    decide header.oldest-pass (step 5, done here, bounded like the rest).
 *  - An ARC-Seal with h= fails the chain (§4.1.3); an AMS whose h= lists an
 *    ARC field is invalid (§4.1.2), as is one without From (RFC 6376).
 *  - A field whose instance cannot be read (no or bad i=, or i= outside
 *    1..50) is a structural error: the chain fails (§5.2 step 3).
 *  - Seals are hashed by instance order (§5.1.1), not by field position.
 *  - Key policy (RSA >= 1024 bits, rsa-sha1 refused, t=/x=) is DKIM's.
 *
 * Bounds: the header section is at most LIMIT_HEADER_SECTION (a bigger one
 * is treated as carrying no chain, as dkim_verify does); at most
 * ARC_INSTANCES_MAX sets exist (more fail, step 1) and at most
 * ARC_VERIFY_MAX are verified: a longer chain fails with
 * ARC_REASON_TOO_LONG rather than costing 2 x 50 lookups and 50 seal
 * hashes over a large header. Key lookups are shared by name.
 *
 * All input (header fields, DNS answers) is untrusted. Results are values:
 * nothing here fails because of the message or the DNS.
 */
#ifndef SEALMAIL_AUTH_ARC_H
#define SEALMAIL_AUTH_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/dkim_sig.h"
#include "auth/dkim_verify.h"

struct authres_result;
struct conf;
struct dkim_field;
struct dns_answer;
struct dns_resolver;
struct event_base;
struct arc_verify;

/* RFC 8617 §4.2.1 / §5.2 step 1: instances 1..50. */
#define ARC_INSTANCES_MAX	50
/* Sets we verify (issue 4: bounded work per message); longer chains fail. */
#define ARC_VERIFY_MAX		8
/* Distinct key names looked up: one per AMS and AS at most. */
#define ARC_KEYS_MAX		(2 * ARC_VERIFY_MAX)

/* RFC 8617 §4.4 / §10.1. */
enum arc_result {
	ARC_NONE,
	ARC_PASS,
	ARC_FAIL,
};

/* Why the chain failed (ARC_REASON_NONE for pass and none). */
enum arc_reason {
	ARC_REASON_NONE,
	ARC_REASON_TOO_MANY,	/* > ARC_INSTANCES_MAX sets (step 1) */
	ARC_REASON_TOO_LONG,	/* > ARC_VERIFY_MAX sets: our bound */
	ARC_REASON_CV_FAIL,	/* newest seal has cv=fail (step 2) */
	ARC_REASON_STRUCTURE,	/* missing/duplicate field, gap, bad i= (3A/B) */
	ARC_REASON_CV,		/* cv not none at 1 / pass above (3C) */
	ARC_REASON_SYNTAX,	/* the newest AMS or a seal does not parse */
	ARC_REASON_AMS,		/* the newest AMS does not validate (step 4) */
	ARC_REASON_SEAL,	/* a seal does not validate (step 6) */
	ARC_REASON_DNS,		/* a key could not be fetched (§5.2.1) */
	ARC_REASON_CANCELLED,	/* not finished */
};

/* RFC 8617 §3.9 chain-status in a seal's cv=. */
enum arc_cv {
	ARC_CV_NONE,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

/* One verified set (instance 1..count); strings are NUL-terminated. The
 * results are DKIM results of each signature (RFC 8601 words); an AMS
 * that did not need checking (older ones when the chain failed early)
 * stays temperror/cancelled. */
struct arc_set {
	unsigned		 instance;
	enum arc_cv		 cv;
	char			 ams_d[LIMIT_DOMAIN + 1];
	char			 ams_s[DKIM_SELECTOR_MAX + 1];
	char			 as_d[LIMIT_DOMAIN + 1];
	char			 as_s[DKIM_SELECTOR_MAX + 1];
	struct dkim_result	 ams;
	struct dkim_result	 as;
};

/* Called once when the chain is decided, from the event loop, never from
 * inside arc_verify_start(). It may free v. */
typedef void arc_verify_cb(struct arc_verify *v, void *arg);

/*
 * Parse the header section hdr[0..len) (CRLF lines; the empty line that
 * ends it is optional, anything after it is ignored), check the chain's
 * structure and prepare the body hashes. now is the time for t= and x=.
 * Never fails; hdr is not kept.
 */
struct arc_verify *arc_verify_new(const char *hdr, size_t len, time_t now);

/* Body octets, in order, any chunking; ignored after arc_verify_start. */
void arc_verify_body(struct arc_verify *v, const void *data, size_t len);

/*
 * End of body: finish the hashes, look up the keys with res and call
 * cb(v, arg) when the chain is decided (on the next loop turn of base when
 * nothing needs a lookup). Remaining lookups are cancelled as soon as the
 * outcome is known. Call once. res and base must outlive the verification
 * or arc_verify_cancel() must come first.
 */
void arc_verify_start(struct arc_verify *v, struct event_base *base,
    struct dns_resolver *res, arc_verify_cb *cb, void *arg);

/* Stop pending lookups; cb will not run; an undecided chain is a fail
 * (ARC_REASON_CANCELLED). May be called from any callback. */
void arc_verify_cancel(struct arc_verify *v);

/* Cancel if needed and free. NULL is a no-op. */
void arc_verify_free(struct arc_verify *v);

/* The chain validation status and why (ARC_REASON_NONE unless fail). */
enum arc_result arc_verify_result(const struct arc_verify *v);
enum arc_reason arc_verify_reason(const struct arc_verify *v);
/* The highest instance found (N of §5.2; 0 when there is no chain). */
unsigned arc_verify_count(const struct arc_verify *v);
/*
 * §5.2 step 5 / §6 header.oldest-pass: on pass, the lowest instance M such
 * that every AMS from M to N validates, or 0 when all do. -1 when the
 * chain did not pass.
 */
int arc_verify_oldest_pass(const struct arc_verify *v);
/* Set i (1..arc_verify_count, at most ARC_VERIFY_MAX) or NULL when the
 * chain failed before the sets were read. Borrowed until free. */
const struct arc_set *arc_verify_set(const struct arc_verify *v,
    unsigned i);

/*
 * Fill r for authres_format(): method "arc", the result, a comment
 * "i=N" (or the failure reason), and the §6 properties header.oldest-pass
 * (on pass) and smtp.remote-ip (when remote_ip, the SMTP client's address
 * as text, is not NULL; borrowed, must outlive r). Strings point into v
 * or static storage: valid until v is freed.
 */
void arc_verify_authres(const struct arc_verify *v, const char *remote_ip,
    struct authres_result *r);

/*
 * Offline steps, for the CLI and tests (as dkim_verify.h): finish the
 * body hashes, then give each key answer: arc_verify_needs_key() says
 * whether key k (0 <= k < ARC_KEYS_MAX) is still needed and gives the
 * name to look up (SELECTOR._domainkey.DOMAIN TXT; storage of v);
 * arc_verify_apply_key() decides the signatures that use it (ans is
 * borrowed). The result is final when no key is needed any more.
 */
void arc_verify_body_end(struct arc_verify *v);
bool arc_verify_needs_key(const struct arc_verify *v, size_t k,
    const char **name);
void arc_verify_apply_key(struct arc_verify *v, size_t k,
    const struct dns_answer *ans);

/*
 * Blocking convenience for `sealmail check-auth`: run arc_verify_start on
 * a private event base with a resolver made from conf's [dns]. Returns 0
 * when the chain is decided, -1 (one line in err) if the resolver could
 * not be set up.
 */
int arc_verify_run_sync(struct arc_verify *v, const struct conf *conf,
    char *err, size_t errlen);

/* The three fields of a set, in the order §5.1.1 hashes them. */
enum arc_field_kind {
	ARC_FIELD_AAR,
	ARC_FIELD_AMS,
	ARC_FIELD_AS,
	ARC_FIELD_NONE,		/* not an ARC field */
};

/*
 * Which ARC field f (from dkim_header_next) is, and its instance into
 * *instance as the verifier reads it: 1..99 (over ARC_INSTANCES_MAX is a
 * chain too long), 0 when it cannot be read (or f is no ARC field). For
 * the sealer (arc_sign.c), which hashes the sets it extends.
 */
enum arc_field_kind arc_field_kind(const struct dkim_field *f,
    unsigned *instance);

/* "none", "pass", "fail"; never NULL. */
const char *arc_result_name(enum arc_result r);
/* "chain too long", ...; never NULL. */
const char *arc_reason_name(enum arc_reason r);

#endif
