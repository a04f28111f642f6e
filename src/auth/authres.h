/* SPDX-License-Identifier: ISC */
/*
 * Authentication-Results header field (RFC 8601): formatting ours, parsing
 * any (for `inspect`), and finding the fields that claim our authserv-id
 * so that forged ones can be removed before ours is added (§5). Pure.
 *
 * Also a small header-section iterator (authres_field_next), shared with
 * dmarc.c (From:) and bimi.c (BIMI-* fields) until msg/ has a full RFC 5322
 * tokenizer.
 *
 * Everything parsed here is untrusted message data, given as bytes plus a
 * length; nothing is assumed NUL-terminated.
 */
#ifndef SEALMAIL_AUTH_AUTHRES_H
#define SEALMAIL_AUTH_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Property/resinfo bounds of what we format or keep from a parse; a parsed
 * field with more is cut (and flagged), never overflowed. */
#define AUTHRES_PROPS_MAX	8
#define AUTHRES_RESULTS_MAX	32
/* Longest field value we parse (bigger fields are refused). */
#define AUTHRES_FIELD_MAX	16384
/* Folding: RFC 5322 §2.1.1 recommends lines of at most 78 characters. */
#define AUTHRES_LINE_MAX	78

/* ---- header-section iterator ----------------------------------------- */

/* One header field: [off, off + len) covers the name through the line end
 * of its last continuation line (CRLF or LF included). */
struct authres_field {
	size_t		 off, len;
	const char	*name;		/* not NUL-terminated */
	size_t		 nlen;
	const char	*value;		/* after ':', up to the final line end */
	size_t		 vlen;
};

/*
 * Next field of the header section hdrs (len bytes) from *pos (start at 0).
 * Lines end in CRLF or LF; the section ends at an empty line or at len.
 * Lines without a colon and stray continuation lines are skipped. Returns
 * false at the end.
 */
bool authres_field_next(const char *hdrs, size_t len, size_t *pos,
    struct authres_field *f);

/* True if f's name equals name, case-insensitively. */
bool authres_field_is(const struct authres_field *f, const char *name);

/* ---- formatting ------------------------------------------------------ */

struct authres_prop {
	const char	*ptype;		/* "smtp", "header", "body", "policy" */
	const char	*property;	/* "mailfrom", "d", "from", ... */
	const char	*value;		/* quoted when it is not a token */
};

struct authres_result {
	const char	*method;	/* "spf", "dkim", "dmarc", "arc", "bimi" */
	const char	*result;	/* "pass", "fail", ... */
	const char	*comment;	/* NULL, or text put in "( )" */
	const char	*reason;	/* NULL, or reason="..." */
	struct authres_prop props[AUTHRES_PROPS_MAX];
	size_t		 nprops;
};

/*
 * Append "Authentication-Results: <authserv_id>; m=r ...; ...\r\n" to out,
 * folded before a resinfo or property that would pass AUTHRES_LINE_MAX
 * columns (continuation lines start with a tab). No results gives
 * "<authserv_id>; none" (RFC 8601 §2.2). Values that are not RFC 2045
 * tokens (or, for properties, domain names or local@domain) are written
 * as quoted strings; comment text has "(", ")" and "\" escaped and
 * control characters replaced; an authserv_id that is not a token is
 * quoted. Returns 0, or -1 (out maybe partly written) if out is full, or
 * a method, result, ptype or property is not a token, or a value is NULL.
 */
int authres_format(struct buf *out, const char *authserv_id,
    const struct authres_result *res, size_t n);

/* ---- parsing --------------------------------------------------------- */

enum authres_parse_result {
	AUTHRES_OK,
	AUTHRES_ERR_SYNTAX,
	AUTHRES_ERR_TOO_LONG,	/* value longer than AUTHRES_FIELD_MAX */
};

/* A parsed field: strings are NUL-terminated, unquoted copies owned by the
 * struct (free with authres_free). */
struct authres_parsed_prop {
	char		*ptype;
	char		*property;
	char		*value;
};

struct authres_parsed_result {
	char		*method;	/* lower case */
	unsigned	 version;	/* method version, 1 when absent */
	char		*result;	/* lower case */
	char		*reason;	/* NULL when absent */
	struct authres_parsed_prop props[AUTHRES_PROPS_MAX];
	size_t		 nprops;
	bool		 props_cut;	/* more than AUTHRES_PROPS_MAX */
};

struct authres {
	char		*authserv_id;
	unsigned	 version;	/* 1 when absent */
	bool		 none;		/* "; none": no results */
	struct authres_parsed_result results[AUTHRES_RESULTS_MAX];
	size_t		 nresults;
	bool		 results_cut;
	char		*arena;		/* storage of every string above */
};

/*
 * Parse the value of an Authentication-Results field (after the colon;
 * folding and comments allowed) into a new struct authres (*out, free
 * with authres_free). On an error *out is NULL.
 */
enum authres_parse_result authres_parse(const char *value, size_t len,
    struct authres **out);
void authres_free(struct authres *ar);

/*
 * The authserv-id of a field value (leading CFWS skipped, quoted-string
 * unquoted) into out (size outlen); false if there is none or it does not
 * fit. Only the id is read: the rest of the field may be malformed.
 */
bool authres_authserv_id(const char *value, size_t len, char *out,
    size_t outlen);

/*
 * Byte ranges (struct authres_field off/len) of the Authentication-Results
 * fields of the header section hdrs whose authserv-id equals authserv_id
 * case-insensitively (RFC 8601 §5: forged results claiming to be ours are
 * removed). Writes at most max into out and returns how many there are.
 */
size_t authres_find_ours(const char *hdrs, size_t len, const char *authserv_id,
    struct authres_field *out, size_t max);

#endif
