/* SPDX-License-Identifier: ISC */
/*
 * Authentication-Results (RFC 8601): formatter for ours, a parser for any
 * (recursive descent over the §2.2 ABNF, comments skipped), the
 * authserv-id check used to remove forged copies (§5), and the header
 * iterator the other auth modules share. Pure; all input is untrusted.
 */
#include "auth/authres.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"

/* Comments nest (RFC 5322 §3.2.2); deeper nesting is refused. */
#define AUTHRES_COMMENT_DEPTH	16

/* ---- header-section iterator ----------------------------------------- */

/* Offset just past the line that starts at i (its LF included). */
static size_t
authres_line_end(const char *h, size_t len, size_t i)
{
	const char *nl = memchr(h + i, '\n', len - i);

	return nl == NULL ? len : (size_t)(nl - h) + 1;
}

bool
authres_field_next(const char *hdrs, size_t len, size_t *pos,
    struct authres_field *f)
{
	while (*pos < len) {
		size_t start = *pos, first, end, vend;
		const char *colon;

		if (hdrs[start] == '\n' || (hdrs[start] == '\r' &&
		    start + 1 < len && hdrs[start + 1] == '\n')) {
			*pos = len;	/* the empty line ends the section */
			return false;
		}
		first = end = authres_line_end(hdrs, len, start);
		while (end < len && (hdrs[end] == ' ' || hdrs[end] == '\t'))
			end = authres_line_end(hdrs, len, end);
		*pos = end;
		if (hdrs[start] == ' ' || hdrs[start] == '\t')
			continue;	/* continuation without a field */
		colon = memchr(hdrs + start, ':', first - start);
		if (colon == NULL || colon == hdrs + start)
			continue;
		f->off = start;
		f->len = end - start;
		f->name = hdrs + start;
		f->nlen = (size_t)(colon - f->name);
		while (f->nlen > 0 && (f->name[f->nlen - 1] == ' ' ||
		    f->name[f->nlen - 1] == '\t'))
			f->nlen--;
		vend = end;
		if (vend > start && hdrs[vend - 1] == '\n')
			vend--;
		if (vend > start && hdrs[vend - 1] == '\r')
			vend--;
		f->value = colon + 1;
		f->vlen = (size_t)(hdrs + vend - f->value);
		return true;
	}
	return false;
}

bool
authres_field_is(const struct authres_field *f, const char *name)
{
	return strlen(name) == f->nlen &&
	    strncasecmp(f->name, name, f->nlen) == 0;
}

/* ---- formatting ------------------------------------------------------ */

static bool
authres_is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token: printable ASCII without SP and tspecials. */
static bool
authres_is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    authres_is_tspecial(*s))
			return false;
	return true;
}

/* RFC 5321 domain: labels of letters, digits, "-" (and "_", seen in
 * practice), separated by single dots. */
static bool
authres_is_domain(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')
			label++;
		else
			return false;
	}
	return label > 0;
}

/* RFC 5322 dot-atom-text. */
static bool
authres_is_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (c <= 0x20 || c >= 0x7f || (c != '.' &&
		    strchr("()<>[]:;@\\,\"", c) != NULL))
			return false;
	}
	return true;
}

/* pvalue (§2.2) without quoting: a token, or [[local-part] "@"] domain. */
static bool
authres_is_bare_pvalue(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL)
		return authres_is_token(s);
	return authres_is_domain(at + 1, strlen(at + 1)) &&
	    (at == s || authres_is_dot_atom(s, (size_t)(at - s))) &&
	    memchr(s, '@', (size_t)(at - s)) == NULL;
}

