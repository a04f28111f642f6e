/* SPDX-License-Identifier: ISC */
/* The MTA-STS policy file: strict parsing (RFC 8461 §3.2), MX match (§4.1). */
#include "sts/sts_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
#include "sts/sts_chars.h"

/* RFC 1035 §2.3.4: 63-octet labels, 255-octet names (253 in text). */
#define LABEL_MAX	63
#define NAME_MAX_TEXT	253
#define EXT_NAME_MAX	32

enum {
	SEEN_VERSION = 1,
	SEEN_MODE = 2,
	SEEN_MAX_AGE = 4,
};

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Length of the valid UTF-8 sequence (RFC 3629 §4, UTF8-2..4) at p, or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t need, k;
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	for (k = 1; k < need; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return need;
}

/* sts-policy-ext-value: vchar [*(SP / vchar) vchar]; the caller has
 * already cut trailing WSP, so a value ending in a space cannot occur. */
static bool
valid_ext_value(const unsigned char *v, size_t n)
{
	size_t i = 0, l;

	if (n == 0)
		return false;
	while (i < n) {
		if (v[i] >= 0x21 && v[i] <= 0x7e)
			i++;
		else if (v[i] == ' ')
			i++;
		else if ((l = utf8_len(v + i, n - i)) > 0)
			i += l;
		else
			return false;
	}
	return true;
}

/* ["*."] Domain, RFC 5321 §4.1.2: LDH labels, letter or digit at both
 * ends, no final dot. */
static bool
valid_mx_pattern(const char *v, size_t n)
{
	size_t i = 0, lab = 0;

	if (n >= 2 && v[0] == '*' && v[1] == '.')
		i = 2;
	if (n - i == 0 || n - i > NAME_MAX_TEXT)
		return false;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (lab == 0 || v[i - 1] == '-')
				return false;
			lab = 0;
		} else if (sts_is_alnum(c) || (c == '-' && lab > 0)) {
			if (++lab > LABEL_MAX)
				return false;
		} else
			return false;
	}
	return lab > 0 && v[n - 1] != '-';
}

static bool
valid_key(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > EXT_NAME_MAX || !sts_is_alnum((unsigned char)k[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!sts_is_alnum((unsigned char)k[i]) && k[i] != '_' &&
		    k[i] != '-' && k[i] != '.')
			return false;
	return true;
}

static bool
key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(k, name, n) == 0;
}

static int
fail(char *why, size_t whylen, unsigned line, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "line %u: %s", line, msg);
	return -1;
}

/* One key/value line (without its terminator) into p. */
static int
parse_line(const char *s, size_t n, unsigned line, struct sts_policy *p,
    unsigned *seen, char *why, size_t whylen)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t kn, vn;

	if (colon == NULL)
		return fail(why, whylen, line, "no ':' after the key");
	kn = (size_t)(colon - s);
	if (!valid_key(s, kn))
		return fail(why, whylen, line, "invalid key");
	v = colon + 1;
	vn = n - kn - 1;
	while (vn > 0 && sts_is_wsp((unsigned char)*v)) {
		v++;
		vn--;
	}
	while (vn > 0 && sts_is_wsp((unsigned char)v[vn - 1]))
		vn--;
	if (!valid_ext_value((const unsigned char *)v, vn))
		return fail(why, whylen, line, "empty or invalid value");
	if (key_is(s, kn, "version")) {
		if (vn != 5 || memcmp(v, "STSv1", 5) != 0)
			return fail(why, whylen, line, "version is not STSv1");
		*seen |= SEEN_VERSION;
	} else if (key_is(s, kn, "mode")) {
		enum sts_mode m;

		if (vn == 7 && memcmp(v, "enforce", 7) == 0)
			m = STS_MODE_ENFORCE;
		else if (vn == 7 && memcmp(v, "testing", 7) == 0)
			m = STS_MODE_TESTING;
		else if (vn == 4 && memcmp(v, "none", 4) == 0)
			m = STS_MODE_NONE;
		else
			return fail(why, whylen, line,
			    "mode is not enforce, testing or none");
		if (!(*seen & SEEN_MODE))
			p->mode = m;
		*seen |= SEEN_MODE;
	} else if (key_is(s, kn, "max_age")) {
		uint64_t a = 0;
		size_t i;

		if (vn > 10)
			return fail(why, whylen, line,
			    "max_age has more than 10 digits");
		for (i = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(why, whylen, line,
				    "max_age is not a number");
			a = a * 10 + (uint64_t)(v[i] - '0');
		}
		if (a > STS_MAX_AGE_MAX)
			return fail(why, whylen, line,
			    "max_age is over 31557600");
		if (!(*seen & SEEN_MAX_AGE))
			p->max_age = (uint32_t)a;
		*seen |= SEEN_MAX_AGE;
	} else if (key_is(s, kn, "mx")) {
		char *pat;
		size_t i;

		if (!valid_mx_pattern(v, vn))
			return fail(why, whylen, line, "invalid mx pattern");
		if (p->nmx == STS_POLICY_MX_MAX)
			return fail(why, whylen, line, "too many mx lines");
		pat = xstrndup(v, vn);
		for (i = 0; i < vn; i++)
			pat[i] = (char)lower((unsigned char)pat[i]);
		p->mx = xreallocarray(p->mx, p->nmx + 1, sizeof(*p->mx));
		p->mx[p->nmx++] = pat;
	}
	return 0;
}

