/* SPDX-License-Identifier: ISC */
/*
 * Punycode encoder, RFC 3492 §6.3 with the parameters of §5, so that
 * domains reach the store, paths and DNS in one ASCII form; and decoder
 * (§6.2), so the lookalike check can see the U-label behind an A-label.
 */
#include "msg/punycode.h"

#include <stdbool.h>

enum {
	PUNY_BASE = 36, PUNY_TMIN = 1, PUNY_TMAX = 26, PUNY_SKEW = 38,
	PUNY_DAMP = 700, PUNY_INITIAL_BIAS = 72, PUNY_INITIAL_N = 128,
};

/* §6.1 */
static uint32_t
punycode_adapt(uint32_t delta, uint32_t numpoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / PUNY_DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
		delta /= PUNY_BASE - PUNY_TMIN;
		k += PUNY_BASE;
	}
	return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

static char
punycode_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Append one byte, keeping room for the NUL. */
static int
punycode_put(char *out, size_t outlen, size_t *o, char ch)
{
	if (*o + 1 >= outlen)
		return -1;
	out[(*o)++] = ch;
	return 0;
}

/* The variable-length integer q at the current bias (§6.3 inner loop). */
static int
punycode_put_int(char *out, size_t outlen, size_t *o, uint32_t q,
    uint32_t bias)
{
	for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
		uint32_t t = k <= bias ? PUNY_TMIN :
		    k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;
		if (q < t)
			break;
		if (punycode_put(out, outlen, o, punycode_digit(t + (q - t) %
		    (PUNY_BASE - t))) == -1)
			return -1;
		q = (q - t) / (PUNY_BASE - t);
	}
	return punycode_put(out, outlen, o, punycode_digit(q));
}

int
punycode_encode(const uint32_t *in, size_t n, char *out, size_t outlen)
{
	uint32_t cp = PUNY_INITIAL_N, bias = PUNY_INITIAL_BIAS;
	uint64_t delta = 0;
	size_t o = 0, h, b = 0;

	if (outlen == 0 || n > UINT32_MAX / 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (in[i] > 0x10ffff)
			return -1;
		if (in[i] < 0x80) {
			if (punycode_put(out, outlen, &o, (char)in[i]) == -1)
				return -1;
			b++;
		}
	}
	if (b > 0 && punycode_put(out, outlen, &o, '-') == -1)
		return -1;
	for (h = b; h < n; delta++, cp++) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (in[i] >= cp && in[i] < m)
				m = in[i];
		delta += (uint64_t)(m - cp) * (h + 1);
		if (delta > UINT32_MAX)
			return -1;
		cp = m;
		for (size_t i = 0; i < n; i++) {
			if (in[i] < cp && ++delta > UINT32_MAX)
				return -1;
			if (in[i] != cp)
				continue;
			if (punycode_put_int(out, outlen, &o, (uint32_t)delta,
			    bias) == -1)
				return -1;
			bias = punycode_adapt((uint32_t)delta, (uint32_t)h + 1,
			    h == b);
			delta = 0;
			h++;
		}
	}
	out[o] = '\0';
	return (int)o;
}

/* The value of a basic code point as a digit (§5), or PUNY_BASE if none. */
static uint32_t
punycode_value(unsigned char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a';
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 26;
	return PUNY_BASE;
}

int
punycode_decode(const char *in, size_t len, uint32_t *out, size_t max)
{
	uint32_t cp = PUNY_INITIAL_N, bias = PUNY_INITIAL_BIAS;
	uint64_t i = 0;
	size_t b = 0, n = 0, pos, start = 0;

	for (pos = 0; pos < len; pos++)
		if (in[pos] == '-') {
			b = pos;
			start = pos + 1;
		}
	/* Basic code points before the last delimiter (if any) copy over. */
	for (pos = 0; pos < b; pos++) {
		if ((unsigned char)in[pos] >= 0x80 || n >= max)
			return -1;
		out[n++] = (unsigned char)in[pos];
	}
	for (pos = start; pos < len; i++) {
		uint64_t oldi = i, w = 1;

		for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
			uint32_t d, t;

			if (pos >= len ||
			    (d = punycode_value((unsigned char)in[pos++])) >=
			    PUNY_BASE)
				return -1;
			i += d * w;
			if (i > UINT32_MAX)
				return -1;
			t = k <= bias ? PUNY_TMIN :
			    k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;
			if (d < t)
				break;
			w *= PUNY_BASE - t;
			if (w > UINT32_MAX)
				return -1;
		}
		if (n >= max)
			return -1;
		bias = punycode_adapt((uint32_t)(i - oldi), (uint32_t)n + 1,
		    oldi == 0);
		if (cp + i / (n + 1) > 0x10ffff)
			return -1;
		cp += (uint32_t)(i / (n + 1));
		if (cp >= 0xd800 && cp <= 0xdfff)
			return -1;
		i %= n + 1;
		/* Insert cp at position i. */
		for (size_t j = n; j > i; j--)
			out[j] = out[j - 1];
		out[i] = cp;
		n++;
	}
	return (int)n;
}
