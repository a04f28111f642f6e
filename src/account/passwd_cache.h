/* SPDX-License-Identifier: ISC */
/*
 * A per-process cache of recently verified credentials, so a client that
 * logs in again does not cost another yescrypt computation (~100 ms of CPU
 * on one of the worker's password-check threads), in the manner of
 * Dovecot's auth_cache. Only
 * successes are cached, as a keyed SHA-256 of the password under a random
 * per-process key, bound to the stored hash: a password change or a
 * deleted account misses. Failures always pay the full hash.
 */
#ifndef SEALMAIL_AUTH_PASSWD_CACHE_H
#define SEALMAIL_AUTH_PASSWD_CACHE_H

#include <stdbool.h>

/* Seconds a verified login stays cached. */
#define PASSWD_CACHE_TTL	300

/* True if user logged in with this password against this stored hash
 * within the TTL. */
bool passwd_cache_hit(const char *user, const char *hash,
    const char *password);
/* Remember a successful verification. */
void passwd_cache_store(const char *user, const char *hash,
    const char *password);

#endif
