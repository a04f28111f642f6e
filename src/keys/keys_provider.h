/* SPDX-License-Identifier: ISC */
/*
 * A built-in OpenSSL 3 provider whose keys hold only a public key and a
 * keyop handle: their signatures are made by the process's keyop backend
 * (keyop.h), asynchronously inside an ASYNC job that has a wait callback
 * (SSL_MODE_ASYNC with SSL_set_async_callback), blocking otherwise.
 */
#ifndef SEALMAIL_KEYS_KEYS_PROVIDER_H
#define SEALMAIL_KEYS_KEYS_PROVIDER_H

#include <stdint.h>

#include <openssl/evp.h>

/* The provider's name (its algorithms carry provider=KEYS_PROVIDER_NAME). */
#define KEYS_PROVIDER_NAME	"sealmail-keys"

/*
 * The library context for contexts that sign with handles: the default
 * provider (preferred for everything) and this one, whose signature
 * implementation libcrypto picks for its own keys because they cannot
 * be exported. Made once per process; NULL if OpenSSL refuses.
 */
OSSL_LIB_CTX *keys_provider_libctx(void);

/*
 * A key naming handle, with pub's public key (RSA, RSA-PSS, EC or
 * Ed25519; pub is not kept). It signs through the keyop backend and
 * passes for pub's private key wherever libssl checks that they match.
 * NULL if the key type is not supported. The caller frees it with
 * EVP_PKEY_free.
 */
EVP_PKEY *keys_provider_key_new(uint32_t handle, EVP_PKEY *pub);

#endif