int
sts_policy_parse(const char *text, size_t len, struct sts_policy *out,
    char *why, size_t whylen)
{
	struct sts_policy p = { STS_MODE_NONE, 0, NULL, 0 };
	unsigned seen = 0, line = 0;
	size_t pos = 0, end;

	memset(out, 0, sizeof(*out));
	if (len > STS_POLICY_BODY_MAX)
		return fail(why, whylen, 0, "policy larger than 64 KiB");
	/* Trailing empty lines are the one leniency (see the header). */
	end = len;
	while (end > 0 && text[end - 1] == '\n') {
		end--;
		if (end > 0 && text[end - 1] == '\r')
			end--;
	}
	while (pos < end) {
		const char *nl = memchr(text + pos, '\n', end - pos);
		size_t stop = nl != NULL ? (size_t)(nl - text) : end, n;

		line++;
		n = stop - pos;
		if (nl != NULL && n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (memchr(text + pos, '\r', n) != NULL) {
			sts_policy_clear(&p);
			return fail(why, whylen, line, "bare CR");
		}
		if (n == 0) {
			sts_policy_clear(&p);
			return fail(why, whylen, line, "empty line");
		}
		if (parse_line(text + pos, n, line, &p, &seen, why,
		    whylen) == -1) {
			sts_policy_clear(&p);
			return -1;
		}
		pos = stop + 1;
	}
	if (!(seen & SEEN_VERSION) || !(seen & SEEN_MODE) ||
	    !(seen & SEEN_MAX_AGE) || (p.nmx == 0 && p.mode != STS_MODE_NONE)) {
		const char *m = !(seen & SEEN_VERSION) ? "no version" :
		    !(seen & SEEN_MODE) ? "no mode" :
		    !(seen & SEEN_MAX_AGE) ? "no max_age" : "no mx";

		sts_policy_clear(&p);
		return fail(why, whylen, line, m);
	}
	*out = p;
	return 0;
}

void
sts_policy_clear(struct sts_policy *p)
{
	size_t i;

	for (i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	free(p->mx);
	memset(p, 0, sizeof(*p));
}

void
sts_policy_dup(struct sts_policy *dst, const struct sts_policy *src)
{
	size_t i;

	*dst = *src;
	dst->mx = NULL;
	if (src->nmx > 0) {
		dst->mx = xcalloc(src->nmx, sizeof(*dst->mx));
		for (i = 0; i < src->nmx; i++)
			dst->mx[i] = xstrdup(src->mx[i]);
	}
}

bool
sts_mx_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host), pl = strlen(pattern);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		size_t suffix = pl - 1;		/* ".example.com" */

		/* Exactly one non-empty label before the suffix. */
		if (dot == NULL || dot == host || memchr(host, '*',
		    (size_t)(dot - host)) != NULL)
			return false;
		return hl - (size_t)(dot - host) == suffix &&
		    strncasecmp(dot, pattern + 1, suffix) == 0;
	}
	return hl == pl && strncasecmp(host, pattern, hl) == 0;
}

bool
sts_policy_match_mx(const struct sts_policy *p, const char *host)
{
	size_t i;

	for (i = 0; i < p->nmx; i++)
		if (sts_mx_pattern_match(p->mx[i], host))
			return true;
	return false;
}

const char *
sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_NONE:
		return "none";
	case STS_MODE_TESTING:
		return "testing";
	case STS_MODE_ENFORCE:
		return "enforce";
	}
	return "none";
}
