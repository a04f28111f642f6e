/* SPDX-License-Identifier: ISC */
/* TLSA records against the chain we serve (see tlsamatch.h). */
#include "check/tlsamatch.h"

#include <string.h>

#include <openssl/evp.h>

bool
tlsamatch_supported(uint8_t usage, uint8_t selector, uint8_t mtype)
{
	return (usage == 2 || usage == 3) && selector <= 1 && mtype <= 2;
}

static bool
match_one(uint8_t selector, uint8_t mtype, const uint8_t *data, size_t len,
    const struct tlsamatch_cert *c)
{
	const uint8_t *p = selector == 0 ? c->cert : c->spki;
	size_t n = selector == 0 ? c->certlen : c->spkilen;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (mtype == 0)
		return len == n && memcmp(data, p, n) == 0;
	if (EVP_Digest(p, n, md, &mdlen, mtype == 1 ? EVP_sha256() :
	    EVP_sha512(), NULL) != 1)
		return false;
	return len == mdlen && memcmp(data, md, mdlen) == 0;
}

bool
tlsamatch_rr(uint8_t usage, uint8_t selector, uint8_t mtype,
    const uint8_t *data, size_t len, const struct tlsamatch_cert *chain,
    size_t n)
{
	if (!tlsamatch_supported(usage, selector, mtype) || n == 0)
		return false;
	if (usage == 3)
		return match_one(selector, mtype, data, len, &chain[0]);
	for (size_t i = 1; i < n; i++)
		if (match_one(selector, mtype, data, len, &chain[i]))
			return true;
	return false;
}
