/* SPDX-License-Identifier: ISC */
/* The MTA-STS policy we serve and its id (see sts_serve.h). */
#include "sts/sts_serve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cluster/cluster_node.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* qsort: host names, ASCII case-insensitively. */
static int
sts_serve_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The cluster's mx lines into b: c->hostname and the registry's names. */
static void
sts_serve_cluster_mx(struct buf *b, const struct conf *c,
    const char *const *nodes, size_t nnodes)
{
	char **v = xcalloc(nnodes + 1, sizeof(*v));
	size_t n = 0;

	v[n++] = xstrdup(c->hostname);
	for (size_t i = 0; i < nnodes; i++)
		if (nodes[i] != NULL && cluster_valid_mx(nodes[i]))
			v[n++] = xstrdup(nodes[i]);
	for (size_t i = 0; i < n; i++)
		for (char *p = v[i]; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	qsort(v, n, sizeof(*v), sts_serve_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			buf_printf(b, "mx: %s\r\n", v[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *
sts_serve_policy(const struct conf *c, const struct conf_domain *d,
    const char *const *nodes, size_t nnodes)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	buf_printf(&b, "version: STSv1\r\nmode: %s\r\n",
	    conf_sts_mode_name(d->mta_sts));
	if (d->nmta_sts_mx == 0)
		sts_serve_cluster_mx(&b, c, nodes, nnodes);
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
sts_serve_txt(const struct conf *c, const struct conf_domain *d,
    const char *const *nodes, size_t nnodes)
{
	char *policy = sts_serve_policy(c, d, nodes, nnodes), id[STS_SERVE_ID_LEN + 1];

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
