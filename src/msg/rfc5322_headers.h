/* SPDX-License-Identifier: ISC */
/*
 * The header section of an RFC 5322 message, split into fields. Pure and
 * allocation-free: an iterator walks a caller's buffer and hands out
 * fields as borrowed pointers into it, so the bytes must stay alive and
 * unchanged while fields are in use.
 *
 * The input is untrusted (a message from the network or a file). Lines
 * may end in CRLF or in a bare LF (Maildir files and `sendmail -t` input
 * use LF); a bare CR is ordinary field text. The section ends at the first
 * empty line or at the end of the input. Work is bounded: at most
 * RFC5322_HEADERS_MAX_FIELDS fields and RFC5322_HEADERS_MAX_SECTION bytes
 * are looked at, and each field is visited once.
 *
 * A line in the header section that is not a continuation and has no
 * valid field name followed by ':' (RFC 5322 §3.6.8, or the obsolete
 * "name WSP :" of §4.5) is not a field: it is skipped and counted, never
 * glued to its neighbours, so a caller cannot be fooled about where a
 * field starts. The one exception is an mbox "From " separator on the very
 * first line, which is skipped silently (RFC 4155 §2).
 */
#ifndef SEALMAIL_MSG_RFC5322_HEADERS_H
#define SEALMAIL_MSG_RFC5322_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* No RFC bounds the number of fields. A real message has a few dozen,
 * list traffic a few hundred; 1000 is far above that and keeps a hostile
 * message from making every caller walk a million one-byte fields. */
#define RFC5322_HEADERS_MAX_FIELDS	1000
/* The header section we look at: the same bound the SMTP server keeps in
 * memory (core/limits.h LIMIT_HEADER_SECTION). */
#define RFC5322_HEADERS_MAX_SECTION	(256 * 1024)

/* One field, borrowed from the iterator's input. */
struct rfc5322_field {
	const char	*name;		/* field name, without WSP before ':' */
	size_t		 name_len;
	const char	*value;		/* after ':', folded, without the final
					 * line end (may be empty) */
	size_t		 value_len;
	const char	*raw;		/* the whole field "Name: value" with
					 * its folding, without the final
					 * line end (for DKIM/ARC) */
	size_t		 raw_len;
	size_t		 offset;	/* of raw from the start of the input */
};

enum rfc5322_headers_result {
	RFC5322_HEADERS_FIELD = 0,	/* *f is filled */
	RFC5322_HEADERS_END,		/* empty line or end of input */
	RFC5322_HEADERS_TOO_MANY,	/* RFC5322_HEADERS_MAX_FIELDS passed */
	RFC5322_HEADERS_TOO_LONG,	/* section longer than the maximum */
};

/* Iterator state; fields are private (read them through the functions). */
struct rfc5322_headers {
	const char	*p;
	size_t		 len;		/* min(input, RFC5322_HEADERS_MAX_SECTION) */
	size_t		 full_len;	/* the input's length */
	size_t		 pos;
	size_t		 nfields;
	size_t		 nbad;
	size_t		 body;		/* offset of the body once at END */
	bool		 done;
	enum rfc5322_headers_result last;
};

/* Start iterating over a message of len bytes (header section + body). */
void rfc5322_headers_init(struct rfc5322_headers *h, const void *msg,
    size_t len);

/*
 * Next field. Returns RFC5322_HEADERS_FIELD with *f filled, or a terminal
 * result; once a terminal result is returned, every later call returns it
 * again. TOO_MANY and TOO_LONG mean the rest of the section was not
 * looked at: the fields returned so far are still valid.
 */
enum rfc5322_headers_result rfc5322_headers_next(struct rfc5322_headers *h,
    struct rfc5322_field *f);

/* Lines skipped because they were not fields (see above). */
size_t rfc5322_headers_bad_lines(const struct rfc5322_headers *h);

/* After END: offset of the first body byte (just after the empty line),
 * or the input length if there is no body. Before END: 0. */
size_t rfc5322_headers_body_offset(const struct rfc5322_headers *h);

/* True if the field's name is `name` (ASCII case-insensitive). */
bool rfc5322_field_is(const struct rfc5322_field *f, const char *name);

/*
 * Append the field's value, unfolded (RFC 5322 §2.2.3: every line end
 * followed by WSP is removed) and with leading and trailing WSP trimmed,
 * to out. NUL bytes become spaces so the text is safe as a C string. -1 if
 * out would pass its maximum (out unchanged).
 */
int rfc5322_field_unfold(const struct rfc5322_field *f, struct buf *out);

#endif
