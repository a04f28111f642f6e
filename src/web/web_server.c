/* SPDX-License-Identifier: ISC */
/*
 * evhttp on the https and admin listeners of one worker (see
 * web_server.h). evhttp in libevent 2.1 tells nobody when it frees a
 * connection, so each connection's bufferevent carries one reference of
 * ours: a bufferevent whose callbacks evhttp has cleared is one it has
 * freed, and the once-a-second sweep then drops our reference (closing
 * the socket) and the count. The sweep also ends connections whose
 * request is not complete WEB_REQUEST_TIME seconds after accept (a
 * slow-loris resets evhttp's idle timeout with every byte).
 *
 * TLS handshakes run as the SMTP sessions' do (net/tls_handshake.h: the
 * keys process's signature awaited on the loop, not with its blocking
 * call): evhttp gets a bufferevent in the open state, stopped, before the
 * loop first reads its socket; the handshake runs beside it and starts
 * it once done. The bufferevent owns the SSL and the socket, the
 * handshake a reference of the SSL: one given up while it waits for its
 * signature keeps it until then, on no socket.
 */
#include "web/web_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/ratelog.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "net/proxy_read.h"
#include "net/tls.h"
#include "net/tls_handshake.h"
#include "web/web.h"
#include "web/web_access.h"
#include "web/web_reply.h"
#include "web/web_sts.h"

/* Bytes read ahead of evhttp's parser per connection: it refuses
 * headers past WEB_HEADERS_SIZE, so more is never needed. */
#define WEB_READ_AHEAD		(2 * WEB_HEADERS_SIZE)
/* Threads for the pages' slow work (web_env.pool). */
#define WEB_POOL_THREADS	1

struct web_listener {
	struct web_server	*ws;
	size_t			 listener;
	const struct conf_listener *cl;
	struct evhttp		*http;
	struct evconnlistener	*evl;	/* owned by http */
	struct web_access	*access;	/* admin only */
};

struct web_conn {
	struct bufferevent	*bev;	/* one reference is ours */
	struct web_listener	*wl;
	time_t			 deadline;	/* CLOCK_MONOTONIC seconds */
	bool			 dispatched;	/* its request reached us */
	bool			 answered;	/* and evhttp has sent the answer */
	bool			 has_peer;
	struct sockaddr_storage	 peer;
	char			 sid[IDS_SID_LEN + 1];
	SSL			*ssl;	/* bev's (tls = implicit), or NULL */
	struct tls_hs		*hs;	/* its handshake under way */
	bool			 hs_started;
	evutil_socket_t		 fd;	/* bev's, once the handshake starts */
	/* [listen] proxy_protocol = yes: the header is read before TLS or
	 * HTTP, and the client it names is peer. */
	struct proxy_read	*proxy;		/* reading it */
	bool			 proxy_started;
	bool			 proxy_own;	/* the proxy's own connection:
						 * its address lends no trust */
	struct web_conn		*next;
};

struct web_server {
	struct web_env		 env;
	struct keys_client	*keys;
	struct connlimit	*limits;
	struct web_listener	**wl;
	size_t			 nwl;
	struct web_conn		*conns;
	unsigned		 nconns;
	bool			 paused;	/* listeners disabled at the cap */
	struct event		*sweep;		/* every second */
	struct event		*sweep_now;	/* once, after an answer */
	struct ratelog		 proxy_log;	/* refusals outside
						 * proxy_from */
};

static void web_sweep_cb(evutil_socket_t fd, short what, void *arg);

struct web_server *
web_server_new(struct event_base *base, const struct conf *conf,
    struct tls_server *tls, struct db *db, struct keys_client *keys,
    struct connlimit *limits)
{
	struct web_server *ws = xcalloc(1, sizeof(*ws));

	ws->env.base = base;
	ws->env.conf = conf;
	ws->env.tls = tls;
	ws->env.db = db;
	ws->keys = keys;
	ws->limits = limits;
	return ws;
}

static void
web_listeners_enable(struct web_server *ws, bool on)
{
	if (ws->paused == !on)
		return;
	ws->paused = !on;
	for (size_t i = 0; i < ws->nwl; i++) {
		if (on)
			evconnlistener_enable(ws->wl[i]->evl);
		else
			evconnlistener_disable(ws->wl[i]->evl);
	}
	if (!on)
		log_warn("web connections=%u at the limit, not accepting",
		    ws->nconns);
}

static bool
web_conn_gone(struct bufferevent *bev)
{
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;

	bufferevent_getcb(bev, &rcb, &wcb, &ecb, NULL);
	return rcb == NULL && wcb == NULL && ecb == NULL;
}

