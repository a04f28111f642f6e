/* SPDX-License-Identifier: ISC */
/* Signing keys per local domain (see dkim_keys.h). */
#include "auth/dkim_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dkim_sign.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keyop.h"

struct dkim_keys_domain {
	char			*name;	/* owned copy */
	struct dkim_sign_key	*keys[DKIM_SIGN_KEYS_MAX];
	size_t			 nkeys;
};

struct dkim_keys {
	struct dkim_keys_domain	*d;
	size_t			 n;
};

_Static_assert(CONF_MAX_DKIM <= DKIM_SIGN_KEYS_MAX,
    "a domain may have more keys than the signer takes");

/* Pair j of cd; on failure err names the file, domain and selector, as the
 * signer's own message may not (a key of the wrong type). */
static struct dkim_sign_key *
dkim_keys_load_one(const struct conf_domain *cd, size_t j, char *err,
    size_t errlen)
{
	const struct conf_dkim *cp = &cd->dkim[j];
	struct dkim_sign_key *key;
	char why[256], path[256];

	key = dkim_sign_key_load(cd->name, cp->selector, cp->key, why,
	    sizeof(why));
	if (key == NULL)
		snprintf(err, errlen, "%s (domain %s, selector %s): %s",
		    log_escape(cp->key, strlen(cp->key), path, sizeof(path)),
		    cd->name, cp->selector, why);
	return key;
}

/* Makes key j of domain cd, the h-th key of the configuration (in file
 * order); NULL fails the whole set. */
typedef struct dkim_sign_key *dkim_keys_make_fn(const struct conf_domain *cd,
    size_t j, size_t h, void *arg);

/* Every pair, in file order: dual Ed25519 + RSA signing. */
static struct dkim_keys *
dkim_keys_build(const struct conf *conf, dkim_keys_make_fn *make, void *arg)
{
	struct dkim_keys *k = xcalloc(1, sizeof(*k));
	size_t h = 0;

	k->d = xcalloc(conf->ndomains, sizeof(*k->d));
	for (size_t i = 0; i < conf->ndomains; i++) {
		const struct conf_domain *cd = &conf->domains[i];
		if (cd->ndkim == 0)
			continue;
		struct dkim_keys_domain *d = &k->d[k->n++];
		d->name = xstrdup(cd->name);
		for (size_t j = 0; j < cd->ndkim; j++, h++) {
			if ((d->keys[j] = make(cd, j, h, arg)) == NULL) {
				dkim_keys_free(k);
				return NULL;
			}
			d->nkeys = j + 1;
		}
	}
	return k;
}

struct dkim_keys_err {
	char	*err;
	size_t	 errlen;
};

/* dkim_keys_make_fn: the key file, read and parsed here. */
static struct dkim_sign_key *
dkim_keys_make_loaded(const struct conf_domain *cd, size_t j, size_t h,
    void *arg)
{
	struct dkim_keys_err *e = arg;

	(void)h;
	return dkim_keys_load_one(cd, j, e->err, e->errlen);
}

struct dkim_keys *
dkim_keys_load(const struct conf *conf, char *err, size_t errlen)
{
	struct dkim_keys_err e = { err, errlen };

	return dkim_keys_build(conf, dkim_keys_make_loaded, &e);
}

struct dkim_keys_types {
	const bool	*rsa;
	size_t		 n;
};

/* dkim_keys_make_fn: the public facts of the key the keys process holds. */
static struct dkim_sign_key *
dkim_keys_make_remote(const struct conf_domain *cd, size_t j, size_t h,
    void *arg)
{
	struct dkim_keys_types *t = arg;

	if (h >= t->n)
		return NULL;
	return dkim_sign_key_remote(cd->name, cd->dkim[j].selector, t->rsa[h],
	    KEYOP_HANDLE_DKIM0 + (uint32_t)h);
}

struct dkim_keys *
dkim_keys_remote(const struct conf *conf, const bool *rsa, size_t n)
{
	struct dkim_keys_types t = { rsa, n };

	return dkim_keys_build(conf, dkim_keys_make_remote, &t);
}

void
dkim_keys_free(struct dkim_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++) {
		for (size_t j = 0; j < k->d[i].nkeys; j++)
			dkim_sign_key_free(k->d[i].keys[j]);
		free(k->d[i].name);
	}
	free(k->d);
	free(k);
}

size_t
dkim_keys_for(const struct dkim_keys *k, const char *domain,
    struct dkim_sign_key *const **keys)
{
	for (size_t i = 0; k && i < k->n; i++)
		if (strcasecmp(k->d[i].name, domain) == 0) {
			*keys = k->d[i].keys;
			return k->d[i].nkeys;
		}
	return 0;
}
