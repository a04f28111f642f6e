/* SPDX-License-Identifier: ISC */
/*
 * The MTA-STS policy we publish for one of our domains (RFC 8461 §3.2)
 * and its id (§3.1), both derived from the configuration and the MX
 * names of the cluster's node registry only, so the https listener that
 * serves the text and `dns-records`, which prints the `_mta-sts` TXT
 * record, always agree, on every node. Pure.
 */
#ifndef SEALMAIL_STS_STS_SERVE_H
#define SEALMAIL_STS_STS_SERVE_H

#include <stddef.h>

#include "conf/conf.h"

/* RFC 8461 §3.1: id is 1*32 ALPHA/DIGIT. Ours: 32 lower-case hex digits
 * of the SHA-256 of the policy text. */
#define STS_SERVE_ID_LEN	32

/*
 * The policy text for d (CRLF line ends): version, mode, mx lines, max_age
 * in seconds. The mx lines: d->mta_sts_mx as configured (the same file on
 * every node); without it, every node of the cluster: c->hostname and the
 * nodes[0..nnodes) MX names of the node registry (store/db_node.h; names
 * that are not host names are left out), lower-cased, sorted and without
 * duplicates, so that every node serves the same text. A single node
 * (no row, or only its own) serves "mx: HOSTNAME" as before. The caller
 * frees the result.
 */
char *sts_serve_policy(const struct conf *c, const struct conf_domain *d,
    const char *const *nodes, size_t nnodes);

/* The id of a policy text: it changes whenever the text changes. */
void sts_serve_id(const char *policy, char id[STS_SERVE_ID_LEN + 1]);

/* The `_mta-sts.DOMAIN` TXT value for d's policy (nodes as above):
 * "v=STSv1; id=ID". The caller frees the result. */
char *sts_serve_txt(const struct conf *c, const struct conf_domain *d,
    const char *const *nodes, size_t nnodes);

/* The [domain] whose policy host is `host` ("mta-sts." + its name, any
 * case, trailing dot tolerated), or NULL. Borrowed from c. */
const struct conf_domain *sts_serve_domain_for_host(const struct conf *c,
    const char *host);

#endif
