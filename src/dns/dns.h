/* SPDX-License-Identifier: ISC */
/*
 * Asynchronous DNS on libunbound, inside a libevent loop: one validating
 * resolver per event base (ub_ctx_create_event: no thread, no fork), typed
 * answers (dns_rr.h) with their DNSSEC status, and an application deadline
 * per query, because libunbound's own retries take 6-18 s.
 *
 * Trust: answers are untrusted network data, decoded by dns_rr.c under the
 * bounds there. Names passed in are presentation-format text.
 *
 * Callbacks are never run inside dns_query() or dns_query_cancel(): every
 * answer, including one libunbound has in its cache (which it delivers
 * inside ub_resolve_event()), is handed over from a fresh turn of the
 * event loop. So a callback may start new queries, cancel other queries
 * or free the resolver.
 *
 * See shared/notes/dns-testing.md for the libunbound traps this module
 * works around (special-use names, NXDOMAIN in the packet only, bogus data
 * with rcode 0, cached answers delivered synchronously).
 */
#ifndef SEALMAIL_DNS_DNS_H
#define SEALMAIL_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns_rr.h"

struct conf;
struct event_base;
struct dns_resolver;
struct dns_query;

/* Deadline used when dns_query() is given timeout_ms == 0. */
#define DNS_TIMEOUT_DEFAULT_MS	10000
/* At most this many queries in flight per resolver (libunbound's
 * num-queries-per-thread is 1024); dns_query() refuses more. */
#define DNS_QUERIES_MAX		1000

/*
 * Called once per query that was neither cancelled nor dropped by
 * dns_resolver_free(). The callback owns ans and frees it with
 * dns_answer_free(). ans->rcode is NOERROR, NXDOMAIN, SERVFAIL (also: the
 * answer could not be decoded; ans->why says why) or TIMEOUT (the
 * deadline passed: a temperror). ans->sec is the DNSSEC status; records of
 * a bogus answer are present, so check sec, not only rcode.
 */
typedef void dns_cb(struct dns_answer *ans, void *arg);

/*
 * A resolver bound to base, configured from conf's [dns] section:
 *  - dns_resolver: NULL, "" or "system" reads /etc/resolv.conf; otherwise
 *    a list of "ADDR[@PORT]" separated by commas or spaces, used as
 *    forwarders (forward-zone ".");
 *  - dns_trust_anchor: NULL or "" means no DNSSEC validation (every answer
 *    is then DNS_SEC_INSECURE); otherwise a trust-anchor file (DS or
 *    DNSKEY lines, like /usr/share/dns/root.key), read-only: it is never
 *    rewritten by RFC 5011 updates;
 *  - dns_unbound_config: NULL/"" or a libunbound config file, loaded last
 *    so it can add per-zone forwarders and test trust anchors.
 * The special-use zones test., example., invalid. and the documentation
 * reverse zones are always made transparent, so they resolve through the
 * forwarders instead of libunbound's built-in NXDOMAIN.
 * Returns NULL and one line in err on failure. conf is not kept.
 */
struct dns_resolver *dns_resolver_new(struct event_base *base,
    const struct conf *conf, char *err, size_t errlen);

/*
 * Drop every pending query (their callbacks never run) and free res. NULL
 * is a no-op. May be called from a dns callback.
 */
void dns_resolver_free(struct dns_resolver *res);

/*
 * Start a lookup of name (presentation form, final dot optional) for type
 * (one of the DNS_T_* in dns_rr.h). cb(ans, arg) runs exactly once, from
 * the event loop, unless the query is cancelled first; timeout_ms is the
 * deadline (0 = DNS_TIMEOUT_DEFAULT_MS), after which the query is
 * cancelled inside libunbound and answered with DNS_RCODE_TIMEOUT.
 * Returns a handle that stays valid until cb starts or the query is
 * cancelled, or NULL (cb never runs) if name is not a valid domain name,
 * type is not supported or DNS_QUERIES_MAX queries are in flight.
 */
struct dns_query *dns_query(struct dns_resolver *res, const char *name,
    uint16_t type, unsigned timeout_ms, dns_cb *cb, void *arg);

/* Cancel q (a handle whose callback has not started): its callback will
 * not run. NULL is a no-op. */
void dns_query_cancel(struct dns_query *q);

/*
 * Blocking lookup for CLI tools: its own event base and resolver, built
 * from conf as above, for one query. On 0, *out is the answer (any rcode,
 * including TIMEOUT), owned by the caller. On -1 (resolver setup failed or
 * invalid name; the reason is logged with log_warn) *out is NULL. Never
 * use it in the daemon's event loops.
 */
int dns_query_sync(const struct conf *conf, const char *name, uint16_t type,
    unsigned timeout_ms, struct dns_answer **out);

/*
 * The frame of every blocking *_sync wrapper (CLI and tests only, never in
 * the daemon's loops): dns_sync_open() makes a private event base and a
 * resolver from conf as dns_resolver_new() does; 0, or -1 with one line in
 * err (nothing to close then). The caller starts its work on env->base
 * and env->res with a callback that sets a flag; dns_sync_run() runs the
 * loop until *done is true or the loop stops (an error, or nothing left
 * to wait for: the caller sees *done still false). dns_sync_close() frees
 * the resolver (pending queries are dropped) and the base.
 */
struct dns_sync_env {
	struct event_base	*base;
	struct dns_resolver	*res;
};

int dns_sync_open(struct dns_sync_env *env, const struct conf *conf,
    char *err, size_t errlen);
void dns_sync_run(struct dns_sync_env *env, const bool *done);
void dns_sync_close(struct dns_sync_env *env);

/*
 * The DNSSEC probe (dns_probe.c): does the configured resolver path give
 * validated answers? It asks, through a resolver built from conf as
 * dns_resolver_new() does, for the DNSKEY RRset of the zone of the trust
 * anchor (the owner name of the first DS or DNSKEY record in the [dns]
 * trust_anchor file: "." for Debian's root.key) and requires it to come
 * back secure, with records, within DNS_PROBE_TIMEOUT_MS. A forwarder
 * that strips DNSSEC records makes it bogus; one that cannot be reached,
 * a timeout. Blocking: for startup (the master, before it forks) and the
 * CLI only, never in an event loop. 0 if secure; -1 with one line in err
 * saying what came back (also for an empty trust_anchor, which means no
 * validation at all, and for an anchor file that cannot be read or names
 * no zone).
 */
#define DNS_PROBE_TIMEOUT_MS	5000
int dns_dnssec_probe(const struct conf *conf, char *err, size_t errlen);

/*
 * What serve and check-config require: with [delivery] dane = yes, a
 * trust anchor and a probe that passes (0); with dane = no, nothing (0,
 * no probe). Else -1 and err (one line) says what fails and names the
 * fixes: [dns] resolver = recursive, a validating resolver that passes
 * DNSSEC through, or [delivery] dane = no.
 */
int dns_dane_check(const struct conf *conf, char *err, size_t errlen);

/*
 * The owner name of the first DS or DNSKEY record in the text of a trust
 * anchor file (zone-file lines; comments, blank lines, $ directives and
 * other types skipped) into out, as written ("." for the root). Pure, for
 * the probe and its tests. -1 if there is none or it does not fit.
 */
int dns_anchor_zone(const char *text, size_t len, char *out, size_t outlen);

#endif
