/* SPDX-License-Identifier: ISC */
/*
 * The admin listener's pages: GET /metrics (Prometheus) and GET / (the
 * status page); anything else is 404. What needs the disk (the queue
 * directory, /proc, the store's DMARC rows) is read on env->pool's
 * threads, never on the worker's event loop; the counters come from the
 * shared mapping (core/metrics.h) and the pages from pure renderers.
 */
#include "web/web.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "queue/spool.h"
#include "store/db.h"
#include "web/admin_prom.h"
#include "web/admin_status.h"

/* Bound on a page (the status page is ~40 KiB with full tables). */
#define WEB_ADMIN_PAGE_MAX	(4 * 1024 * 1024)
/* Sender domains shown with their DMARC pass rate. */
#define WEB_ADMIN_DOMAINS	20

enum web_admin_page {
	WEB_ADMIN_METRICS,
	WEB_ADMIN_STATUS,
};

struct web_admin_job {
	struct evhttp_request	*req;
	enum web_admin_page	 page;
	const struct conf	*conf;	/* the worker's, outlives the pool */
	char			 data_dir[PATH_MAX];
	char			*hostname;
	/* Filled on the pool thread: */
	bool			 queue_ok;
	size_t			 queue_n;
	long long		 queue_oldest;
	uint64_t		 rss;
	unsigned		 nproc;
	bool			 rates_failed;
	size_t			 nrates;
	struct db_dmarc_rate	 rates[WEB_ADMIN_DOMAINS];
};

/* On a pool thread: everything that touches the disk. */
static void
web_admin_run(void *arg)
{
	struct web_admin_job *j = arg;
	char err[512];
	struct db *db;

	j->queue_ok = spool_count(j->data_dir, &j->queue_n,
	    &j->queue_oldest) == 0;
	j->rss = metrics_rss(&j->nproc);
	if (j->page != WEB_ADMIN_STATUS)
		return;
	/* A connection of its own: the worker's is not for other threads
	 * (SQLite opened without its mutexes). */
	if ((db = store_open(j->conf, false, err, sizeof(err))) == NULL ||
	    db_dmarc_pass_rates(db, (long long)time(NULL) - 86400, j->rates,
	    WEB_ADMIN_DOMAINS, &j->nrates) != DB_OK) {
		log_warn("admin status: dmarc rates unavailable: %s",
		    db ? db_error(db) : err);
		j->rates_failed = true;
	}
	db_close(db);
}

static void
web_admin_send(struct evhttp_request *req, const char *type, struct buf *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	/* Even markup that slipped through escaping runs no script and
	 * loads nothing. */
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; "
	    "style-src 'unsafe-inline'; frame-ancestors 'none'");
	evbuffer_add(body, b->data ? (const void *)b->data : "", b->len);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* On the loop: take the snapshot and render. */
static void
web_admin_done(void *arg, bool cancelled)
{
	struct web_admin_job *j = arg;
	struct metrics_snapshot *s;
	struct buf out;
	int rc;

	/* The worker is stopping (the pool is freed before the server's
	 * connections, web.h): req is still ours to answer. */
	if (cancelled) {
		evhttp_send_error(j->req, HTTP_SERVUNAVAIL, NULL);
		free(j->hostname);
		free(j);
		return;
	}
	s = xmalloc(sizeof(*s));
	buf_init(&out, WEB_ADMIN_PAGE_MAX);
	metrics_snapshot(s, (long long)time(NULL));
	s->queue_known = j->queue_ok;
	s->queue_messages = j->queue_n;
	s->queue_oldest = j->queue_oldest;
	s->rss_bytes = j->rss;
	s->processes = j->nproc;
	if (j->page == WEB_ADMIN_METRICS)
		rc = admin_prom_render(s, &out);
	else {
		struct admin_status st = {
			.hostname = j->hostname, .snap = s,
			.rates = j->rates, .nrates = j->nrates,
			.rates_failed = j->rates_failed,
		};
		rc = admin_status_render(&st, &out);
	}
	if (rc == -1)
		evhttp_send_error(j->req, HTTP_SERVUNAVAIL, NULL);
	else
		web_admin_send(j->req, j->page == WEB_ADMIN_METRICS ?
		    ADMIN_PROM_CONTENT_TYPE : "text/html; charset=utf-8", &out);
	buf_clear(&out);
	free(s);
	free(j->hostname);
	free(j);
}

void
web_admin_serve(struct evhttp_request *req, const struct web_env *env)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct web_admin_job *j;

	if ((cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) || path == NULL ||
	    (strcmp(path, "/") != 0 && strcmp(path, "/metrics") != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->page = strcmp(path, "/") == 0 ? WEB_ADMIN_STATUS : WEB_ADMIN_METRICS;
	j->conf = env->conf;
	snprintf(j->data_dir, sizeof(j->data_dir), "%s", env->conf->data_dir);
	j->hostname = xstrdup(env->conf->hostname ? env->conf->hostname : "");
	/* The client may go meanwhile: libevent then leaves the request to
	 * us until we answer it, and drops the answer. */
	if (env->pool == NULL) {
		web_admin_run(j);
		web_admin_done(j, false);
	} else
		workpool_submit(env->pool, web_admin_run, web_admin_done, j);
}
