/* SPDX-License-Identifier: ISC */
/*
 * DKIM signing (RFC 6376 §5, RFC 8463): one DKIM-Signature per key, all
 * relaxed/relaxed with SHA-256 (rsa-sha256 or ed25519-sha256 from the key
 * type), h= the recommended set of RFC 6376 §5.4.1 present in the message,
 * with From, To, Subject, Date and Message-ID oversigned (listed once more
 * than they occur, so none can be added later, §8.15), t= now, no l=
 * (§8.2), folded at 78 columns.
 *
 * Keys are trusted (the administrator's PEM files). The header section
 * and the body are the message being sent: bounded by
 * LIMIT_HEADER_SECTION, the body streams through in constant memory.
 */
#ifndef SEALMAIL_AUTH_DKIM_SIGN_H
#define SEALMAIL_AUTH_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/dkim_sig.h"
#include "core/buf.h"

struct dkim_field;
struct keyop;
struct dkim_sign_key;
struct dkim_sign;

/* Keys one message is signed with (several selectors per domain). */
#define DKIM_SIGN_KEYS_MAX	4
/* Where DKIM-Signature lines are folded (RFC 5322 §2.1.1 SHOULD 78). */
#define DKIM_SIGN_COLUMNS	78

/*
 * Load a PEM private key (RSA >= 1024 bits, or Ed25519) for d=domain,
 * s=selector. The file may be given as a path (read here) or as text
 * (pem, len). Returns NULL with one line in err on failure. The key is
 * immutable once loaded and may be shared by many signers.
 */
struct dkim_sign_key *dkim_sign_key_load(const char *domain,
    const char *selector, const char *path, char *err, size_t errlen);
struct dkim_sign_key *dkim_sign_key_from_pem(const char *domain,
    const char *selector, const char *pem, size_t len, char *err,
    size_t errlen);
/* A key the keys process holds as handle (keyop.h): the public facts only;
 * signing with it asks the process's keyop backend. */
struct dkim_sign_key *dkim_sign_key_remote(const char *domain,
    const char *selector, bool rsa, uint32_t handle);
void dkim_sign_key_free(struct dkim_sign_key *k);
/* Whether k signs rsa-sha256 (else ed25519-sha256). */
bool dkim_sign_key_is_rsa(const struct dkim_sign_key *k);
/* The key record to publish for k (dkim_key_record); heap string, NULL
 * for a remote key. */
char *dkim_sign_key_record(const struct dkim_sign_key *k);

/*
 * A signer for one message with keys[0..nkeys) (borrowed; nkeys <=
 * DKIM_SIGN_KEYS_MAX; they must outlive the signer) and t=now.
 */
struct dkim_sign *dkim_sign_new(struct dkim_sign_key *const *keys,
    size_t nkeys, time_t now);
/* Body octets in order, any chunking (after the header's empty line). */
void dkim_sign_body(struct dkim_sign *s, const void *data, size_t len);
/*
 * End of body: sign the header section hdr[0..len) (CRLF lines; the empty
 * line is optional) and append one "DKIM-Signature: ...\r\n" field per
 * key, in key order, to out, to be prepended to the message. Returns -1
 * (one line in err) if the header section is over LIMIT_HEADER_SECTION,
 * out is full or OpenSSL fails. Call once.
 */
int dkim_sign_finish(struct dkim_sign *s, const char *hdr, size_t len,
    struct buf *out, char *err, size_t errlen);

/*
 * dkim_sign_finish() in steps, for a caller that asks for the signatures
 * asynchronously (keyop.h start; smtpd_sign.c): dkim_sign_start() ends
 * the body and makes each key's field up to b= and its digest, returning
 * the number of signatures wanted (one per key, any order) or -1 (err);
 * dkim_sign_pending(s, i) is the i-th (dkim_sign_field_op for its
 * request, dkim_sign_field_put for its answer); dkim_sign_end() appends
 * the fields, in key order, once every signature is in: -1 (err) if one
 * is missing or out is full (out unchanged). Call each once.
 */
struct dkim_sign_pending;
int dkim_sign_start(struct dkim_sign *s, const char *hdr, size_t len,
    char *err, size_t errlen);
