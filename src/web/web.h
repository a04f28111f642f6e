/* SPDX-License-Identifier: ISC */
/*
 * HTTP on the https (our MTA-STS policy) and admin (metrics, status page)
 * listeners, served from each SMTP worker's event loop with libevent's
 * evhttp over the workers' TLS contexts. What a page handler may use is
 * in struct web_env; the worker owns everything in it.
 */
#ifndef SEALMAIL_WEB_WEB_H
#define SEALMAIL_WEB_WEB_H

struct conf;
struct db;
struct event_base;
struct evhttp_request;
struct tls_server;
struct workpool;

struct web_env {
	struct event_base	*base;
	const struct conf	*conf;
	struct tls_server	*tls;
	struct db		*db;	/* the worker's store handle */
	struct workpool		*pool;	/* for slow work (store queries) */
};

/*
 * The admin pages (web_admin.c): GET /metrics and GET /. Called by the
 * server once the client may see them (loopback, trusted_networks or
 * basic auth); it answers req, now or later from env->base, exactly once.
 * req comes with "Connection: close" among its output headers (one
 * request per connection, web_server.h): keep it.
 * When the worker stops, env->pool is freed first (its jobs' done() run
 * with cancelled = true while req is still valid), then every connection
 * with its request.
 */
void web_admin_serve(struct evhttp_request *req, const struct web_env *env);

#endif
