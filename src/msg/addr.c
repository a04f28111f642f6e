/* SPDX-License-Identifier: ISC */
/*
 * RFC 5321 paths and mailboxes (§4.1.2, §4.1.3, with the RFC 6531 UTF-8
 * extensions) and the RFC 5322 §3.4 address lists of From:/Sender:.
 *
 * All input is untrusted and bounded by the caller's length: nothing here
 * relies on a NUL terminator, allocates, or recurses on input structure.
 * Every path through a parser validates every byte it stores; struct addr
 * is only ever filled with text that re-parses to itself (the fuzz target
 * checks this). Every parser writes the one canonical form of struct addr
 * (see addr.h), so "you"@Example.TEST and you@example.test are the same
 * bytes wherever they go: envelope, store keys, Maildir paths.
 */
#include "msg/addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "msg/idna.h"

/* A position in untrusted input plus the permission to see UTF-8. */
struct addr_cur {
	const unsigned char	*s;
	size_t			 len;
	size_t			 pos;
	bool			 utf8;
};

/* RFC 5322 §3.2.3 atext (printable ASCII except specials). */
static bool
addr_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
addr_is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static unsigned char
addr_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Compare n bytes of untrusted p with lower/upper-case ASCII text s. */
static bool
addr_ascii_caseeq(const unsigned char *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addr_lower(p[i]) != addr_lower((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Length (2..4) of the well-formed UTF-8 sequence for one non-ASCII code
 * point at p (n bytes available), or 0 if ill-formed: RFC 3629 §4 table,
 * which excludes overlong forms, surrogates and values above U+10FFFF.
 */
static size_t
addr_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/*
 * At a non-ASCII byte: the sequence length if UTF-8 is permitted and the
 * sequence is well-formed; otherwise 0 with *err set.
 */
static size_t
addr_cur_utf8(const struct addr_cur *c, enum addr_result *err)
{
	if (!c->utf8) {
		*err = ADDR_ERR_UTF8;
		return 0;
	}
	size_t n = addr_utf8_len(c->s + c->pos, c->len - c->pos);
	if (n == 0)
		*err = ADDR_ERR_SYNTAX;
	return n;
}

static int
addr_cur_peek(const struct addr_cur *c)
{
	return c->pos < c->len ? c->s[c->pos] : -1;
}

/* True if content can be written as an RFC 5321 Dot-string. */
static bool
addr_is_dotstring(const char *buf, size_t n)
{
	size_t atom = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '.') {
			if (atom == 0)
				return false;
			atom = 0;
		} else if (c >= 0x80 || addr_is_atext(c))
			atom++;
		else
			return false;
	}
	return atom > 0;
}

/*
 * Write the local part in its minimal RFC 5321 form (Dot-string, else a
 * Quoted-string with '"' and '\' escaped), as §4.1.2 asks senders to.
 */
static void
addr_local_canonical(const char *buf, size_t n, struct addr *out)
{
	size_t o = 0;

	if (addr_is_dotstring(buf, n)) {
		memcpy(out->local, buf, n);
		out->local[n] = '\0';
		return;
	}
	out->local[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '"' || buf[i] == '\\')
			out->local[o++] = '\\';
		out->local[o++] = buf[i];
	}
	out->local[o++] = '"';
	out->local[o] = '\0';
}

/* The content of a local part, unquoted, as it is collected. */
struct addr_lbuf {
	char	b[LIMIT_LOCAL_PART];
	size_t	n;
};

/* Append n bytes of content; RFC 5321 §4.5.3.1.1 caps it at 64 octets. */
static enum addr_result
addr_lbuf_add(struct addr_lbuf *l, const unsigned char *p, size_t n)
{
	if (n > sizeof(l->b) - l->n)
		return ADDR_ERR_TOO_LONG;
	memcpy(l->b + l->n, p, n);
	l->n += n;
	return ADDR_OK;
}

