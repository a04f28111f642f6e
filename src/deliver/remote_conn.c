/* SPDX-License-Identifier: ISC */
/*
 * Remote SMTP delivery (see remote.h), the "smtp" method of delivery.h.
 * Objects:
 *  - the method's instance (struct delivery_method, rd);
 *  - a job (struct delivery, js): the runner's request, split into units;
 *  - a unit: the job's recipients for one destination, one transaction;
 *  - a destination (remote_dest): a domain or the relayhost, with a FIFO
 *    of waiting units and a count of its connections;
 *  - a connection (remote_conn): resolves the route, tries addresses one
 *    after the other with an smtpc_session, sends the unit it claimed and
 *    then further waiting units of its destination.
 * Connections are started only from the zero-delay "pump" event, so no
 * callback ever runs inside start(), stop() or cancel(). A connection that
 * cannot reach its destination at all (DNS failure, null MX, every address
 * failed) settles its unit and every unit still waiting for the
 * destination with the same status, as they would meet the same fate.
 *
 * Ownership: the engine owns jobs, units, destinations and connections;
 * the envelope, the message fd and the callbacks' arg are the runner's,
 * borrowed until the job's end callback (or its cancel). Untrusted input:
 * DNS answers (decoded and bounded by dns_rr.c, host names re-checked by
 * smtpc) and server replies (parsed by smtpc_reply), which end up in
 * result texts.
 */
#include "deliver/remote.h"

#include <sys/queue.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "conf/conf.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "msg/addr.h"
#include "msg/hops.h"
#include "msg/tlsrequired.h"
#include "msg/rfc5322_headers.h"
#include "queue/spool.h"
#include "deliver/mtasts.h"
#include "deliver/remote_forward.h"
#include "deliver/remote_policy.h"
#include "smtpc/smtpc_dane.h"
#include "smtpc/smtpc_route.h"
#include "smtpc/smtpc_session.h"
#include "store/db.h"
#include "sts/sts_policy.h"

/* The destination name used for the relayhost (not a domain name). */
#define REMOTE_RELAY_DEST	"[relayhost]"
/* Credentials file: one short line. */
#define REMOTE_CRED_LINE	(2 * LIMIT_SASL_FIELD + 4)

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
	TAILQ_ENTRY(remote_unit) entry;	/* in dest->waiting or rd->looped */
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

struct delivery_method {
	struct event_base	*base;
	const struct conf	*conf;
	struct dns_resolver	*dns;
	SSL_CTX			*mx_ctx, *relay_ctx;
	struct db		*db;		/* policy cache, TLS results */
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
	uint8_t			 srs_key[SRS_SECRET_LEN];
	bool			 srs_key_ok;	/* read from the store */
	TAILQ_HEAD(, remote_dest) dests;
	TAILQ_HEAD(, remote_conn) conns;
	size_t			 njobs, nconn;
	struct event		*pump_ev;
};

static void remote_conn_next_host(struct remote_conn *);
static void remote_conn_go(struct remote_conn *);
static void remote_rpt(struct remote_conn *, const char *, bool);
static void remote_tlsa_query(struct remote_conn *, const char *);
static void remote_addrs_canon(struct remote_conn *);
static void remote_host_tlsa(struct remote_conn *);
static bool remote_dane_wanted(const struct remote_conn *);
static bool remote_addrs_secure(const struct dns_answer *,
    const struct dns_answer *);
static void remote_conn_try(struct remote_conn *);
static void remote_conn_end(struct remote_conn *);

static void
remote_status(struct smtpc_status *st, enum smtpc_class klass, int code,
    const char *enh, const char *stage, const char *text)
{
	memset(st, 0, sizeof(*st));
	st->klass = klass;
	st->code = code;
	st->stage = stage;
	snprintf(st->enhanced, sizeof(st->enhanced), "%s", enh);
	snprintf(st->text, sizeof(st->text), "%s", text);
}

static void
remote_pump_later(struct delivery_method *rd)
{
	const struct timeval now = { 0, 0 };

	evtimer_add(rd->pump_ev, &now);
}

/* --- results ------------------------------------------------------------ */

/* snprintf where truncation is expected and fine (reply texts are cut at
 * the size of a result). */
static void remote_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
remote_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

/* In the forms queue/bounce.h reads: "host NAME[ADDR] said: CODE X.Y.Z
 * text" for a server's reply, "CODE X.Y.Z text" for a decision of ours
 * that has a reply code (null MX), "X.Y.Z text (stage, RELAY)" for a
 * local reason. */
static void
remote_reply_text(const struct smtpc_status *st, const char *relay,
    char *out, size_t outlen)
{
	const char *sp = st->enhanced[0] ? " " : "";
	const char *rb = relay ? strrchr(relay, ']') : NULL;
	bool server = st->code != 0 && rb != NULL &&
	    (st->stage == NULL || strcmp(st->stage, "dns") != 0);

	/* bounce.h: "host NAME[ADDR] said: REPLY" names the Remote-MTA. */
	if (server)
		remote_fmt(out, outlen, "host %.*s said: %d %s%s%s",
		    (int)(rb + 1 - relay), relay, st->code, st->enhanced, sp,
		    st->text);
	else if (st->code != 0)
		remote_fmt(out, outlen, "%d %s%s%s", st->code, st->enhanced, sp,
		    st->text);
	else if (relay != NULL && strcmp(relay, "none") != 0)
		remote_fmt(out, outlen, "%s%s%s (%s, %s)", st->enhanced, sp,
		    st->text, st->stage ? st->stage : "?", relay);
	else
		remote_fmt(out, outlen, "%s%s%s", st->enhanced, sp, st->text);
}

static enum delivery_status
remote_class(enum smtpc_class k)
{
	return k == SMTPC_OK ? DELIVERY_OK : k == SMTPC_PERM ?
	    DELIVERY_PERMFAIL : DELIVERY_TEMPFAIL;
}

static void
remote_unit_free(struct remote_unit *u)
{
	free(u->prepend);
	free(u->mail_from);
	free(u->pos);
	free(u->rcpts);
	free(u);
}

static void
remote_job_free(struct delivery *js)
{
	free((size_t *)js->job.rcpts);
	free(js);
}

/* The unit is settled: finish its job when it was the last unit. */
static void
remote_unit_done(struct delivery_method *rd, struct remote_unit *u)
{
	struct delivery *js = u->js;

	remote_unit_free(u);
	if (--js->nunits > 0)
		return;
	TAILQ_REMOVE(&rd->jobs, js, entry);
	rd->njobs--;
	js->job.end(js->job.arg);
	remote_job_free(js);
}

/* A unit of a stopped job is not begun: it goes unreported. When it was
 * the job's last, the end callback follows from the pump (never from
 * inside stop()). */
static void
remote_unit_drop(struct delivery_method *rd, struct remote_unit *u)
{
	struct delivery *js = u->js;

	remote_unit_free(u);
	if (--js->nunits > 0)
		return;
	TAILQ_REMOVE(&rd->jobs, js, entry);
	TAILQ_INSERT_TAIL(&rd->over, js, entry);
	js->over = true;
	remote_pump_later(rd);
}

/* A unit that goes back to its destination's queue (its connection
 * could not send it): dropped instead when its job was stopped. */
static void
remote_unit_requeue(struct delivery_method *rd, struct remote_dest *d,
    struct remote_unit *u)
{
	if (u->js->stopped)
		remote_unit_drop(rd, u);
	else
		TAILQ_INSERT_HEAD(&d->waiting, u, entry);
}

/* Report every recipient of u: st for all, or per[k] when per != NULL. */
static void
remote_unit_settle(struct delivery_method *rd, struct remote_unit *u,
    const struct smtpc_status *st, const struct smtpc_status *per,
    const struct delivery_attempt *at)
{
	static const struct delivery_attempt none = { "none", "none", false,
	    false, "none", false };
	struct delivery_result res;

	if (at == NULL)
		at = &none;
	for (size_t k = 0; k < u->n; k++) {
		const struct smtpc_status *s = per ? &per[k] : st;

		res.status = remote_class(s->klass);
		remote_reply_text(s, at->relay, res.reply, sizeof(res.reply));
		res.attempt = at;
		u->js->job.rcpt(u->pos[k], &res, u->js->job.arg);
	}
	remote_unit_done(rd, u);
}

/* The destination cannot be reached: settle the claimed unit and every
 * unit waiting for the same destination, then end the connection. */
