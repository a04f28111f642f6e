/* SPDX-License-Identifier: ISC */
/*
 * DNSBL lookups of mx clients ([server] dnsbl): started when the client
 * connects (they run while it is greeted, during the pregreet wait), on
 * the worker's asynchronous resolver, through a per-worker cache that
 * keeps each verdict for its TTL. A listed client is refused at RCPT
 * (550 5.7.1 naming the zone; the log shows who it tried to reach), except
 * for postmaster, which stays reachable. An RCPT that comes before the
 * answers waits for them (the lookups have a deadline). Failures and the
 * lists' error codes count as "not listed" (fail open) and are logged.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "dns/dnsbl.h"
#include "smtpd/smtpd_internal.h"

/* A list that does not answer within this is taken as "not listed". */
#define SMTPD_DNSBL_TIMEOUT_MS	5000
/* The cache: direct-mapped, one verdict per slot (a bounded memory per
 * worker, 40 KiB); verdicts live for the answer's TTL within these. */
#define SMTPD_DNSBL_CACHE	1024
#define SMTPD_DNSBL_TTL_MIN	10
#define SMTPD_DNSBL_TTL_MAX	3600
#define SMTPD_DNSBL_TTL_NEG	300	/* NXDOMAIN: no SOA minimum here */
#define SMTPD_DNSBL_TTL_ERR	60	/* failures, error codes */

struct smtpd_dnsbl_entry {
	uint8_t		 addr[16];
	uint8_t		 zone;		/* index + 1; 0: empty */
	uint8_t		 verdict;	/* enum dnsbl_verdict */
	uint32_t	 code;
	long long	 expires;
};

static struct smtpd_dnsbl_entry smtpd_dnsbl_cache[SMTPD_DNSBL_CACHE];
/* The cache belongs to one configuration (zone indexes); a reload
 * brings a new one, which starts the cache again. */
static const struct conf *smtpd_dnsbl_conf;

struct smtpd_dnsbl;

struct smtpd_dnsbl_q {
	struct smtpd_dnsbl	*d;
	unsigned		 zone;
	struct dns_query	*q;	/* NULL once answered */
};

struct smtpd_dnsbl {
	struct smtpd_session	*s;
	unsigned		 pending;
	bool			 waiting;	/* an RCPT waits for us */
	int			 listed;	/* zone index, -1: none */
	uint32_t		 code;
	struct smtpd_dnsbl_q	 q[CONF_MAX_DNSBL];
};

/* The client's address as 16 bytes (IPv4 as mapped) for the cache. */
static void
smtpd_dnsbl_key(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(out, ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr, 16);
	} else {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	}
}