/* Quoted-string (RFC 5321 §4.1.2), its content unquoted into l. */
static enum addr_result
addr_smtp_quoted(struct addr_cur *c, struct addr_lbuf *l)
{
	enum addr_result err = ADDR_ERR_SYNTAX;

	c->pos++;	/* opening DQUOTE */
	while (c->pos < c->len) {
		unsigned char ch = c->s[c->pos];
		size_t n = 1, skip = 0;

		if (ch == '"') {
			c->pos++;
			return ADDR_OK;
		}
		if (ch == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (c->pos + 1 >= c->len || c->s[c->pos + 1] < 32 ||
			    c->s[c->pos + 1] > 126)
				return ADDR_ERR_SYNTAX;
			skip = 1;
		} else if (ch >= 0x80) {
			if ((n = addr_cur_utf8(c, &err)) == 0)
				return err;
		} else if (ch < 32 || ch > 126)
			return ADDR_ERR_SYNTAX;
		if ((err = addr_lbuf_add(l, c->s + c->pos + skip, n)) !=
		    ADDR_OK)
			return err;
		c->pos += n + skip;
	}
	return ADDR_ERR_SYNTAX;
}

/* Dot-string = Atom *("." Atom), atext extended by RFC 6531 §3.3. */
static enum addr_result
addr_smtp_dotstring(struct addr_cur *c, struct addr_lbuf *l)
{
	enum addr_result err = ADDR_ERR_SYNTAX;
	size_t start = c->pos, atom = 0;

	while (c->pos < c->len) {
		unsigned char ch = c->s[c->pos];
		size_t n = 1;

		if (ch == '.') {
			if (atom == 0)
				return ADDR_ERR_SYNTAX;	/* leading or ".." */
			atom = 0;
		} else if (ch >= 0x80) {
			if ((n = addr_cur_utf8(c, &err)) == 0)
				return err;
			atom++;
		} else if (addr_is_atext(ch))
			atom++;
		else
			break;
		c->pos += n;
		if (c->pos - start > LIMIT_LOCAL_PART)
			return ADDR_ERR_TOO_LONG;
	}
	if (atom == 0)
		return ADDR_ERR_SYNTAX;		/* empty or trailing dot */
	return addr_lbuf_add(l, c->s + start, c->pos - start);
}

/* Local-part, into out->local in its canonical form. */
static enum addr_result
addr_smtp_local(struct addr_cur *c, struct addr *out)
{
	struct addr_lbuf l = { .n = 0 };
	enum addr_result r;

	if (addr_cur_peek(c) == '"')
		r = addr_smtp_quoted(c, &l);
	else
		r = addr_smtp_dotstring(c, &l);
	if (r != ADDR_OK)
		return r;
	addr_local_canonical(l.b, l.n, out);
	return ADDR_OK;
}

/* IPv4-address-literal = Snum 3("." Snum), Snum 0..255 in 1-3 digits. */
static bool
addr_valid_ipv4(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
		while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 3) {
			v = v * 10 + (p[i++] - '0');
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == n;
}

/* IPv6-address-literal body; inet_pton implements RFC 4291 §2.2 text. */
static bool
addr_valid_ipv6(const unsigned char *p, size_t n)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	/* inet_pton stops at a NUL: only let it see what it must judge. */
	for (size_t i = 0; i < n; i++)
		if (!addr_is_letdig(p[i]) && p[i] != ':' && p[i] != '.')
			return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/*
 * address-literal (RFC 5321 §4.1.3). General-address-literal is refused:
 * no Standardized-tag other than IPv6 exists, and nothing could deliver
 * to one. Stored as "[1.2.3.4]" or "[IPv6:...]" with hex lower-cased.
 */
static enum addr_result
addr_smtp_literal(struct addr_cur *c, struct addr *out)
{
	const unsigned char *p = c->s + c->pos + 1;
	size_t avail = c->len - c->pos - 1;
	const unsigned char *close = memchr(p, ']', avail);

	if (close == NULL)
		return ADDR_ERR_SYNTAX;
	size_t n = (size_t)(close - p);
	if (n + 2 > LIMIT_DOMAIN)
		return ADDR_ERR_TOO_LONG;
	if (n > 5 && addr_ascii_caseeq(p, "IPv6:", 5)) {
		if (!addr_valid_ipv6(p + 5, n - 5))
			return ADDR_ERR_SYNTAX;
		memcpy(out->domain, "[IPv6:", 6);
		for (size_t i = 5; i < n; i++)
			out->domain[i + 1] = (char)addr_lower(p[i]);
	} else {
		if (!addr_valid_ipv4(p, n))
			return ADDR_ERR_SYNTAX;
		out->domain[0] = '[';
		memcpy(out->domain + 1, p, n);
	}
	out->domain[n + 1] = ']';
	out->domain[n + 2] = '\0';
	c->pos += n + 2;
	return ADDR_OK;
}