static void
remote_conn_fail_dest(struct remote_conn *c, const struct smtpc_status *st)
{
	struct delivery_method *rd = c->rd;
	struct remote_unit *u;
	char esc[256], text[SMTPC_TEXT_MAX];

	log_info("remote destination %s %s: %s",
	    log_escape(c->dest->name, strlen(c->dest->name), esc, sizeof(esc)),
	    st->klass == SMTPC_PERM ? "refused" : "unreachable",
	    log_quote(st->text, strlen(st->text), text, sizeof(text)));
	if (c->unit != NULL) {
		u = c->unit;
		c->unit = NULL;
		remote_unit_settle(rd, u, st, NULL, &c->at);
	}
	/* From the head each time: a callback may stop or cancel a job
	 * whose units wait here. A unit with other RFC 8689 flags may well
	 * be deliverable (a REQUIRETLS refusal says nothing about plain
	 * mail): it gets a connection of its own. */
	for (;;) {
		TAILQ_FOREACH(u, &c->dest->waiting, entry)
			if (u->requiretls == c->requiretls &&
			    u->tls_no == c->tls_no)
				break;
		if (u == NULL)
			break;
		TAILQ_REMOVE(&c->dest->waiting, u, entry);
		remote_unit_settle(rd, u, st, NULL, &c->at);
	}
	remote_conn_end(c);
}

/* --- DNS: route and addresses --------------------------------------------- */

static void
remote_dns_temp(struct smtpc_status *st, const char *what, const char *name,
    const struct dns_answer *ans)
{
	char text[SMTPC_TEXT_MAX], esc[300];

	snprintf(text, sizeof(text), "DNS %s lookup for %s failed: %s%s%s",
	    what, log_escape(name, strlen(name), esc, sizeof(esc)),
	    ans->sec == DNS_SEC_BOGUS ? "bogus" : dns_rcode_name(ans->rcode),
	    ans->why ? " " : "", ans->why ? ans->why : "");
	remote_status(st, SMTPC_TEMP, 0, "4.4.3", "dns", text);
}

/* Route and MTA-STS policy both known: start with the first host. */
static void
remote_conn_go(struct remote_conn *c)
{
	if (c->route_ready && c->q_sts == NULL)
		remote_conn_next_host(c);
}

static void
remote_sts_cb(const struct mtasts_result *r, void *arg)
{
	struct remote_conn *c = arg;
	char esc[300], why[600];

	c->q_sts = NULL;
	if (r->have_policy) {
		sts_policy_dup(&c->sts, r->policy);
		c->sts_text = xstrdup(r->policy_text ? r->policy_text : "");
	}
	if (r->failure != NULL) {
		/* Reported with the policy in force (a cached one), else as
		 * a domain without one (RFC 8460 §4.3.2.2). */
		c->plan.rpt_type = r->have_policy ? "sts" : "no-policy-found";
		remote_rpt(c, r->failure, false);
		c->plan.rpt_type = "no-policy-found";
	}
	if (r->failure != NULL)
		log_info("remote destination %s mta-sts %s: %s%s",
		    log_escape(c->dest->name, strlen(c->dest->name), esc,
		    sizeof(esc)), r->failure, log_quote(r->detail,
		    strlen(r->detail), why, sizeof(why)), r->have_policy ?
		    " (cached policy used)" : "");
	remote_conn_go(c);
}

static void
remote_mx_cb(struct dns_answer *ans, void *arg)
{
	struct remote_conn *c = arg;
	struct smtpc_mx *mx;
	struct smtpc_status st;
	char text[SMTPC_TEXT_MAX], esc[300];
	size_t n;
	enum smtpc_route_result rr;

	c->q_mx = NULL;
	log_escape(c->dest->name, strlen(c->dest->name), esc, sizeof(esc));
	if (ans->rcode == DNS_RCODE_NXDOMAIN && ans->sec != DNS_SEC_BOGUS) {
		snprintf(text, sizeof(text), "domain %s does not exist", esc);
		remote_status(&st, SMTPC_PERM, 550, "5.1.2", "dns", text);
		goto fail;
	}
	if (ans->rcode != DNS_RCODE_NOERROR || ans->sec == DNS_SEC_BOGUS) {
		remote_dns_temp(&st, "MX", c->dest->name, ans);
		goto fail;
	}
	/* RFC 7672 §2.2.1: DANE only behind a validated MX RRset (or, for
	 * the implicit MX, a validated denial and secure addresses). */
	c->mx_secure = ans->sec == DNS_SEC_SECURE;
	mx = xcalloc(ans->nrr + 1, sizeof(*mx));
	n = smtpc_route_mx_from_answer(ans, mx);
	rr = smtpc_route_plan(c->dest->name, mx, n, c->rd->conf->hostname,
	    NULL, NULL, &c->route);
	free(mx);
	dns_answer_free(ans);
	ans = NULL;
	switch (rr) {
	case SMTPC_ROUTE_OK:
		c->route_ready = true;
		remote_conn_go(c);
		return;
	case SMTPC_ROUTE_NULL_MX:
		/* RFC 7505 §4.3 (and RFC 7504): the reply a server would
		 * give, so the bounce carries the right status. */
		snprintf(text, sizeof(text), "domain %s accepts no mail "
		    "(null MX)", esc);
		remote_status(&st, SMTPC_PERM, 556, "5.1.10", "dns", text);
		break;
	case SMTPC_ROUTE_SELF:
		snprintf(text, sizeof(text), "mail for %s loops back to "
		    "myself", esc);
		remote_status(&st, SMTPC_PERM, 554, "5.4.6", "dns", text);
		break;
	case SMTPC_ROUTE_NO_USABLE:
		/* Temporary: a broken MX RRset is usually fixed soon, and the
		 * queue lifetime bounds the retries. */
		snprintf(text, sizeof(text), "domain %s has MX records but "
		    "none usable", esc);
		remote_status(&st, SMTPC_TEMP, 451, "4.4.4", "dns", text);
		break;
	default:
		snprintf(text, sizeof(text), "bad domain %s", esc);
		remote_status(&st, SMTPC_PERM, 550, "5.1.2", "dns", text);
		break;
	}
fail:
	dns_answer_free(ans);
	remote_conn_fail_dest(c, &st);
}

/* Append the A or AAAA records of ans as addresses on port. */
static void
remote_addrs_add(struct remote_conn *c, const struct dns_answer *ans,
    unsigned port)
{
	for (size_t i = 0; ans && i < ans->nrr &&
	    c->naddrs < REMOTE_ADDRS_MAX; i++) {
		struct remote_addr *a = &c->addrs[c->naddrs];

		memset(a, 0, sizeof(*a));
		if (ans->rr[i].type == DNS_T_A) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			memcpy(&sin->sin_addr, ans->rr[i].u.a, 4);
			a->len = sizeof(*sin);
		} else if (ans->rr[i].type == DNS_T_AAAA) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			memcpy(&s6->sin6_addr, ans->rr[i].u.aaaa, 16);
			a->len = sizeof(*s6);
		} else
			continue;
		c->naddrs++;
	}
}

/* Whether an address answer is usable, else why not (into c->last). */
static bool
remote_addr_ok(struct remote_conn *c, const struct dns_answer *ans,
    const char *what)
{
	if (ans->rcode == DNS_RCODE_NOERROR && ans->sec != DNS_SEC_BOGUS)
		return true;
	if (ans->rcode == DNS_RCODE_NXDOMAIN && ans->sec != DNS_SEC_BOGUS)
		return false;
	c->rt_other = true;
	c->dns_temp = true;
	remote_dns_temp(&c->last, what, c->host, ans);
	return false;
}

/* The address lookup failed (not an authenticated "no such name"). */
static bool
remote_addr_failed(const struct dns_answer *ans)
{
	return !(ans->rcode == DNS_RCODE_NOERROR ||
	    ans->rcode == DNS_RCODE_NXDOMAIN) || ans->sec == DNS_SEC_BOGUS;
}

/* Both address lookups of the current host are in. */
static void
remote_addrs_ready(struct remote_conn *c)
{
	struct delivery_method *rd = c->rd;
	unsigned port = rd->relay ? rd->relay_port : rd->conf->mx_port;
	char text[SMTPC_TEXT_MAX], esc[300];
	bool ok6 = remote_addr_ok(c, c->ans_aaaa, "AAAA");
	bool ok4 = remote_addr_ok(c, c->ans_a, "A");
	/* RFC 7672 §2.1.2, §2.2.2: behind a validated MX RRset a failed
	 * (bogus, SERVFAIL) address lookup makes a host with validated
	 * addresses unusable in this attempt; using its other addresses
	 * without DANE would let whoever breaks one answer downgrade a DANE
	 * host to clear text. (An unsigned host has no DANE to lose.) */
	bool failed = !rd->relay && c->mx_secure && remote_dane_wanted(c) &&
	    ((!ok6 && remote_addr_failed(c->ans_aaaa)) ||
	    (!ok4 && remote_addr_failed(c->ans_a))) &&
	    ((ok6 && c->ans_aaaa->sec == DNS_SEC_SECURE) ||
	    (ok4 && c->ans_a->sec == DNS_SEC_SECURE));

	c->naddrs = c->addr_i = 0;
	/* IPv6 first, as RFC 6724's default policy would order them. */
	if (ok6 && !failed)
		remote_addrs_add(c, c->ans_aaaa, port);
	if (ok4 && !failed)
		remote_addrs_add(c, c->ans_a, port);
	c->host_secure = remote_addrs_secure(c->ans_a, c->ans_aaaa);
	remote_addrs_canon(c);
	dns_answer_free(c->ans_a);
	dns_answer_free(c->ans_aaaa);
	c->ans_a = c->ans_aaaa = NULL;
	if (failed)
		log_info("remote host %s skipped: an address lookup failed "
		    "behind a DNSSEC-validated MX", log_escape(c->host,
		    strlen(c->host), esc, sizeof(esc)));
	if (c->naddrs == 0 && !c->dns_temp) {
		snprintf(text, sizeof(text), "host %s has no address",
		    log_escape(c->host, strlen(c->host), esc, sizeof(esc)));
		c->rt_other = true;
		remote_status(&c->last, SMTPC_TEMP, 0, "4.4.4", "dns", text);
	}
	if (c->naddrs == 0 || rd->relay) {
		remote_conn_try(c);
		return;
	}
	remote_host_tlsa(c);
}