static struct web_conn *
web_conn_of(struct web_server *ws, struct bufferevent *bev)
{
	for (struct web_conn *c = ws->conns; c; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

/* Seconds on the monotonic clock: a wall-clock step must neither stop nor
 * fire the request deadline. */
static time_t
web_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* evhttp's hook for each accepted connection: TLS or plain. */
static struct bufferevent *
web_bev_cb(struct event_base *base, void *arg)
{
	struct web_listener *wl = arg;
	struct web_server *ws = wl->ws;
	struct bufferevent *bev = NULL;
	struct web_conn *c;

	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	if (wl->cl->tls == CONF_TLS_IMPLICIT) {
		SSL *ssl = tls_server_ssl_new(ws->env.tls);
		/* Open, not accepting: web_conn_tls_start shakes hands. */
		if (ssl != NULL)
			bev = bufferevent_openssl_socket_new(base, -1, ssl,
			    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			SSL_free(ssl);
		else
			c->ssl = ssl;
	}
	/* Without TLS where it is wanted, a plain bufferevent all the same
	 * (evhttp would make one otherwise); web_request_cb refuses it. */
	if (bev == NULL)
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatal("cannot allocate an HTTP connection");
	bufferevent_setwatermark(bev, EV_READ, 0, WEB_READ_AHEAD);
	bufferevent_incref(bev);
	c->bev = bev;
	c->wl = wl;
	c->deadline = web_now() + WEB_REQUEST_TIME;
	ids_sid_new(c->sid);
	c->next = ws->conns;
	ws->conns = c;
	if (++ws->nconns >= WEB_CONNS_MAX)
		web_listeners_enable(ws, false);
	/* Once evhttp has given bev its socket, which it does before the
	 * loop runs again: the per-client limit applies at once, and the
	 * handshake starts before the loop would read the socket. */
	event_active(ws->sweep_now, 0, 0);
	return bev;
}

/* The client's address, once evhttp has given the bufferevent its
 * socket; false before that or when the socket is gone. */
static bool
web_conn_peer(struct web_conn *c)
{
	socklen_t len = sizeof(c->peer);
	evutil_socket_t fd;

	if (c->has_peer)
		return true;
	/* Behind a proxy, the header names the client (web_conn_proxy_done);
	 * the socket's peer is the proxy. */
	if (c->wl->cl->proxy_protocol)
		return false;
	fd = bufferevent_getfd(c->bev);
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&c->peer, &len) == 0)
		c->has_peer = true;
	return c->has_peer;
}

static bool
web_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	/* IPv6 by /64, as net/connlimit counts SMTP clients: one host
	 * usually holds a whole /64 and could otherwise take every slot. */
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 8) == 0;
	return false;
}

/*
 * Whether c is one connection too many from its client: WEB_CONNS_PER_IP
 * older ones (later in the list) from the same address are still open.
 * Loopback and trusted_networks clients are held to the total only.
 */
static bool
web_conn_over_ip_limit(struct web_server *ws, struct web_conn *c)
{
	unsigned n = 0;

	if (c->dispatched || !web_conn_peer(c) || (!c->proxy_own &&
	    web_access_is_trusted(ws->env.conf,
	    (const struct sockaddr *)&c->peer)))
		return false;
	for (struct web_conn *o = c->next; o; o = o->next)
		if (!web_conn_gone(o->bev) && web_conn_peer(o) &&
		    web_same_addr(&o->peer, &c->peer) &&
		    ++n >= WEB_CONNS_PER_IP)
			return true;
	return false;
}

/* End a connection whose request has not reached us (evhttp frees it,
 * so the sweep finds it gone right after). */
static void
web_conn_end(struct web_conn *c)
{
	void *evcon;

	c->dispatched = true;	/* once */
	proxy_read_cancel(c->proxy);
	c->proxy = NULL;
	/* A handshake may end after evhttp let the connection go. */
	if (web_conn_gone(c->bev))
		return;
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
	evhttp_connection_free(evcon);
}

/* Our last reference to a connection evhttp has freed (or never will).
 * The bufferevent closes the socket its SSL names; one whose handshake
 * was given up while paused names none (tls_hs_cancel), so it is closed
 * here (after the bufferevent's events are gone). */
static void
web_conn_free(struct web_conn *c)
{
	bool close_fd = false;

	proxy_read_cancel(c->proxy);
	if (c->hs != NULL) {
		BIO *b;

		tls_hs_cancel(c->hs);
		b = SSL_get_wbio(c->ssl);
		close_fd = c->fd >= 0 && (b == NULL ||
		    BIO_get_fd(b, NULL) != c->fd);
	}
	bufferevent_decref(c->bev);
	if (close_fd)
		close(c->fd);
	free(c);
}

