/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for smtpd/smtpd_sasl: the client's base64 AUTH PLAIN
 * and LOGIN responses. The first byte picks the LOGIN output size, the
 * rest is the response. Invariants: an accepted PLAIN response has a
 * non-empty authcid and password, every field NUL-free and at most
 * LIMIT_SASL_FIELD octets, and encoding the three fields again decodes to
 * the same credentials; a refused one leaves the output all zero; an
 * accepted LOGIN field is non-empty, fits its buffer and decodes from the
 * input; only "*" cancels.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "smtpd/smtpd_sasl.h"
#include "fuzz_check.h"

#define MAX_MSG		(3 * (LIMIT_SASL_FIELD + 1))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes of one field, all NUL-free, at most LIMIT_SASL_FIELD. */
static size_t
check_field(const char *s, size_t cap, int nonempty)
{
	size_t n = strnlen(s, cap);

	CHECK(n < cap && n <= LIMIT_SASL_FIELD);
	CHECK(!nonempty || n > 0);
	return n;
}

static void
check_plain(const char *b64, size_t len)
{
	static struct smtpd_sasl_creds c, again;
	static const struct smtpd_sasl_creds zero;
	uint8_t msg[MAX_MSG];
	char enc[(MAX_MSG + 2) / 3 * 4 + 1];
	size_t z, a, p, n;
	long elen;
	enum smtpd_sasl_result r;

	r = smtpd_sasl_plain(b64, len, &c);
	CHECK((r == SMTPD_SASL_CANCELLED) == (len == 1 && b64[0] == '*'));
	if (r != SMTPD_SASL_OK) {
		CHECK(memcmp(&c, &zero, sizeof(c)) == 0);
		return;
	}
	z = check_field(c.authzid, sizeof(c.authzid), 0);
	a = check_field(c.authcid, sizeof(c.authcid), 1);
	p = check_field(c.passwd, sizeof(c.passwd), 1);
	memcpy(msg, c.authzid, z);
	msg[z] = '\0';
	memcpy(msg + z + 1, c.authcid, a);
	msg[z + 1 + a] = '\0';
	memcpy(msg + z + a + 2, c.passwd, p);
	n = z + a + 2 + p;
	CHECK((elen = base64_encode(msg, n, enc, sizeof(enc))) > 0);
	CHECK(smtpd_sasl_plain(enc, (size_t)elen, &again) == SMTPD_SASL_OK);
	CHECK(memcmp(&c, &again, sizeof(c)) == 0);
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(&again, sizeof(again));
}

static void
check_login(const char *b64, size_t len, size_t outlen)
{
	char out[LIMIT_SASL_FIELD + 2];
	uint8_t dec[MAX_MSG + 3];
	long dlen;
	size_t n;
	enum smtpd_sasl_result r;

	memset(out, 'x', sizeof(out));
	r = smtpd_sasl_login_field(b64, len, out, outlen);
	CHECK((r == SMTPD_SASL_CANCELLED) == (len == 1 && b64[0] == '*'));
	if (r != SMTPD_SASL_OK) {
		CHECK(outlen == 0 || out[0] == '\0');
		return;
	}
	n = strnlen(out, outlen);
	CHECK(n > 0 && n < outlen && n <= LIMIT_SASL_FIELD);
	CHECK((dlen = base64_decode(b64, len, dec, sizeof(dec))) >= 0);
	CHECK((size_t)dlen == n && memcmp(dec, out, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen;

	if (size == 0 || size > 4096)
		return 0;
	outlen = data[0] % (LIMIT_SASL_FIELD + 3);
	check_plain((const char *)data + 1, size - 1);
	check_login((const char *)data + 1, size - 1, outlen);
	return 0;
}
