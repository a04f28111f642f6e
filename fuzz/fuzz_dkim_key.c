/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for DKIM key records (auth/dkim_key): parse, then load
 * the key with the RFC 8301 policy. Invariants: a parsed key is revoked
 * exactly when it has no key bytes, its bytes fit DKIM_KEY_DER_MAX; a
 * loaded key is of the k= type, RSA within the size bounds, Ed25519 from
 * exactly 32 octets; a failed load returns no key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/dkim_key.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_key key;
	enum dkim_key_result r;
	void *pk;

	if (dkim_key_parse((const char *)data, size, &key) != DKIM_KEY_OK)
		return 0;
	CHECK(key.plen <= DKIM_KEY_DER_MAX);
	CHECK(key.revoked == (key.plen == 0));
	r = dkim_key_load(&key, &pk);
	if (r != DKIM_KEY_OK) {
		CHECK(pk == NULL);
		CHECK(r != DKIM_KEY_ERR_TOO_SMALL || key.type == DKIM_KEY_RSA);
		return 0;
	}
	CHECK(!key.revoked);
	if (key.type == DKIM_KEY_ED25519) {
		CHECK(key.plen == 32);
		CHECK(EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519);
	} else {
		CHECK(EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA);
		CHECK(EVP_PKEY_get_bits(pk) >= DKIM_RSA_BITS_MIN &&
		    EVP_PKEY_get_bits(pk) <= DKIM_RSA_BITS_MAX);
	}
	EVP_PKEY_free(pk);
	return 0;
}
