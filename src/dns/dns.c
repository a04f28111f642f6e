/* SPDX-License-Identifier: ISC */
/*
 * libunbound in a libevent loop (see dns.h). Each query owns one timer
 * event that first serves as the application deadline and then, once an
 * answer is in, is made active to hand the answer to the caller from the
 * loop (never inside the call that asked). One event for both means there
 * is always exactly one thing to delete on cancel; event_base_once()
 * could not be cancelled once scheduled.
 *
 * The resolver owns its pending queries (a list); a query owns its answer
 * until the callback takes it.
 */
#include "dns/dns.h"
#include "dns/dns_internal.h"

#include <sys/queue.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <unbound-event.h>
#include <unbound.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xmalloc.h"

/* Bound on the why text we keep from libunbound. */
#define DNS_WHY_MAX	512

struct dns_query {
	TAILQ_ENTRY(dns_query)	 entry;
	struct dns_resolver	*res;
	struct event		*ev;	/* deadline, then delivery */
	int			 async_id;
	bool			 in_ub;	/* libunbound still works on it */
	struct dns_answer	*ans;	/* set once answered */
	dns_cb			*cb;
	void			*arg;
	uint16_t		 type;
	char			*name;
	struct timespec		 start;	/* for the latency metric */
};

TAILQ_HEAD(dns_queries, dns_query);

struct dns_resolver {
	struct event_base	*base;
	struct ub_ctx		*ctx;
	struct dns_queries	 queries;
	size_t			 nqueries;
};

/*
 * RFC 6761 / RFC 5737 / RFC 3849 special-use zones that libunbound answers
 * NXDOMAIN by itself (its built-in local zones), even with forwarders set.
 * "transparent" lets them through to the forwarders; "nodefault" through
 * ub_ctx_set_option() silently does nothing in 1.17 (dns-testing.md,
 * pitfall 1).
 */
static const char *const dns_transparent_zones[] = {
	"test.", "example.", "invalid.",
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
};

static bool
dns_is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Check one "ADDR[@PORT]" forwarder and hand it to libunbound. */
static int
dns_add_forwarder(struct ub_ctx *ctx, const char *tok, char *err,
    size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 8], esc[64];
	unsigned char bin[16];
	const char *at = strchr(tok, '@');
	size_t alen = at != NULL ? (size_t)(at - tok) : strlen(tok);
	int rc;

	log_escape(tok, strlen(tok), esc, sizeof(esc));
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		goto bad;
	if (at != NULL) {
		char *end;
		unsigned long port = strtoul(at + 1, &end, 10);
		if (at[1] < '0' || at[1] > '9' || *end != '\0' || port == 0 ||
		    port > 65535)
			goto bad;
	}
	if ((rc = ub_ctx_set_fwd(ctx, tok)) != 0) {
		snprintf(err, errlen, "dns resolver %s: %s", esc,
		    ub_strerror(rc));
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "dns resolver: \"%s\" is not ADDR[@PORT]", esc);
	return -1;
}

/* [dns] resolver: "system", "recursive" or a list of forwarders. */
static int
dns_conf_resolver(struct ub_ctx *ctx, const char *spec, char *err,
    size_t errlen)
{
	char *copy, *tok, *save = NULL;
	int rc, n = 0;

	/* libunbound's default: iterate from its built-in root hints, no
	 * upstream that could strip DNSSEC records. */
	if (dns_is_set(spec) && strcmp(spec, "recursive") == 0)
		return 0;
	if (!dns_is_set(spec) || strcmp(spec, "system") == 0) {
		if ((rc = ub_ctx_resolvconf(ctx, NULL)) != 0) {
			snprintf(err, errlen, "dns resolver system: cannot "
			    "read /etc/resolv.conf: %s", ub_strerror(rc));
			return -1;
		}
		return 0;
	}
	copy = xstrdup(spec);
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (dns_add_forwarder(ctx, tok, err, errlen) == -1) {
			free(copy);
			return -1;
		}
		n++;
	}
	free(copy);
	if (n == 0) {
		snprintf(err, errlen, "dns resolver: no address given");
		return -1;
	}
	return 0;
}