/* Append s as a quoted-string: '"' and '\' escaped, controls as '?'. */
static int
authres_put_quoted(struct buf *b, const char *s)
{
	if (buf_append(b, "\"", 1) == -1)
		return -1;
	for (; *s; s++) {
		char c = *s;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		if ((c == '"' || c == '\\') && buf_append(b, "\\", 1) == -1)
			return -1;
		if (buf_append(b, &c, 1) == -1)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

/* One unit of output, built in tmp, then placed with folding. */
struct authres_line {
	struct buf	*out;
	size_t		 col;	/* column of the current line */
};

static int
authres_place(struct authres_line *l, const struct buf *unit, bool newline)
{
	size_t n = unit->len;

	if (newline || (l->col > 1 && l->col + 1 + n > AUTHRES_LINE_MAX)) {
		if (buf_append(l->out, "\r\n\t", 3) == -1)
			return -1;
		l->col = 8;	/* a tab */
	} else {
		if (buf_append(l->out, " ", 1) == -1)
			return -1;
		l->col++;
	}
	l->col += n;
	return buf_append(l->out, unit->data, n);
}

static int
authres_unit_comment(struct buf *u, const char *text)
{
	if (buf_append(u, "(", 1) == -1)
		return -1;
	for (; *text; text++) {
		char c = *text;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		if ((c == '(' || c == ')' || c == '\\') &&
		    buf_append(u, "\\", 1) == -1)
			return -1;
		if (buf_append(u, &c, 1) == -1)
			return -1;
	}
	return buf_append(u, ")", 1);
}

static int
authres_unit_prop(struct buf *u, const struct authres_prop *p)
{
	if (!authres_is_token(p->ptype) || !authres_is_token(p->property) ||
	    p->value == NULL)
		return -1;
	if (buf_printf(u, "%s.%s=", p->ptype, p->property) == -1)
		return -1;
	if (authres_is_bare_pvalue(p->value))
		return buf_append_str(u, p->value);
	return authres_put_quoted(u, p->value);
}

/* Place the unit built so far (the first of a resinfo on a new line). */
static int
authres_flush(struct authres_line *l, struct buf *u, bool *first)
{
	int rc = authres_place(l, u, *first);

	*first = false;
	buf_reset(u);
	return rc;
}

static int
authres_format_one(struct authres_line *l, const struct authres_result *r,
    bool last)
{
	struct buf u;
	bool first = true;
	size_t i;
	int rc = -1;

	buf_init(&u, AUTHRES_FIELD_MAX);
	if (r->method == NULL || r->result == NULL ||
	    !authres_is_token(r->method) || !authres_is_token(r->result) ||
	    r->nprops > AUTHRES_PROPS_MAX)
		goto out;
	if (buf_printf(&u, "%s=%s", r->method, r->result) == -1)
		goto out;
	if (r->comment != NULL && (authres_flush(l, &u, &first) == -1 ||
	    authres_unit_comment(&u, r->comment) == -1))
		goto out;
	if (r->reason != NULL && (authres_flush(l, &u, &first) == -1 ||
	    buf_append_str(&u, "reason=") == -1 ||
	    authres_put_quoted(&u, r->reason) == -1))
		goto out;
	for (i = 0; i < r->nprops; i++)
		if (authres_flush(l, &u, &first) == -1 ||
		    authres_unit_prop(&u, &r->props[i]) == -1)
			goto out;
	/* ";" ends every resinfo but the last. */
	if (!last && buf_append(&u, ";", 1) == -1)
		goto out;
	rc = authres_flush(l, &u, &first);
out:
	buf_clear(&u);
	return rc;
}

int
authres_format(struct buf *out, const char *authserv_id,
    const struct authres_result *res, size_t n)
{
	struct authres_line l = { out, 0 };
	size_t i, start = out->len;

	if (buf_append_str(out, "Authentication-Results: ") == -1)
		return -1;
	if (authres_is_token(authserv_id)) {
		if (buf_append_str(out, authserv_id) == -1)
			return -1;
	} else if (authres_put_quoted(out, authserv_id) == -1)
		return -1;
	if (buf_append(out, ";", 1) == -1)
		return -1;
	l.col = out->len - start;
	if (n == 0)
		return buf_append_str(out, " none\r\n");
	for (i = 0; i < n; i++)
		if (authres_format_one(&l, &res[i], i + 1 == n) == -1)
			return -1;
	return buf_append(out, "\r\n", 2);
}

/* ---- parsing --------------------------------------------------------- */

struct authres_cur {
	const char	*p;
	size_t		 n, i;
	char		*arena;		/* room for every string, see parse */
	size_t		 used;
};

/* Skip CFWS (WSP, line ends, nested comments). -1 on a bad comment. */
static int
authres_skip_cfws(struct authres_cur *c)
{
	int depth = 0;

	while (c->i < c->n) {
		char ch = c->p[c->i];
		if (depth > 0 && ch == '\\' && c->i + 1 < c->n) {
			c->i += 2;
			continue;
		}
		if (ch == '(') {
			if (++depth > AUTHRES_COMMENT_DEPTH)
				return -1;
		} else if (ch == ')') {
			if (depth == 0)
				return -1;
			depth--;
		} else if (depth == 0 && ch != ' ' && ch != '\t' &&
		    ch != '\r' && ch != '\n')
			break;
		c->i++;
	}
	return depth == 0 ? 0 : -1;
}

/* Copy n bytes into the arena as a NUL-terminated string. */
static char *
authres_keep(struct authres_cur *c, const char *s, size_t n, bool fold)
{
	char *d = c->arena + c->used;
	size_t k;

	for (k = 0; k < n; k++)
		d[k] = fold && s[k] >= 'A' && s[k] <= 'Z' ?
		    (char)(s[k] - 'A' + 'a') : s[k];
	d[n] = '\0';
	c->used += n + 1;
	return d;
}

static bool
authres_is_kwchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Keyword (ldh-str), lower-cased; NULL if there is none. */
static char *
authres_keyword(struct authres_cur *c)
{
	size_t s = c->i;

	while (c->i < c->n && authres_is_kwchar(c->p[c->i]))
		c->i++;
	if (c->i == s)
		return NULL;
	return authres_keep(c, c->p + s, c->i - s, true);
}

/* quoted-string, unquoted into the arena; NULL if malformed. */
static char *
authres_quoted(struct authres_cur *c)
{
	char *d = c->arena + c->used;
	size_t k = 0;

	c->i++;		/* the opening quote */
	while (c->i < c->n && c->p[c->i] != '"') {
		if (c->p[c->i] == '\\' && c->i + 1 < c->n)
			c->i++;
		d[k++] = c->p[c->i++];
	}
	if (c->i == c->n)
		return NULL;
	c->i++;
	d[k] = '\0';
	c->used += k + 1;
	return d;
}

/*
 * A value: quoted-string, or a run of bytes up to CFWS or ";". With
 * pvalue, "=" and "/" etc. are accepted inside the run (§2.2 pvalue is a
 * token, a local@domain, or a domain; header.b values are seen unquoted).
 */
static char *
authres_value(struct authres_cur *c, bool pvalue)
{
	size_t s = c->i;

	if (c->i < c->n && c->p[c->i] == '"')
		return authres_quoted(c);
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->p[c->i];
		if (ch <= 0x20 || ch == 0x7f || ch == ';' || ch == '(' ||
		    ch == '"' || (!pvalue && authres_is_tspecial((char)ch)))
			break;
		c->i++;
	}
	if (c->i == s)
		return NULL;
	return authres_keep(c, c->p + s, c->i - s, false);
}

static bool
authres_peek(struct authres_cur *c, char ch)
{
	return c->i < c->n && c->p[c->i] == ch;
}

/* Optional "/" version after a method, or a version number. */
static int
authres_version(struct authres_cur *c, unsigned *v)
{
	unsigned val = 0;
	size_t s = c->i;

	while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
		if (val > 100000)
			return -1;
		val = val * 10 + (unsigned)(c->p[c->i++] - '0');
	}
	if (c->i == s)
		return -1;
	*v = val;
	return 0;
}

