/* SPDX-License-Identifier: ISC */
/* Our MTA-STS policy over HTTPS (see web_sts.h). */
#include "web/web_sts.h"

#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "conf/conf.h"
#include "sts/sts_serve.h"
#include "web/web_reply.h"

/* RFC 8461 §3.3 lets senders cache the policy for max_age whatever HTTP
 * says; a short HTTP lifetime lets a changed policy reach caches that do
 * honour it. */
#define WEB_STS_CACHE	"max-age=300"

void
web_sts_serve(struct evhttp_request *req, const struct conf *conf,
    const char *sni)
{
	const char *uri = evhttp_request_get_uri(req);
	const char *host = evhttp_request_get_host(req);
	const struct conf_domain *d;
	char *policy;

	d = host ? sts_serve_domain_for_host(conf, host) : NULL;
	if (d != NULL && sni != NULL &&
	    sts_serve_domain_for_host(conf, sni) != d)
		d = NULL;
	if (d == NULL || uri == NULL || strcmp(uri, WEB_STS_PATH) != 0) {
		web_reply_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	policy = sts_serve_policy(conf, d);
	web_reply(req, HTTP_OK, "OK", "text/plain", WEB_STS_CACHE, policy,
	    strlen(policy));
	free(policy);
}
