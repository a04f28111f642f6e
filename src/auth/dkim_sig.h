/* SPDX-License-Identifier: ISC */
/*
 * DKIM tag=value lists (RFC 6376 §3.2) and the DKIM-Signature header field
 * (RFC 6376 §3.5, RFC 8463 §4.1, RFC 8301). Pure: no I/O, no OpenSSL.
 *
 * Input is the untrusted value of a DKIM-Signature field as it appears in
 * the message (folding included). The parser is strict: duplicate tags,
 * a missing required tag, a bad value or an i= outside d= make the whole
 * signature invalid (a permerror for the verifier). rsa-sha1 is parsed and
 * reported (DKIM_ALG_RSA_SHA1) so that the verifier can fail it by policy.
 *
 * Every limit that bounds work done for one signature is here, with the
 * RFC text it comes from.
 */
#ifndef SEALMAIL_AUTH_DKIM_SIG_H
#define SEALMAIL_AUTH_DKIM_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* Signatures verified per message; further ones are counted, not checked
 * (issue 4: bounded work per message; RFC 6376 §6.1 lets a verifier limit
 * the number of signatures it tries). */
#define DKIM_SIGS_MAX		8
/* Entries in h= (each is one hash update per signature; oversigning
 * doubles a typical list of ~15). */
#define DKIM_SIG_H_MAX		64
/* A header field name in h= (RFC 5322 §2.2 does not bound it; ours is a
 * sanity bound well above any registered name). */
#define DKIM_FIELD_NAME_MAX	128
/* Largest RSA key we accept is 8192 bits (RFC 8301 §3.2 requires 1024 to
 * 4096 at least), so b= is at most 1024 octets; Ed25519 is 64. */
#define DKIM_SIG_B_MAX		1024
/* bh= is a SHA-256 (32) or SHA-1 (20) digest. */
#define DKIM_SIG_BH_MAX		32
/* RFC 6376 §3.5: s= is a sub-domain list, bounded as a domain name. */
#define DKIM_SELECTOR_MAX	LIMIT_DOMAIN
/* RFC 6376 §3.5: i= is a local part (64) "@" and a domain (255). */
#define DKIM_AUID_MAX		(LIMIT_LOCAL_PART + 1 + LIMIT_DOMAIN)
/* Tags in one tag-list we look at: a list with more is refused, so a
 * field of a million "x=;" costs no more than this. */
#define DKIM_TAGS_MAX		64

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,	/* RFC 8463 */
	DKIM_ALG_RSA_SHA1,		/* parsed; fails by policy, RFC 8301 §3.1 */
};