/*
 * One sub-domain: Let-dig [Ldh-str], or a U-label (RFC 6531 §3.3) when
 * UTF-8 is allowed. ASCII labels are held to the DNS limit of 63.
 */
static enum addr_result
addr_smtp_label(struct addr_cur *c)
{
	enum addr_result err = ADDR_ERR_SYNTAX;
	size_t start = c->pos;
	bool ascii = true;
	unsigned char last = 0;

	while (c->pos < c->len) {
		unsigned char ch = c->s[c->pos];
		size_t n = 1;

		if (ch >= 0x80) {
			if ((n = addr_cur_utf8(c, &err)) == 0)
				return err;
			ascii = false;
		} else if (!addr_is_letdig(ch) && ch != '-')
			break;
		if (c->pos == start && ch == '-')
			return ADDR_ERR_SYNTAX;
		last = ch;
		c->pos += n;
		if (c->pos - start > LIMIT_DOMAIN)
			return ADDR_ERR_TOO_LONG;
	}
	if (c->pos == start || last == '-')
		return ADDR_ERR_SYNTAX;
	if (ascii && c->pos - start > 63)
		return ADDR_ERR_SYNTAX;
	return ADDR_OK;
}

/*
 * Rewrite a lower-cased domain name with every U-label as its A-label
 * (RFC 5890 §2.3.2.1) and every A-label checked (IDNA2008, msg/idna):
 * one spelling of a domain for the store, Maildir paths and every DNS
 * lookup, whichever form the peer used (RFC 6531 allows both). Literals
 * are left alone.
 */
static enum addr_result
addr_domain_alabels(char *domain)
{
	char d[LIMIT_DOMAIN + 1];
	size_t len = strnlen(domain, LIMIT_DOMAIN + 1);

	if (len > LIMIT_DOMAIN)
		return ADDR_ERR_TOO_LONG;
	if (domain[0] == '[' || idna_is_plain(domain, len))
		return ADDR_OK;
	switch (idna_to_alabels(domain, len, d, sizeof(d), NULL)) {
	case 0:
		memcpy(domain, d, strlen(d) + 1);
		return ADDR_OK;
	case -2:
		return ADDR_ERR_TOO_LONG;
	default:
		return ADDR_ERR_IDNA;
	}
}

/* Domain or address-literal, lower-cased into out->domain. */
static enum addr_result
addr_smtp_domain(struct addr_cur *c, struct addr *out)
{
	size_t start = c->pos;
	enum addr_result r;

	if (addr_cur_peek(c) == '[')
		return addr_smtp_literal(c, out);
	for (;;) {
		if ((r = addr_smtp_label(c)) != ADDR_OK)
			return r;
		if (c->pos - start > LIMIT_DOMAIN)
			return ADDR_ERR_TOO_LONG;
		if (addr_cur_peek(c) != '.')
			break;
		c->pos++;
	}
	size_t n = c->pos - start;
	if (n > LIMIT_DOMAIN)
		return ADDR_ERR_TOO_LONG;
	for (size_t i = 0; i < n; i++)
		out->domain[i] = (char)addr_lower(c->s[start + i]);
	out->domain[n] = '\0';
	return addr_domain_alabels(out->domain);
}

/* Mailbox = Local-part "@" ( Domain / address-literal ) */
static enum addr_result
addr_smtp_mailbox(struct addr_cur *c, struct addr *out)
{
	enum addr_result r;

	if ((r = addr_smtp_local(c, out)) != ADDR_OK)
		return r;
	if (addr_cur_peek(c) != '@')
		return ADDR_ERR_SYNTAX;
	c->pos++;
	return addr_smtp_domain(c, out);
}