struct dkim_sign_pending *dkim_sign_pending(struct dkim_sign *s, size_t i);
int dkim_sign_end(struct dkim_sign *s, struct buf *out, char *err,
    size_t errlen);
void dkim_sign_free(struct dkim_sign *s);

/*
 * The building blocks, shared with ARC sealing (arc_sign.c), whose AMS
 * and AS are DKIM signatures under other names (RFC 8617 §4.1.2-3).
 *
 * dkim_sign_body_end(): end of body; its hash (relaxed, no l=) in base64
 * into bh64. -1 if hashing fails or it was called before (it replaces
 * dkim_sign_finish, which calls it). The signer's keys may be none.
 *
 * dkim_sign_field(): append one signature field by k, t=t, to out:
 * sp->head (the field name, colon and first tags, e.g. "ARC-Seal: i=2;
 * cv=pass;"), a=, then with sp->h: c=relaxed/relaxed, d=, s=, t=, h= the
 * names of sp->h present in hdr[0..len) (each as often as it occurs,
 * once more when oversigned; an empty list is an error), bh=sp->bh64,
 * the digest covering those fields (RFC 6376 §5.4.2); without sp->h: d=,
 * s=, t= and the digest covering sp->fields[0..nfields) in that order (an
 * implicit list, as the seal's of RFC 8617 §5.1.1). Then the field itself
 * with b= empty (§3.7), everything relaxed, folded at DKIM_SIGN_COLUMNS.
 * Returns -1 if out is full or OpenSSL fails.
 */
#define DKIM_SIGN_BH64	48	/* base64 of a SHA-256, NUL included */

struct dkim_sign_hname {
	const char	*name;		/* lower case */
	bool		 over;		/* oversigned (RFC 6376 §8.15) */
};

struct dkim_sign_spec {
	const char			*head;
	const struct dkim_sign_hname	*h;		/* or NULL */
	size_t				 nh;
	const char			*bh64;		/* with h */
	const struct dkim_field		*fields;	/* without h */
	size_t				 nfields;
};

int dkim_sign_body_end(struct dkim_sign *s, char bh64[DKIM_SIGN_BH64]);
int dkim_sign_field(const struct dkim_sign_key *k, time_t t,
    const struct dkim_sign_spec *sp, const char *hdr, size_t len,
    struct buf *out);

/*
 * dkim_sign_field() in steps. begin: the field up to b= and the digest
 * its signature covers (the header hash: cheap, the header section is
 * bounded), -1 if out of room or OpenSSL fails (p then holds nothing).
 * The signature then comes from dkim_sign_field_sign() (here: a key of
 * our own, or the keyop backend's blocking call) or, for a key the keys
 * process holds (dkim_sign_field_remote), from the keyop request
 * dkim_sign_field_op() describes (op->tbs points into p), handed to
 * dkim_sign_field_put() (-1: no signature, or too long). end: append the
 * finished field to out (-1: no signature, or out full); it clears p,
 * as dkim_sign_field_clear() does for one given up.
 */
struct dkim_sign_pending {
	const struct dkim_sign_key *k;
	struct buf	 field;		/* up to "b=", folded */
	size_t		 col;		/* its last line's length */
	uint8_t		 digest[32];
	uint8_t		 sig[DKIM_SIG_B_MAX];
	size_t		 siglen;	/* 0: none yet */
};

int dkim_sign_field_begin(const struct dkim_sign_key *k, time_t t,
    const struct dkim_sign_spec *sp, const char *hdr, size_t len,
    struct dkim_sign_pending *p);
bool dkim_sign_field_remote(const struct dkim_sign_pending *p);
void dkim_sign_field_op(const struct dkim_sign_pending *p, struct keyop *op);
int dkim_sign_field_sign(struct dkim_sign_pending *p);
int dkim_sign_field_put(struct dkim_sign_pending *p, const uint8_t *sig,
    size_t siglen);
int dkim_sign_field_end(struct dkim_sign_pending *p, struct buf *out);
void dkim_sign_field_clear(struct dkim_sign_pending *p);

#endif
