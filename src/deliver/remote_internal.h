/* SPDX-License-Identifier: ISC */
/*
 * The remote method's objects (see remote.c), shared by its two files:
 * remote.c (setup, jobs and units, results, the pump) and remote_conn.c
 * (a connection to one destination).
 */
#ifndef SEALMAIL_DELIVER_REMOTE_INTERNAL_H
#define SEALMAIL_DELIVER_REMOTE_INTERNAL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "deliver/delivery.h"
#include "deliver/remote.h"
#include "deliver/remote_forward.h"
#include "deliver/remote_policy.h"
#include "smtpc/smtpc_dane.h"
#include "smtpc/smtpc_route.h"
#include "smtpc/smtpc_session.h"
#include "sts/sts_policy.h"

struct db;
struct dns_answer;
struct dns_query;
struct dns_resolver;
struct mtasts;
struct mtasts_req;

/* The destination name used for the relayhost (not a domain name). */
#define REMOTE_RELAY_DEST	"[relayhost]"

struct remote_dest;

/* A job in flight. */
struct delivery {
	TAILQ_ENTRY(delivery)	 entry;		/* in rd->jobs, or rd->over */
	struct delivery_method	*rd;
	struct delivery_job	 job;		/* rcpts points to our copy */
	size_t			 nunits;	/* units not yet settled */
	bool			 stopped;	/* begin no waiting unit */
	bool			 over;		/* in rd->over: every unit
						 * settled or dropped, end
						 * due from the pump */
};
TAILQ_HEAD(remote_jobs, delivery);

struct remote_unit {
	TAILQ_ENTRY(remote_unit) entry;	/* in dest->waiting, rd->looped or
					 * rd->keyless */
	struct delivery	*js;
	size_t			*pos;		/* positions in job->rcpts */
	size_t			 n;
	struct smtpc_rcpt	*rcpts;
	struct smtpc_message	 msg;
	char			*prepend;	/* owned: Delivered-To + the
						 * envelope's, or NULL */
	char			*mail_from;	/* owned: the SRS sender of a
						 * forwarded copy, or NULL (the
						 * envelope's) */
	/* RFC 8689: the sender demands authenticated TLS (REQUIRETLS, a
	 * non-null return path: §4.2.1), or relaxes the recipient domain's
	 * requirements (TLS-Required: No). A connection carries only units
	 * that agree on both. */
	bool			 requiretls;
	bool			 tls_no;
	struct smtpc_status	 loop;		/* in rd->looped: the refusal
						 * (a loop, forwarding refused) */
};
TAILQ_HEAD(remote_units, remote_unit);

struct remote_dest {
	TAILQ_ENTRY(remote_dest) entry;
	char			*name;		/* lower-case domain, or
						 * REMOTE_RELAY_DEST */
	struct remote_units	 waiting;
	size_t			 nconn;
};

struct remote_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct remote_conn {
	TAILQ_ENTRY(remote_conn) entry;
	struct delivery_method		*rd;
	struct remote_dest	*dest;
	struct remote_unit	*unit;		/* claimed, not yet settled */
	struct smtpc_route	 route;
	size_t			 host_i;	/* next host to resolve */
	const char		*host;		/* current host name */
	struct dns_query	*q_mx, *q_a, *q_aaaa, *q_tlsa;
	/* MTA-STS (RFC 8461), looked up beside the MX records; the route
	 * waits for both. */
	struct mtasts_req	*q_sts;
	bool			 route_ready;
	struct sts_policy	 sts;		/* copy; mode NONE: none */
	char			*sts_text;	/* the policy as fetched */
	struct dns_answer	*ans_a, *ans_aaaa;
	/* Transport security (remote_policy.h): the destination's level,
	 * whether its MX RRset validated, and for the current host whether
	 * its addresses did, its TLSA records and the decision. */
	const struct conf_policy *pol;		/* [policy] or NULL */
	bool			 mx_secure;
	bool			 host_secure;
	/* RFC 7672 §2.2.2: a host that is a CNAME with a secure expansion
	 * has its TLSA records looked for at the expanded name first, then
	 * at its own; dane_base is the TLSA base domain used (SNI and the
	 * DANE-TA name). */
	char			 host_canon[LIMIT_DOMAIN + 1];	/* "": none */
	const char		*dane_base;
	enum smtpc_dane_state	 dane;
	struct smtpc_tlsa	 tlsa[SMTPC_DANE_MAX];
	size_t			 ntlsa;
	struct remote_tls_plan	 plan;
	/* REQUIRETLS units: the enhanced code of the RFC 8689 failure so far
	 * ("5.7.10" no authenticated TLS, "5.7.30" REQUIRETLS not offered),
	 * and whether a host failed for another reason (then the message is
	 * retried rather than bounced). */
	bool			 requiretls, tls_no;
	char			 rt_code[SMTPC_ENH_MAX];
	bool			 rt_other;
	bool			 rt_held;	/* the unit came back unsent */
	/* TLS results (RFC 8460 data): the server's address of the current
	 * session, and whether its result was recorded. */
	char			 peer_ip[INET6_ADDRSTRLEN];
	bool			 rpt_done;
	struct remote_addr	 addrs[REMOTE_ADDRS_MAX];
	size_t			 naddrs, addr_i, tried;
	struct smtpc_session	*s;
	bool			 plain;		/* retrying in clear */
	bool			 dns_temp;	/* a lookup failed (temp) */
	unsigned		 nmsgs;
	bool			 sending;	/* unit handed to the session,
						 * its MESSAGE event due */
	struct smtpc_status	 last;		/* why the last try failed */
	struct delivery_attempt	 at;
};

