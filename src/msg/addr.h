/* SPDX-License-Identifier: ISC */
/*
 * RFC 5321 addresses: the Mailbox inside a reverse-path or forward-path, and
 * the Mailbox of an RFC 5322 address (for From:). Pure; the input is
 * untrusted and every field is checked on every path.
 */
#ifndef SEALMAIL_MSG_ADDR_H
#define SEALMAIL_MSG_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

/*
 * One address, always in canonical form, whichever parser filled it:
 * - local: the content of the local part written as a Dot-string when it
 *   can be, else as a Quoted-string with only '"' and '\' escaped (RFC
 *   5321 §4.1.2: all quoted forms are equivalent, and "SHOULD NOT" be used
 *   where a Dot-string would do), so "you" and you are one local part.
 *   The case of its letters is kept (the store compares ASCII case-
 *   insensitively, Maildir folder names are lower-cased).
 * - domain: lower-cased ASCII, every U-label turned into its A-label
 *   ("münchen.test" -> "xn--mnchen-3ya.test") and every A-label checked
 *   (IDNA2008 with UTS #46 mapping, msg/idna), or an address literal
 *   "[192.0.2.1]" / "[IPv6:...]" (hex in lower case). This is the form
 *   of every DNS lookup, store key and mail/DOMAIN/ path; the U-label
 *   form is derived for display only (idna_display). Empty only for the
 *   domain-less "postmaster".
 * The text form (addr_to_text) "local@domain" is what the envelope, the
 * store and delivery carry; it is escaped only where it enters a log line
 * or a reply.
 */
struct addr {
	char	local[LIMIT_LOCAL_PART * 2 + 3];	/* canonical, see above */
	char	domain[LIMIT_DOMAIN + 1];	/* canonical, see above */
};

enum addr_result {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* 501 5.1.3 / 553 5.1.3 */
	ADDR_ERR_TOO_LONG,	/* 501 5.1.3 (local > 64, domain > 255, path > 256) */
	ADDR_ERR_UTF8,		/* non-ASCII without SMTPUTF8: 553 5.6.7 */
	ADDR_ERR_IDNA,		/* a domain not valid IDNA2008: 553 5.1.3 */
};

/*
 * Parse a path "<local@domain>" (with an optional obsolete source route
 * "<@a,@b:local@domain>", which is dropped) of len bytes. "<>" is allowed
 * when allow_null (reverse-path): then *is_null is set and out is empty.
 * Domain literals ([1.2.3.4], [IPv6:...]) are accepted. utf8 permits
 * non-ASCII (RFC 6531). *end is set to the byte after '>'.
 */
enum addr_result addr_parse_path(const char *s, size_t len, bool allow_null,
    bool utf8, struct addr *out, bool *is_null, size_t *end);

/* Parse a bare "local@domain" (no brackets) such as a CLI argument or an
 * address text from the envelope or the store. */
enum addr_result addr_parse_mailbox(const char *s, size_t len, bool utf8,
    struct addr *out);

/* Parse a bare domain (or address literal) into out->domain, canonical;
 * out->local is left empty. For catch-all keys "@domain". */
enum addr_result addr_parse_domain(const char *s, size_t len, bool utf8,
    struct addr *out);

/* Write "local@domain" into out (size outlen); -1 if it does not fit. */
int addr_to_text(const struct addr *a, char *out, size_t outlen);

/* The domain of an address text from addr_to_text: what follows its last
 * '@' (a quoted local part may hold one, a domain never), or "" if it has
 * none ("postmaster"). Borrowed from text. */
const char *addr_text_domain(const char *text);

/* True if two address texts from addr_to_text name the same mailbox:
 * equal but for ASCII case (RFC 5321 §2.4 makes the local part case-
 * sensitive, but every real system, and our store, folds it). */
bool addr_text_equal(const char *a, const char *b);

/*
 * The two folder names under DATA/mail/ for a's mailbox: domain and local
 * part, ASCII lower-cased, into domain (size dlen) and local (size llen).
 * -1 unless each is safe as a single path component: not empty, no
 * leading '.', no '/', no control character. The only check that stands
 * between an address and a file name: a local part such as "../x" or
 * a/../../x is a valid address.
 */
int addr_mailbox_dirs(const struct addr *a, char *domain, size_t dlen,
    char *local, size_t llen);

/*
 * Parse the value of an RFC 5322 From:/Sender: field (mailbox-list with
 * display names, comments, quoted strings, folding, groups) into up to
 * `max` addresses. Returns the number found (may exceed max: only max are
 * written) or -1 on a syntax error.
 */
int addr_parse_header_list(const char *value, size_t len, struct addr *out,
    size_t max);

/*
 * As addr_parse_header_list, but a domain that is well-formed yet not
 * valid IDNA2008 (msg/idna) is kept as written, lower-cased, instead of
 * failing the list: for DMARC, which must report such an Author Domain
 * as a permerror with its reason (it runs the name through idna again).
 */
int addr_parse_header_list_keep_idn(const char *value, size_t len,
    struct addr *out, size_t max);

#endif