/* --- transport security of one MX host ------------------------------------ */

/* The expanded name of the current host when its address records came
 * through a CNAME chain (secure, as host_secure says). */
static void
remote_addrs_canon(struct remote_conn *c)
{
	const struct dns_answer *ans[2] = { c->ans_a, c->ans_aaaa };

	c->host_canon[0] = '\0';
	for (size_t i = 0; i < 2; i++)
		if (ans[i] != NULL && ans[i]->nrr > 0 && ans[i]->canon != NULL &&
		    strcasecmp(ans[i]->canon, c->host) != 0) {
			snprintf(c->host_canon, sizeof(c->host_canon), "%s",
			    ans[i]->canon);
			return;
		}
}

/* DANE applies to the destination: on, or asked for by [policy]. */
static bool
remote_dane_wanted(const struct remote_conn *c)
{
	enum conf_tls_policy level = c->pol ? c->pol->tls : CONF_TLSPOL_AUTO;

	return level == CONF_TLSPOL_DANE || level == CONF_TLSPOL_DANE_ONLY ||
	    (level == CONF_TLSPOL_AUTO && c->rd->conf->dane);
}

/* Every address answer that has records validated, and there is one. */
static bool
remote_addrs_secure(const struct dns_answer *a, const struct dns_answer *aaaa)
{
	const struct dns_answer *ans[2] = { a, aaaa };
	bool any = false;

	for (size_t i = 0; i < 2; i++) {
		if (ans[i] == NULL || ans[i]->sec == DNS_SEC_BOGUS)
			return false;
		if (ans[i]->rcode != DNS_RCODE_NOERROR || ans[i]->nrr == 0)
			continue;
		if (ans[i]->sec != DNS_SEC_SECURE)
			return false;
		any = true;
	}
	return any;
}

static bool
remote_mx_allowed(const struct conf_policy *pol, const char *host)
{
	if (pol == NULL || pol->nmx_match == 0)
		return true;
	for (size_t i = 0; i < pol->nmx_match; i++)
		if (sts_mx_pattern_match(pol->mx_match[i], host))
			return true;
	return false;
}

/* A host failed a REQUIRETLS unit for an RFC 8689 reason; 5.7.30 (TLS
 * authenticated, no REQUIRETLS) is kept over 5.7.10 once seen. */
static void
remote_rt_fail(struct remote_conn *c, const char *code)
{
	if (strcmp(c->rt_code, "5.7.30") != 0)
		snprintf(c->rt_code, sizeof(c->rt_code), "%s", code);
}

/* Decide the current host's TLS from what is known, then connect, or
 * skip the host with a reason (remote_policy.h). */
static void
remote_host_plan(struct remote_conn *c)
{
	struct remote_tls_facts f;
	char text[SMTPC_TEXT_MAX], esc[300];

	memset(&f, 0, sizeof(f));
	f.level = c->pol ? c->pol->tls : CONF_TLSPOL_AUTO;
	f.dane_enabled = c->rd->conf->dane;
	f.dnssec = c->mx_secure && c->host_secure;
	f.dane = c->dane;
	f.sts = c->sts.mode == STS_MODE_ENFORCE ? REMOTE_STS_ENFORCE :
	    c->sts.mode == STS_MODE_TESTING ? REMOTE_STS_TESTING :
	    REMOTE_STS_NONE;
	f.sts_match = c->sts.nmx > 0 && sts_policy_match_mx(&c->sts, c->host);
	f.mx_match = remote_mx_allowed(c->pol, c->host);
	f.requiretls = c->requiretls;
	f.tls_required_no = c->tls_no;
	remote_tls_decide(&f, &c->plan);
	if (c->plan.skip == NULL) {
		if (c->plan.overridden)
			log_info("remote host %s: policy=%s relaxed: the sender "
			    "asked for it (TLS-Required: No)", log_escape(
			    c->host, strlen(c->host), esc, sizeof(esc)),
			    c->plan.policy);
		remote_conn_try(c);
		return;
	}
	log_escape(c->host, strlen(c->host), esc, sizeof(esc));
	if (strcmp(c->plan.skip, "requiretls") == 0)
		snprintf(text, sizeof(text), "%s (%s)", c->plan.why, esc);
	else
		snprintf(text, sizeof(text), "%s: %s for %s", c->plan.policy,
		    c->plan.why, esc);
	log_info("remote host %s skipped: policy=%s reason=%s", esc,
	    c->plan.policy, c->plan.skip);
	remote_status(&c->last, SMTPC_TEMP, 0, "4.7.5", "tls-policy", text);
	if (strcmp(c->plan.skip, "requiretls") != 0)
		remote_rpt(c, c->plan.skip, false);
	/* A TLSA lookup that failed is a DNS failure, retried later (RFC
	 * 7672 §2.1.2), not a host that cannot meet RFC 8689. */
	if (c->requiretls && strcmp(c->plan.skip, "dnssec-invalid") == 0)
		c->rt_other = true;
	else if (c->requiretls)
		remote_rt_fail(c, "5.7.10");
	c->naddrs = 0;
	remote_conn_next_host(c);
}

static void
remote_tlsa_cb(struct dns_answer *ans, void *arg)
{
	struct remote_conn *c = arg;

	c->q_tlsa = NULL;
	c->dane = smtpc_dane_classify(ans, c->tlsa, SMTPC_DANE_MAX,
	    &c->ntlsa);
	dns_answer_free(ans);
	/* Nothing at the expanded name (a secure denial): the original. */
	if (c->dane == SMTPC_DANE_NONE && c->dane_base != c->host) {
		remote_tlsa_query(c, c->host);
		return;
	}
	remote_host_plan(c);
}

static void
remote_tlsa_query(struct remote_conn *c, const char *base)
{
	char name[LIMIT_DOMAIN + 32];

	c->dane_base = base;
	snprintf(name, sizeof(name), "_%u._tcp.%s", c->rd->conf->mx_port,
	    base);
	c->q_tlsa = dns_query(c->rd->dns, name, DNS_T_TLSA,
	    REMOTE_DNS_TIMEOUT_MS, remote_tlsa_cb, c);
	if (c->q_tlsa == NULL) {
		c->dane = SMTPC_DANE_FAILED;
		remote_host_plan(c);
	}
}

/* Look up the host's TLSA records when DANE could apply to it: DANE on
 * (or asked for by [policy]), and the MX and address records validated
 * (RFC 7672 §2.2). The port is the one we connect to. */
static void
remote_host_tlsa(struct remote_conn *c)
{
	smtpc_dane_clear(c->tlsa, c->ntlsa);
	c->ntlsa = 0;
	c->dane = SMTPC_DANE_NONE;
	c->dane_base = c->host;
	if (!remote_dane_wanted(c) || !c->mx_secure || !c->host_secure ||
	    c->host == NULL) {
		remote_host_plan(c);
		return;
	}
	remote_tlsa_query(c, c->host_canon[0] != '\0' ? c->host_canon :
	    c->host);
}

static void
remote_a_cb(struct dns_answer *ans, void *arg)
{
	struct remote_conn *c = arg;

	c->q_a = NULL;
	c->ans_a = ans;
	if (c->q_aaaa == NULL)
		remote_addrs_ready(c);
}

static void
remote_aaaa_cb(struct dns_answer *ans, void *arg)
{
	struct remote_conn *c = arg;

	c->q_aaaa = NULL;
	c->ans_aaaa = ans;
	if (c->q_a == NULL)
		remote_addrs_ready(c);
}