/* A-d-l ":" (RFC 5321 Appendix C): parsed for validity, then dropped. */
static enum addr_result
addr_smtp_route(struct addr_cur *c)
{
	struct addr scratch;
	enum addr_result r;

	for (;;) {
		if (addr_cur_peek(c) != '@')
			return ADDR_ERR_SYNTAX;
		c->pos++;
		if ((r = addr_smtp_domain(c, &scratch)) != ADDR_OK)
			return r;
		int ch = addr_cur_peek(c);
		c->pos++;
		if (ch == ':')
			return ADDR_OK;
		if (ch != ',')
			return ADDR_ERR_SYNTAX;
	}
}

/* True if "<local@domain>" in canonical form is within LIMIT_PATH. */
static bool
addr_fits_path(const struct addr *a)
{
	return strlen(a->local) + strlen(a->domain) + 3 <= LIMIT_PATH;
}

enum addr_result
addr_parse_path(const char *s, size_t len, bool allow_null, bool utf8,
    struct addr *out, bool *is_null, size_t *end)
{
	struct addr_cur c = { (const unsigned char *)s, len, 1, utf8 };
	enum addr_result r;

	memset(out, 0, sizeof(*out));
	if (is_null)
		*is_null = false;
	if (len < 2 || s[0] != '<')
		return ADDR_ERR_SYNTAX;
	if (s[1] == '>') {
		if (!allow_null)
			return ADDR_ERR_SYNTAX;
		if (is_null)
			*is_null = true;
		if (end)
			*end = 2;
		return ADDR_OK;
	}
	if (s[1] == '@' && (r = addr_smtp_route(&c)) != ADDR_OK)
		goto fail;
	if ((r = addr_smtp_mailbox(&c, out)) != ADDR_OK)
		goto fail;
	r = ADDR_ERR_SYNTAX;
	if (addr_cur_peek(&c) != '>')
		goto fail;
	c.pos++;
	/* RFC 5321 §4.5.3.1.3: 256 octets including punctuation, as given
	 * and in canonical form (an A-label is longer than its U-label). */
	r = ADDR_ERR_TOO_LONG;
	if (c.pos > LIMIT_PATH || !addr_fits_path(out))
		goto fail;
	if (end)
		*end = c.pos;
	return ADDR_OK;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}

/* Run parse over all of s[0..len); out is left empty unless it succeeds. */
static enum addr_result
addr_parse_all(const char *s, size_t len, bool utf8, struct addr *out,
    enum addr_result (*parse)(struct addr_cur *, struct addr *))
{
	struct addr_cur c = { (const unsigned char *)s, len, 0, utf8 };
	enum addr_result r;

