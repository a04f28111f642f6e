/* SPDX-License-Identifier: ISC */
/*
 * Bounded MIME walker for received reports (see in_mime.h). The project's
 * own rather than GMime: it needs a tenth of what GMime does (find a few
 * leaf parts, undo base64/QP), and linking glib + GMime into the daemon
 * would cost idle memory in every process for a path taken a few times a
 * day. Work is bounded by depth, part count and the input length.
 */
#include "report/in_mime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/xmalloc.h"
#include "msg/rfc5322_headers.h"

struct in_mime_walk {
	in_mime_cb	*cb;
	void		*arg;
	size_t		 nparts, npayloads;
	enum in_mime_result res;
};

static bool
in_mime_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Copy [s, s + n) trimmed and lower-cased into out; false if too long. */
static bool
in_mime_lower(const char *s, size_t n, char *out, size_t outlen)
{
	while (n > 0 && in_mime_ws(*s)) {
		s++;
		n--;
	}
	while (n > 0 && in_mime_ws(s[n - 1]))
		n--;
	if (n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
	out[n] = '\0';
	return true;
}

/* Copy the parameter value at v[*ip] (a quoted-string or a token) into
 * out, leaving *ip at the next ';'; false if it did not fit. */
static bool
in_mime_pvalue(const char *v, size_t len, size_t *ip, char *out,
    size_t outlen)
{
	size_t i = *ip, o = 0;
	bool q = i < len && v[i] == '"', fits = outlen > 0;

	for (i += q; i < len; i++) {
		if (q ? v[i] == '"' : (v[i] == ';' || in_mime_ws(v[i])))
			break;
		if (q && v[i] == '\\' && i + 1 < len)
			i++;
		if (q && (v[i] == '\r' || v[i] == '\n'))
			continue;	/* folding */
		if (o + 1 < outlen)
			out[o++] = v[i];
		else
			fits = false;
	}
	while (i < len && v[i] != ';')
		i++;
	if (outlen > 0)
		out[o] = '\0';
	*ip = i;
	return fits;
}

bool
in_mime_param(const char *v, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t i = 0, nlen = strlen(name);

	/* Skip the value before the first ';' (a type or disposition). */
	while (i < len && v[i] != ';')
		i++;
	while (i < len) {
		i++;		/* the ';' */
		while (i < len && in_mime_ws(v[i]))
			i++;
		size_t ks = i;
		while (i < len && v[i] != '=' && v[i] != ';' &&
		    !in_mime_ws(v[i]))
			i++;
		size_t kl = i - ks;
		while (i < len && in_mime_ws(v[i]))
			i++;
		if (i >= len || v[i] != '=')
			continue;
		i++;
		while (i < len && in_mime_ws(v[i]))
			i++;
		bool fits = in_mime_pvalue(v, len, &i, out, outlen);
		if (kl == nlen && strncasecmp(v + ks, name, nlen) == 0)
			return fits;
	}
	return false;
}

static bool
in_mime_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

bool
in_mime_is_report(const char *type, const char *filename)
{
	static const char *const types[] = {
		"application/gzip", "application/x-gzip", "application/zip",
		"application/x-zip-compressed", "application/x-zip",
		"text/xml", "application/xml", "application/tlsrpt+gzip",
		"application/tlsrpt+json", "message/feedback-report",
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	if (strcmp(type, "application/octet-stream") == 0 ||
	    strcmp(type, "application/json") == 0)
		return in_mime_suffix(filename, ".xml") ||
		    in_mime_suffix(filename, ".gz") ||
		    in_mime_suffix(filename, ".zip") ||
		    in_mime_suffix(filename, ".json");
	return false;
}

static bool
in_mime_is_b64(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* Base64 of a MIME body: line breaks and other non-alphabet bytes are
 * skipped (RFC 2045 §6.8), the alphabet is gathered, re-padded and given
 * to the strict decoder. -1 if what remains is not base64. */
static int
in_mime_unbase64(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	char *clean = xmalloc(n + 4);
	size_t m = 0;
	long r;

	for (size_t i = 0; i < n && s[i] != '='; i++)
		if (in_mime_is_b64((unsigned char)s[i]))
			clean[m++] = s[i];
	if (m % 4 == 1) {
		free(clean);
		return -1;
	}
	while (m % 4 != 0)
		clean[m++] = '=';
	*out = xmalloc(m / 4 * 3 + 1);
	r = base64_decode(clean, m, *out, m / 4 * 3 + 1);
	free(clean);
	if (r < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*outlen = (size_t)r;
	return 0;
}

static int
in_mime_hex(char c)
{
	static const char digits[] = "0123456789abcdef";

	if (!isxdigit((unsigned char)c))
		return -1;
	return (int)(strchr(digits, tolower((unsigned char)c)) - digits);
}

/* Quoted-printable (RFC 2045 §6.7); never fails: a stray '=' stays. */
static void
in_mime_unqp(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *o = xmalloc(n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=') {
			o[k++] = (uint8_t)s[i];
			continue;
		}
		if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (i + 1 < n && s[i + 1] == '\n') {
			i += 1;
		} else if (i + 2 < n && in_mime_hex(s[i + 1]) >= 0 &&
		    in_mime_hex(s[i + 2]) >= 0) {
			o[k++] = (uint8_t)(in_mime_hex(s[i + 1]) * 16 +
			    in_mime_hex(s[i + 2]));
			i += 2;
		} else {
			o[k++] = '=';
		}
	}
	*out = o;
	*outlen = k;
}

/* Decode a leaf part and hand it on. */
static void
in_mime_leaf(struct in_mime_walk *w, struct in_mime_part *part,
    const char *cte, const char *body, size_t blen)
{
	uint8_t *dec = NULL;
	size_t dlen = 0;

	if (w->npayloads >= LIMIT_REPORT_PAYLOADS)
		return;
	if (strcmp(cte, "base64") == 0) {
		if (in_mime_unbase64(body, blen, &dec, &dlen) == -1)
			return;
		part->data = dec;
		part->len = dlen;
	} else if (strcmp(cte, "quoted-printable") == 0) {
		in_mime_unqp(body, blen, &dec, &dlen);
		part->data = dec;
		part->len = dlen;
	} else {
		part->data = (const uint8_t *)body;
		part->len = blen;
	}
	w->npayloads++;
	if (w->cb(part, w->arg) == -1)
		w->res = IN_MIME_STOPPED;
	free(dec);
}

/* Where the delimiter line "--boundary" next starts in [s, s + n) at the
 * beginning of a line (from is 0 or just after a line end); NULL if none. */
static const char *
in_mime_delim(const char *s, size_t n, size_t from, const char *b, size_t bl)
{
	size_t i = from;

	while (i + 2 + bl <= n) {
		if ((i == 0 || s[i - 1] == '\n') && s[i] == '-' &&
		    s[i + 1] == '-' && memcmp(s + i + 2, b, bl) == 0)
			return s + i;
		const char *nl = memchr(s + i, '\n', n - i);
		if (nl == NULL)
			return NULL;
		i = (size_t)(nl - s) + 1;
	}
	return NULL;
}

static void in_mime_part(struct in_mime_walk *w, const char *p, size_t len,
    unsigned depth);

/* The parts of a multipart body (RFC 2046 §5.1.1). */
static void
in_mime_multipart(struct in_mime_walk *w, const char *body, size_t blen,
    const char *b, unsigned depth)
{
	size_t bl = strlen(b);
	const char *d = in_mime_delim(body, blen, 0, b, bl);

	while (d != NULL && w->res == IN_MIME_OK) {
		size_t at = (size_t)(d - body) + 2 + bl;
		if (at + 2 <= blen && body[at] == '-' && body[at + 1] == '-')
			return;		/* close delimiter */
		const char *eol = memchr(body + at, '\n', blen - at);
		if (eol == NULL)
			return;
		size_t start = (size_t)(eol - body) + 1;
		const char *next = in_mime_delim(body, blen, start, b, bl);
		size_t end = next != NULL ? (size_t)(next - body) : blen;
		/* The line end before a delimiter belongs to it. */
		if (next != NULL && end > start && body[end - 1] == '\n')
			end--;
		if (next != NULL && end > start && body[end - 1] == '\r')
			end--;
		if (++w->nparts > LIMIT_REPORT_MIME_PARTS) {
			w->res = IN_MIME_LIMIT;
			return;
		}
		in_mime_part(w, body + start, end - start, depth + 1);
		d = next;
	}
}

static void
in_mime_part(struct in_mime_walk *w, const char *p, size_t len,
    unsigned depth)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	struct in_mime_part part;
	const char *ct = NULL, *cd = NULL;
	size_t ctlen = 0, cdlen = 0;
	char cte[32] = "7bit", b[128];

	if (depth > LIMIT_REPORT_MIME_DEPTH) {
		w->res = IN_MIME_LIMIT;
		return;
	}
	memset(&part, 0, sizeof(part));
	rfc5322_headers_init(&h, p, len);
	enum rfc5322_headers_result hr;
	while ((hr = rfc5322_headers_next(&h, &f)) ==
	    RFC5322_HEADERS_FIELD) {
		if (f.name_len == 12 &&
		    strncasecmp(f.name, "content-type", 12) == 0) {
			ct = f.value;
			ctlen = f.value_len;
		} else if (f.name_len == 19 && strncasecmp(f.name,
		    "content-disposition", 19) == 0) {
			cd = f.value;
			cdlen = f.value_len;
		} else if (f.name_len == 25 && strncasecmp(f.name,
		    "content-transfer-encoding", 25) == 0) {
			if (!in_mime_lower(f.value, f.value_len, cte,
			    sizeof(cte)))
				strcpy(cte, "binary");
		}
	}
	if (hr != RFC5322_HEADERS_END)
		return;		/* a header section past the bounds */
	size_t off = rfc5322_headers_body_offset(&h);
	const char *body = p + off;
	size_t blen = len - off;

	strcpy(part.type, "text/plain");
	if (ct != NULL) {
		size_t tl = 0;
		while (tl < ctlen && ct[tl] != ';')
			tl++;
		if (!in_mime_lower(ct, tl, part.type, sizeof(part.type)))
			return;
	}
	if (strncmp(part.type, "multipart/", 10) == 0) {
		if (ct != NULL && in_mime_param(ct, ctlen, "boundary", b,
		    sizeof(b)) && b[0] != '\0')
			in_mime_multipart(w, body, blen, b, depth);
		return;
	}
	if (!(cd != NULL && in_mime_param(cd, cdlen, "filename",
	    part.filename, sizeof(part.filename))) &&
	    !(ct != NULL && in_mime_param(ct, ctlen, "name", part.filename,
	    sizeof(part.filename))))
		part.filename[0] = '\0';
	if (in_mime_is_report(part.type, part.filename))
		in_mime_leaf(w, &part, cte, body, blen);
}

enum in_mime_result
in_mime_walk(const char *msg, size_t len, in_mime_cb *cb, void *arg)
{
	struct in_mime_walk w = { .cb = cb, .arg = arg, .res = IN_MIME_OK };

	in_mime_part(&w, msg, len, 0);
	return w.res;
}
