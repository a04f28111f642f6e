/* SPDX-License-Identifier: ISC */
/*
 * The keys process's private keys, by handle (keyop.h): parsed and
 * checked from the PEM bytes the master hands over (a DKIM key must be
 * RSA of DKIM_RSA_BITS_MIN..MAX bits or Ed25519; a TLS key RSA, EC or
 * Ed25519 and matching its certificate), then used to sign. Only the keys
 * process links this in practice: nothing else should hold a key.
 */
#ifndef SEALMAIL_KEYS_KEYS_TABLE_H
#define SEALMAIL_KEYS_KEYS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "keys/keyop.h"
#include "keys/keys_proto.h"

struct keys_table;

struct keys_table *keys_table_new(void);
/* Frees every key (OpenSSL wipes their private parts). NULL: no-op. */
void keys_table_free(struct keys_table *t);

/*
 * Parse pem[0..len) as handle's key of kind; for TLS, cert[0..certlen) is
 * its certificate chain (PEM, the first one is the leaf) and must match.
 * 0 with the key's type in *type, or -1 with one line in err (a handle
 * loaded twice is an error too). The PEM bytes are the caller's to wipe.
 */
int keys_table_load(struct keys_table *t, uint32_t handle,
    enum keys_key_kind kind, const uint8_t *pem, size_t len,
    const uint8_t *cert, size_t certlen, enum keys_key_type *type,
    char *err, size_t errlen);

/*
 * Sign op with its key: 0 with the signature in sig[0..*siglen) (*siglen
 * in: room), or -1 (unknown handle, an algorithm that does not fit the
 * key, a tbs that does not fit md, OpenSSL failing). The table is not
 * changed once loaded, so any thread may sign.
 */
int keys_table_sign(const struct keys_table *t, const struct keyop *op,
    uint8_t *sig, size_t *siglen);

#endif
