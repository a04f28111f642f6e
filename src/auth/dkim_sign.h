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

#include <stddef.h>
#include <time.h>

struct buf;
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
void dkim_sign_key_free(struct dkim_sign_key *k);

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
void dkim_sign_free(struct dkim_sign *s);

#endif
