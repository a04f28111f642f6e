/* SPDX-License-Identifier: ISC */
/*
 * Header section edits a milter asks for at end of message. Fields are
 * found by walking lines: a line that does not start with a blank starts
 * a field, its continuation lines belong to it.
 */
#include "milter/milter_edit.h"

#include <string.h>
#include <strings.h>

#include "milter/milter_proto.h"

/* The end of the field starting at off (the start of the next one). */
static size_t
milter_edit_field_end(const struct buf *h, size_t off)
{
	const uint8_t *p = h->data;

	for (;;) {
		const uint8_t *nl = memchr(p + off, '\n', h->len - off);
		off = nl == NULL ? h->len : (size_t)(nl - p) + 1;
		if (off >= h->len || (p[off] != ' ' && p[off] != '\t'))
			return off;
	}
}

/* Build "name: value\r\n" into out (re-folded, see the header). */
static int
milter_edit_format(struct buf *out, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	bool line_start = false;

	if (!milter_valid_header_name(name, nlen) ||
	    buf_append(out, name, nlen) == -1 || buf_append(out, ":", 1) == -1)
		return -1;
	if (vlen > 0 && value[0] != ' ' && value[0] != '\t' &&
	    value[0] != '\r' && value[0] != '\n' && buf_append(out, " ", 1) == -1)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < vlen && value[i + 1] == '\n')
				i++;
			line_start = true;
			continue;
		}
		if (c < 0x20 && c != '\t')
			continue;
		if (c == 0x7f)
			continue;
		if (line_start) {
			/* A continuation line must start with a blank, or it
			 * would start a field of the milter's choosing; one
			 * of blanks only is dropped (some parsers take it
			 * for the end of the section). */
			if (c == ' ' || c == '\t')
				continue;
			if (buf_append(out, "\r\n\t", 3) == -1)
				return -1;
			line_start = false;
		}
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

/* Replace bytes [off, off + del) of h with the formatted field (or with
 * nothing if name is NULL). */
static int
milter_edit_splice(struct buf *h, size_t off, size_t del, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	struct buf f, out;
	int rc = -1;

	buf_init(&f, h->max);
	buf_init(&out, h->max);
	if (name != NULL && milter_edit_format(&f, name, nlen, value,
	    vlen) == -1)
		goto done;
	if (buf_append(&out, h->data, off) == -1 ||
	    buf_append(&out, f.data, f.len) == -1 ||
	    buf_append(&out, h->data + off + del, h->len - off - del) == -1)
		goto done;
	buf_reset(h);
	if (buf_append(h, out.data, out.len) == -1)
		goto done;	/* cannot happen: same max */
	rc = 0;
done:
	buf_clear(&out);
	buf_clear(&f);
	return rc;
}

int
milter_edit_add(struct buf *h, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	return milter_edit_splice(h, h->len, 0, name, nlen, value, vlen);
}

int
milter_edit_insert(struct buf *h, uint32_t index, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	size_t off = 0;

	for (uint32_t i = 0; i < index && off < h->len; i++)
		off = milter_edit_field_end(h, off);
	return milter_edit_splice(h, off, 0, name, nlen, value, vlen);
}

int
milter_edit_change(struct buf *h, uint32_t index, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	uint32_t seen = 0;

	if (!milter_valid_header_name(name, nlen))
		return -1;
	for (size_t off = 0; off < h->len;) {
		size_t end = milter_edit_field_end(h, off);
		const uint8_t *colon = memchr(h->data + off, ':', end - off);
		size_t fl = colon == NULL ? 0 : (size_t)(colon -
		    (h->data + off));

		/* RFC 5322 allows blanks before the colon (obs-hdr). */
		while (fl > 0 && (h->data[off + fl - 1] == ' ' ||
		    h->data[off + fl - 1] == '\t'))
			fl--;
		if (fl == nlen && strncasecmp((const char *)h->data + off,
		    name, nlen) == 0 && ++seen == index)
			return milter_edit_splice(h, off, end - off,
			    vlen > 0 ? name : NULL, nlen, value, vlen);
		off = end;
	}
	if (vlen == 0)
		return 0;	/* deleting what is not there */
	return milter_edit_add(h, name, nlen, value, vlen);
}