	memset(out, 0, sizeof(*out));
	if ((r = parse(&c, out)) == ADDR_OK && c.pos != len)
		r = ADDR_ERR_SYNTAX;
	if (r != ADDR_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

enum addr_result
addr_parse_mailbox(const char *s, size_t len, bool utf8, struct addr *out)
{
	enum addr_result r = addr_parse_all(s, len, utf8, out,
	    addr_smtp_mailbox);

	/* It must fit in a path: two brackets plus the mailbox. */
	if (r == ADDR_OK && (len + 2 > LIMIT_PATH || !addr_fits_path(out))) {
		memset(out, 0, sizeof(*out));
		r = ADDR_ERR_TOO_LONG;
	}
	return r;
}

int
addr_to_text(const struct addr *a, char *out, size_t outlen)
{
	size_t l = strnlen(a->local, sizeof(a->local));
	size_t d = strnlen(a->domain, sizeof(a->domain));
	/* The domain-less "Postmaster" and the null path have no "@". */
	size_t need = l + (d ? 1 + d : 0);

	if (outlen == 0 || need >= outlen)
		return -1;
	memcpy(out, a->local, l);
	if (d) {
		out[l] = '@';
		memcpy(out + l + 1, a->domain, d);
	}
	out[need] = '\0';
	return 0;
}

enum addr_result
addr_parse_domain(const char *s, size_t len, bool utf8, struct addr *out)
{
	return addr_parse_all(s, len, utf8, out, addr_smtp_domain);
}

const char *
addr_text_domain(const char *text)
{
	/* The last '@': a quoted local part may hold one, a domain never. */
	const char *at = strrchr(text, '@');

	return at != NULL ? at + 1 : "";
}

bool
addr_text_equal(const char *a, const char *b)
{
	size_t i;

	for (i = 0; a[i] != '\0' && b[i] != '\0'; i++)
		if (addr_lower((unsigned char)a[i]) !=
		    addr_lower((unsigned char)b[i]))
			return false;
	return a[i] == b[i];
}

/*
 * Copy s lower-cased into out (size outlen) if it is safe as one file
 * name: '/' would leave the mailbox tree ("../../etc" is a valid
 * Dot-string: '/' is atext), a leading '.' could name "..", a Maildir++
 * folder or a hidden file, and control bytes (C0, DEL and the C1 range
 * U+0080..U+009F) have no business in a file name.
 */
static int
addr_dir_component(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n == 0 || n >= outlen || s[0] == '.')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '/' || (c == 0xc2 &&
		    i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
			return -1;
		out[i] = (char)addr_lower(c);
	}
	out[n] = '\0';
	return 0;
}

int
addr_mailbox_dirs(const struct addr *a, char *domain, size_t dlen,
    char *local, size_t llen)
{
	if (memchr(a->local, '\0', sizeof(a->local)) == NULL ||
	    memchr(a->domain, '\0', sizeof(a->domain)) == NULL)
		return -1;
	if (addr_dir_component(a->domain, domain, dlen) == -1 ||
	    addr_dir_component(a->local, local, llen) == -1)
		return -1;
	return 0;
}

/*
 * RFC 5322 §3.4 address lists. A small lexer turns the field value into
 * tokens, skipping CFWS (folding and nested comments, iteratively, so
 * deep nesting costs nothing); a recursive-descent-free parser walks the
 * tokens. Display names and comments are checked for structure only, so
 * legacy 8-bit bytes there are tolerated; the parts that become a struct
 * addr must be well-formed UTF-8 (RFC 6532) without control characters.
 */
enum addr_htype {
	ADDR_HT_END,
	ADDR_HT_ATOM,
	ADDR_HT_QSTR,		/* with its quotes */
	ADDR_HT_DLIT,		/* with its brackets */
	ADDR_HT_SPECIAL,	/* one of < > : ; @ , . */
	ADDR_HT_ERR,
};

struct addr_htok {
	enum addr_htype		 type;
	const unsigned char	*p;
	size_t			 n;
	unsigned char		 ch;
	bool			 bad_utf8;
};

struct addr_hlex {
	const unsigned char	*s;
	size_t			 len, pos;
	bool			 keep_bad_idn;	/* see addr.h */
};

/*
 * At a CR or LF: the length of a fold (line break followed by WSP, which
 * unfolds to the WSP) or of a break at the very end of the value; -1 for
 * a line break inside the value that does not continue the field.
 */
static int
addr_hl_fold(const struct addr_hlex *h, size_t i)
{
	size_t n = h->s[i] == '\r' ? 2 : 1;

	if (n == 2 && (i + 1 >= h->len || h->s[i + 1] != '\n'))
		return -1;			/* bare CR */
	if (i + n == h->len)
		return (int)n;
	if (h->s[i + n] == ' ' || h->s[i + n] == '\t')
		return (int)n;
	return -1;
}

/* Skip CFWS; -1 on an unterminated comment or a bad byte in one. */
static int
addr_hl_cfws(struct addr_hlex *h)
{
	size_t depth = 0;

	while (h->pos < h->len) {
		unsigned char c = h->s[h->pos];
		int f;

		if (c == '\r' || c == '\n') {
			if ((f = addr_hl_fold(h, h->pos)) < 0)
				return -1;
			h->pos += (size_t)f;
			continue;
		}
		if (depth == 0 && c != ' ' && c != '\t' && c != '(')
			return 0;
		if (c == '\0')
			return -1;
		if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
		else if (c == '\\') {
			if (++h->pos >= h->len || h->s[h->pos] == '\0' ||
			    h->s[h->pos] == '\r' || h->s[h->pos] == '\n')
				return -1;
		}
		h->pos++;
	}
	return depth == 0 ? 0 : -1;
}

/* Step over one byte of token text at h->pos, noting bad UTF-8. */
static void
addr_hl_char(struct addr_hlex *h, struct addr_htok *t)
{
	if (h->s[h->pos] < 0x80) {
		h->pos++;
		return;
	}
	size_t n = addr_utf8_len(h->s + h->pos, h->len - h->pos);
	if (n == 0) {
		t->bad_utf8 = true;
		n = 1;
	}
	h->pos += n;
}

/* Scan a quoted-string or a domain-literal up to its closing byte. */
static void
addr_hl_delimited(struct addr_hlex *h, struct addr_htok *t, unsigned char close)
{
	h->pos++;
	while (h->pos < h->len) {
		unsigned char c = h->s[h->pos];
		int f;

		if (c == close) {
			h->pos++;
			return;
		}
		if (c == '\r' || c == '\n') {
			if ((f = addr_hl_fold(h, h->pos)) < 0)
				break;
			h->pos += (size_t)f;
		} else if (c == '\0' ||
		    (close == ']' && (c == '[' || c == '\\')))
			break;
		else if (c == '\\') {
			unsigned char e = h->pos + 1 < h->len ?
			    h->s[h->pos + 1] : '\0';
			if (e == '\0' || e == '\r' || e == '\n')
				break;
			h->pos += 2;
		} else
			addr_hl_char(h, t);
	}
	t->type = ADDR_HT_ERR;
}

/* The next token (CFWS skipped). */
static void
addr_hl_next(struct addr_hlex *h, struct addr_htok *t)
{
	memset(t, 0, sizeof(*t));
	if (addr_hl_cfws(h) < 0) {
		t->type = ADDR_HT_ERR;
		return;
	}
	t->type = ADDR_HT_END;
	if (h->pos >= h->len)
		return;
	size_t start = h->pos;
	unsigned char c = h->s[h->pos];
	if (c == '"' || c == '[') {
		t->type = c == '"' ? ADDR_HT_QSTR : ADDR_HT_DLIT;
		addr_hl_delimited(h, t, c == '"' ? '"' : ']');
	} else if (strchr("<>:;@,.", c) != NULL) {
		t->type = ADDR_HT_SPECIAL;
		t->ch = c;
		h->pos++;
	} else if (addr_is_atext(c) || c >= 0x80) {
		t->type = ADDR_HT_ATOM;
		while (h->pos < h->len &&
		    (addr_is_atext(h->s[h->pos]) || h->s[h->pos] >= 0x80))
			addr_hl_char(h, t);
	} else
		t->type = ADDR_HT_ERR;
	t->p = h->s + start;
	t->n = h->pos - start;
}

static void
addr_hl_peek(struct addr_hlex *h, struct addr_htok *t)
{
	size_t pos = h->pos;

	addr_hl_next(h, t);
	h->pos = pos;
}

static bool
addr_htok_is(const struct addr_htok *t, unsigned char ch)
{
	return t->type == ADDR_HT_SPECIAL && t->ch == ch;
}

/* Append the content of a word (atom, or unquoted quoted-string). */
static int
addr_hl_word(const struct addr_htok *t, char *buf, size_t *n)
{
	size_t i = 0, end = t->n;

	if (t->type == ADDR_HT_QSTR) {
		i = 1;
		end = t->n - 1;
	}
	for (; i < end; i++) {
		unsigned char c = t->p[i];
		if (t->type == ADDR_HT_QSTR && (c == '\r' || c == '\n'))
			continue;	/* unfold: the CRLF goes, WSP stays */
		if (t->type == ADDR_HT_QSTR && c == '\\')
			c = t->p[++i];
		if (*n >= LIMIT_LOCAL_PART)
			return -1;
		buf[(*n)++] = (char)c;
	}
	return 0;
}

/* Well-formed UTF-8 without control characters (storable in a path). */
static bool
addr_valid_content(const char *buf, size_t n)
{
	const unsigned char *p = (const unsigned char *)buf;

	for (size_t i = 0; i < n;) {
		if (p[i] >= 0x80) {
			size_t k = addr_utf8_len(p + i, n - i);
			if (k == 0)
				return false;
			i += k;
		} else if (p[i] < 32 || p[i] > 126)
			return false;
		else
			i++;
	}
	return true;
}

/* local-part = word *("." word), obs-local-part CFWS included. */
static int
addr_hl_local(struct addr_hlex *h, struct addr *out)
{
	char buf[LIMIT_LOCAL_PART];
	size_t n = 0;
	struct addr_htok t;

	for (;;) {
		addr_hl_next(h, &t);
		if ((t.type != ADDR_HT_ATOM && t.type != ADDR_HT_QSTR) ||
		    t.bad_utf8 || addr_hl_word(&t, buf, &n) < 0)
			return -1;
		addr_hl_peek(h, &t);
		if (!addr_htok_is(&t, '.'))
			break;
		addr_hl_next(h, &t);
		if (n >= sizeof(buf))
			return -1;
		buf[n++] = '.';
	}
	if (!addr_valid_content(buf, n))
		return -1;
	addr_local_canonical(buf, n, out);
	return 0;
}

/* Append lower-cased token bytes to the domain, skipping WSP and breaks. */
static int
addr_hl_domain_add(struct addr *out, size_t *n, const unsigned char *p,
    size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			continue;
		if (*n >= LIMIT_DOMAIN)
			return -1;
		out->domain[(*n)++] = (char)addr_lower(p[i]);
	}
	out->domain[*n] = '\0';
	return 0;
}

