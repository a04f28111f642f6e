/* SPDX-License-Identifier: ISC */
/*
 * SPF macro expansion (RFC 7208 §7); see spf_macro.h. The input and the
 * values are untrusted; the output goes into a bounded buf.
 */
#include "auth/spf_macro.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "core/buf.h"

/* One parsed macro-expand "%{" letter transformers *delimiter "}". */
struct spf_macro_tok {
	char		 letter;	/* as written (case kept) */
	unsigned	 digits;	/* 0 = none given */
	bool		 reverse;
	const char	*delims;	/* borrowed from the string */
	size_t		 ndelims;
};

static bool
spf_macro_is_delim(char c)
{
	/* §7.1: delimiter = "." / "-" / "+" / "," / "/" / "_" / "=" */
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static bool
spf_macro_is_letter(char c, enum spf_macro_mode mode,
    enum spf_macro_result *why)
{
	char lc = (char)(c | 0x20);

	if (c >= 'A' && c <= 'Z') {
		/* fine: uppercase means URL-escape */
	} else if (!(c >= 'a' && c <= 'z')) {
		*why = SPF_MACRO_ERR_SYNTAX;
		return false;
	}
	if (strchr("slodiphv", lc) != NULL)
		return true;
	if (strchr("crt", lc) != NULL) {
		if (mode == SPF_MACRO_EXPLAIN)
			return true;
		*why = SPF_MACRO_ERR_LETTER;
		return false;
	}
	*why = SPF_MACRO_ERR_SYNTAX;
	return false;
}

/*
 * Parse the macro-expand starting at s[*i] == '{' (just past the '%').
 * Advances *i past the '}'.
 */
static enum spf_macro_result
spf_macro_parse_expand(const char *s, size_t len, size_t *i,
    enum spf_macro_mode mode, struct spf_macro_tok *tok)
{
	enum spf_macro_result why = SPF_MACRO_OK;
	size_t j = *i + 1, ndig = 0;
	unsigned v = 0;

	memset(tok, 0, sizeof(*tok));
	if (j >= len || !spf_macro_is_letter(s[j], mode, &why))
		return why != SPF_MACRO_OK ? why : SPF_MACRO_ERR_SYNTAX;
	tok->letter = s[j++];
	for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, ndig++) {
		v = v * 10 + (unsigned)(s[j] - '0');
		if (v > SPF_MACRO_DIGITS_CLAMP)
			v = SPF_MACRO_DIGITS_CLAMP;
	}
	/* §7.3: "If a DIGIT is specified, the value MUST be nonzero." */
	if (ndig > 0 && v == 0)
		return SPF_MACRO_ERR_SYNTAX;
	tok->digits = v;
	if (j < len && (s[j] == 'r' || s[j] == 'R')) {
		tok->reverse = true;
		j++;
	}
	tok->delims = s + j;
	for (; j < len && spf_macro_is_delim(s[j]); j++)
		tok->ndelims++;
	if (j >= len || s[j] != '}')
		return SPF_MACRO_ERR_SYNTAX;
	*i = j + 1;
	return SPF_MACRO_OK;
}

/* §7.1 macro-literal = %x21-24 / %x26-7E; explain-string adds SP. */
static bool
spf_macro_is_literal(unsigned char c, enum spf_macro_mode mode)
{
	if (c == ' ')
		return mode == SPF_MACRO_EXPLAIN;
	return c >= 0x21 && c <= 0x7e && c != '%';
}

/*
 * Walk s; for each element call emit (when not NULL) with either a
 * literal byte run or a parsed token. Shared by check and expand so the
 * two can never disagree on the grammar.
 */
typedef enum spf_macro_result spf_macro_emit(const char *lit, size_t n,
    const struct spf_macro_tok *tok, void *arg);