static void
web_conn_hs_done(void *arg, enum tls_hs_result r, const char *detail)
{
	struct web_conn *c = arg;

	c->hs = NULL;
	SSL_free(c->ssl);	/* the handshake's reference */
	if (r == TLS_HS_OK) {
		/* evhttp's read, stopped until now, starts. */
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if (r != TLS_HS_EOF)
		log_info("sid=%s web tls handshake failed listener=%s: %s",
		    c->sid, c->wl->cl->name, detail != NULL ? detail : "error");
	web_conn_end(c);
	event_active(c->wl->ws->sweep_now, 0, 0);
}

/* The TLS handshake of a connection evhttp has just given its socket,
 * its reads stopped meanwhile (evhttp started them). */
static void
web_conn_tls_start(struct web_conn *c)
{
	c->hs_started = true;
	c->fd = bufferevent_getfd(c->bev);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->fd < 0 || SSL_up_ref(c->ssl) != 1)
		goto fail;
	c->hs = tls_hs_start(bufferevent_get_base(c->bev), c->fd, c->ssl,
	    web_conn_hs_done, c);
	if (c->hs != NULL)
		return;
	SSL_free(c->ssl);
fail:
	web_conn_end(c);
}

/* The address of c's client as text for a log line ("-" before it is
 * known). */