/* domain = dot-atom / domain-literal / obs-domain */
static int
addr_hl_domain(struct addr_hlex *h, struct addr *out)
{
	struct addr_htok t;
	size_t n = 0;

	addr_hl_next(h, &t);
	if (t.type == ADDR_HT_DLIT && !t.bad_utf8) {
		/* Unfolded, then held to the SMTP literal grammar, which
		 * also writes its one spelling ("[IPv6:...]"). */
		char lit[LIMIT_DOMAIN + 1];
		struct addr_cur c = { (const unsigned char *)lit, 0, 0, false };

		if (addr_hl_domain_add(out, &n, t.p, t.n) < 0 || n <= 2)
			return -1;
		memcpy(lit, out->domain, n);
		c.len = n;
		return addr_smtp_literal(&c, out) == ADDR_OK && c.pos == n ?
		    0 : -1;
	}
	for (;;) {
		if (t.type != ADDR_HT_ATOM || t.bad_utf8 ||
		    addr_hl_domain_add(out, &n, t.p, t.n) < 0)
			return -1;
		addr_hl_peek(h, &t);
		if (!addr_htok_is(&t, '.')) {
			enum addr_result r = addr_domain_alabels(out->domain);

			return r == ADDR_OK || (r == ADDR_ERR_IDNA &&
			    h->keep_bad_idn) ? 0 : -1;
		}
		addr_hl_next(h, &t);
		if (addr_hl_domain_add(out, &n, t.p, t.n) < 0)
			return -1;
		addr_hl_next(h, &t);
	}
}

