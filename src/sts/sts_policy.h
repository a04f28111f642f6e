/* SPDX-License-Identifier: ISC */
/*
 * The MTA-STS policy file (RFC 8461 §3.2) and MX host matching (§4.1).
 * Pure: the input is the untrusted body fetched from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt, bytes plus a length, at
 * most STS_POLICY_BODY_MAX bytes. A parsed policy owns its mx patterns.
 *
 * Reading of the RFC applied here (ABNF of §3.2, %s = case-sensitive):
 *  - lines end with LF or CRLF; each is "key:" *WSP value *WSP; the last
 *    line may lack its terminator. The order of keys is free (the ABNF has
 *    no order; "version" need not come first).
 *  - version (exactly "STSv1"), mode ("enforce", "testing" or "none") and
 *    max_age (1-10 digits, at most STS_MAX_AGE_MAX) are required; a second
 *    occurrence of any of them is ignored (§3.2, last paragraph), but must
 *    still be syntactically valid.
 *  - mx: ["*."] Domain (RFC 5321 §4.1.2: LDH labels of 1-63 octets, no
 *    final dot); at least one unless mode is none; at most
 *    STS_POLICY_MX_MAX. Patterns are kept lower-cased.
 *  - unknown keys are ignored but must have the extension syntax
 *    (name: alnum then up to 31 of alnum "_" "-" "."; value: printable
 *    ASCII or UTF-8, no control characters, no leading/trailing space).
 *  - anything else (an empty line in the middle, a bare CR, a key without
 *    ':', NUL bytes, invalid UTF-8) fails the whole policy, with a one-line
 *    reason. One leniency: empty lines at the very end are accepted, since
 *    web servers and editors add them and they carry no field.
 */
#ifndef SEALMAIL_STS_STS_POLICY_H
#define SEALMAIL_STS_STS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 8461 §3.3: "a suggested maximum policy size is 64 kilobytes". */
#define STS_POLICY_BODY_MAX	(64 * 1024)
/* mx lines we accept in one policy; more fails the policy (real policies
 * list a handful; the bound keeps matching cheap). */
#define STS_POLICY_MX_MAX	64
/* RFC 8461 §3.2: max_age is at most 31557600 seconds (a year). */
#define STS_MAX_AGE_MAX		31557600u

enum sts_mode {
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
};

struct sts_policy {
	enum sts_mode	 mode;
	uint32_t	 max_age;	/* seconds, <= STS_MAX_AGE_MAX */
	char		**mx;		/* nmx lower-cased patterns, owned */
	size_t		 nmx;
};

/*
 * Parse text (len bytes) into out. 0: out holds the policy (release it
 * with sts_policy_clear()). -1: out is zeroed (clear is a no-op) and why
 * (may be NULL) holds a one-line reason naming the line.
 */
int sts_policy_parse(const char *text, size_t len, struct sts_policy *out,
    char *why, size_t whylen);

/* Release what p owns and zero it; a zeroed policy is fine. */
void sts_policy_clear(struct sts_policy *p);
/* dst becomes an independent copy of src (dst is overwritten, not freed). */
void sts_policy_dup(struct sts_policy *dst, const struct sts_policy *src);

/*
 * Whether MX host name host matches one of p's patterns (RFC 8461 §4.1):
 * case-insensitive, a final dot on host is ignored, "*.example.com"
 * matches exactly one non-empty leftmost label (mx1.example.com; not
 * example.com, not a.b.example.com).
 */
bool sts_policy_match_mx(const struct sts_policy *p, const char *host);
/* The same test against one pattern. */
bool sts_mx_pattern_match(const char *pattern, const char *host);

/* "none", "testing", "enforce". */
const char *sts_mode_name(enum sts_mode m);

#endif