static struct smtpd_dnsbl_entry *
smtpd_dnsbl_slot(const uint8_t addr[16], unsigned zone)
{
	uint32_t h = 2166136261u ^ zone;

	for (size_t i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return &smtpd_dnsbl_cache[h % SMTPD_DNSBL_CACHE];
}

static const struct smtpd_dnsbl_entry *
smtpd_dnsbl_cached(const uint8_t addr[16], unsigned zone)
{
	const struct smtpd_dnsbl_entry *e = smtpd_dnsbl_slot(addr, zone);

	if (e->zone != zone + 1 || memcmp(e->addr, addr, 16) != 0 ||
	    e->expires <= (long long)time(NULL))
		return NULL;
	return e;
}

static void
smtpd_dnsbl_store(const uint8_t addr[16], unsigned zone,
    enum dnsbl_verdict v, uint32_t code, unsigned ttl)
{
	struct smtpd_dnsbl_entry *e = smtpd_dnsbl_slot(addr, zone);

	memcpy(e->addr, addr, 16);
	e->zone = (uint8_t)(zone + 1);
	e->verdict = (uint8_t)v;
	e->code = code;
	e->expires = (long long)time(NULL) + ttl;
}

static void
smtpd_dnsbl_note(struct smtpd_dnsbl *d, unsigned zone, enum dnsbl_verdict v,
    uint32_t code)
{
	if (v == DNSBL_LISTED && d->listed < 0) {
		d->listed = (int)zone;
		d->code = code;
	}
}

static void
smtpd_dnsbl_answer(struct dns_answer *ans, void *arg)
{
	struct smtpd_dnsbl_q *q = arg;
	struct smtpd_dnsbl *d = q->d;
	struct smtpd_session *s = d->s;
	const struct conf_dnsbl *z = &s->ctx->conf->dnsbl[q->zone];
	uint32_t a[DNS_RR_MAX], code = 0;
	size_t n = 0;
	unsigned ttl = SMTPD_DNSBL_TTL_MAX;
	enum dnsbl_verdict v = DNSBL_NOT_LISTED;
	uint8_t key[16];
	char ctext[INET_ADDRSTRLEN];

	q->q = NULL;
	d->pending--;
	if (ans->rcode == DNS_RCODE_NOERROR) {
		for (size_t i = 0; i < ans->nrr; i++) {
			if (ans->rr[i].type != DNS_T_A)
				continue;
			const uint8_t *b = ans->rr[i].u.a;
			a[n++] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
			    (uint32_t)b[2] << 8 | b[3];
			if (ans->rr[i].ttl < ttl)
				ttl = ans->rr[i].ttl;
		}
		v = dnsbl_classify(z, a, n, &code);
		if (n == 0)
			ttl = SMTPD_DNSBL_TTL_NEG;
	} else if (ans->rcode == DNS_RCODE_NXDOMAIN) {
		ttl = SMTPD_DNSBL_TTL_NEG;
	} else {
		log_info("sid=%s dnsbl zone=%s addr=%s lookup failed (%s): "
		    "taken as not listed", s->sid, z->zone, s->addr,
		    dns_rcode_name(ans->rcode));
		v = DNSBL_ERROR;
		ttl = SMTPD_DNSBL_TTL_ERR;
	}
	if (v == DNSBL_ERROR && ans->rcode == DNS_RCODE_NOERROR) {
		struct in_addr in = { htonl(code) };

		inet_ntop(AF_INET, &in, ctext, sizeof(ctext));
		log_warn("sid=%s dnsbl zone=%s addr=%s answer=%s: an error "
		    "code of the list, not a listing (taken as not listed)",
		    s->sid, z->zone, s->addr, ctext);
		ttl = SMTPD_DNSBL_TTL_ERR;
	}
	if (ttl < SMTPD_DNSBL_TTL_MIN)
		ttl = SMTPD_DNSBL_TTL_MIN;
	smtpd_dnsbl_key((const struct sockaddr *)&s->peer, key);
	smtpd_dnsbl_store(key, q->zone, v, code, ttl);
	dns_answer_free(ans);
	smtpd_dnsbl_note(d, q->zone, v, code);
	if (d->pending == 0 && d->waiting) {
		d->waiting = false;
		smtpd_resume(s);
	}
}

void
smtpd_dnsbl_start(struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;
	struct smtpd_dnsbl *d = NULL;
	uint8_t key[16];
	char name[DNS_NAME_TEXT_MAX];

	if (c->ndnsbl == 0 || s->ctx->dns == NULL || s->local ||
	    s->trusted || s->lst->role != CONF_ROLE_MX)
		return;
	if (smtpd_dnsbl_conf != c) {
		memset(smtpd_dnsbl_cache, 0, sizeof(smtpd_dnsbl_cache));
		smtpd_dnsbl_conf = c;
	}
	smtpd_dnsbl_key((const struct sockaddr *)&s->peer, key);
	for (unsigned i = 0; i < c->ndnsbl; i++) {
		const struct smtpd_dnsbl_entry *e = smtpd_dnsbl_cached(key, i);

		if (e != NULL && e->verdict != DNSBL_LISTED)
			continue;
		if (d == NULL) {
			d = xcalloc(1, sizeof(*d));
			d->s = s;
			d->listed = -1;
			s->dnsbl = d;
		}
		if (e != NULL) {
			smtpd_dnsbl_note(d, i, DNSBL_LISTED, e->code);
			continue;
		}
		if (dnsbl_query_name((const struct sockaddr *)&s->peer,
		    c->dnsbl[i].zone, name, sizeof(name)) == -1)
			continue;
		d->q[i].d = d;
		d->q[i].zone = i;
		d->q[i].q = dns_query(s->ctx->dns, name, DNS_T_A,
		    SMTPD_DNSBL_TIMEOUT_MS, smtpd_dnsbl_answer, &d->q[i]);
		if (d->q[i].q != NULL)
			d->pending++;
	}
	/* Nothing listed and nothing to wait for: no state to keep. */
	if (d != NULL && d->pending == 0 && d->listed < 0)
		smtpd_dnsbl_free(s);
}

static bool
smtpd_dnsbl_is_postmaster(struct smtpd_session *s,
    const struct smtpd_rcpt_args *ra)
{
	return ra->postmaster || (strcasecmp(ra->to.local, "postmaster") ==
	    0 && conf_is_local_domain(s->ctx->conf, ra->to.domain));
}

bool
smtpd_dnsbl_rcpt(struct smtpd_session *s, const struct smtpd_rcpt_args *ra,
    const char *arg, size_t len)
{
	struct smtpd_dnsbl *d = s->dnsbl;
	char to[LIMIT_PATH + 1] = "", q[LOG_QUOTE_SIZE(LIMIT_PATH)];

	if (d == NULL || smtpd_dnsbl_is_postmaster(s, ra))
		return false;
	if (d->pending > 0) {
		/* Read the RCPT again once the answers are in. */
		struct evbuffer *in = bufferevent_get_input(s->bev);

		evbuffer_prepend(in, "\r\n", 2);
		evbuffer_prepend(in, arg, len);
		evbuffer_prepend(in, "RCPT ", 5);
		d->waiting = true;
		smtpd_wait(s);
		return true;
	}
	if (d->listed < 0)
		return false;
	const char *zone = s->ctx->conf->dnsbl[d->listed].zone;
	struct in_addr in = { htonl(d->code) };
	char ctext[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &in, ctext, sizeof(ctext));
	(void)addr_to_text(&ra->to, to, sizeof(to));
	log_info("sid=%s qid=%s smtp rcpt to=%s result=dnsbl zone=%s "
	    "addr=%s answer=%s", s->sid, s->qid, log_quote(to, strlen(to), q,
	    sizeof(q)), zone, s->addr, ctext);
	metrics_rejected(METRICS_REJECT_DNSBL);
	smtpd_reply(s, "550 5.7.1 Service unavailable; client [%s] blocked "
	    "using %s", s->addr, zone);
	return true;
}

void
smtpd_dnsbl_free(struct smtpd_session *s)
{
	struct smtpd_dnsbl *d = s->dnsbl;

	if (d == NULL)
		return;
	for (unsigned i = 0; i < CONF_MAX_DNSBL; i++)
		dns_query_cancel(d->q[i].q);
	free(d);
	s->dnsbl = NULL;
}