static const char *
web_conn_addr(struct web_conn *c, char *buf, size_t len)
{
	if (!web_conn_peer(c) || getnameinfo((struct sockaddr *)&c->peer,
	    sizeof(c->peer), buf, (socklen_t)len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(buf, len, "-");
	return buf;
}

/* The PROXY header is read (error NULL): the client it names is c's, and
 * TLS or HTTP starts behind it. c->peer holds the proxy's address until
 * then. */
static void
web_conn_proxy_done(void *arg, const struct proxy_proto *pp,
    const char *error)
{
	struct web_conn *c = arg;
	struct sockaddr_storage client;
	char proxy[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN];
	bool named;

	c->proxy = NULL;	/* frees itself after this call */
	if (getnameinfo((struct sockaddr *)&c->peer, sizeof(c->peer), proxy,
	    sizeof(proxy), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(proxy, sizeof(proxy), "unknown");
	if (error != NULL) {
		log_info("sid=%s web proxy dropped proxy=%s listener=%s "
		    "reason=%s", c->sid, proxy, c->wl->cl->name, error);
		web_conn_end(c);
		event_active(c->wl->ws->sweep_now, 0, 0);
		return;
	}
	named = proxy_read_client(pp, &c->peer, &client);
	c->peer = client;
	c->has_peer = true;
	/* A health check or a header naming the proxy itself: the proxy's
	 * address is never trusted, as the client behind it could be
	 * anyone. */
	c->proxy_own = !named;
	log_info("sid=%s web proxy addr=%s port=%u proxy=%s version=%d "
	    "listener=%s%s", c->sid, web_conn_addr(c, addr, sizeof(addr)),
	    proxy_read_port(&c->peer), proxy, pp->version, c->wl->cl->name,
	    proxy_read_what(pp, named));
	if (c->ssl != NULL)
		web_conn_tls_start(c);
	else
		bufferevent_enable(c->bev, EV_READ);
	/* The per-client limit applies now that the client is known. */
	event_active(c->wl->ws->sweep_now, 0, 0);
}

/* Read the PROXY header of a connection evhttp has just given its socket
 * (its reads stopped meanwhile), if its peer is one of proxy_from. */
static void
web_conn_proxy_start(struct web_conn *c)
{
	struct web_server *ws = c->wl->ws;
	const struct conf_listener *cl = c->wl->cl;
	socklen_t len = sizeof(c->peer);
	char addr[INET6_ADDRSTRLEN], extra[32] = "";
	unsigned held;

	c->proxy_started = true;
	c->fd = bufferevent_getfd(c->bev);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&c->peer,
	    &len) == -1) {
		web_conn_end(c);
		return;
	}
	if (!conf_networks_match(cl->proxy_from, cl->nproxy_from,
	    (const struct sockaddr *)&c->peer)) {
		/* Anyone can connect: the log line is rate-limited. */
		if (ratelog_allow(&ws->proxy_log, web_now(), &held)) {
			if (held > 0)
				snprintf(extra, sizeof(extra),
				    " suppressed=%u", held);
			if (getnameinfo((struct sockaddr *)&c->peer,
			    sizeof(c->peer), addr, sizeof(addr), NULL, 0,
			    NI_NUMERICHOST) != 0)
				snprintf(addr, sizeof(addr), "unknown");
			log_warn("web proxy refused addr=%s listener=%s "
			    "reason=not-in-proxy_from%s", addr, cl->name,
			    extra);
		}
		web_conn_end(c);
		return;
	}
	c->proxy = proxy_read_start(bufferevent_get_base(c->bev), c->fd,
	    web_conn_proxy_done, c);
	if (c->proxy == NULL)
		web_conn_end(c);
}

/* Drop connections evhttp has freed; end those it keeps after an answer,
 * those past their deadline and those over the per-client limit. Runs
 * every second and right after each accept and each answer. */
static void
web_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct web_server *ws = arg;
	time_t now = web_now();
	char addr[INET6_ADDRSTRLEN];

	(void)fd;
	(void)what;
	for (struct web_conn **pp = &ws->conns; *pp;) {
		struct web_conn *c = *pp;

		if (web_conn_gone(c->bev)) {
			*pp = c->next;
			web_conn_free(c);
			ws->nconns--;
			continue;
		}
		/* Behind a proxy, TLS starts once the header is read. */
		if (c->wl->cl->proxy_protocol && !c->proxy_started && !c->dispatched)
			web_conn_proxy_start(c);
		else if (c->ssl != NULL && !c->hs_started &&
		    !c->dispatched && !c->wl->cl->proxy_protocol)
			web_conn_tls_start(c);
		/* Answered, yet kept by evhttp (it keeps a CONNECT's
		 * connection whatever Connection says): one request per
		 * connection all the same, as the deadline bounds only the
		 * first. */
		if (c->answered) {
			web_conn_end(c);
			continue;
		}
		/* A dispatched request belongs to its handler until it
		 * answers; evhttp's idle timeout still bounds its writes. */
		if (!c->dispatched && now >= c->deadline) {
			log_info("sid=%s web timeout listener=%s after=%ds",
			    c->sid, c->wl->cl->name, WEB_REQUEST_TIME);
			web_conn_end(c);
			continue;	/* found gone on the next turn */
		}
		if (web_conn_over_ip_limit(ws, c)) {
			log_info("sid=%s web refused addr=%s listener=%s "
			    "limit=per-ip", c->sid,
			    web_conn_addr(c, addr, sizeof(addr)),
			    c->wl->cl->name);
			web_conn_end(c);
			continue;
		}
		pp = &c->next;
	}
	if (ws->nconns < WEB_CONNS_MAX)
		web_listeners_enable(ws, true);
}

static const char *
web_method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:	return "GET";
	case EVHTTP_REQ_HEAD:	return "HEAD";
	case EVHTTP_REQ_POST:	return "POST";
	case EVHTTP_REQ_PUT:	return "PUT";
	case EVHTTP_REQ_DELETE:	return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE:	return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH:	return "PATCH";
	}
	return "other";
}

/* The one log line of a request, once its answer is sent. */
static void
web_complete_cb(struct evhttp_request *req, void *arg)
{
	struct web_listener *wl = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct web_conn *c = evcon ? web_conn_of(wl->ws,
	    evhttp_connection_get_bufferevent(evcon)) : NULL;
	const char *uri = evhttp_request_get_uri(req);
	const char *host = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Host");
	char euri[LOG_QUOTE_SIZE(200)], ehost[LOG_QUOTE_SIZE(100)];
	char addr[INET6_ADDRSTRLEN];

	uri = uri ? uri : "";
	host = host ? host : "";
	if (c != NULL)
		c->answered = true;
	/* evhttp frees the connection right after this: sweep then, so its
	 * socket closes now rather than at the next tick (clients that read
	 * to the end of the stream would wait for it). */
	event_active(wl->ws->sweep_now, 0, 0);
	log_info("sid=%s web request listener=%s addr=%s method=%s host=%s "
	    "path=%s status=%d", c ? c->sid : "-", wl->cl->name,
	    c ? web_conn_addr(c, addr, sizeof(addr)) : "-", web_method_name(evhttp_request_get_command(req)),
	    log_quote(host, strlen(host), ehost, sizeof(ehost)),
	    log_quote(uri, strlen(uri), euri, sizeof(euri)),
	    evhttp_request_get_response_code(req));
}

static size_t
web_header_count(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	size_t n = 0;

	for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next)
		n++;
	return n;
}