/* Read a config file path only after checking it exists: libunbound
 * would otherwise fail every later query with "initialization failure"
 * (dns-testing.md, pitfall 4). */
static int
dns_check_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "dns %s %s: %m", what, path);
	return -1;
}

static int
dns_configure(struct ub_ctx *ctx, const struct conf *conf, char *err,
    size_t errlen)
{
	char zone[64];
	int rc;

	for (size_t i = 0; i < sizeof(dns_transparent_zones) /
	    sizeof(dns_transparent_zones[0]); i++) {
		snprintf(zone, sizeof(zone), "%s transparent",
		    dns_transparent_zones[i]);
		if ((rc = ub_ctx_set_option(ctx, "local-zone:", zone)) != 0) {
			snprintf(err, errlen, "dns local-zone %s: %s", zone,
			    ub_strerror(rc));
			return -1;
		}
	}
	if (dns_conf_resolver(ctx, conf->dns_resolver, err, errlen) == -1)
		return -1;
	if (dns_is_set(conf->dns_trust_anchor)) {
		/* add_ta_file, not add_ta_autr: RFC 5011 updates would
		 * rewrite a file that belongs to a package (root.key). */
		if (dns_check_file("trust_anchor", conf->dns_trust_anchor, err,
		    errlen) == -1)
			return -1;
		if ((rc = ub_ctx_add_ta_file(ctx, conf->dns_trust_anchor))
		    != 0) {
			snprintf(err, errlen, "dns trust_anchor %s: %s",
			    conf->dns_trust_anchor, ub_strerror(rc));
			return -1;
		}
	}
	if (dns_is_set(conf->dns_unbound_config)) {
		if (dns_check_file("unbound_config", conf->dns_unbound_config,
		    err, errlen) == -1)
			return -1;
		if ((rc = ub_ctx_config(ctx, conf->dns_unbound_config)) != 0) {
			snprintf(err, errlen, "dns unbound_config %s: %s",
			    conf->dns_unbound_config, ub_strerror(rc));
			return -1;
		}
	}
	return 0;
}

struct dns_resolver *
dns_resolver_new(struct event_base *base, const struct conf *conf, char *err,
    size_t errlen)
{
	struct dns_resolver *res;
	struct ub_ctx *ctx;

	/* The event variant: runs in our loop, no thread, and never the
	 * forking default of ub_ctx_async (dns-testing.md §3). */
	if ((ctx = ub_ctx_create_event(base)) == NULL) {
		snprintf(err, errlen, "dns: cannot create libunbound context");
		return NULL;
	}
	if (dns_configure(ctx, conf, err, errlen) == -1) {
		ub_ctx_delete(ctx);
		return NULL;
	}
	res = xcalloc(1, sizeof(*res));
	res->base = base;
	res->ctx = ctx;
	TAILQ_INIT(&res->queries);
	return res;
}

struct ub_ctx *
dns_resolver_ub(struct dns_resolver *res)
{
	return res->ctx;
}

/* Unlink q from its resolver and free it, answer included. */
static void
dns_query_free(struct dns_query *q)
{
	TAILQ_REMOVE(&q->res->queries, q, entry);
	q->res->nqueries--;
	event_free(q->ev);
	dns_answer_free(q->ans);
	free(q->name);
	free(q);
}

void
dns_query_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	/* Tested in dns-testing.md: after ub_cancel the callback never
	 * fires. */
	if (q->in_ub)
		ub_cancel(q->res->ctx, q->async_id);
	dns_query_free(q);
}

void
dns_resolver_free(struct dns_resolver *res)
{
	struct dns_query *q;

	if (res == NULL)
		return;
	while ((q = TAILQ_FIRST(&res->queries)) != NULL)
		dns_query_cancel(q);
	ub_ctx_delete(res->ctx);
	free(res);
}

