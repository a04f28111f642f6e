/* SPDX-License-Identifier: ISC */
/*
 * ARC sealing (RFC 8617 §5.1): the set of instance N+1 added to a message
 * we pass on, ARC-Authentication-Results (our verdicts), ARC-Message-
 * Signature and ARC-Seal, signed with a DKIM key through dkim_sign.h (the
 * same canonicalisation, hashing and signing as DKIM signing).
 *
 * Use: arc_sign_new(); arc_sign_body() with the body as it streams;
 * arc_sign_seal() at the end, once the incoming chain is decided (arc.h)
 * and our Authentication-Results field is written. The header section is
 * the message's (untrusted, bounded by LIMIT_HEADER_SECTION); the key
 * and our results are trusted.
 *
 * Choices the RFC leaves open:
 *  - The AMS signs, relaxed/relaxed, DKIM's recommended fields (From,
 *    To, Subject, Date and Message-ID oversigned) and every DKIM-Signature
 *    (§4.1.2 SHOULD), never an ARC field (MUST NOT), Authentication-
 *    Results (MUST NOT) or trace fields a later hop adds (Received,
 *    Delivered-To, Return-Path).
 *  - §5.1 step 2: a chain whose newest seal says cv=fail is not sealed;
 *    a chain that fails otherwise gets a set with cv=fail whose seal
 *    covers that set alone (§5.1.2); no set is added past instance
 *    ARC_INSTANCES_MAX (§4.2.1) or to a chain that already has more.
 */
#ifndef SEALMAIL_AUTH_ARC_SIGN_H
#define SEALMAIL_AUTH_ARC_SIGN_H

#include <stddef.h>
#include <time.h>

#include "auth/arc.h"

struct buf;
struct dkim_sign_pending;
struct dkim_sign_key;
struct arc_sign;

/* The incoming chain as the verifier decided it (arc_verify_count,
 * arc_verify_result, arc_verify_reason; {0, ARC_NONE, ...} for none). */
struct arc_sign_chain {
	unsigned	 n;
	enum arc_result	 res;
	enum arc_reason	 reason;
};

/*
 * §5.1 steps 2-3 and §5.1.2: whether a set may be added to the chain c,
 * and which: 0 with its instance and cv=, or -1 when none may be.
 */
int arc_sign_plan(const struct arc_sign_chain *c, unsigned *instance,
    enum arc_cv *cv);

/* A sealer for one message, t= now. Never NULL. */
struct arc_sign *arc_sign_new(time_t now);
/* Body octets in order (after the header's empty line), any chunking. */
void arc_sign_body(struct arc_sign *a, const void *data, size_t len);
void arc_sign_free(struct arc_sign *a);

/* What arc_sign_seal() did. */
#define ARC_SIGN_SEALED		0
#define ARC_SIGN_SKIPPED	1	/* arc_sign_plan said no */
#define ARC_SIGN_PENDING	2	/* a signature is wanted */

/*
 * End of body (the first call ends it; later calls reuse its hash): seal
 * the message whose header section is hdr[0..len) (CRLF lines; the empty
 * line is optional) with key k, for the incoming chain c. authres[0..
 * alen) is our Authentication-Results field as authres_format() writes it
 * (name included; anything after that first field, such as BIMI-Location,
 * is ignored): its value becomes the AAR's. Appends to out, in the order
 * they are to be prepended, ARC-Seal, ARC-Message-Signature and
 * ARC-Authentication-Results, and returns ARC_SIGN_SEALED; or
 * ARC_SIGN_SKIPPED (out unchanged); or -1 with one line in err (header
 * section too big, a malformed authres, out full, OpenSSL failing, or a
 * chain said to pass whose sets are not in hdr); out is then unchanged.
 */
int arc_sign_seal(struct arc_sign *a, const struct dkim_sign_key *k,
    const struct arc_sign_chain *c, const char *hdr, size_t len,
    const char *authres, size_t alen, struct buf *out, char *err,
    size_t errlen);

/*
 * arc_sign_seal() in steps, for a caller that asks for the two signatures
 * asynchronously (smtpd_sign.c): arc_sign_start() takes the same inputs
 * but no out and returns ARC_SIGN_SKIPPED, -1 (err) or ARC_SIGN_PENDING:
 * arc_sign_pending() is then the signature wanted (the AMS's; see
 * dkim_sign.h's dkim_sign_field_op and _put). Once it is put,
 * arc_sign_next() with the same header section says ARC_SIGN_PENDING
 * again (the seal's, which covers the AMS), then ARC_SIGN_SEALED with
 * the set appended to out; or -1 (err, out unchanged, the seal given
 * up). authres is read by arc_sign_start only; hdr must stay the same
 * until the end. arc_sign_free() gives up a seal under way.
 */
int arc_sign_start(struct arc_sign *a, const struct dkim_sign_key *k,
    const struct arc_sign_chain *c, const char *hdr, size_t len,
    const char *authres, size_t alen, char *err, size_t errlen);
struct dkim_sign_pending *arc_sign_pending(struct arc_sign *a);
int arc_sign_next(struct arc_sign *a, const char *hdr, size_t len,
    struct buf *out, char *err, size_t errlen);

#endif