struct db_tls_result;
struct workpool;

struct delivery_method {
	struct event_base	*base;
	const struct conf	*conf;
	struct dns_resolver	*dns;
	SSL_CTX			*mx_ctx, *relay_ctx;
	struct db		*db;		/* policy cache, TLS results */
	/* Where db is used: NULL, on the loop (SQLite); a shared server's
	 * (PostgreSQL), this one thread, which alone touches db, so the
	 * loop never waits for a round trip. */
	struct workpool		*store;
	struct event		*flush_ev;	/* writes pending TLS results */
	struct mtasts		*mtasts;	/* NULL: mta_sts = no */
	bool			 relay;
	bool			 relay_implicit;
	char			 relay_host[LIMIT_DOMAIN + 1];
	unsigned		 relay_port;
	struct remote_addr	 relay_addr;	/* len 0: a name */
	char			*auth_user, *auth_pass;
	char			*auth_err;	/* credentials unusable */
	struct remote_jobs	 jobs;		/* units in flight */
	struct remote_jobs	 over;		/* stopped, end due */
	struct remote_units	 looped;	/* to refuse from the pump */
	struct remote_units	 keyless;	/* forwards waiting for the
						 * SRS key's read */
	uint8_t			 srs_key[SRS_SECRET_LEN];
	bool			 srs_key_ok;	/* read from the store */
	bool			 srs_key_reading;	/* on rd->store */
	TAILQ_HEAD(, remote_dest) dests;
	TAILQ_HEAD(, remote_conn) conns;
	size_t			 njobs, nconn;
	struct event		*pump_ev;
};

/* remote.c: a status of ours; run the pump on the next loop turn; report
 * every recipient of u (st for all, or per[k] when per != NULL; at: the
 * attempt, NULL: none) and free it; put u back at the head of d's queue
 * (a unit of a stopped job is dropped instead). */
void remote_status(struct smtpc_status *st, enum smtpc_class klass,
    int code, const char *enh, const char *stage, const char *text);
void remote_pump_later(struct delivery_method *rd);
void remote_unit_settle(struct delivery_method *rd, struct remote_unit *u,
    const struct smtpc_status *st, const struct smtpc_status *per,
    const struct delivery_attempt *at);
void remote_unit_requeue(struct delivery_method *rd, struct remote_dest *d,
    struct remote_unit *u);

/* remote_conn.c: start a connection for destination d with unit u (from
 * the pump only, so callbacks never nest inside start()); release
 * everything of c but c itself (a claimed unit is the caller's); end c
 * (a claimed unit goes back to its destination) and free it; the timer
 * that writes pending TLS results to the store. */
void remote_conn_start(struct delivery_method *rd, struct remote_dest *d,
    struct remote_unit *u);
void remote_conn_clear(struct remote_conn *c);
void remote_conn_end(struct remote_conn *c);
void remote_flush_cb(evutil_socket_t fd, short what, void *arg);
/* remote.c: record a TLS-RPT session result (copied) in the store where
 * rd->store says: the handle's pending rows, written by the flush. */
void remote_store_tls(struct delivery_method *rd,
    const struct db_tls_result *r);
/* remote.c: write the pending TLS results, where rd->store says. */
void remote_store_flush(struct delivery_method *rd);

#endif