/* propspec = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue */
static int
authres_prop(struct authres_cur *c, struct authres_parsed_result *r,
    char *ptype)
{
	char *property, *value;

	if (authres_skip_cfws(c) == -1 || !authres_peek(c, '.'))
		return -1;
	c->i++;
	if (authres_skip_cfws(c) == -1 ||
	    (property = authres_keyword(c)) == NULL ||
	    authres_skip_cfws(c) == -1 || !authres_peek(c, '='))
		return -1;
	c->i++;
	if (authres_skip_cfws(c) == -1 ||
	    (value = authres_value(c, true)) == NULL)
		return -1;
	if (r->nprops == AUTHRES_PROPS_MAX) {
		r->props_cut = true;
		return 0;
	}
	r->props[r->nprops].ptype = ptype;
	r->props[r->nprops].property = property;
	r->props[r->nprops].value = value;
	r->nprops++;
	return 0;
}

/* resinfo after its ";": methodspec [reasonspec] *propspec */
static int
authres_resinfo(struct authres_cur *c, struct authres_parsed_result *r)
{
	char *word;

	memset(r, 0, sizeof(*r));
	r->version = 1;
	if (authres_skip_cfws(c) == -1 ||
	    (r->method = authres_keyword(c)) == NULL ||
	    authres_skip_cfws(c) == -1)
		return -1;
	if (authres_peek(c, '/')) {
		c->i++;
		if (authres_skip_cfws(c) == -1 ||
		    authres_version(c, &r->version) == -1 ||
		    authres_skip_cfws(c) == -1)
			return -1;
	}
	if (!authres_peek(c, '='))
		return -1;
	c->i++;
	if (authres_skip_cfws(c) == -1 ||
	    (r->result = authres_keyword(c)) == NULL)
		return -1;
	for (;;) {
		if (authres_skip_cfws(c) == -1)
			return -1;
		if (c->i == c->n || authres_peek(c, ';'))
			return 0;
		if ((word = authres_keyword(c)) == NULL ||
		    authres_skip_cfws(c) == -1)
			return -1;
		if (strcmp(word, "reason") == 0 && authres_peek(c, '=') &&
		    r->reason == NULL && r->nprops == 0) {
			c->i++;
			if (authres_skip_cfws(c) == -1 ||
			    (r->reason = authres_value(c, false)) == NULL)
				return -1;
		} else if (authres_prop(c, r, word) == -1)
			return -1;
	}
}

