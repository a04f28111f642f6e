/* SPDX-License-Identifier: ISC */
/*
 * SPF macro strings (RFC 7208 §7): syntax check and expansion of the
 * domain-spec of a mechanism or modifier, and of an explanation string
 * fetched for "exp=" (where the letters c, r and t and plain spaces are
 * also allowed, §7.1 and §6.2).
 *
 * Pure: no I/O, no allocation beyond the caller's bounded buf. The macro
 * string comes from DNS and the values (sender, HELO) from the SMTP
 * client: both are untrusted. Every expansion is bounded by the buf's max
 * and by SPF_MACRO_VALUE_MAX / SPF_MACRO_PARTS_MAX below, and refused
 * (SPF_MACRO_ERR_TOO_LONG) rather than cut.
 */
#ifndef SEALMAIL_AUTH_SPF_MACRO_H
#define SEALMAIL_AUTH_SPF_MACRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* RFC 7208 §7.3: an expanded domain name is cut from the left, label by
 * label, to at most 253 characters before it is queried. */
#define SPF_DOMAIN_TEXT_MAX	253
/* A single macro value we split (the sender is at most 256 octets, RFC
 * 5321 §4.5.3.1.3; an IPv6 %{i} is 63): longer values are refused. */
#define SPF_MACRO_VALUE_MAX	1024
/* Parts a value may split into (every byte a delimiter: len + 1). */
#define SPF_MACRO_PARTS_MAX	(SPF_MACRO_VALUE_MAX + 1)
/* §7.3: DIGIT transformers of at least 127 must work; larger values mean
 * "all parts" and are clamped here so the number cannot overflow. */
#define SPF_MACRO_DIGITS_CLAMP	1000

enum spf_macro_mode {
	SPF_MACRO_DOMAIN,	/* domain-spec / unknown-modifier: no c r t, no SP */
	SPF_MACRO_EXPLAIN,	/* explain-string: c r t and SP allowed (§6.2) */
};

enum spf_macro_result {
	SPF_MACRO_OK,
	SPF_MACRO_ERR_SYNTAX,	/* bad '%', bad letter, bad transformer, bad byte */
	SPF_MACRO_ERR_LETTER,	/* c, r or t outside an explanation (§7.1) */
	SPF_MACRO_ERR_TOO_LONG,	/* a value or the output passed its bound */
};

/*
 * The values macros expand to (§7.2). Strings are borrowed NUL-terminated
 * text; NULL for ptr or receiver expands to "unknown" (§7.3).
 */
struct spf_macro_ctx {
	const char	*sender;	/* s: "local@domain" (§4.3: local-part
					 * "postmaster" when there was none) */
	const char	*local;		/* l */
	const char	*sender_domain;	/* o */
	const char	*domain;	/* d: the current <domain> */
	const char	*helo;		/* h */
	const char	*ptr;		/* p: validated name, NULL = "unknown" */
	const char	*receiver;	/* r: NULL = "unknown" */
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 ip[16];	/* i, c, v: 4 or 16 octets, network order */
	long long	 now;		/* t: seconds since the Epoch */
};

/*
 * Check the macro-string s (len bytes, may hold NULs, which are refused)
 * against the §7.1 grammar for mode. If last_expand is not NULL it is set
 * to the offset just past the last macro-expand ("%{..}", "%%", "%_",
 * "%-"), or 0 if there is none, so callers can check a domain-end (§4.8).
 */
enum spf_macro_result spf_macro_check(const char *s, size_t len,
    enum spf_macro_mode mode, size_t *last_expand);

/*
 * Expand s (which must pass spf_macro_check for mode) into out, appending.
 * Uppercase letters are URL-escaped after expansion (§7.3, RFC 3986
 * "unreserved" kept). On any result but SPF_MACRO_OK, out holds a partial
 * expansion the caller must discard. Never touches the DNS: the caller
 * computes ctx->ptr first when spf_macro_uses(s, len, 'p').
 */
enum spf_macro_result spf_macro_expand(const char *s, size_t len,
    enum spf_macro_mode mode, const struct spf_macro_ctx *ctx,
    struct buf *out);

/* True if s holds a macro-expand of letter (either case), e.g. 'p'. */
bool spf_macro_uses(const char *s, size_t len, char letter);

/*
 * Make the expanded domain name in the NUL-terminated s fit a query
 * (§7.3): drop one trailing dot, then whole labels from the left until at
 * most SPF_DOMAIN_TEXT_MAX characters remain. Returns a pointer into s
 * (s itself may lose its final dot). The result may still be empty or
 * hold empty labels: the caller validates it as a name.
 */
const char *spf_macro_domain_fit(char *s);

const char *spf_macro_result_name(enum spf_macro_result r);

#endif
