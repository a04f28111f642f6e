/* SPDX-License-Identifier: ISC */
/*
 * The https listener's one page: GET /.well-known/mta-sts.txt for Host
 * mta-sts.DOMAIN of a [domain] answers that domain's policy exactly as
 * sts/sts_serve.h writes it (RFC 8461 §3.3: text/plain, no redirect),
 * with the MX names of the cluster's node registry (store/db_node.h), or
 * 503 when the store cannot be read; anything else is 404.
 */
#ifndef SEALMAIL_WEB_WEB_STS_H
#define SEALMAIL_WEB_WEB_STS_H

#include <stdbool.h>

struct evhttp_request;
struct web_env;

#define WEB_STS_PATH	"/.well-known/mta-sts.txt"

/*
 * Answer req (GET or HEAD), now or later from env->base (the registry is
 * read on env->pool), exactly once; see web.h for the pool's end. sni is
 * the TLS server name the client sent, or NULL: when given it must name the same policy host as Host, so a
 * client cannot read one domain's policy through another's certificate.
 */
void web_sts_serve(struct evhttp_request *req, const struct web_env *env,
    const char *sni);

#endif
