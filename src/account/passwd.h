/* SPDX-License-Identifier: ISC */
/* Password hashing with crypt_r(3): yescrypt for new hashes; any scheme
 * libxcrypt knows (bcrypt, sha512-crypt, Dovecot-compatible) verifies. */
#ifndef SEALMAIL_AUTH_PASSWD_H
#define SEALMAIL_AUTH_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* Hash `password` with a fresh salt; returns a heap string or NULL. */
char *passwd_hash(const char *password);
/* Constant-time compare of crypt(password, hash) with hash. */
bool passwd_verify(const char *password, const char *hash);

#endif