/* Look up the addresses of the next host of the route, or give up. */
static void
remote_conn_next_host(struct remote_conn *c)
{
	struct smtpc_status st;

	c->plain = false;	/* a clear retry is for one address only */
	if (c->host_i >= c->route.nhosts || c->tried >= REMOTE_ADDRS_MAX) {
		/* Hosts left untried by the address cap may still qualify:
		 * a REQUIRETLS message then waits rather than bounces. */
		if (c->host_i < c->route.nhosts)
			c->rt_other = true;
		if (c->last.text[0] != '\0')
			st = c->last;
		else
			remote_status(&st, SMTPC_TEMP, 0, "4.4.4", "connect",
			    "no address to deliver to");
		/* Whatever the last server said before a session: the
		 * destination as a whole is only temporarily unusable. */
		st.klass = SMTPC_TEMP;
		/* RFC 8689 §4.2.1: no host can take it with the security the
		 * sender asked for, and none failed for another reason. */
		if (c->requiretls && c->rt_code[0] != '\0' && !c->rt_other) {
			st.klass = SMTPC_PERM;
			snprintf(st.enhanced, sizeof(st.enhanced), "%s",
			    c->rt_code);
		}
		remote_conn_fail_dest(c, &st);
		return;
	}
	c->host = c->route.hosts[c->host_i++].host;
	c->q_aaaa = dns_query(c->rd->dns, c->host, DNS_T_AAAA,
	    REMOTE_DNS_TIMEOUT_MS, remote_aaaa_cb, c);
	c->q_a = dns_query(c->rd->dns, c->host, DNS_T_A,
	    REMOTE_DNS_TIMEOUT_MS, remote_a_cb, c);
	if (c->q_a == NULL || c->q_aaaa == NULL) {
		char text[SMTPC_TEXT_MAX], esc[300];

		dns_query_cancel(c->q_a);
		dns_query_cancel(c->q_aaaa);
		c->q_a = c->q_aaaa = NULL;
		snprintf(text, sizeof(text), "cannot look up host %s",
		    log_escape(c->host, strlen(c->host), esc, sizeof(esc)));
		c->rt_other = true;
		remote_status(&c->last, SMTPC_TEMP, 0, "4.4.3", "dns", text);
		remote_conn_next_host(c);
	}
}

/* --- TLS results (RFC 8460) ------------------------------------------------ */

/* The non-empty lines of text (CRLF or LF) appended, joined by '\n'. */
static void
remote_rpt_lines(struct buf *b, const char *text)
{
	while (*text != '\0') {
		size_t n = strcspn(text, "\r\n");

		if (n > 0) {
			if (b->len > 0)
				(void)buf_append(b, "\n", 1);
			(void)buf_append(b, text, n);
		}
		text += n;
		text += strspn(text, "\r\n");
	}
}

/* The policy-string and mx-host of the current plan (RFC 8460 §4.4), as
 * NUL-terminated lines joined by '\n'. */
static void
remote_rpt_policy(const struct remote_conn *c, struct buf *pol,
    struct buf *mx)
{
	char rec[2 * SMTPC_DANE_DATA_MAX + 16];

	if (strcmp(c->plan.rpt_type, "tlsa") == 0) {
		for (size_t i = 0; i < c->ntlsa; i++) {
			smtpc_dane_text(&c->tlsa[i], rec, sizeof(rec));
			remote_rpt_lines(pol, rec);
		}
		(void)buf_append_str(mx, c->host ? c->host : "");
	} else if (strcmp(c->plan.rpt_type, "sts") == 0) {
		remote_rpt_lines(pol, c->sts_text ? c->sts_text : "");
		for (size_t i = 0; i < c->sts.nmx; i++)
			remote_rpt_lines(mx, c->sts.mx[i]);
	}
	(void)buf_append(pol, "", 1);
	(void)buf_append(mx, "", 1);
}

/*
 * Record one outcome for the destination's policy: result is "success" or
 * an RFC 8460 §4.3 result type. session: the current session's addresses
 * and EHLO name are known. Relayhost deliveries are not reported (they
 * follow no policy of the recipient domain).
 */
static void
remote_rpt(struct remote_conn *c, const char *result, bool session)
{
	struct db_tls_result r;
	struct buf pol, mx;

	if (c->rd->db == NULL || c->rd->relay)
		return;
	buf_init(&pol, SIZE_MAX);
	buf_init(&mx, SIZE_MAX);
	remote_rpt_policy(c, &pol, &mx);
	memset(&r, 0, sizeof(r));
	r.time = (long long)time(NULL);
	r.policy_domain = c->dest->name;
	r.policy_type = c->plan.rpt_type;
	r.policy_string = (const char *)pol.data;
	r.mx_host = (const char *)mx.data;
	r.sending_ip = session && c->s ? smtpc_session_local_addr(c->s) : "";
	r.receiving_mx = c->host ? c->host : "";
	r.receiving_helo = session && c->s ? smtpc_session_peer_helo(c->s) :
	    "";
	r.receiving_ip = session ? c->peer_ip : "";
	r.result = result;
	r.failure_code = "";
	if (db_tls_result_defer(c->rd->db, &r) != DB_OK)
		log_warn("remote: cannot record a TLS result: %s",
		    db_error(c->rd->db));
	else if (!evtimer_pending(c->rd->flush_ev, NULL)) {
		const struct timeval later = { REMOTE_RPT_FLUSH_S, 0 };

		evtimer_add(c->rd->flush_ev, &later);
	}
	buf_clear(&pol);
	buf_clear(&mx);
	if (session)
		c->rpt_done = true;
}

/* The current session's TLS outcome, once per session: at READY, or when
 * it ended before (a refused certificate, no STARTTLS). ready: TLS can no
 * longer start (READY, or the STARTTLS step failed). */
static void
remote_rpt_session(struct remote_conn *c, bool ready)
{
	const struct smtpc_tls_info *t = smtpc_session_tls(c->s);

	if (c->rpt_done || c->plan.tls == SMTPC_TLS_NONE || c->plain)
		return;
	if (t->active) {
		const char *res = t->verified || !(c->plan.verify ||
		    c->plan.use_dane || strcmp(c->plan.policy, "mta-sts") == 0) ?
		    "success" : t->failure ? t->failure : "validation-failure";

		/* RFC 8461 §5: a testing policy reports what enforce would
		 * refuse, an MX host it does not list included. */
		if (strcmp(res, "success") == 0 &&
		    c->sts.mode == STS_MODE_TESTING &&
		    strcmp(c->plan.policy, "mta-sts") == 0 && c->host != NULL &&
		    !sts_policy_match_mx(&c->sts, c->host))
			res = "validation-failure";
		remote_rpt(c, res, true);
	} else if (ready || t->failure != NULL)
		remote_rpt(c, "starttls-not-supported", true);
	else
		/* The handshake itself failed (no common protocol or
		 * cipher, a reset): RFC 8460's general failure type. */
		remote_rpt(c, "validation-failure", true);
}

static void
remote_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_method *rd = arg;

	(void)fd;
	(void)what;
	if (db_tls_result_flush(rd->db) != DB_OK)
		log_warn("remote: TLS results lost: %s", db_error(rd->db));
}

/* --- the SMTP session ------------------------------------------------------ */

static void
remote_smtpc_cb(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res, void *arg);