static enum spf_macro_result
spf_macro_walk(const char *s, size_t len, enum spf_macro_mode mode,
    spf_macro_emit *emit, void *arg, size_t *last_expand)
{
	struct spf_macro_tok tok;
	enum spf_macro_result r;
	size_t i = 0, start;

	if (last_expand != NULL)
		*last_expand = 0;
	while (i < len) {
		if (s[i] != '%') {
			start = i;
			while (i < len && s[i] != '%') {
				if (!spf_macro_is_literal((unsigned char)s[i],
				    mode))
					return SPF_MACRO_ERR_SYNTAX;
				i++;
			}
			if (emit != NULL &&
			    (r = emit(s + start, i - start, NULL, arg)) !=
			    SPF_MACRO_OK)
				return r;
			continue;
		}
		if (i + 1 >= len)
			return SPF_MACRO_ERR_SYNTAX;
		switch (s[i + 1]) {
		case '%':
			r = emit != NULL ? emit("%", 1, NULL, arg) : SPF_MACRO_OK;
			i += 2;
			break;
		case '_':
			r = emit != NULL ? emit(" ", 1, NULL, arg) : SPF_MACRO_OK;
			i += 2;
			break;
		case '-':
			r = emit != NULL ? emit("%20", 3, NULL, arg) :
			    SPF_MACRO_OK;
			i += 2;
			break;
		case '{':
			i++;
			if ((r = spf_macro_parse_expand(s, len, &i, mode, &tok)) ==
			    SPF_MACRO_OK && emit != NULL)
				r = emit(NULL, 0, &tok, arg);
			break;
		default:
			/* §7.1: '%' not followed by '{', '%', '-' or '_'. */
			return SPF_MACRO_ERR_SYNTAX;
		}
		if (r != SPF_MACRO_OK)
			return r;
		if (last_expand != NULL)
			*last_expand = i;
	}
	return SPF_MACRO_OK;
}

enum spf_macro_result
spf_macro_check(const char *s, size_t len, enum spf_macro_mode mode,
    size_t *last_expand)
{
	return spf_macro_walk(s, len, mode, NULL, NULL, last_expand);
}

struct spf_macro_exp {
	const struct spf_macro_ctx	*ctx;
	struct buf			*out;
};

/* The raw value of a letter into val (size SPF_MACRO_VALUE_MAX + 1). */
static enum spf_macro_result
spf_macro_value(const struct spf_macro_ctx *ctx, char letter, char *val,
    size_t vallen)
{
	const char *v = NULL;
	size_t n = 0;
	int k;

	switch (letter | 0x20) {
	case 's': v = ctx->sender; break;
	case 'l': v = ctx->local; break;
	case 'o': v = ctx->sender_domain; break;
	case 'd': v = ctx->domain; break;
	case 'h': v = ctx->helo; break;
	case 'p': v = ctx->ptr != NULL ? ctx->ptr : "unknown"; break;
	case 'r': v = ctx->receiver != NULL && ctx->receiver[0] != '\0' ?
	    ctx->receiver : "unknown"; break;
	case 'v': v = ctx->family == AF_INET6 ? "ip6" : "in-addr"; break;
	case 't':
		snprintf(val, vallen, "%lld", ctx->now);
		return SPF_MACRO_OK;
	case 'c':
	case 'i':
		if (ctx->family == AF_INET6 && (letter | 0x20) == 'c') {
			if (inet_ntop(AF_INET6, ctx->ip, val, vallen) == NULL)
				return SPF_MACRO_ERR_TOO_LONG;
			return SPF_MACRO_OK;
		}
		if (ctx->family == AF_INET6) {
			/* §7.3: "dot-format", one nibble per part. */
			for (k = 0; k < 16; k++)
				n += (size_t)snprintf(val + n, vallen - n,
				    "%s%x.%x", k ? "." : "", ctx->ip[k] >> 4,
				    ctx->ip[k] & 15);
			return SPF_MACRO_OK;
		}
		snprintf(val, vallen, "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1],
		    ctx->ip[2], ctx->ip[3]);
		return SPF_MACRO_OK;
	}
	if (v == NULL)
		v = "";
	if (strlen(v) >= vallen)
		return SPF_MACRO_ERR_TOO_LONG;
	memcpy(val, v, strlen(v) + 1);
	return SPF_MACRO_OK;
}