enum dkim_canon_mode {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* One field name of h=, borrowed from the parsed field. */
struct dkim_name {
	const char	*p;
	size_t		 len;
};

/*
 * A parsed signature. It owns a copy of the field value (raw); h[] point
 * into it. Offsets b_start..b_end delimit the b= value, surrounding
 * whitespace included, inside the value as given to dkim_sig_parse(): the
 * verifier blanks exactly those bytes (RFC 6376 §3.7).
 */
struct dkim_sig {
	char			*raw;
	size_t			 rawlen;
	enum dkim_alg		 alg;
	enum dkim_canon_mode	 hcanon, bcanon;
	char			 d[LIMIT_DOMAIN + 1];	/* A-labels if an IDN */
	char			 s[DKIM_SELECTOR_MAX + 1];
	char			 i[DKIM_AUID_MAX + 1];	/* "@d" if absent */
	uint8_t			 b[DKIM_SIG_B_MAX];
	size_t			 blen;
	char			 b_prefix[9];		/* RFC 6008 header.b */
	uint8_t			 bh[DKIM_SIG_BH_MAX];
	size_t			 bhlen;
	struct dkim_name	 h[DKIM_SIG_H_MAX];
	size_t			 nh;
	bool			 has_l, has_t, has_x;
	uint64_t		 l;	/* saturates at UINT64_MAX */
	uint64_t		 t, x;
	size_t			 b_start, b_end;
};

enum dkim_sig_result {
	DKIM_SIG_OK,
	DKIM_SIG_ERR_SYNTAX,	/* not a tag-list */
	DKIM_SIG_ERR_DUP_TAG,	/* a tag occurs twice (§3.2) */
	DKIM_SIG_ERR_MISSING,	/* v, a, b, bh, d, h or s missing */
	DKIM_SIG_ERR_VERSION,	/* v= is not 1 */
	DKIM_SIG_ERR_ALG,	/* unknown a= */
	DKIM_SIG_ERR_CANON,	/* unknown c= */
	DKIM_SIG_ERR_BASE64,	/* bad b= or bh=, or wrong bh length */
	DKIM_SIG_ERR_DOMAIN,	/* bad d= or s= */
	DKIM_SIG_ERR_FROM,	/* h= lacks From (§5.4) or is malformed */
	DKIM_SIG_ERR_AUID,	/* bad i=, or i= not within d= (§3.5) */
	DKIM_SIG_ERR_QUERY,	/* q= without dns/txt */
	DKIM_SIG_ERR_NUMBER,	/* bad l=, t= or x=, or x= < t= */
	DKIM_SIG_ERR_TOO_BIG,	/* a limit above */
};

/*
 * Tag-list iterator, shared with the key record parser. Initialise with
 * dkim_tag_init() over text[0..len); each dkim_tag_next() call returns 1
 * with the next tag (name, value without the surrounding whitespace, and
 * the value's whole span vstart..vend including that whitespace, up to the
 * ";" or the end), 0 at the end, -1 on a syntax error (§3.2 ABNF, except
 * that octets >= 0x80 are allowed in values, as its note advises). FWS is
 * CRLF followed by WSP; a bare CR or LF is an error.
 */
struct dkim_tag_iter {
	const char	*text;
	size_t		 len, pos;
	bool		 done;
};

struct dkim_tag {
	const char	*name;
	size_t		 namelen;
	const char	*val;
	size_t		 vallen;
	size_t		 vstart, vend;
};

void dkim_tag_init(struct dkim_tag_iter *it, const char *text, size_t len);
int dkim_tag_next(struct dkim_tag_iter *it, struct dkim_tag *tag);

/*
 * Decode base64 that may contain FWS/WSP (RFC 6376 §3.5 b= and bh=, §3.6.1
 * p=) into out (capacity outcap). Returns the length, or -1 on bad base64
 * or if it does not fit.
 */
long dkim_base64_decode(const char *s, size_t len, uint8_t *out,
    size_t outcap);

/*
 * Parse value (len octets: the field body after "DKIM-Signature:", as it
 * appears in the header, folding included). On DKIM_SIG_OK sig is filled
 * and owns memory released by dkim_sig_clear(); on any other result sig
 * holds nothing to free (clearing it is still allowed). len must be at most
 * LIMIT_HEADER_SECTION, otherwise DKIM_SIG_ERR_TOO_BIG.
 */
enum dkim_sig_result dkim_sig_parse(const char *value, size_t len,
    struct dkim_sig *sig);
void dkim_sig_clear(struct dkim_sig *sig);

/*
 * Added for ARC (auth/arc.c): the ARC-Message-Signature and ARC-Seal
 * fields share the DKIM-Signature syntax with differences (RFC 8617
 * §4.1.2, §4.1.3). dkim_sig_parse_kind() is dkim_sig_parse() for a given
 * kind: DKIM_SIG_KIND_ARC_AMS ignores v= and i= (i= is the ARC instance,
 * not an AUID); DKIM_SIG_KIND_ARC_SEAL parses only a, b, d, s and t,
 * requires a, b, d and s, and sets hcanon to relaxed (no body, no h=).
 * For both ARC kinds sig->i is "@" d. Reading i= and cv=, and refusing
 * h= in a seal, is left to the caller.
 */
enum dkim_sig_kind {
	DKIM_SIG_KIND_DKIM,
	DKIM_SIG_KIND_ARC_AMS,
	DKIM_SIG_KIND_ARC_SEAL,
};

enum dkim_sig_result dkim_sig_parse_kind(const char *value, size_t len,
    enum dkim_sig_kind kind, struct dkim_sig *sig);

/* Static names: "rsa-sha256", "syntax error", ... never NULL. */
const char *dkim_alg_name(enum dkim_alg alg);
const char *dkim_sig_result_name(enum dkim_sig_result r);

/* True if a and b are equal ignoring ASCII case (lengths included). */
bool dkim_name_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