/* authserv-id [CFWS authres-version] */
static int
authres_head(struct authres_cur *c, struct authres *ar)
{
	ar->version = 1;
	if (authres_skip_cfws(c) == -1 ||
	    (ar->authserv_id = authres_value(c, false)) == NULL ||
	    authres_skip_cfws(c) == -1)
		return -1;
	if (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9' &&
	    (authres_version(c, &ar->version) == -1 ||
	    authres_skip_cfws(c) == -1))
		return -1;
	return 0;
}

static int
authres_body(struct authres_cur *c, struct authres *ar)
{
	struct authres_parsed_result tmp;

	if (authres_head(c, ar) == -1)
		return -1;
	while (c->i < c->n) {
		if (!authres_peek(c, ';'))
			return -1;
		c->i++;
		if (authres_resinfo(c, &tmp) == -1)
			return -1;
		if (ar->nresults == AUTHRES_RESULTS_MAX)
			ar->results_cut = true;
		else
			ar->results[ar->nresults++] = tmp;
	}
	return ar->nresults > 0 || ar->none ? 0 : -1;
}

/* "; none" is not a methodspec: recognise it before resinfo parsing. */
static bool
authres_is_none(struct authres_cur *c)
{
	struct authres_cur t = *c;
	size_t s;

	if (authres_skip_cfws(&t) == -1 || !authres_peek(&t, ';'))
		return false;
	t.i++;
	if (authres_skip_cfws(&t) == -1)
		return false;
	s = t.i;
	while (t.i < t.n && authres_is_kwchar(t.p[t.i]))
		t.i++;
	if (t.i - s != 4 || strncasecmp(t.p + s, "none", 4) != 0)
		return false;
	if (authres_skip_cfws(&t) == -1 || t.i != t.n)
		return false;
	c->i = t.i;
	return true;
}

enum authres_parse_result
authres_parse(const char *value, size_t len, struct authres **out)
{
	struct authres *ar;
	struct authres_cur c = { value, len, 0, NULL, 0 };

	*out = NULL;
	if (len > AUTHRES_FIELD_MAX)
		return AUTHRES_ERR_TOO_LONG;
	ar = xcalloc(1, sizeof(*ar));
	/* Every string is a copy of input bytes plus a NUL, and no input
	 * byte is copied twice: 2 * len + 1 bytes are enough. */
	ar->arena = c.arena = xmalloc(2 * len + 1);
	if (authres_head(&c, ar) == 0 && authres_is_none(&c))
		ar->none = true;
	else {
		c.i = 0;
		c.used = 0;
		ar->nresults = 0;
		if (authres_body(&c, ar) == -1) {
			authres_free(ar);
			return AUTHRES_ERR_SYNTAX;
		}
	}
	*out = ar;
	return AUTHRES_OK;
}

void
authres_free(struct authres *ar)
{
	if (ar == NULL)
		return;
	free(ar->arena);
	free(ar);
}

bool
authres_authserv_id(const char *value, size_t len, char *out, size_t outlen)
{
	struct authres_cur c = { value, len, 0, NULL, 0 };
	char *id;
	bool ok;

	if (len > AUTHRES_FIELD_MAX)
		len = c.n = AUTHRES_FIELD_MAX;
	c.arena = xmalloc(len + 1);
	ok = authres_skip_cfws(&c) == 0 &&
	    (id = authres_value(&c, false)) != NULL && strlen(id) < outlen;
	if (ok)
		memcpy(out, id, strlen(id) + 1);
	free(c.arena);
	return ok;
}

size_t
authres_find_ours(const char *hdrs, size_t len, const char *authserv_id,
    struct authres_field *out, size_t max)
{
	struct authres_field f;
	char id[256];
	size_t pos = 0, n = 0;

	while (authres_field_next(hdrs, len, &pos, &f)) {
		if (!authres_field_is(&f, "Authentication-Results") ||
		    !authres_authserv_id(f.value, f.vlen, id, sizeof(id)) ||
		    strcasecmp(id, authserv_id) != 0)
			continue;
		if (n < max)
			out[n] = f;
		n++;
	}
	return n;
}