/* Append p (n bytes), URL-escaped if escape (RFC 3986 §2.3 unreserved). */
static int
spf_macro_put(struct buf *out, const char *p, size_t n, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];
	unsigned char c;

	if (!escape)
		return buf_append(out, p, n);
	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (buf_append(out, p + i, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		if (buf_append(out, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* Split, reverse, keep the right-hand parts and join with "." (§7.3). */
static enum spf_macro_result
spf_macro_transform(const struct spf_macro_tok *tok, const char *val,
    struct buf *out, bool escape)
{
	struct { uint16_t off, len; } parts[SPF_MACRO_PARTS_MAX];
	size_t n = 0, start = 0, vlen = strlen(val), first, i, k;
	char delims[8] = ".";

	if (tok->ndelims > 0) {
		memset(delims, 0, sizeof(delims));
		for (i = 0; i < tok->ndelims && i < sizeof(delims) - 1; i++)
			delims[i] = tok->delims[i];
	}
	for (i = 0; i <= vlen; i++) {
		if (i < vlen && strchr(delims, val[i]) == NULL)
			continue;
		if (n == SPF_MACRO_PARTS_MAX)
			return SPF_MACRO_ERR_TOO_LONG;
		parts[n].off = (uint16_t)start;
		parts[n++].len = (uint16_t)(i - start);
		start = i + 1;
	}
	first = tok->digits > 0 && tok->digits < n ? n - tok->digits : 0;
	for (i = first; i < n; i++) {
		k = tok->reverse ? n - 1 - i : i;
		if ((i > first && spf_macro_put(out, ".", 1, false) == -1) ||
		    spf_macro_put(out, val + parts[k].off, parts[k].len,
		    escape) == -1)
			return SPF_MACRO_ERR_TOO_LONG;
	}
	return SPF_MACRO_OK;
}

static enum spf_macro_result
spf_macro_emit_one(const char *lit, size_t n, const struct spf_macro_tok *tok,
    void *arg)
{
	struct spf_macro_exp *x = arg;
	char val[SPF_MACRO_VALUE_MAX + 1];
	enum spf_macro_result r;
	bool escape;

	if (tok == NULL)
		return buf_append(x->out, lit, n) == 0 ? SPF_MACRO_OK :
		    SPF_MACRO_ERR_TOO_LONG;
	if ((r = spf_macro_value(x->ctx, tok->letter, val, sizeof(val))) !=
	    SPF_MACRO_OK)
		return r;
	escape = tok->letter >= 'A' && tok->letter <= 'Z';
	/* Without transformers or delimiters the value is used as is. */
	if (tok->digits == 0 && !tok->reverse && tok->ndelims == 0)
		return spf_macro_put(x->out, val, strlen(val), escape) == 0 ?
		    SPF_MACRO_OK : SPF_MACRO_ERR_TOO_LONG;
	return spf_macro_transform(tok, val, x->out, escape);
}

enum spf_macro_result
spf_macro_expand(const char *s, size_t len, enum spf_macro_mode mode,
    const struct spf_macro_ctx *ctx, struct buf *out)
{
	struct spf_macro_exp x = { ctx, out };

	return spf_macro_walk(s, len, mode, spf_macro_emit_one, &x, NULL);
}

bool
spf_macro_uses(const char *s, size_t len, char letter)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (s[i] == '%' && s[i + 1] == '%') {
			i++;	/* "%%" is a literal percent */
			continue;
		}
		if (s[i] == '%' && s[i + 1] == '{' &&
		    (s[i + 2] | 0x20) == (letter | 0x20))
			return true;
	}
	return false;
}

const char *
spf_macro_domain_fit(char *s)
{
	size_t n = strlen(s);
	const char *p = s, *dot;

	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	while (n > SPF_DOMAIN_TEXT_MAX && (dot = strchr(p, '.')) != NULL) {
		n -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	return p;
}

const char *
spf_macro_result_name(enum spf_macro_result r)
{
	switch (r) {
	case SPF_MACRO_OK: return "ok";
	case SPF_MACRO_ERR_SYNTAX: return "macro syntax error";
	case SPF_MACRO_ERR_LETTER: return "c, r, t macros allowed in exp only";
	case SPF_MACRO_ERR_TOO_LONG: return "macro expansion too long";
	}
	return "?";
}
