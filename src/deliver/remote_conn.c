/* SPDX-License-Identifier: ISC */
/*
 * A connection of the remote method (remote_internal.h) to one
 * destination: it resolves the route (MX records and MTA-STS, or the
 * relayhost, or an address literal), decides each host's transport
 * security (DANE, MTA-STS, [policy]: remote_policy.h) and records its TLS
 * results (RFC 8460), tries addresses one after the other with an
 * smtpc_session, sends the unit it claimed and then further waiting units
 * of its destination. A connection that cannot reach its destination at
 * all (DNS failure, null MX, every address failed) settles its unit and
 * every unit still waiting for the destination with the same status, as
 * they would meet the same fate. Untrusted input: DNS answers (decoded
 * and bounded by dns_rr.c, host names re-checked by smtpc) and server
 * replies (parsed by smtpc_reply), which end up in result texts.
 */
#include "deliver/remote_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "deliver/mtasts.h"
#include "store/db.h"

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
	remote_store_tls(c->rd, &r);
	if (!evtimer_pending(c->rd->flush_ev, NULL)) {
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

void
remote_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_method *rd = arg;

	(void)fd;
	(void)what;
	remote_store_flush(rd);
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

	c->sending = false;
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

/* Release everything of c; a claimed unit goes back to its destination
 * (only remote_free and remote_cancel abandon units). */
void
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

void
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
void
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