/* Every request evhttp has read completely. */
static void
web_request_cb(struct evhttp_request *req, void *arg)
{
	struct web_listener *wl = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	struct web_conn *c = web_conn_of(wl->ws, bev);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	/* Our own record of the client: behind a proxy, evhttp knows
	 * only the proxy. */
	const struct sockaddr *peer = c != NULL && web_conn_peer(c) ?
	    (const struct sockaddr *)&c->peer : NULL;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	evhttp_request_set_on_complete_cb(req, web_complete_cb, wl);
	/* Whoever answers: a kept-alive connection would carry requests
	 * past the deadline, which only bounds the first. */
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Connection", "close");
	if (c != NULL)
		c->dispatched = true;
	if (c == NULL || peer == NULL ||
	    (wl->cl->tls == CONF_TLS_IMPLICIT && ssl == NULL)) {
		web_reply_error(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		web_reply_error(req, HTTP_BADMETHOD, "Method Not Allowed");
		return;
	}
	if (web_header_count(req) > WEB_HEADERS_COUNT) {
		web_reply_error(req, 431, "Request Header Fields Too Large");
		return;
	}
	if (wl->cl->role == CONF_ROLE_HTTPS)
		web_sts_serve(req, &wl->ws->env, ssl ?
		    SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL);
	else
		web_access_serve(wl->access, req, peer, !c->proxy_own,
		    c->sid);
}

int
web_server_listen(struct web_server *ws, int fd, size_t listener)
{
	const struct conf_listener *cl = &ws->env.conf->listeners[listener];
	struct web_listener *wl = xcalloc(1, sizeof(*wl));
	const struct timeval every = { 1, 0 };

	wl->ws = ws;
	wl->listener = listener;
	wl->cl = cl;
	ws->wl = xreallocarray(ws->wl, ws->nwl + 1, sizeof(*ws->wl));
	ws->wl[ws->nwl++] = wl;
	if ((wl->http = evhttp_new(ws->env.base)) == NULL)
		return -1;
	evhttp_set_max_headers_size(wl->http, WEB_HEADERS_SIZE);
	evhttp_set_max_body_size(wl->http, 0);
	evhttp_set_timeout(wl->http, WEB_IDLE_TIME);
	/* Every method reaches web_request_cb, which answers 405 with
	 * Allow; evhttp would say 501 for those it was not told of. */
	evhttp_set_allowed_methods(wl->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(wl->http, web_bev_cb, wl);
	evhttp_set_gencb(wl->http, web_request_cb, wl);
	wl->evl = evconnlistener_new(ws->env.base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (wl->evl == NULL)
		return -1;
	if (evhttp_bind_listener(wl->http, wl->evl) == NULL) {
		evconnlistener_free(wl->evl);
		wl->evl = NULL;
		return -1;
	}
	/* The admin pages and the MTA-STS policy read the store there. */
	if (ws->env.pool == NULL)
		ws->env.pool = workpool_new(ws->env.base, WEB_POOL_THREADS,
		    "web pages");
	if (cl->role == CONF_ROLE_ADMIN) {
		/* The password_file is the keys process's to read and
		 * check: the worker never holds its hashes. */
		wl->access = web_access_new(cl->name, listener,
		    cl->password_file != NULL, ws->keys, ws->limits,
		    &ws->env);
	}
	if (ws->sweep == NULL) {
		ws->sweep = event_new(ws->env.base, -1, EV_PERSIST,
		    web_sweep_cb, ws);
		ws->sweep_now = event_new(ws->env.base, -1, 0, web_sweep_cb,
		    ws);
		if (ws->sweep == NULL || ws->sweep_now == NULL ||
		    event_add(ws->sweep, &every) == -1)
			return -1;
	}
	return 0;
}

void
web_server_free(struct web_server *ws)
{
	if (ws == NULL)
		return;
	/* Checks in progress and the pages' slow work first: they hold
	 * requests evhttp frees. */
	for (size_t i = 0; i < ws->nwl; i++)
		web_access_free(ws->wl[i]->access);
	workpool_free(ws->env.pool);
	for (size_t i = 0; i < ws->nwl; i++) {
		if (ws->wl[i]->http)
			evhttp_free(ws->wl[i]->http);
		free(ws->wl[i]);
	}
	free(ws->wl);
	while (ws->conns != NULL) {
		struct web_conn *c = ws->conns;
		ws->conns = c->next;
		web_conn_free(c);
	}
	if (ws->sweep)
		event_free(ws->sweep);
	if (ws->sweep_now)
		event_free(ws->sweep_now);
	free(ws);
}
