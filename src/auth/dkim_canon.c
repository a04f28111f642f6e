/* SPDX-License-Identifier: ISC */
/*
 * DKIM canonicalisation (RFC 6376 §3.4). The body state machine holds back
 * what it cannot decide yet: CRLFs (trailing empty lines are dropped,
 * §3.4.3/§3.4.4), one WSP run (relaxed: dropped at the end of a line,
 * otherwise one SP) and a CR (is it part of a CRLF?). So any chunking of
 * the input gives the same output, in constant memory.
 */
#include "auth/dkim_canon.h"

#include <string.h>

#include "core/buf.h"

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

int
dkim_header_next(const char *hdr, size_t len, size_t *pos,
    struct dkim_field *f)
{
	size_t p = *pos, start = *pos, n;
	const char *colon;

	/* The empty line (or the end) ends the header section. */
	if (p >= len || (p + 1 < len && hdr[p] == '\r' && hdr[p + 1] == '\n'))
		return 0;
	for (;;) {
		const char *nl = memmem(hdr + p, len - p, "\r\n", 2);
		if (nl == NULL) {
			p = len;
			break;
		}
		p = (size_t)(nl - hdr) + 2;
		if (p >= len || !is_wsp((unsigned char)hdr[p]))
			break;
	}
	memset(f, 0, sizeof(*f));
	f->field = hdr + start;
	f->len = p - start;
	*pos = p;
	colon = memchr(f->field, ':', f->len);
	if (colon == NULL)
		return 1;
	n = (size_t)(colon - f->field);
	while (n > 0 && is_wsp((unsigned char)f->field[n - 1]))
		n--;
	f->name = f->field;
	f->namelen = n;
	f->value = colon + 1;
	f->valuelen = f->len - (size_t)(f->value - f->field);
	if (f->valuelen >= 2 && f->value[f->valuelen - 2] == '\r' &&
	    f->value[f->valuelen - 1] == '\n')
		f->valuelen -= 2;
	return 1;
}

/* §3.4.2: lowercase name, unfold, WSP runs to one SP, no WSP around the
 * colon or at the end of the value. */
static int
canon_relaxed(const char *field, size_t len, struct buf *out)
{
	const char *colon = memchr(field, ':', len);
	size_t n = colon ? (size_t)(colon - field) : len, i;
	bool wsp = false, started = false;

	while (n > 0 && is_wsp((unsigned char)field[n - 1]))
		n--;
	for (i = 0; i < n; i++) {
		char c = field[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	if (colon == NULL)
		return buf_append(out, "\r\n", 2);
	if (buf_append(out, ":", 1) == -1)
		return -1;
	for (i = (size_t)(colon - field) + 1; i < len; i++) {
		unsigned char c = (unsigned char)field[i];
		if (c == '\r' && i + 1 < len && field[i + 1] == '\n') {
			i++;			/* unfold: CRLF is dropped */
			wsp = true;
			continue;
		}
		if (is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && started && buf_append(out, " ", 1) == -1)
			return -1;
		wsp = false;
		started = true;
		if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

int
dkim_canon_header(enum dkim_canon_mode mode, const char *field, size_t len,
    struct buf *out)
{
	if (mode == DKIM_CANON_RELAXED)
		return canon_relaxed(field, len, out);
	if (buf_append(out, field, len) == -1)
		return -1;
	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		return 0;
	return buf_append(out, "\r\n", 2);
}

void
dkim_body_canon_init(struct dkim_body_canon *c, enum dkim_canon_mode mode,
    uint64_t limit, dkim_canon_out *out, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->limit = limit;
	c->out = out;
	c->arg = arg;
}

static void
flush(struct dkim_body_canon *c)
{
	if (c->olen > 0)
		c->out(c->arg, c->obuf, c->olen);
	c->olen = 0;
}

/* One canonical octet: counted always, passed on only under the limit. */
static void
put(struct dkim_body_canon *c, uint8_t ch)
{
	c->total++;
	if (c->emitted >= c->limit)
		return;
	c->emitted++;
	if (c->olen == sizeof(c->obuf))
		flush(c);
	c->obuf[c->olen++] = ch;
}

/* A content octet: the CRLFs and WSP held back were not trailing. */
static void
content(struct dkim_body_canon *c, uint8_t ch)
{
	for (; c->crlfs > 0; c->crlfs--) {
		put(c, '\r');
		put(c, '\n');
	}
	if (c->wsp)
		put(c, ' ');
	c->wsp = false;
	put(c, ch);
	c->line_open = c->any = true;
}

static void
feed(struct dkim_body_canon *c, uint8_t ch)
{
	if (c->cr) {
		c->cr = false;
		if (ch == '\n') {
			c->wsp = false;	/* relaxed: no WSP at end of line */
			c->crlfs++;
			c->line_open = false;
			return;
		}
		content(c, '\r');	/* a bare CR is an ordinary octet */
	}
	if (ch == '\r')
		c->cr = true;
	else if (c->mode == DKIM_CANON_RELAXED && is_wsp(ch))
		c->wsp = true;
	else
		content(c, ch);
}

void
dkim_body_canon_push(struct dkim_body_canon *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (c->finished)
		return;
	for (size_t i = 0; i < len; i++)
		feed(c, p[i]);
	/* Keep memory constant but avoid one callback per push. */
	if (c->olen >= sizeof(c->obuf) / 2)
		flush(c);
}

void
dkim_body_canon_finish(struct dkim_body_canon *c)
{
	if (c->finished)
		return;
	c->finished = true;
	if (c->cr) {
		c->cr = false;
		content(c, '\r');
	}
	/* WSP at the end of the last (unterminated) line is end-of-line
	 * WSP once the CRLF below is added (§3.4.4). */
	c->wsp = false;
	if (c->line_open || (c->crlfs > 0 && c->any) ||
	    (!c->any && c->mode == DKIM_CANON_SIMPLE)) {
		/* §3.4.3: a simple body is at least CRLF; §3.4.4: a
		 * non-empty relaxed body ends with exactly one CRLF. */
		put(c, '\r');
		put(c, '\n');
	}
	c->crlfs = 0;
	flush(c);
}