/* An answer without records: failure or timeout. */
static struct dns_answer *
dns_answer_fail(const struct dns_query *q, enum dns_rcode rcode,
    const char *why)
{
	struct dns_answer *ans = dns_answer_new();

	ans->rcode = rcode;
	ans->qtype = q->type;
	ans->qname = xstrdup(q->name);
	ans->canon = xstrdup(q->name);
	ans->why = xstrndup(why, DNS_WHY_MAX);
	return ans;
}

/* Turn libunbound's callback arguments into a typed answer. */
static struct dns_answer *
dns_answer_build(const struct dns_query *q, int rcode, const void *pkt,
    int len, int sec, const char *why_bogus)
{
	struct dns_answer *ans;
	enum dns_rr_result r;
	char why[64];

	/* When rcode != 0 there is no usable packet (dns-testing.md,
	 * pitfall 5). NXDOMAIN arrives as rcode 0 and is read from the
	 * packet by dns_rr_decode(). */
	if (rcode != 0 || pkt == NULL || len <= 0) {
		snprintf(why, sizeof(why), "resolver rcode %d", rcode);
		return dns_answer_fail(q, DNS_RCODE_SERVFAIL, why);
	}
	ans = dns_answer_new();
	r = dns_rr_decode(pkt, (size_t)len, q->type, ans);
	if (r != DNS_RR_OK) {
		dns_answer_free(ans);
		snprintf(why, sizeof(why), "bad answer: %s",
		    dns_rr_result_name(r));
		return dns_answer_fail(q, DNS_RCODE_SERVFAIL, why);
	}
	if (sec == 2)
		ans->sec = DNS_SEC_SECURE;
	else if (sec == 1) {
		/* Bogus data is delivered with rcode 0; sec carries it. */
		ans->sec = DNS_SEC_BOGUS;
		ans->why = xstrndup(why_bogus != NULL ? why_bogus : "bogus",
		    DNS_WHY_MAX);
	} else
		ans->sec = DNS_SEC_INSECURE;
	return ans;
}

/* Hand q's answer over to the loop: its callback runs after the current
 * one returns, in the same loop turn (event_active, not a zero timer,
 * which would cost a poll of its own). */
static void
dns_query_defer(struct dns_query *q)
{
	evtimer_del(q->ev);
	event_active(q->ev, EV_TIMEOUT, 0);
}

/* libunbound's callback; may run inside ub_resolve_event() for cached
 * answers (dns-testing.md, pitfall 8), so it only stores the answer. */
static void
dns_ub_cb(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
    int ratelimited)
{
	struct dns_query *q = arg;

	(void)ratelimited;
	q->in_ub = false;
	q->ans = dns_answer_build(q, rcode, pkt, len, sec, why_bogus);
	dns_query_defer(q);
}

/* The query's timer: the deadline passed, or an answer waits. */
static void
dns_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_answer *ans;
	dns_cb *cb = q->cb;
	void *cbarg = q->arg;
	struct timespec now;

	(void)fd;
	(void)what;
	if (q->ans == NULL) {
		if (q->in_ub)
			ub_cancel(q->res->ctx, q->async_id);
		q->in_ub = false;
		q->ans = dns_answer_fail(q, DNS_RCODE_TIMEOUT, "deadline");
	}
	ans = q->ans;
	q->ans = NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_dns_latency((uint64_t)((now.tv_sec - q->start.tv_sec) *
	    1000000LL + (now.tv_nsec - q->start.tv_nsec) / 1000));
	/* Freed before the callback, which may free the resolver. */
	dns_query_free(q);
	cb(ans, cbarg);
}

/* Cheap shape check; libunbound parses the name itself (UB_SYNTAX). */
static bool
dns_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= DNS_NAME_TEXT_MAX)
		return false;
	if (strcmp(name, ".") == 0)
		return true;
	if (name[0] == '.' || strstr(name, "..") != NULL)
		return false;
	return true;
}

