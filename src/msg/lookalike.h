/* SPDX-License-Identifier: ISC */
/*
 * Lookalike senders: does the From: of a message imitate a domain we
 * protect (our local domains, [lookalike] protect, the domains our users
 * write to)? Pure (no I/O): the caller builds the protected set and gives
 * the already parsed From: domain, its Organizational Domain (DMARC's
 * tree walk), the real address and the decoded display text.
 *
 * A hit is not an authentication result (RFC 8601 registers its methods);
 * the caller writes it into a Sealmail-Warning field of our own.
 *
 * Rules (each name is ASCII-lower-cased and its A-labels decoded first):
 *  - a From: domain that is a protected domain or below one is never a
 *    lookalike of anything; when it also passes DMARC nothing is flagged
 *    at all (not even its display name);
 *  - confusable: the From: domain or one of its parents (so its
 *    Organizational Domain, whatever DMARC's tree walk finds) has the
 *    UTS #39 skeleton (ICU uspoof) of a protected domain; the reason says
 *    which kind ICU finds: "mixed-script" (еxample.org with a Cyrillic е),
 *    "whole-script" or "confusable" (one script); two all-ASCII names with
 *    one skeleton (examp1e.org) count as "typo";
 *  - typo: on the "ASCII skeleton" (the skeleton, lower-cased, then rn->m,
 *    vv->w, 1->l, 0->o) the names are equal or one edit apart (insert,
 *    delete, substitute, swap two neighbours), when the protected name's
 *    first label has at least LOOKALIKE_TYPO_MIN characters: shorter
 *    names have too many real neighbours (see tests/lookalike/, where the
 *    false-positive rate on real names is measured);
 *  - display-name: the display text holds an address other than the real
 *    one, or (by skeleton, so a Cyrillic е does not hide it) a protected
 *    domain that is not the From: domain's own.
 *
 * All strings are untrusted and bounded; invalid UTF-8 or Punycode makes a
 * name unusable (no hit from it), never a crash. In a display text an
 * ill-formed byte counts as U+FFFD (what a reader shows), so it cannot
 * hide the rest.
 */
#ifndef SEALMAIL_MSG_LOOKALIKE_H
#define SEALMAIL_MSG_LOOKALIKE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

/* Shortest first label of a protected name that typo distance applies to. */
#define LOOKALIKE_TYPO_MIN	5
/* Display text looked at (bytes of UTF-8); the rest is ignored. */
#define LOOKALIKE_DISPLAY_MAX	1024
/* Room for a name in a hit: an A-label form fits LIMIT_DOMAIN. */
#define LOOKALIKE_NAME_MAX	(LIMIT_DOMAIN + 1)

enum lookalike_reason {
	LOOKALIKE_NONE,
	LOOKALIKE_CONFUSABLE,
	LOOKALIKE_MIXED_SCRIPT,
	LOOKALIKE_WHOLE_SCRIPT,
	LOOKALIKE_TYPO,
	LOOKALIKE_DISPLAY_NAME,
};

struct lookalike_set;

/* An empty protected set (owns its ICU spoof checker); NULL when ICU
 * cannot open one (its data is missing). */
struct lookalike_set *lookalike_set_new(void);
void lookalike_set_free(struct lookalike_set *set);

/*
 * Add a protected domain (ASCII, A-labels or UTF-8 U-labels; a trailing
 * dot is dropped). Returns 0, or -1 when the name is unusable (empty, too
 * long, invalid UTF-8 or Punycode); a duplicate is 0 and kept once.
 */
int lookalike_set_add(struct lookalike_set *set, const char *domain);
size_t lookalike_set_count(const struct lookalike_set *set);
/* True if domain (any form) is a protected domain or below one: then only
 * its display name can give a hit, and only when DMARC did not pass. */
bool lookalike_set_covers(const struct lookalike_set *set,
    const char *domain);

struct lookalike_from {
	const char	*domain;	/* From: domain as parsed (A-labels) */
	const char	*address;	/* the real address local@domain, or NULL */
	const char	*display;	/* decoded display text (UTF-8), or NULL */
	bool		 dmarc_pass;	/* DMARC passed for this domain */
};

struct lookalike_hit {
	enum lookalike_reason reason;
	/* The From: domain (ASCII, A-labels) and the protected domain it
	 * resembles (as added), or for a display name the name it shows. */
	char		 from[LOOKALIKE_NAME_MAX];
	char		 resembles[LOOKALIKE_NAME_MAX];
};

/* Compare f with the set; true and *hit filled on a hit. */
bool lookalike_check(const struct lookalike_set *set,
    const struct lookalike_from *f, struct lookalike_hit *hit);

/* "confusable", "mixed-script", "whole-script", "typo", "display-name";
 * "none". */
const char *lookalike_reason_name(enum lookalike_reason r);

/*
 * The display text of a From: field value (len bytes, untrusted): what a
 * mail reader shows besides the address. Quotes and the <addr-spec> are
 * dropped, RFC 2047 encoded-words decoded to UTF-8 (charsets by ICU; a
 * malformed one is kept as written), folding turned into spaces. A bare
 * addr-spec is kept (it is the real address: no warning). Written NUL-
 * terminated into out (size outlen), cut at a byte boundary when longer.
 * Returns 0, or -1 when outlen is 0.
 */
int lookalike_display_text(const char *value, size_t len, char *out,
    size_t outlen);

#endif
