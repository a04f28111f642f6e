/* SPDX-License-Identifier: ISC */
/*
 * Splitting a message's header section into fields (RFC 5322 §2.2, §3.6.8)
 * with an allocation-free iterator; see rfc5322_headers.h for the rules on
 * line ends and malformed lines. Pure.
 */
#include "msg/rfc5322_headers.h"

#include <string.h>
#include <strings.h>

void
rfc5322_headers_init(struct rfc5322_headers *h, const void *msg, size_t len)
{
	memset(h, 0, sizeof(*h));
	h->p = msg;
	h->full_len = len;
	h->len = len < RFC5322_HEADERS_MAX_SECTION ? len :
	    RFC5322_HEADERS_MAX_SECTION;
	h->last = RFC5322_HEADERS_FIELD;
}

/* Offset just past the line that starts at pos ('\n' included), or
 * SIZE_MAX if the line does not end inside the window. */
static size_t
rfc5322_headers_line_end(const struct rfc5322_headers *h, size_t pos)
{
	const char *nl = memchr(h->p + pos, '\n', h->len - pos);

	return nl == NULL ? (size_t)-1 : (size_t)(nl - h->p) + 1;
}

/* Stop for good with result r. */
static enum rfc5322_headers_result
rfc5322_headers_stop(struct rfc5322_headers *h, enum rfc5322_headers_result r)
{
	h->done = true;
	h->last = r;
	return r;
}

/*
 * The field starting at h->pos runs over its continuation lines; return
 * the offset after its last line end (the window's end if the input ends
 * without one), or SIZE_MAX if it is cut by the window.
 */
static size_t
rfc5322_headers_field_end(const struct rfc5322_headers *h)
{
	size_t pos = h->pos;

	for (;;) {
		size_t e = rfc5322_headers_line_end(h, pos);
		if (e == (size_t)-1)
			return h->len == h->full_len ? h->len : (size_t)-1;
		if (e >= h->len)
			return h->len == h->full_len ? e : (size_t)-1;
		if (h->p[e] != ' ' && h->p[e] != '\t')
			return e;
		pos = e;
	}
}

/* Parse "name *WSP :" at the start of raw; 0 if it is not a field. */
static size_t
rfc5322_headers_name(const char *raw, size_t len, size_t *colon)
{
	size_t n = 0, i;

	/* ftext: printable ASCII except ':' (RFC 5322 §3.6.8). */
	while (n < len && raw[n] >= 33 && raw[n] <= 126 && raw[n] != ':')
		n++;
	i = n;
	/* obs-optional allows WSP before the colon (RFC 5322 §4.5.8). */
	while (i < len && (raw[i] == ' ' || raw[i] == '\t'))
		i++;
	if (n == 0 || i >= len || raw[i] != ':')
		return 0;
	*colon = i;
	return n;
}

/* Fill f from raw bytes [start, end) where end is after the line end. */
static bool
rfc5322_headers_fill(struct rfc5322_headers *h, size_t start, size_t end,
    struct rfc5322_field *f)
{
	size_t rlen = end - start, colon = 0;

	if (rlen > 0 && h->p[start + rlen - 1] == '\n')
		rlen--;
	if (rlen > 0 && h->p[start + rlen - 1] == '\r')
		rlen--;
	f->raw = h->p + start;
	f->raw_len = rlen;
	f->offset = start;
	f->name = f->raw;
	f->name_len = rfc5322_headers_name(f->raw, rlen, &colon);
	if (f->name_len == 0)
		return false;
	f->value = f->raw + colon + 1;
	f->value_len = rlen - colon - 1;
	return true;
}

/* At pos: an empty line ends the section. */
static bool
rfc5322_headers_at_end(struct rfc5322_headers *h)
{
	size_t pos = h->pos, left = h->full_len - pos;

	if (pos >= h->full_len) {
		h->body = h->full_len;
		return true;
	}
	if (h->p[pos] == '\n') {
		h->body = pos + 1;
		return true;
	}
	if (left >= 2 && h->p[pos] == '\r' && h->p[pos + 1] == '\n') {
		h->body = pos + 2;
		return true;
	}
	return false;
}

enum rfc5322_headers_result
rfc5322_headers_next(struct rfc5322_headers *h, struct rfc5322_field *f)
{
	if (h->done)
		return h->last;
	/* An mbox separator is not part of the message (RFC 4155 §2). */
	if (h->pos == 0 && h->len >= 5 && memcmp(h->p, "From ", 5) == 0) {
		size_t e = rfc5322_headers_line_end(h, 0);
		h->pos = e == (size_t)-1 ? h->len : e;
	}
	for (;;) {
		if (h->pos >= h->len && h->len < h->full_len)
			return rfc5322_headers_stop(h,
			    RFC5322_HEADERS_TOO_LONG);
		if (rfc5322_headers_at_end(h))
			return rfc5322_headers_stop(h, RFC5322_HEADERS_END);
		size_t start = h->pos, end = rfc5322_headers_field_end(h);
		if (end == (size_t)-1)
			return rfc5322_headers_stop(h,
			    RFC5322_HEADERS_TOO_LONG);
		h->pos = end;
		/* A line that is not a field (or a continuation with
		 * nothing to continue) is skipped whole, not merged. */
		if (!rfc5322_headers_fill(h, start, end, f)) {
			h->nbad++;
			continue;
		}
		if (++h->nfields > RFC5322_HEADERS_MAX_FIELDS)
			return rfc5322_headers_stop(h,
			    RFC5322_HEADERS_TOO_MANY);
		return RFC5322_HEADERS_FIELD;
	}
}

size_t
rfc5322_headers_bad_lines(const struct rfc5322_headers *h)
{
	return h->nbad;
}

size_t
rfc5322_headers_body_offset(const struct rfc5322_headers *h)
{
	return h->done && h->last == RFC5322_HEADERS_END ? h->body : 0;
}

bool
rfc5322_field_is(const struct rfc5322_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

/* Append n bytes of field text, NUL bytes turned into spaces. */
static int
rfc5322_headers_append(struct buf *out, const char *s, size_t n)
{
	size_t at = out->len;

	if (buf_append(out, s, n) == -1)
		return -1;
	for (size_t i = at; i < out->len; i++)
		if (out->data[i] == '\0')
			out->data[i] = ' ';
	return 0;
}

int
rfc5322_field_unfold(const struct rfc5322_field *f, struct buf *out)
{
	const char *v = f->value;
	size_t len = f->value_len, start = out->len, i = 0;

	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' ||
	    v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' ||
	    v[i] == '\n'))
		i++;
	while (i < len) {
		/* Inside a field every '\n' is followed by WSP (else it
		 * would have ended the field): drop it and a CR before it. */
		const char *nl = memchr(v + i, '\n', len - i);
		size_t run = nl != NULL ? (size_t)(nl - v) - i : len - i;
		size_t keep = run;
		if (nl != NULL && keep > 0 && v[i + keep - 1] == '\r')
			keep--;
		if (rfc5322_headers_append(out, v + i, keep) == -1) {
			out->len = start;
			if (out->data != NULL)
				out->data[start] = '\0';
			return -1;
		}
		i += run + (nl != NULL ? 1 : 0);
	}
	return 0;
}