static bool
dns_type_ok(uint16_t t)
{
	return t == DNS_T_A || t == DNS_T_NS || t == DNS_T_CNAME ||
	    t == DNS_T_PTR || t == DNS_T_MX || t == DNS_T_TXT ||
	    t == DNS_T_AAAA || t == DNS_T_TLSA;
}

struct dns_query *
dns_query(struct dns_resolver *res, const char *name, uint16_t type,
    unsigned timeout_ms, dns_cb *cb, void *arg)
{
	struct dns_query *q;
	struct timeval tv;
	int rc, id = 0;

	if (!dns_name_ok(name) || !dns_type_ok(type) ||
	    res->nqueries >= DNS_QUERIES_MAX)
		return NULL;
	if (timeout_ms == 0)
		timeout_ms = DNS_TIMEOUT_DEFAULT_MS;
	q = xcalloc(1, sizeof(*q));
	q->res = res;
	q->cb = cb;
	q->arg = arg;
	q->type = type;
	q->name = xstrdup(name);
	clock_gettime(CLOCK_MONOTONIC, &q->start);
	if ((q->ev = evtimer_new(res->base, dns_ev_cb, q)) == NULL)
		fatal("dns: evtimer_new failed");
	TAILQ_INSERT_TAIL(&res->queries, q, entry);
	res->nqueries++;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	evtimer_add(q->ev, &tv);
	/* Everything q needs is set up before this call: a cached answer
	 * runs dns_ub_cb() before it returns. */
	q->in_ub = true;
	rc = ub_resolve_event(res->ctx, q->name, type, 1 /* IN */, q,
	    dns_ub_cb, &id);
	if (rc == UB_SYNTAX) {
		dns_query_free(q);
		return NULL;
	}
	if (rc != 0) {
		q->in_ub = false;
		q->ans = dns_answer_fail(q, DNS_RCODE_SERVFAIL,
		    ub_strerror(rc));
		dns_query_defer(q);
	} else
		q->async_id = id;
	return q;
}

int
dns_sync_open(struct dns_sync_env *env, const struct conf *conf, char *err,
    size_t errlen)
{
	if ((env->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "dns: cannot create an event base");
		return -1;
	}
	if ((env->res = dns_resolver_new(env->base, conf, err, errlen)) ==
	    NULL) {
		event_base_free(env->base);
		return -1;
	}
	return 0;
}

/* One loop turn at a time, so a callback need not break the loop: the
 * flag is looked at after each turn. A return of 1 means no event is
 * left, so *done can no longer change. */
void
dns_sync_run(struct dns_sync_env *env, const bool *done)
{
	while (!*done)
		if (event_base_loop(env->base, EVLOOP_ONCE) != 0)
			break;
}

void
dns_sync_close(struct dns_sync_env *env)
{
	dns_resolver_free(env->res);
	event_base_free(env->base);
}

struct dns_sync {
	struct dns_answer	*ans;
	bool			 done;
};

static void
dns_sync_cb(struct dns_answer *ans, void *arg)
{
	struct dns_sync *s = arg;

	s->ans = ans;
	s->done = true;
}

int
dns_query_sync(const struct conf *conf, const char *name, uint16_t type,
    unsigned timeout_ms, struct dns_answer **out)
{
	struct dns_sync s = { NULL, false };
	struct dns_sync_env env;
	char err[256], esc[128];

	*out = NULL;
	if (dns_sync_open(&env, conf, err, sizeof(err)) == -1) {
		log_warn("%s", err);
		return -1;
	}
	if (dns_query(env.res, name, type, timeout_ms, dns_sync_cb, &s) ==
	    NULL)
		log_warn("dns: cannot look up \"%s\" %s", log_escape(name,
		    strlen(name), esc, sizeof(esc)), dns_rr_type_name(type));
	else
		dns_sync_run(&env, &s.done);
	dns_sync_close(&env);
	*out = s.ans;
	return s.ans != NULL ? 0 : -1;
}
