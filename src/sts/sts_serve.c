/* SPDX-License-Identifier: ISC */
/* The MTA-STS policy we serve and its id (see sts_serve.h). */
#include "sts/sts_serve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

char *
sts_serve_policy(const struct conf *c, const struct conf_domain *d)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	buf_printf(&b, "version: STSv1\r\nmode: %s\r\n",
	    conf_sts_mode_name(d->mta_sts));
	if (d->nmta_sts_mx == 0)
		buf_printf(&b, "mx: %s\r\n", c->hostname);
	for (size_t i = 0; i < d->nmta_sts_mx; i++)
		buf_printf(&b, "mx: %s\r\n", d->mta_sts_mx[i]);
	buf_printf(&b, "max_age: %u\r\n", d->mta_sts_max_age);
	return buf_take(&b);
}

void
sts_serve_id(const char *policy, char id[STS_SERVE_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(policy, strlen(policy), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < STS_SERVE_ID_LEN / 2)
		panic("sts: SHA-256 is unavailable");
	for (unsigned i = 0; i < STS_SERVE_ID_LEN / 2; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
}

char *
sts_serve_txt(const struct conf *c, const struct conf_domain *d)
{
	char *policy = sts_serve_policy(c, d), id[STS_SERVE_ID_LEN + 1];

	sts_serve_id(policy, id);
	free(policy);
	return xasprintf("v=STSv1; id=%s", id);
}

const struct conf_domain *
sts_serve_domain_for_host(const struct conf *c, const char *host)
{
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n <= 8 || strncasecmp(host, "mta-sts.", 8) != 0)
		return NULL;
	for (size_t i = 0; i < c->ndomains; i++) {
		const char *name = c->domains[i].name;

		if (strlen(name) == n - 8 && strncasecmp(host + 8, name,
		    n - 8) == 0)
			return &c->domains[i];
	}
	return NULL;
}