static void
remote_fill_attempt(struct remote_conn *c, const struct remote_addr *a)
{
	char host[INET6_ADDRSTRLEN];

	if (getnameinfo((const struct sockaddr *)&a->ss, a->len, host,
	    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", host);
	c->rpt_done = false;
	snprintf(c->at.relay, sizeof(c->at.relay), "%s[%s]:%u",
	    c->host ? c->host : host, host, c->rd->relay ? c->rd->relay_port :
	    c->rd->conf->mx_port);
	snprintf(c->at.tls, sizeof(c->at.tls), "none");
	c->at.verified = false;
	c->at.authenticated = false;
	c->at.policy = c->rd->relay ? "verify" : c->plan.policy;
	c->at.overridden = c->plan.overridden;
}

static void
remote_params(struct remote_conn *c, const struct remote_addr *a,
    struct smtpc_params *p)
{
	struct delivery_method *rd = c->rd;

	memset(p, 0, sizeof(*p));
	p->helo = rd->conf->hostname;
	p->peer_name = c->host;
	p->addr = (const struct sockaddr *)&a->ss;
	p->addrlen = a->len;
	if (rd->relay) {
		p->tls = rd->relay_implicit ? SMTPC_TLS_IMPLICIT :
		    SMTPC_TLS_STARTTLS;
		p->tls_verify = true;
		p->tls_ctx = rd->relay_ctx;
		p->auth_user = rd->auth_user;
		p->auth_pass = rd->auth_pass;
	} else {
		p->tls = c->plain ? SMTPC_TLS_NONE : c->plan.tls;
		p->tls_verify = c->plan.verify;
		p->tls_ctx = rd->mx_ctx;
		if (c->plan.use_dane) {
			/* SNI and the DANE-TA name: the TLSA base domain. */
			p->peer_name = c->dane_base;
			p->tlsa = c->tlsa;
			p->ntlsa = c->ntlsa;
			p->dane_nexthop = c->dest->name;
		}
	}
}

/* Try the next address of the current host (or move to the next host). */
static void
remote_conn_try(struct remote_conn *c)
{
	struct smtpc_params p;
	char err[256];

	while (c->addr_i < c->naddrs && c->tried < REMOTE_ADDRS_MAX) {
		const struct remote_addr *a = &c->addrs[c->addr_i];

		remote_fill_attempt(c, a);
		remote_params(c, a, &p);
		c->s = smtpc_session_new(c->rd->base, &p, remote_smtpc_cb, c,
		    err, sizeof(err));
		if (c->s != NULL)
			return;
		c->rt_other = true;
		remote_status(&c->last, SMTPC_TEMP, 0, "4.3.0", "connect",
		    err);
		c->addr_i++;
		c->tried++;
	}
	remote_conn_next_host(c);
}

/* Send the next unit over the idle session, or say QUIT. */
static void
remote_conn_send_next(struct remote_conn *c)
{
	struct remote_unit *u = c->unit;

	if (u == NULL && c->nmsgs < REMOTE_CONN_MSGS_MAX)
		TAILQ_FOREACH(u, &c->dest->waiting, entry)
			if (u->requiretls == c->requiretls &&
			    u->tls_no == c->tls_no) {
				TAILQ_REMOVE(&c->dest->waiting, u, entry);
				break;
			}
	if (u == NULL) {
		(void)smtpc_session_quit(c->s);
		return;
	}
	c->unit = u;
	if (smtpc_session_send(c->s, &u->msg) == -1) {
		/* The session is ending: the unit waits for another. */
		c->unit = NULL;
		remote_unit_requeue(c->rd, c->dest, u);
		remote_pump_later(c->rd);
		return;
	}
	c->sending = true;
}

/* Copy the session's TLS state into the attempt record. */
static void
remote_note_tls(struct remote_conn *c)
{
	const struct smtpc_tls_info *t = smtpc_session_tls(c->s);

	if (t->active) {
		snprintf(c->at.tls, sizeof(c->at.tls), "%s/%s", t->version,
		    t->cipher);
		c->at.verified = t->verified;
		c->at.authenticated = t->verified && (c->plan.verify ||
		    c->plan.use_dane || c->rd->relay);
	}
}

static void
remote_on_ready(struct remote_conn *c)
{
	remote_note_tls(c);
	remote_rpt_session(c, true);
	remote_conn_send_next(c);
}

static void
remote_on_message(struct remote_conn *c, const struct smtpc_result *res)
{
	struct remote_unit *u = c->unit;

	/* smtpc refused to send it (no REQUIRETLS offered after TLS): keep
	 * the unit, end this session and try the next address or host. */
	if (u != NULL && u->requiretls && res->status.stage != NULL &&
	    strcmp(res->status.stage, "requiretls") == 0) {
		c->last = res->status;
		c->last.klass = SMTPC_TEMP;
		remote_rt_fail(c, res->status.enhanced);
		c->rt_held = true;
		(void)smtpc_session_quit(c->s);
		return;
	}
	c->unit = NULL;
	c->sending = false;
	c->nmsgs++;
	if (u != NULL)
		remote_unit_settle(c->rd, u, &res->status, res->rcpt, &c->at);
	/* A session that failed refuses the next message (it goes back to
	 * the destination's queue) and reports CLOSED next. */
	remote_conn_send_next(c);
}

/* The session is over. A unit still claimed was never sent: the session
 * failed before it could take it, so the next address gets a chance. */
static void
remote_on_closed(struct remote_conn *c, const struct smtpc_result *res)
{
	bool tls_failed = res->status.stage != NULL &&
	    strcmp(res->status.stage, "tls") == 0;
	bool starttls_failed = res->status.stage != NULL &&
	    strcmp(res->status.stage, "starttls") == 0;

	/* A STARTTLS refused (454) or not offered is starttls-not-supported
	 * (RFC 8460 §4.3.2.3). */
	if (tls_failed || starttls_failed)
		remote_rpt_session(c, !tls_failed);
	/* A refused certificate still shows in the log line. */
	if (c->unit != NULL)
		remote_note_tls(c);
	smtpc_session_free(c->s);
	c->s = NULL;
	c->sending = false;
	if (c->unit == NULL) {
		remote_conn_end(c);
		return;
	}
	if (c->rt_held)
		c->rt_held = false;	/* c->last says why already */
	else {
		c->last = res->status;
		if (!c->requiretls)
			;
		else if (tls_failed || starttls_failed)
			/* No TLS session, or no authenticated one: what
			 * RFC 8689 §4.2.1 calls 5.7.10, whether the server
			 * broke the handshake or never offered STARTTLS. */
			remote_rt_fail(c, "5.7.10");
		else
			c->rt_other = true;
	}
	/* RFC 7435 §3: opportunistic security must not fail where clear
	 * text would work; a broken handshake is retried in clear once. */
	if (tls_failed && !c->rd->relay && !c->plain &&
	    c->plan.tls == SMTPC_TLS_OPPORTUNISTIC) {
		c->plain = true;
		remote_conn_try(c);
		return;
	}
	c->plain = false;
	c->addr_i++;
	c->tried++;
	remote_conn_try(c);
}

static void
remote_smtpc_cb(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res, void *arg)
{
	struct remote_conn *c = arg;

	(void)s;
	switch (ev) {
	case SMTPC_EV_READY:
		remote_on_ready(c);
		break;
	case SMTPC_EV_MESSAGE:
		remote_on_message(c, res);
		break;
	case SMTPC_EV_CLOSED:
		remote_on_closed(c, res);
		break;
	}
}

/* --- connections and the pump ------------------------------------------- */

static void
remote_dest_free(struct delivery_method *rd, struct remote_dest *d)
{
	TAILQ_REMOVE(&rd->dests, d, entry);
	free(d->name);
	free(d);
}

/* Release everything of c; a claimed unit goes back to its destination
 * (only remote_free and remote_cancel abandon units). */
static void
remote_conn_clear(struct remote_conn *c)
{
	dns_query_cancel(c->q_mx);
	dns_query_cancel(c->q_a);
	dns_query_cancel(c->q_aaaa);
	dns_query_cancel(c->q_tlsa);
	mtasts_cancel(c->q_sts);
	sts_policy_clear(&c->sts);
	free(c->sts_text);
	smtpc_dane_clear(c->tlsa, c->ntlsa);
	dns_answer_free(c->ans_a);
	dns_answer_free(c->ans_aaaa);
	smtpc_session_free(c->s);
	TAILQ_REMOVE(&c->rd->conns, c, entry);
	c->rd->nconn--;
	c->dest->nconn--;
}

static void
remote_conn_end(struct remote_conn *c)
{
	struct delivery_method *rd = c->rd;

	if (c->unit != NULL) {
		remote_unit_requeue(rd, c->dest, c->unit);
		c->unit = NULL;
	}
	remote_conn_clear(c);
	free(c);
	remote_pump_later(rd);
}

static void
remote_relay_route(struct remote_conn *c)
{
	struct delivery_method *rd = c->rd;

	c->route.nhosts = 1;
	snprintf(c->route.hosts[0].host, sizeof(c->route.hosts[0].host), "%s",
	    rd->relay_host);
	if (rd->relay_addr.len == 0) {
		remote_conn_next_host(c);
		return;
	}
	/* An address literal: no lookup; the certificate must name the
	 * address as an IP SAN (smtpc_ssl_new). */
	c->host_i = 1;
	c->host = rd->relay_host;
	c->addrs[0] = rd->relay_addr;
	c->naddrs = 1;
	remote_conn_try(c);
}

/* A domain literal (RFC 5321 §4.1.3, "[192.0.2.1]", "[IPv6:2001:db8::1]"):
 * deliver to that address, no lookup; false if it is not one. */
static bool
remote_literal_route(struct remote_conn *c, const char *name)
{
	struct remote_addr *a = &c->addrs[0];
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	char ip[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(name);
	uint16_t port = (uint16_t)c->rd->conf->mx_port;

	if (n < 3 || name[n - 1] != ']' || n - 2 >= sizeof(ip))
		return false;
	memcpy(ip, name + 1, n - 2);
	ip[n - 2] = '\0';
	memset(a, 0, sizeof(*a));
	if (strncasecmp(ip, "ipv6:", 5) == 0 &&
	    inet_pton(AF_INET6, ip + 5, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
	} else if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		a->len = sizeof(*sin);
	} else
		return false;
	c->host = NULL;
	/* RFC 8689 §4.2.1: no MX host name to validate (step 2) or to
	 * authenticate the server as (step 4). */
	if (c->requiretls) {
		struct smtpc_status st;

		remote_status(&st, SMTPC_PERM, 0, "5.7.10", "tls-policy",
		    "REQUIRETLS: a server named by an address literal cannot "
		    "be authenticated");
		remote_conn_fail_dest(c, &st);
		return true;
	}
	c->naddrs = 1;
	remote_conn_try(c);
	return true;
}

/* Start a connection for destination d with unit u (called from the pump
 * only, so callbacks never nest inside remote_deliver). */
static void
remote_conn_start(struct delivery_method *rd, struct remote_dest *d,
    struct remote_unit *u)
{
	struct remote_conn *c = xcalloc(1, sizeof(*c));
	struct smtpc_status st;

	c->rd = rd;
	c->dest = d;
	c->unit = u;
	c->pol = rd->relay ? NULL : conf_policy_for(rd->conf, d->name);
	c->requiretls = u->requiretls;
	c->tls_no = u->tls_no;
	/* Until a host's plan is made (address literals never get one). */
	c->plan.policy = "may";
	c->plan.rpt_type = "no-policy-found";
	c->plan.tls = SMTPC_TLS_OPPORTUNISTIC;
	snprintf(c->at.relay, sizeof(c->at.relay), "none");
	snprintf(c->at.tls, sizeof(c->at.tls), "none");
	TAILQ_INSERT_TAIL(&rd->conns, c, entry);
	rd->nconn++;
	d->nconn++;
	if (rd->relay) {
		if (rd->auth_err != NULL) {
			remote_status(&st, SMTPC_TEMP, 0, "4.7.0", "auth",
			    rd->auth_err);
			remote_conn_fail_dest(c, &st);
			return;
		}
		remote_relay_route(c);
		return;
	}
	if (d->name[0] == '[') {
		if (!remote_literal_route(c, d->name)) {
			remote_status(&st, SMTPC_PERM, 553, "5.1.2", "dns",
			    "bad address literal");
			remote_conn_fail_dest(c, &st);
		}
		return;
	}
	/* [policy] sections replace MTA-STS for their destinations. */
	if (rd->mtasts != NULL && c->pol == NULL)
		c->q_sts = mtasts_get(rd->mtasts, d->name, remote_sts_cb, c);
	c->q_mx = dns_query(rd->dns, d->name, DNS_T_MX, REMOTE_DNS_TIMEOUT_MS,
	    remote_mx_cb, c);
	if (c->q_mx == NULL) {
		remote_status(&st, SMTPC_TEMP, 0, "4.4.3", "dns",
		    "cannot start the MX lookup");
		remote_conn_fail_dest(c, &st);
	}
}

/* Start connections for waiting units within the limits; free idle
 * destinations. */
static void
remote_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_method *rd = arg;
	struct remote_dest *d, *next;
	struct remote_unit *u;
	struct delivery *js;

	(void)fd;
	(void)what;
	/* Stopped jobs whose units were all dropped. */
	while ((js = TAILQ_FIRST(&rd->over)) != NULL) {
		TAILQ_REMOVE(&rd->over, js, entry);
		rd->njobs--;
		js->job.end(js->job.arg);
		remote_job_free(js);
	}
	while ((u = TAILQ_FIRST(&rd->looped)) != NULL) {
		TAILQ_REMOVE(&rd->looped, u, entry);
		remote_unit_settle(rd, u, &u->loop, NULL, NULL);
	}
	for (d = TAILQ_FIRST(&rd->dests); d != NULL; d = next) {
		while (d->nconn < REMOTE_DEST_CONN_MAX &&
		    rd->nconn < REMOTE_CONN_MAX &&
		    (u = TAILQ_FIRST(&d->waiting)) != NULL) {
			TAILQ_REMOVE(&d->waiting, u, entry);
			remote_conn_start(rd, d, u);
		}
		/* remote_conn_start may settle units but never frees d. */
		next = TAILQ_NEXT(d, entry);
		if (d->nconn == 0 && TAILQ_EMPTY(&d->waiting))
			remote_dest_free(rd, d);
	}
}

/* --- jobs ------------------------------------------------------------------- */

static struct remote_dest *
remote_dest_get(struct delivery_method *rd, const char *name)
{
	struct remote_dest *d;

	TAILQ_FOREACH(d, &rd->dests, entry)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	TAILQ_INIT(&d->waiting);
	TAILQ_INSERT_TAIL(&rd->dests, d, entry);
	return d;
}

/* The smtpc_message of a unit, from the envelope. */
static void
remote_unit_message(struct remote_unit *u)
{
	const struct delivery_job *j = &u->js->job;
	const struct envelope *env = j->env;

	u->rcpts = xcalloc(u->n, sizeof(*u->rcpts));
	for (size_t k = 0; k < u->n; k++) {
		const struct envelope_rcpt *rc = &env->rcpts[j->rcpts[u->pos[k]]];

		u->rcpts[k].address = rc->address;
		u->rcpts[k].orcpt = rc->orcpt;
		u->rcpts[k].notify = rc->notify;
	}
	u->msg.qid = env->id;
	u->msg.mail_from = u->mail_from ? u->mail_from :
	    env->mail_from ? env->mail_from : "";
	u->msg.rcpts = u->rcpts;
	u->msg.nrcpts = u->n;
	u->msg.fd = j->msg_fd;
	u->msg.len = env->size;
	u->msg.prepend = u->prepend ? u->prepend : env->prepend;
	u->msg.prepend_len = u->msg.prepend ? strlen(u->msg.prepend) : 0;
	u->msg.size = env->size + u->msg.prepend_len;
	u->msg.body = env->body;
	u->msg.smtputf8 = env->smtputf8;
	u->msg.ret = env->ret;
	u->msg.envid = env->envid;
	u->msg.requiretls = env->requiretls;
}

/* The alias address rc was forwarded for (RCPT TO named it and alias
 * expansion made rc->address of it), or NULL. */
static const char *
remote_forwarded_for(const struct envelope_rcpt *rc)
{
	if (rc->orig == NULL || *rc->orig == '\0' ||
	    strcasecmp(rc->orig, rc->address) == 0)
		return NULL;
	return rc->orig;
}

/*
 * The message's header section into b (at most its bound): read until the
 * empty line that ends it. A read error leaves what was read; sending the
 * message meets the error again and reports it.
 */
static void
remote_read_head(int fd, uint64_t size, struct buf *b)
{
	char chunk[8192];
	uint64_t off = 0;
	ssize_t n;

	while (b->len < RFC5322_HEADERS_MAX_SECTION &&
	    (n = spool_msg_pread(fd, size, chunk, sizeof(chunk), off)) > 0) {
		size_t from = b->len > 3 ? b->len - 3 : 0;
		size_t take = (size_t)n;

		if (take > RFC5322_HEADERS_MAX_SECTION - b->len)
			take = RFC5322_HEADERS_MAX_SECTION - b->len;
		if (buf_append(b, chunk, take) == -1)
			return;
		off += take;
		if (memmem(b->data + from, b->len - from, "\n\r\n", 3) ||
		    memmem(b->data + from, b->len - from, "\n\n", 2))
			return;
	}
}

/*
 * Loop checks before anything is sent (msg/hops.h): too many Received
 * fields refuse every recipient; a recipient forwarded for an alias the
 * message already carries a Delivered-To field for is refused alone.
 * looped[i] gets the refusal of position i (code 0: none).
 */
static void
remote_loop_check(const struct delivery_method *rd,
    const struct delivery_job *j, const struct buf *head,
    struct smtpc_status *looped)
{
	const struct envelope *env = j->env;
	const char *pre = env->prepend ? env->prepend : "";
	unsigned max = rd->conf->max_hops;
	char text[SMTPC_TEXT_MAX];
	bool too_many;

	too_many = hops_too_many(pre, strlen(pre), head->data, head->len, max,
	    NULL);
	for (size_t i = 0; i < j->nrcpts; i++) {
		const struct envelope_rcpt *rc = &env->rcpts[j->rcpts[i]];
		const char *alias = remote_forwarded_for(rc);

		memset(&looped[i], 0, sizeof(looped[i]));
		if (too_many) {
			remote_fmt(text, sizeof(text), "Too many hops: more "
			    "than %u Received fields, mail loop suspected "
			    "(RFC 5321 6.3)", max);
			remote_status(&looped[i], SMTPC_PERM, 554, "5.4.6",
			    "loop", text);
		} else if (alias != NULL && hops_delivered_to(head->data,
		    head->len, alias)) {
			remote_fmt(text, sizeof(text), "Mail forwarding loop "
			    "for %s: the message was already delivered to it "
			    "(Delivered-To)", alias);
			remote_status(&looped[i], SMTPC_PERM, 554, "5.4.6",
			    "loop", text);
		}
	}
}

/* Lower-cased destination name of recipient position i into out. */
static void
remote_dest_name(const struct delivery_method *rd,
    const struct delivery_job *j, size_t i, char *out, size_t outlen)
{
	const char *dom;
	size_t k;

	if (rd->relay) {
		snprintf(out, outlen, "%s", REMOTE_RELAY_DEST);
		return;
	}
	dom = addr_text_domain(j->env->rcpts[j->rcpts[i]].address);
	for (k = 0; dom[k] != '\0' && k + 1 < outlen; k++)
		out[k] = (char)tolower((unsigned char)dom[k]);
	out[k] = '\0';
	if (k > 0 && out[k - 1] == '.')
		out[k - 1] = '\0';
}

/* The alias of recipient position i (see remote_forwarded_for), or "". */
static const char *
remote_alias_of(const struct delivery_job *j, size_t i)
{
	const char *a = remote_forwarded_for(&j->env->rcpts[j->rcpts[i]]);

	return a ? a : "";
}

/* A message forwarded for an alias names it in Delivered-To, above the
 * envelope's prepend block, so that the message is recognised if the
 * forwarding brings it back (remote_loop_check). The ARC set sealed for
 * forwarding (smtpd_arc.c), if any, goes on top: only these copies carry
 * it. */
static void
remote_unit_alias(struct remote_unit *u, const char *alias)
{
	const char *pre = u->js->job.env->prepend;
	const char *arc = u->js->job.env->arc;
	struct buf b;

	if (*alias == '\0')
		return;
	buf_init(&b, SIZE_MAX);
	(void)buf_append_str(&b, arc ? arc : "");
	/* An alias with a control byte is never written (the envelope's
	 * addresses are checked when received; this keeps the field
	 * whole whatever the envelope file holds). */
	if (hops_trace_fields(&b, NULL, alias) == 0) {
		(void)buf_append_str(&b, pre ? pre : "");
		u->prepend = buf_take(&b);
	}
	buf_clear(&b);
}

/* The SRS key (db_secret_get "srs"), read once; NULL if the store cannot
 * give it. With a relayhost the engine has no store handle: one is opened
 * for the read. */
static const uint8_t *
remote_srs_key(struct delivery_method *rd)
{
	struct db *db = rd->db;
	char path[4096], err[256];

	if (rd->srs_key_ok)
		return rd->srs_key;
	if (db == NULL) {
		snprintf(path, sizeof(path), "%s/sealmail.db",
		    rd->conf->data_dir);
		if ((db = db_open(path, true, NULL, err, sizeof(err))) ==
		    NULL) {
			log_warn("remote srs key unavailable: %s", err);
			return NULL;
		}
	}
	if (db_secret_get(db, "srs", rd->srs_key, sizeof(rd->srs_key)) ==
	    DB_OK)
		rd->srs_key_ok = true;
	else
		log_warn("remote srs key unavailable: %s", db_error(db));
	if (db != rd->db)
		db_close(db);
	return rd->srs_key_ok ? rd->srs_key : NULL;
}

/*
 * A copy forwarded for alias (remote_forward.h): refused when the message
 * failed DMARC with p=reject (permanent: it bounces), deferred when the
 * SRS key cannot be read; else its sender is rewritten where SRS applies.
 * -1 with u->loop set when the unit is refused.
 */
static int
remote_unit_forward(struct delivery_method *rd, struct remote_unit *u,
    const char *alias)
{
	const struct envelope *env = u->js->job.env;
	const uint8_t *key = NULL;
	char text[SMTPC_TEXT_MAX], from[LIMIT_PATH + 1];
	char q[LOG_QUOTE_SIZE(LIMIT_PATH)], qa[LOG_QUOTE_SIZE(LIMIT_PATH)];
	enum srs_result why;

	if (*alias == '\0')
		return 0;
	if (remote_forward_refused(env, text, sizeof(text))) {
		remote_status(&u->loop, SMTPC_PERM, 550, "5.7.1", "forward",
		    text);
		return -1;
	}
	if (rd->conf->forward_srs && (key = remote_srs_key(rd)) == NULL) {
		remote_status(&u->loop, SMTPC_TEMP, 451, "4.3.0", "forward",
		    "SRS key unavailable in the store");
		return -1;
	}
	if (remote_forward_sender(rd->conf, key, env->mail_from, alias,
	    (long long)time(NULL), from, sizeof(from), &why)) {
		u->mail_from = xstrdup(from);
		log_info("qid=%s remote srs alias=%s mail-from=%s", env->id,
		    log_quote(alias, strlen(alias), qa, sizeof(qa)),
		    log_quote(from, strlen(from), q, sizeof(q)));
	} else if (why != SRS_OK)
		log_warn("qid=%s remote srs not applied alias=%s: %s", env->id,
		    log_quote(alias, strlen(alias), qa, sizeof(qa)),
		    srs_result_text(why));
	return 0;
}

static struct delivery *
remote_start(struct delivery_method *rd, const struct delivery_job *job)
{
	struct delivery *js;
	char (*names)[LIMIT_DOMAIN + 1];
	struct smtpc_status *looped;
	size_t n = job->nrcpts;
	bool *taken, requiretls, tls_no;
	struct buf head;

	js = xcalloc(1, sizeof(*js));
	js->rd = rd;
	js->job = *job;
	js->job.rcpts = xreallocarray(NULL, n + 1, sizeof(size_t));
	memcpy((size_t *)js->job.rcpts, job->rcpts, n * sizeof(size_t));
	rd->njobs++;
	if (n == 0) {		/* against the contract: ends at once */
		js->over = true;
		TAILQ_INSERT_TAIL(&rd->over, js, entry);
		remote_pump_later(rd);
		return js;
	}
	TAILQ_INSERT_TAIL(&rd->jobs, js, entry);
	names = xcalloc(n, sizeof(*names));
	taken = xcalloc(n, sizeof(*taken));
	looped = xcalloc(n, sizeof(*looped));
	buf_init(&head, RFC5322_HEADERS_MAX_SECTION);
	remote_read_head(js->job.msg_fd, job->env->size, &head);
	remote_loop_check(rd, &js->job, &head, looped);
	/* RFC 8689 §4.2.1 is for messages with a return path; a bounce of a
	 * REQUIRETLS message goes anyway (§5, smtpc sends the flag where
	 * it can). */
	requiretls = job->env->requiretls && job->env->mail_from != NULL &&
	    job->env->mail_from[0] != '\0';
	tls_no = tlsrequired_overrides_policy(job->env->requiretls, head.data,
	    head.len);
	buf_clear(&head);
	for (size_t i = 0; i < n; i++)
		remote_dest_name(rd, &js->job, i, names[i], sizeof(names[i]));
	/* One unit per destination and alias: its recipients in one
	 * transaction (each alias's copy names it, and has the one sender
	 * SRS gives it for that alias); a looping recipient is a unit of its
	 * own, refused from the pump, as is a forwarded copy that may not
	 * go. */
	for (size_t i = 0; i < n; i++) {
		struct remote_unit *u;
		const char *alias = remote_alias_of(&js->job, i);

		if (taken[i])
			continue;
		u = xcalloc(1, sizeof(*u));
		u->js = js;
		u->pos = xcalloc(n, sizeof(*u->pos));
		js->nunits++;
		if (looped[i].code != 0) {
			taken[i] = true;
			u->pos[u->n++] = i;
			u->loop = looped[i];
			TAILQ_INSERT_TAIL(&rd->looped, u, entry);
			continue;
		}
		for (size_t k = i; k < n; k++)
			if (!taken[k] && looped[k].code == 0 &&
			    strcmp(names[k], names[i]) == 0 &&
			    strcmp(remote_alias_of(&js->job, k), alias) == 0) {
				taken[k] = true;
				u->pos[u->n++] = k;
			}
		u->requiretls = requiretls;
		u->tls_no = tls_no;
		if (remote_unit_forward(rd, u, alias) == -1) {
			TAILQ_INSERT_TAIL(&rd->looped, u, entry);
			continue;
		}
		remote_unit_alias(u, alias);
		remote_unit_message(u);
		TAILQ_INSERT_TAIL(&remote_dest_get(rd, names[i])->waiting, u,
		    entry);
	}
	free(looped);
	free(names);
	free(taken);
	remote_pump_later(rd);
	return js;
}

/* Take js's units out of the queue q (a destination's or rd->looped):
 * dropped (stop: nothing new is begun) or freed (cancel). */
static void
remote_job_unqueue(struct delivery *js, struct remote_units *q, bool cancel)
{
	struct remote_unit *u, *next;

	for (u = TAILQ_FIRST(q); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (u->js != js)
			continue;
		TAILQ_REMOVE(q, u, entry);
		if (cancel)
			remote_unit_free(u);
		else
			remote_unit_drop(js->rd, u);
	}
}

/* Units not yet on a connection (loop refusals included: nothing is
 * settled for a stopped job that was not under way) are not begun; the
 * units connections have claimed finish and are reported. */
static void
remote_stop(struct delivery *js)
{
	struct delivery_method *rd = js->rd;
	struct remote_dest *d;

	if (js->stopped || js->over)
		return;
	js->stopped = true;
	/* A drop may put js on rd->over: nunits says when. */
	remote_job_unqueue(js, &rd->looped, false);
	TAILQ_FOREACH(d, &rd->dests, entry)
		if (!js->over)
			remote_job_unqueue(js, &d->waiting, false);
}

/* No callback after this. A connection that has claimed a unit of js
 * forgets it: one sending it (the message reads the caller's envelope and
 * fd, which go now) is closed, the others carry on with their
 * destination's other units. */
static void
remote_cancel(struct delivery *js)
{
	struct delivery_method *rd = js->rd;
	struct remote_dest *d;
	struct remote_conn *c, *next;

	if (js->over)
		TAILQ_REMOVE(&rd->over, js, entry);
	else {
		TAILQ_REMOVE(&rd->jobs, js, entry);
		remote_job_unqueue(js, &rd->looped, true);
		TAILQ_FOREACH(d, &rd->dests, entry)
			remote_job_unqueue(js, &d->waiting, true);
		for (c = TAILQ_FIRST(&rd->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (c->unit == NULL || c->unit->js != js)
				continue;
			remote_unit_free(c->unit);
			c->unit = NULL;
			if (c->sending)
				remote_conn_end(c);
		}
	}
	rd->njobs--;
	remote_job_free(js);
}

/* --- setup ------------------------------------------------------------------ */

/* Split conf->relayhost ("smtps://HOST[:PORT]", "smtp://[V6]:PORT"). The
 * configuration parser has checked the syntax already. */
static int
remote_parse_relay(struct delivery_method *rd, const char *v, char *err,
    size_t errlen)
{
	const char *port;
	struct sockaddr_in *sin = (struct sockaddr_in *)&rd->relay_addr.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&rd->relay_addr.ss;
	bool v6;

	rd->relay = true;
	rd->relay_implicit = strncmp(v, "smtps://", 8) == 0;
	rd->relay_port = rd->relay_implicit ? 465 : 587;
	if (hostport_split(v + (rd->relay_implicit ? 8 : 7), rd->relay_host,
	    sizeof(rd->relay_host), &port, &v6) == -1) {
		snprintf(err, errlen, "bad relayhost");
		return -1;
	}
	if (port != NULL)
		rd->relay_port = (unsigned)strtoul(port, NULL, 10);
	memset(&rd->relay_addr, 0, sizeof(rd->relay_addr));
	if (inet_pton(AF_INET, rd->relay_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)rd->relay_port);
		rd->relay_addr.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, rd->relay_host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)rd->relay_port);
		rd->relay_addr.len = sizeof(*s6);
	}
	return 0;
}

