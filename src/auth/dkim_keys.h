/* SPDX-License-Identifier: ISC */
/*
 * The DKIM signing keys of every local domain ([domain] dkim_selector and
 * dkim_key pairs, up to CONF_MAX_DKIM per domain, in file order). The
 * daemon's are remote (dkim_keys_remote): the keys process holds them and
 * the master, workers and runner know only their public facts; the
 * command-line tools load the files themselves (dkim_keys_load).
 */
#ifndef SEALMAIL_AUTH_DKIM_KEYS_H
#define SEALMAIL_AUTH_DKIM_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

struct dkim_sign_key;
struct dkim_keys;

/* Load every configured key. NULL with a one-line err naming the file on
 * failure. A configuration without keys gives an empty set. */
struct dkim_keys *dkim_keys_load(const struct conf *conf, char *err,
    size_t errlen);
/* The same set as keys the keys process holds: rsa[0..n) says each one's
 * type, in the order dkim_keys_load() would load them, and their handles
 * are KEYOP_HANDLE_DKIM0 + that index (NULL if n is short of them). */
struct dkim_keys *dkim_keys_remote(const struct conf *conf, const bool *rsa,
    size_t n);
void dkim_keys_free(struct dkim_keys *k);

/* The keys of domain (case-insensitive): *n of them at *keys (borrowed,
 * valid until dkim_keys_free), or 0. */
size_t dkim_keys_for(const struct dkim_keys *k, const char *domain,
    struct dkim_sign_key *const **keys);

#endif
