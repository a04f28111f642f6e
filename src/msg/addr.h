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

struct addr {
	char	local[LIMIT_LOCAL_PART * 2 + 3];	/* as given; quoted form kept */
	char	domain[LIMIT_DOMAIN + 1];	/* lower-cased ASCII; UTF-8 kept */
};

enum addr_result {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* 501 5.1.3 / 553 5.1.3 */
	ADDR_ERR_TOO_LONG,	/* 501 5.1.3 (local > 64, domain > 255, path > 256) */
	ADDR_ERR_UTF8,		/* non-ASCII without SMTPUTF8: 553 5.6.7 */
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

/* Parse a bare "local@domain" (no brackets) such as a CLI argument. */
enum addr_result addr_parse_mailbox(const char *s, size_t len, bool utf8,
    struct addr *out);

/* Write "local@domain" into out (size outlen); -1 if it does not fit. */
int addr_to_text(const struct addr *a, char *out, size_t outlen);

/* True if the local part is safe as a single file name component (for
 * Maildir paths): no '/', no leading '.', no control bytes, not empty. */
bool addr_local_is_safe_path(const char *local);

/* Compare two "local@domain" texts: local part exact (case-sensitive per
 * RFC 5321 §2.4 but compared case-insensitively here as every real system
 * does), domain case-insensitive. */
bool addr_text_equal(const char *a, const char *b);

/*
 * Parse the value of an RFC 5322 From:/Sender: field (mailbox-list with
 * display names, comments, quoted strings, folding, groups) into up to
 * `max` addresses. Returns the number found (may exceed max: only max are
 * written) or -1 on a syntax error.
 */
int addr_parse_header_list(const char *value, size_t len, struct addr *out,
    size_t max);

#endif
