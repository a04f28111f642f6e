/* SPDX-License-Identifier: ISC */
/*
 * SASL PLAIN (RFC 4616) and LOGIN responses: strict base64 (RFC 4648,
 * padding required, no whitespace) of untrusted client text. Decoded
 * bytes live only in a stack buffer that is wiped before returning, since
 * they hold a password; on any error the output is zeroed too. Pure.
 */
#include "smtpd/smtpd_sasl.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/base64.h"

/*
 * Largest decoded response we look at: PLAIN's three fields of at most
 * LIMIT_SASL_FIELD octets and two NULs. Base64 of that is the longest
 * input worth decoding; longer input is malformed whatever it holds.
 */
#define SMTPD_SASL_MAX_DECODED	(3 * LIMIT_SASL_FIELD + 2)
#define SMTPD_SASL_MAX_B64	((SMTPD_SASL_MAX_DECODED + 2) / 3 * 4)

static bool
smtpd_sasl_is_cancel(const char *b64, size_t len)
{
	/* RFC 4954 §4: a lone "*" cancels the exchange. */
	return len == 1 && b64[0] == '*';
}

/* Copy a NUL-free field of n octets into a LIMIT_SASL_FIELD+1 array. */
static bool
smtpd_sasl_field(char *dst, const uint8_t *p, size_t n, bool nonempty)
{
	if (n > LIMIT_SASL_FIELD || (nonempty && n == 0))
		return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return true;
}

/* message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2) */
static enum smtpd_sasl_result
smtpd_sasl_plain_split(const uint8_t *buf, size_t n,
    struct smtpd_sasl_creds *out)
{
	const uint8_t *nul1 = memchr(buf, '\0', n);
	if (nul1 == NULL)
		return SMTPD_SASL_ERR_SYNTAX;
	size_t off2 = (size_t)(nul1 - buf) + 1;
	const uint8_t *nul2 = memchr(buf + off2, '\0', n - off2);
	if (nul2 == NULL)
		return SMTPD_SASL_ERR_SYNTAX;
	size_t off3 = (size_t)(nul2 - buf) + 1;
	/* No NUL in the password: a third one is malformed. */
	if (memchr(buf + off3, '\0', n - off3) != NULL)
		return SMTPD_SASL_ERR_SYNTAX;
	size_t zlen = off2 - 1, clen = off3 - 1 - off2, plen = n - off3;
	if (!smtpd_sasl_field(out->authzid, buf, zlen, false) ||
	    !smtpd_sasl_field(out->authcid, buf + off2, clen, true) ||
	    !smtpd_sasl_field(out->passwd, buf + off3, plen, true))
		return SMTPD_SASL_ERR_SYNTAX;
	return SMTPD_SASL_OK;
}

/* Decode into buf; the result is the length or an error code. */
static enum smtpd_sasl_result
smtpd_sasl_decode(const char *b64, size_t len, uint8_t *buf, size_t cap,
    size_t *n)
{
	if (len == 0 || len > SMTPD_SASL_MAX_B64)
		return SMTPD_SASL_ERR_SYNTAX;
	/* RFC 4954 §4: "=" is a response of zero length. */
	if (len == 1 && b64[0] == '=') {
		*n = 0;
		return SMTPD_SASL_OK;
	}
	long r = base64_decode(b64, len, buf, cap);
	if (r < 0)
		return SMTPD_SASL_ERR_BASE64;
	*n = (size_t)r;
	return SMTPD_SASL_OK;
}

enum smtpd_sasl_result
smtpd_sasl_plain(const char *b64, size_t len, struct smtpd_sasl_creds *out)
{
	uint8_t buf[SMTPD_SASL_MAX_DECODED + 3];
	enum smtpd_sasl_result r;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (smtpd_sasl_is_cancel(b64, len))
		return SMTPD_SASL_CANCELLED;
	r = smtpd_sasl_decode(b64, len, buf, sizeof(buf), &n);
	if (r == SMTPD_SASL_OK)
		r = smtpd_sasl_plain_split(buf, n, out);
	explicit_bzero(buf, sizeof(buf));
	if (r != SMTPD_SASL_OK)
		explicit_bzero(out, sizeof(*out));
	return r;
}

enum smtpd_sasl_result
smtpd_sasl_login_field(const char *b64, size_t len, char *out, size_t outlen)
{
	uint8_t buf[SMTPD_SASL_MAX_DECODED + 3];
	enum smtpd_sasl_result r;
	size_t n = 0;

	if (outlen > 0)
		out[0] = '\0';
	if (smtpd_sasl_is_cancel(b64, len))
		return SMTPD_SASL_CANCELLED;
	r = smtpd_sasl_decode(b64, len, buf, sizeof(buf), &n);
	/* One non-empty field, NUL-free, that fits with its terminator. */
	if (r == SMTPD_SASL_OK && (n == 0 || n > LIMIT_SASL_FIELD ||
	    n >= outlen || memchr(buf, '\0', n) != NULL))
		r = SMTPD_SASL_ERR_SYNTAX;
	if (r == SMTPD_SASL_OK) {
		memcpy(out, buf, n);
		out[n] = '\0';
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}
