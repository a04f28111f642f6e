/* SPDX-License-Identifier: ISC */
/*
 * The DKIM signing keys of every local domain ([domain] dkim_selector and
 * dkim_key pairs, up to CONF_MAX_DKIM per domain, in file order), loaded by the master before privileges are dropped and
 * inherited by the SMTP workers, as the TLS keys are.
 */
#ifndef SEALMAIL_AUTH_DKIM_KEYS_H
#define SEALMAIL_AUTH_DKIM_KEYS_H

#include <stddef.h>

#include "conf/conf.h"

struct dkim_sign_key;
struct dkim_keys;

/* Load every configured key. NULL with a one-line err naming the file on
 * failure. A configuration without keys gives an empty set. */
struct dkim_keys *dkim_keys_load(const struct conf *conf, char *err,
    size_t errlen);
void dkim_keys_free(struct dkim_keys *k);

/* The keys of domain (case-insensitive): *n of them at *keys (borrowed,
 * valid until dkim_keys_free), or 0. */
size_t dkim_keys_for(const struct dkim_keys *k, const char *domain,
    struct dkim_sign_key *const **keys);

#endif
