/* SPDX-License-Identifier: ISC */
/*
 * Our MTA-STS policy over HTTPS (see web_sts.h). The policy lists the MX
 * names of every node in the store's registry, read per request on the
 * web pool's thread (the store may be busy; the loop never waits for it);
 * the answer is built and sent back on the loop.
 */
#include "web/web_sts.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "store/db_node.h"
#include "sts/sts_serve.h"
#include "web/web.h"
#include "web/web_reply.h"

/* RFC 8461 §3.3 lets senders cache the policy for max_age whatever HTTP
 * says; a short HTTP lifetime lets a changed policy reach caches that do
 * honour it. */
#define WEB_STS_CACHE	"max-age=300"

struct web_sts_job {
	struct evhttp_request	*req;
	const struct conf	*conf;	/* the worker's, outlives the pool */
	const struct conf_domain *domain;
	/* Filled on the pool thread: */
	bool			 failed;
	char			 err[256];
	char			**mx;	/* the registry's MX names */
	size_t			 nmx;
};

/* workpool_run_fn: the registry's MX names, on a connection of the
 * thread's own (the worker's is not for other threads). */
static void
web_sts_run(void *arg)
{
	struct web_sts_job *j = arg;
	struct db_node *nodes = NULL;
	struct db *db;
	size_t n = 0;

	if ((db = store_open(j->conf, false, j->err, sizeof(j->err))) ==
	    NULL) {
		j->failed = true;
		return;
	}
	if (db_node_list(db, &nodes, &n) != DB_OK) {
		snprintf(j->err, sizeof(j->err), "%s", db_error(db));
		j->failed = true;
	}
	db_close(db);
	j->mx = xcalloc(n + 1, sizeof(*j->mx));
	for (size_t i = 0; i < n; i++)
		j->mx[j->nmx++] = xstrdup(nodes[i].mx);
	db_node_list_free(nodes, n);
}

static void
web_sts_job_free(struct web_sts_job *j)
{
	for (size_t i = 0; i < j->nmx; i++)
		free(j->mx[i]);
	free(j->mx);
	free(j);
}

/* workpool_done_fn, on the loop. */
static void
web_sts_done(void *arg, bool cancelled)
{
	struct web_sts_job *j = arg;
	char *policy;

	/*
	 * Without the registry the policy would list this node alone, and a
	 * sender caching it would refuse the other nodes' MX (RFC 8461 §5,
	 * "enforce"); no policy at all keeps its cached one in force
	 * (§3.3), so the fetch fails instead.
	 */
	if (cancelled || j->failed) {
		if (!cancelled)
			log_warn("web mta-sts policy not served: node "
			    "registry unreadable: %s", j->err);
		web_reply_error(j->req, HTTP_SERVUNAVAIL,
		    "Service Unavailable");
		web_sts_job_free(j);
		return;
	}
	policy = sts_serve_policy(j->conf, j->domain,
	    (const char *const *)j->mx, j->nmx);
	web_reply(j->req, HTTP_OK, "OK", "text/plain", WEB_STS_CACHE, policy,
	    strlen(policy));
	free(policy);
	web_sts_job_free(j);
}

void
web_sts_serve(struct evhttp_request *req, const struct web_env *env,
    const char *sni)
{
	const struct conf *conf = env->conf;
	const char *uri = evhttp_request_get_uri(req);
	const char *host = evhttp_request_get_host(req);
	const struct conf_domain *d;
	struct web_sts_job *j;

	d = host ? sts_serve_domain_for_host(conf, host) : NULL;
	if (d != NULL && sni != NULL &&
	    sts_serve_domain_for_host(conf, sni) != d)
		d = NULL;
	if (d == NULL || uri == NULL || strcmp(uri, WEB_STS_PATH) != 0) {
		web_reply_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->conf = conf;
	j->domain = d;
	/* A configured mx list needs no registry. The client may go
	 * meanwhile: libevent then leaves the request to us until we
	 * answer it, and drops the answer. */
	if (d->nmta_sts_mx > 0 || env->pool == NULL)
		web_sts_done(j, false);
	else
		workpool_submit(env->pool, web_sts_run, web_sts_done, j);
}