/* addr-spec = local-part "@" domain */
static int
addr_hl_spec(struct addr_hlex *h, struct addr *out)
{
	struct addr_htok t;

	memset(out, 0, sizeof(*out));
	if (addr_hl_local(h, out) < 0)
		return -1;
	addr_hl_next(h, &t);
	if (!addr_htok_is(&t, '@'))
		return -1;
	return addr_hl_domain(h, out);
}

/* obs-route = obs-domain-list ":", parsed and dropped. */
static int
addr_hl_route(struct addr_hlex *h)
{
	struct addr scratch;
	struct addr_htok t;

	for (;;) {
		addr_hl_next(h, &t);
		if (addr_htok_is(&t, ':'))
			return 0;
		if (addr_htok_is(&t, '@')) {
			if (addr_hl_domain(h, &scratch) < 0)
				return -1;
		} else if (!addr_htok_is(&t, ','))
			return -1;
	}
}

struct addr_hlist {
	struct addr_hlex	 lex;
	struct addr		*out;
	size_t			 max, count;
	bool			 in_group;
};

static void
addr_hlist_emit(struct addr_hlist *l, const struct addr *a)
{
	if (l->count < l->max)
		l->out[l->count] = *a;
	l->count++;
}

/* angle-addr after its "<": [obs-route] addr-spec ">" */
static int
addr_hlist_angle(struct addr_hlist *l)
{
	struct addr a;
	struct addr_htok t;

	addr_hl_peek(&l->lex, &t);
	if (addr_htok_is(&t, '@') && addr_hl_route(&l->lex) < 0)
		return -1;
	if (addr_hl_spec(&l->lex, &a) < 0)
		return -1;
	addr_hl_next(&l->lex, &t);
	if (!addr_htok_is(&t, '>'))
		return -1;
	addr_hlist_emit(l, &a);
	return 0;
}