/* Read "user:password" (first line) of relayhost_credentials. A problem
 * is kept in auth_err: relayhost deliveries then defer with it. */
static void
remote_read_credentials(struct delivery_method *rd, const char *path)
{
	char line[REMOTE_CRED_LINE + 2], *colon;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "re")) == NULL) {
		rd->auth_err = xasprintf("cannot read relayhost_credentials "
		    "%s: %s", path, strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	colon = strchr(line, ':');
	if (colon == NULL || colon == line || colon[1] == '\0' ||
	    (size_t)(colon - line) > LIMIT_SASL_FIELD ||
	    strlen(colon + 1) > LIMIT_SASL_FIELD)
		rd->auth_err = xasprintf("relayhost_credentials %s: expected "
		    "one line user:password", path);
	else {
		*colon = '\0';
		rd->auth_user = xstrdup(line);
		rd->auth_pass = xstrdup(colon + 1);
	}
	explicit_bzero(line, sizeof(line));
}

static int
remote_setup_tls(struct delivery_method *rd, char *err, size_t errlen)
{
	const struct conf *c = rd->conf;

	if (rd->relay) {
		rd->relay_ctx = smtpc_tls_ctx_new(c->relayhost_ca, err,
		    errlen);
		return rd->relay_ctx ? 0 : -1;
	}
	rd->mx_ctx = smtpc_tls_ctx_new(c->tls_ca, err, errlen);
	if (rd->mx_ctx == NULL)
		return -1;
	if (SSL_CTX_dane_enable(rd->mx_ctx) <= 0) {
		snprintf(err, errlen, "cannot enable DANE in OpenSSL");
		return -1;
	}
	return 0;
}

/* The store (MTA-STS policy cache, TLS results) and the policy source.
 * Like the SMTP workers, the runner writes here without fsync: a policy
 * lost in a crash is fetched again. */
static int
remote_setup_store(struct delivery_method *rd, char *err, size_t errlen)
{
	const struct conf *c = rd->conf;
	struct mtasts_params p;
	char path[4096];

	snprintf(path, sizeof(path), "%s/sealmail.db", c->data_dir);
	if ((rd->db = db_open(path, true, NULL, err, errlen)) == NULL)
		return -1;
	db_relaxed_durability(rd->db);
	if ((rd->flush_ev = evtimer_new(rd->base, remote_flush_cb, rd)) ==
	    NULL) {
		snprintf(err, errlen, "cannot create an event");
		return -1;
	}
	if (!c->mta_sts)
		return 0;
	memset(&p, 0, sizeof(p));
	p.ca_file = c->tls_ca;
	p.allow_private = c->fetch_private_addresses;
	p.dns_timeout_ms = REMOTE_DNS_TIMEOUT_MS;
	p.fetch_timeout_ms = REMOTE_STS_FETCH_TIMEOUT_MS;
	rd->mtasts = mtasts_new(rd->base, rd->dns, rd->db, &p, err, errlen);
	return rd->mtasts ? 0 : -1;
}

static void remote_free(struct delivery_method *);

static struct delivery_method *
remote_new(const struct delivery_setup *setup, char *err, size_t errlen)
{
	struct event_base *base = setup->base;
	const struct conf *conf = setup->conf;
	struct delivery_method *rd = xcalloc(1, sizeof(*rd));

	rd->base = base;
	rd->conf = conf;
	TAILQ_INIT(&rd->jobs);
	TAILQ_INIT(&rd->over);
	TAILQ_INIT(&rd->looped);
	TAILQ_INIT(&rd->dests);
	TAILQ_INIT(&rd->conns);
	if (conf->relayhost != NULL && *conf->relayhost != '\0') {
		if (remote_parse_relay(rd, conf->relayhost, err, errlen) == -1)
			goto fail;
		if (conf->relayhost_credentials != NULL &&
		    *conf->relayhost_credentials != '\0')
			remote_read_credentials(rd,
			    conf->relayhost_credentials);
	}
	if (remote_setup_tls(rd, err, errlen) == -1)
		goto fail;
	if ((rd->dns = dns_resolver_new(base, conf, err, errlen)) == NULL)
		goto fail;
	if (!rd->relay && remote_setup_store(rd, err, errlen) == -1)
		goto fail;
	if ((rd->pump_ev = evtimer_new(base, remote_pump_cb, rd)) == NULL) {
		snprintf(err, errlen, "cannot create an event");
		goto fail;
	}
	return rd;
fail:
	remote_free(rd);
	return NULL;
}

static void
remote_free(struct delivery_method *rd)
{
	struct remote_conn *c;
	struct remote_dest *d;
	struct remote_unit *u;
	struct delivery *js;

	if (rd == NULL)
		return;
	while ((c = TAILQ_FIRST(&rd->conns)) != NULL) {
		if (c->unit != NULL)
			remote_unit_free(c->unit);
		remote_conn_clear(c);
		free(c);
	}
	while ((d = TAILQ_FIRST(&rd->dests)) != NULL) {
		while ((u = TAILQ_FIRST(&d->waiting)) != NULL) {
			TAILQ_REMOVE(&d->waiting, u, entry);
			remote_unit_free(u);
		}
		remote_dest_free(rd, d);
	}
	while ((u = TAILQ_FIRST(&rd->looped)) != NULL) {
		TAILQ_REMOVE(&rd->looped, u, entry);
		remote_unit_free(u);
	}
	while ((js = TAILQ_FIRST(&rd->jobs)) != NULL) {
		TAILQ_REMOVE(&rd->jobs, js, entry);
		remote_job_free(js);
	}
	while ((js = TAILQ_FIRST(&rd->over)) != NULL) {
		TAILQ_REMOVE(&rd->over, js, entry);
		remote_job_free(js);
	}
	if (rd->pump_ev)
		event_free(rd->pump_ev);
	/* The policy source borrows the resolver and the store. */
	mtasts_free(rd->mtasts);
	dns_resolver_free(rd->dns);
	if (rd->flush_ev)
		event_free(rd->flush_ev);
	db_close(rd->db);		/* writes pending TLS results */
	SSL_CTX_free(rd->mx_ctx);
	SSL_CTX_free(rd->relay_ctx);
	if (rd->auth_pass != NULL)
		explicit_bzero(rd->auth_pass, strlen(rd->auth_pass));
	free(rd->auth_pass);
	free(rd->auth_user);
	free(rd->auth_err);
	OPENSSL_cleanse(rd->srs_key, sizeof(rd->srs_key));
	free(rd);
}

const struct delivery_ops remote_delivery_ops = {
	.name = "smtp",
	.new = remote_new,
	.free = remote_free,
	.start = remote_start,
	.stop = remote_stop,
	.cancel = remote_cancel,
};
