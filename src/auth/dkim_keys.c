/* SPDX-License-Identifier: ISC */
/* Signing keys per local domain (see dkim_keys.h). */
#include "auth/dkim_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "auth/dkim_sign.h"
#include "core/xmalloc.h"

struct dkim_keys_domain {
	char			*name;	/* owned copy */
	struct dkim_sign_key	*keys[DKIM_SIGN_KEYS_MAX];
	size_t			 nkeys;
};

struct dkim_keys {
	struct dkim_keys_domain	*d;
	size_t			 n;
};

struct dkim_keys *
dkim_keys_load(const struct conf *conf, char *err, size_t errlen)
{
	struct dkim_keys *k = xcalloc(1, sizeof(*k));

	k->d = xcalloc(conf->ndomains, sizeof(*k->d));
	for (size_t i = 0; i < conf->ndomains; i++) {
		const struct conf_domain *cd = &conf->domains[i];
		if (cd->dkim_selector == NULL || cd->dkim_key == NULL)
			continue;
		struct dkim_keys_domain *d = &k->d[k->n++];
		d->name = xstrdup(cd->name);
		d->keys[0] = dkim_sign_key_load(cd->name, cd->dkim_selector,
		    cd->dkim_key, err, errlen);
		if (d->keys[0] == NULL) {
			dkim_keys_free(k);
			return NULL;
		}
		d->nkeys = 1;
	}
	return k;
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
