/* SPDX-License-Identifier: ISC */
/*
 * The display text of a From: field for msg/lookalike: what a mail reader
 * shows besides the address (display names and comments), with RFC 2047
 * encoded-words decoded to UTF-8 (any charset ICU converts). Pure and
 * bounded by the output size; the field value is untrusted.
 */
#include "msg/lookalike.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <unicode/ucnv.h>

#include "core/base64.h"

/* Append n bytes to out (room for a NUL kept); false when full. */
static bool
lk_put(char *out, size_t outlen, size_t *o, const char *p, size_t n)
{
	if (*o + n >= outlen)
		return false;
	memcpy(out + *o, p, n);
	*o += n;
	return true;
}

/* The value of hex digit c, or -1. */
static int
lk_hex(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c != '\0' ? strchr(digits, tolower((unsigned char)c)) :
	    NULL;

	return p != NULL ? (int)(p - digits) : -1;
}

/*
 * Decode the encoded-word at s (len bytes left, starting "=?") into out.
 * Returns the bytes it spans, or 0 when s is not a well-formed encoded
 * word (then it is shown as it is, as mail readers do).
 */
static size_t
lk_encoded_word(const char *s, size_t len, char *out, size_t outlen,
    size_t *o)
{
	char charset[64], raw[LOOKALIKE_DISPLAY_MAX], conv[LOOKALIKE_DISPLAY_MAX];
	const char *q1, *q2, *end, *star;
	size_t cl, n = 0;
	UErrorCode err = U_ZERO_ERROR;
	int32_t cn;

	/* RFC 2047 §2: =?charset?encoding?encoded-text?=, at most 75. */
	if (len > 75)
		len = 75;
	if ((q1 = memchr(s + 2, '?', len - 2)) == NULL ||
	    q1 + 3 >= s + len || q1[2] != '?' ||
	    (end = memchr(q1 + 3, '?', (size_t)(s + len - q1 - 3))) == NULL ||
	    end + 1 >= s + len || end[1] != '=')
		return 0;
	q2 = q1 + 2;
	cl = (size_t)(q1 - s - 2);
	/* RFC 2231 §5: a language after '*' is dropped. */
	if ((star = memchr(s + 2, '*', cl)) != NULL)
		cl = (size_t)(star - s - 2);
	if (cl == 0 || cl >= sizeof(charset))
		return 0;
	memcpy(charset, s + 2, cl);
	charset[cl] = '\0';
	if (q1[1] == 'B' || q1[1] == 'b') {
		long r = base64_decode(q2 + 1, (size_t)(end - q2 - 1),
		    (uint8_t *)raw, sizeof(raw));

		if (r < 0)
			return 0;
		n = (size_t)r;
	} else if (q1[1] == 'Q' || q1[1] == 'q') {
		for (const char *p = q2 + 1; p < end; p++) {
			if (*p == '_')
				raw[n++] = ' ';
			else if (*p == '=' && p + 2 < end &&
			    lk_hex(p[1]) >= 0 && lk_hex(p[2]) >= 0) {
				raw[n++] = (char)(lk_hex(p[1]) * 16 +
				    lk_hex(p[2]));
				p += 2;
			} else
				raw[n++] = *p;
		}
	} else
		return 0;
	if (strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0) {
		if (!lk_put(out, outlen, o, raw, n))
			return 0;
	} else {
		cn = ucnv_convert("UTF-8", charset, conv, sizeof(conv), raw,
		    (int32_t)n, &err);
		if (U_FAILURE(err) || !lk_put(out, outlen, o, conv,
		    (size_t)cn))
			return 0;
	}
	return (size_t)(end + 2 - s);
}

int
lookalike_display_text(const char *value, size_t len, char *out,
    size_t outlen)
{
	size_t o = 0, i = 0;
	bool quoted = false, angle = false;

	if (outlen == 0)
		return -1;
	while (i < len) {
		char c = value[i];
		size_t used, ws;

		if (angle) {
			if (c == '>')
				angle = false;
			i++;
			continue;
		}
		if (c == '\\' && quoted && i + 1 < len) {
			if (!lk_put(out, outlen, &o, value + i + 1, 1))
				break;
			i += 2;
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
			i++;
			continue;
		}
		if (c == '<' && !quoted) {
			angle = true;
			i++;
			continue;
		}
		if (c == '=' && i + 1 < len && value[i + 1] == '?' &&
		    (used = lk_encoded_word(value + i, len - i, out, outlen,
		    &o)) > 0) {
			i += used;
			/* §6.2: white space between two encoded-words is
			 * not shown. */
			for (ws = 0; i + ws < len && strchr(" \t\r\n",
			    value[i + ws]) != NULL && value[i + ws] != '\0';)
				ws++;
			if (i + ws + 1 < len && value[i + ws] == '=' &&
			    value[i + ws + 1] == '?')
				i += ws;
			continue;
		}
		/* Folding and control characters become a space. */
		if ((unsigned char)c < ' ')
			c = ' ';
		if (!lk_put(out, outlen, &o, &c, 1))
			break;
		i++;
	}
	/* Trim the spaces that separated the name from the address. */
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return 0;
}
