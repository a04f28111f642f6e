/* SPDX-License-Identifier: ISC */
/*
 * Base64 (RFC 4648 §4). The decoder is strict because its input comes from
 * the network (SASL responses): the length must be a multiple of four,
 * padding is required, '=' may appear only at the end, no whitespace or
 * other characters are skipped, and the unused bits of the last quantum
 * must be zero (RFC 4648 §3.5), so every byte string has exactly one
 * accepted encoding. Pure; no allocation.
 */
#include "core/base64.h"

#include <limits.h>
#include <stdbool.h>

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of an alphabet character, or -1. */
static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Number of '=' at the end of a quantum-aligned input; -1 if malformed. */
static int
base64_padding(const char *in, size_t len)
{
	if (in[len - 1] != '=')
		return 0;
	if (in[len - 2] != '=')
		return 1;
	return 2;
}

long
base64_decode(const char *in, size_t len, uint8_t *out, size_t outcap)
{
	if (len == 0)
		return 0;
	if (len % 4 != 0 || len / 4 > (size_t)LONG_MAX / 3)
		return -1;
	int pad = base64_padding(in, len);
	size_t outlen = len / 4 * 3 - (size_t)pad;
	if (outlen > outcap)
		return -1;

	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		/* Only the final quantum may hold padding. */
		int n = last ? 4 - pad : 4;
		uint32_t acc = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			int v = k < n ? base64_value(c) : 0;
			if (v < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
		}
		/* RFC 4648 §3.5: reject non-zero pad bits (non-canonical). */
		if ((pad == 1 && last && (acc & 0xff) != 0) ||
		    (pad == 2 && last && (acc & 0xffff) != 0))
			return -1;
		out[o++] = (uint8_t)(acc >> 16);
		if (n > 2)
			out[o++] = (uint8_t)(acc >> 8);
		if (n > 3)
			out[o++] = (uint8_t)acc;
	}
	return (long)o;
}

long
base64_encode(const uint8_t *in, size_t n, char *out, size_t outcap)
{
	if (n > ((size_t)LONG_MAX - 1) / 4 * 3 - 3)
		return -1;
	size_t need = (n + 2) / 3 * 4;
	if (outcap < need + 1)
		return -1;

	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t acc = (uint32_t)in[i] << 16 |
		    (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = base64_alphabet[acc >> 18 & 63];
		out[o++] = base64_alphabet[acc >> 12 & 63];
		out[o++] = base64_alphabet[acc >> 6 & 63];
		out[o++] = base64_alphabet[acc & 63];
	}
	if (i < n) {
		uint32_t acc = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			acc |= (uint32_t)in[i + 1] << 8;
		out[o++] = base64_alphabet[acc >> 18 & 63];
		out[o++] = base64_alphabet[acc >> 12 & 63];
		out[o++] = i + 1 < n ? base64_alphabet[acc >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}