/*
 * One element of the list: a mailbox, a group opening ("name:"; returns
 * 1 because members follow without a comma) or nothing (obs-addr-list
 * allows empty elements). The leading words are skipped first: what
 * follows them ('<', '@' or ':') says whether they were a display name
 * or the local part, which is then re-read from the start.
 */
static int
addr_hlist_element(struct addr_hlist *l)
{
	size_t start = l->lex.pos, words = 0;
	struct addr_htok t;
	struct addr a;

	for (;;) {
		addr_hl_peek(&l->lex, &t);
		if (t.type != ADDR_HT_ATOM && t.type != ADDR_HT_QSTR &&
		    !addr_htok_is(&t, '.'))
			break;
		addr_hl_next(&l->lex, &t);
		words++;
	}
	if (t.type != ADDR_HT_SPECIAL)
		return t.type == ADDR_HT_END && words == 0 ? 0 : -1;
	if (t.ch == '<') {
		addr_hl_next(&l->lex, &t);
		return addr_hlist_angle(l);
	}
	if (t.ch == '@' && words > 0) {
		l->lex.pos = start;
		if (addr_hl_spec(&l->lex, &a) < 0)
			return -1;
		addr_hlist_emit(l, &a);
		return 0;
	}
	if (t.ch == ':' && words > 0 && !l->in_group) {
		addr_hl_next(&l->lex, &t);
		l->in_group = true;
		return 1;
	}
	return words == 0 && (t.ch == ',' || t.ch == ';') ? 0 : -1;
}

/* After an element: "," or the end, or ";" closing a group. */
static int
addr_hlist_separator(struct addr_hlist *l, bool *done)
{
	struct addr_htok t;

	addr_hl_next(&l->lex, &t);
	if (addr_htok_is(&t, ';') && l->in_group) {
		l->in_group = false;
		addr_hl_next(&l->lex, &t);
	}
	*done = t.type == ADDR_HT_END;
	return *done || addr_htok_is(&t, ',') ? 0 : -1;
}

static int
addr_parse_hlist(const char *value, size_t len, struct addr *out,
    size_t max, bool keep_bad_idn)
{
	struct addr_hlist l = {
		{ (const unsigned char *)value, len, 0, keep_bad_idn }, out,
		max, 0, false
	};
	bool done = false;
	int r;

	while (!done) {
		if ((r = addr_hlist_element(&l)) < 0)
			return -1;
		if (r == 1)
			continue;
		if (addr_hlist_separator(&l, &done) < 0)
			return -1;
	}
	if (l.in_group)
		return -1;
	return l.count > INT32_MAX ? INT32_MAX : (int)l.count;
}

int
addr_parse_header_list(const char *value, size_t len, struct addr *out,
    size_t max)
{
	return addr_parse_hlist(value, len, out, max, false);
}

int
addr_parse_header_list_keep_idn(const char *value, size_t len,
    struct addr *out, size_t max)
{
	return addr_parse_hlist(value, len, out, max, true);
}
