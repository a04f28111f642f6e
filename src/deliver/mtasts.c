/* SPDX-License-Identifier: ISC */
/*
 * MTA-STS policy discovery and cache on the runner's loop (see mtasts.h).
 * One entry per Policy Domain holds the cached policy and the lookup and
 * fetch in flight; requests wait on the entry. Only the loop thread touches
 * entries; a fetch job owns copies of everything it reads.
 */
#include "deliver/mtasts.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "store/db.h"
#include "sts/sts_fetch.h"
#include "sts/sts_policy.h"
#include "sts/sts_record.h"

#define MTASTS_THREADS		2
#define DAY			86400
/* RFC 8461 §3.3: after a failed fetch, wait five minutes per id. */
#define FETCH_RETRY_SECS	300
#define DOMAIN_MAX		253
/* §10.2: policies are refreshed in the background even for domains that
 * get no mail; the store is swept this often. */
#define SWEEP_SECS		(6 * 3600)

struct mtasts_entry;

struct mtasts_req {
	struct mtasts		*m;
	struct mtasts_entry	*e;		/* NULL: answered by ev */
	mtasts_cb		*cb;
	void			*arg;
	struct mtasts_req	*next, **prevp;	/* in a waiter list */
	struct event		*ev;		/* answer without an entry */
	char			 detail[96];	/* for that answer */
};

/* A fetch on the pool: copies of all it needs, and its output. */
struct mtasts_job {
	struct mtasts_entry	*e;		/* loop thread only */
	char			*domain;
	char			**addrs;
	size_t			 naddrs;
	struct sts_fetch_params	 params;	/* ca_file borrowed from m,
						 * which outlives the job */
	struct sts_fetch_out	 out;
};

/* The store's row of a domain, read where the store is used
 * (mtasts_params.store); its result, on the loop. */
struct mtasts_load {
	struct mtasts_entry	*e;		/* loop thread only; NULL once
						 * the entry went */
	struct db		*db;
	char			*domain;
	bool			 found;
	struct db_sts_row	 row;
};

struct mtasts_entry {
	struct mtasts		*m;
	struct mtasts_entry	*next;
	char			*domain;
	/* The store's row is being read: the TXT answer waits for it. */
	bool			 loading;
	struct mtasts_load	*load;
	struct workpool_job	*wload;
	struct dns_answer	*txt_early;
	/* The cached policy (cached false: none). */
	bool			 cached;
	char			 id[STS_ID_MAX + 1];
	char			*text;
	struct sts_policy	 policy;
	int64_t			 fetched, expires;
	/* The TXT lookup and who waits for it. */
	struct dns_query	*txtq;
	struct mtasts_req	*txt_waiters;
	/* The fetch: address lookups, then the job; who waits for it. */
	bool			 fetching;
	char			 fetch_id[STS_ID_MAX + 1];
	struct dns_query	*aq, *aaaaq;
	char			**addrs;
	size_t			 naddrs;
	const char		*addr_why;	/* static: why a lookup
						 * gave nothing */
	struct mtasts_job	*job;
	struct workpool_job	*wjob;
	struct mtasts_req	*fetch_waiters;
	/* The last failed fetch (RFC 8461 §3.3 retry limit). */
	char			 fail_id[STS_ID_MAX + 1];
	int64_t			 fail_until;
	const char		*fail_type;
	char			 fail_detail[320];
};

struct mtasts {
	struct event_base	*base;
	struct dns_resolver	*dns;
	struct db		*db;
	struct workpool		*pool;
	char			*ca_file;
	struct mtasts_params	 p;
	struct mtasts_entry	*entries;
	struct mtasts_req	*later;		/* answered by their event */
	struct event		*sweep_ev;	/* refresh of idle policies */
	struct mtasts_sweep_job	*sweep;		/* its store read */
	struct workpool_job	*wsweep;
	unsigned		 depth;		/* callbacks of ours running */
	bool			 dying;		/* freed during a callback */
};

struct mtasts_sweep_job {
	struct mtasts		*m;		/* NULL once m went */
	struct db		*db;
	char			**due;
	size_t			 n;
	bool			 ok;
};

static void mtasts_destroy(struct mtasts *m);
static void txt_done(struct mtasts_entry *e, struct dns_answer *ans);
static void enter(struct mtasts *m);
static void leave(struct mtasts *m);
static void sweep_cb(evutil_socket_t, short, void *);
static void start_fetch(struct mtasts_entry *e, const char *id,
    bool background);

static int64_t
now_secs(void)
{
	return (int64_t)time(NULL);
}

/* Lower-case domain without its final dot into out; -1 if it is not a
 * plausible host name (LDH labels of 1..63, at most 253 characters). */
static int
normalize_domain(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in), i, lab = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX || n >= outlen)
		return -1;
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c == '.') {
			if (lab == 0)
				return -1;
			lab = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			if (++lab > 63)
				return -1;
		} else
			return -1;
		out[i] = c;
	}
	out[n] = '\0';
	return lab > 0 ? 0 : -1;
}

/* --- waiter lists --- */

static void
req_link(struct mtasts_req **list, struct mtasts_req *r)
{
	r->next = *list;
	if (r->next != NULL)
		r->next->prevp = &r->next;
	r->prevp = list;
	*list = r;
}

static void
req_unlink(struct mtasts_req *r)
{
	if (r->prevp == NULL)
		return;
	*r->prevp = r->next;
	if (r->next != NULL)
		r->next->prevp = r->prevp;
	r->next = NULL;
	r->prevp = NULL;
}

static void
req_free(struct mtasts_req *r)
{
	req_unlink(r);
	if (r->ev != NULL)
		event_free(r->ev);
	free(r);
}

/* Call back and free every request on *list, until the list is empty or
 * m is being freed. A callback may add to or cancel from any list. */
static void
answer_list(struct mtasts *m, struct mtasts_req **list,
    const struct mtasts_result *res)
{
	struct mtasts_req *r;

	while (!m->dying && (r = *list) != NULL) {
		mtasts_cb *cb = r->cb;
		void *arg = r->arg;

		req_free(r);
		cb(res, arg);
	}
}

static bool
cache_valid(const struct mtasts_entry *e, int64_t now)
{
	return e->cached && now < e->expires;
}

/* The cached policy to *list (fresh: it is the current one). */
static void
answer_cached(struct mtasts_entry *e, struct mtasts_req **list, bool fresh,
    const char *failure, const char *detail)
{
	struct mtasts_result res = { true, &e->policy, e->text, !fresh,
	    failure, detail != NULL ? detail : "" };

	answer_list(e->m, list, &res);
}

/* After a failure: the cached policy if unexpired, else none. */
static void
answer_fallback(struct mtasts_entry *e, struct mtasts_req **list,
    const char *failure, const char *detail)
{
	struct mtasts_result none = { false, NULL, NULL, false, failure,
	    detail != NULL ? detail : "" };

	if (cache_valid(e, now_secs()))
		answer_cached(e, list, false, failure, detail);
	else
		answer_list(e->m, list, &none);
}

/* --- the cache --- */

static void
cache_clear(struct mtasts_entry *e)
{
	free(e->text);
	e->text = NULL;
	sts_policy_clear(&e->policy);
	e->cached = false;
}

/* workpool_run_fn: read the row (on the store's thread, or inline). */
static void
load_run(void *arg)
{
	struct mtasts_load *j = arg;

	j->found = j->db != NULL && db_sts_get(j->db, j->domain, &j->row) ==
	    DB_OK;
}

/* workpool_done_fn: take the row into the entry; a row that no longer
 * parses is ignored. A TXT answer that came meanwhile goes on now. */
static void
load_done(void *arg, bool cancelled)
{
	struct mtasts_load *j = arg;
	struct mtasts_entry *e = j->e;
	struct dns_answer *ans;
	char why[160];

	if (e != NULL) {
		e->loading = false;
		e->load = NULL;
		e->wload = NULL;
	}
	if (!cancelled && e != NULL && j->found &&
	    strlen(j->row.id) <= STS_ID_MAX && sts_policy_parse(j->row.policy,
	    strlen(j->row.policy), &e->policy, why, sizeof(why)) == 0) {
		snprintf(e->id, sizeof(e->id), "%s", j->row.id);
		e->text = j->row.policy;
		j->row.policy = NULL;
		e->fetched = j->row.fetched;
		e->expires = j->row.expires;
		e->cached = true;
	}
	if (j->found)
		db_sts_row_clear(&j->row);
	free(j->domain);
	free(j);
	if (cancelled || e == NULL || (ans = e->txt_early) == NULL)
		return;
	e->txt_early = NULL;
	enter(e->m);
	txt_done(e, ans);
	dns_answer_free(ans);
	leave(e->m);
}

/* Load e's row from the store: at once on the loop (SQLite), or on the
 * store's thread, the TXT lookup going on meanwhile. */
static void
cache_load(struct mtasts_entry *e)
{
	struct mtasts_load *j;
	struct workpool_job *wj;

	if (e->m->db == NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->e = e;
	j->db = e->m->db;
	j->domain = xstrdup(e->domain);
	e->loading = true;
	e->load = j;
	wj = workpool_submit_or_run(e->m->p.store, load_run, load_done, j);
	if (e->loading)
		e->wload = wj;
}

/* A row to write, owned by the job. */
struct mtasts_put {
	struct db		*db;
	struct db_sts_row	 row;
};

/* workpool_run_fn */
static void
put_run(void *arg)
{
	struct mtasts_put *j = arg;

	if (db_sts_put(j->db, &j->row) != DB_OK)
		log_warn("mta-sts store failed domain=%s error=%s",
		    j->row.domain, db_error(j->db));
}

/* workpool_done_fn */
static void
put_done(void *arg, bool cancelled)
{
	struct mtasts_put *j = arg;

	(void)cancelled;
	db_sts_row_clear(&j->row);
	free(j);
}

/* Take the fetched policy into the cache and the store. */
static void
cache_store(struct mtasts_entry *e, struct sts_fetch_out *out)
{
	struct mtasts_put *j;

	cache_clear(e);
	snprintf(e->id, sizeof(e->id), "%s", e->fetch_id);
	e->text = out->body;
	out->body = NULL;
	e->policy = out->policy;
	memset(&out->policy, 0, sizeof(out->policy));
	e->fetched = now_secs();
	e->expires = e->fetched + e->policy.max_age;
	e->cached = true;
	if (e->m->db == NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->db = e->m->db;
	j->row.domain = xstrdup(e->domain);
	j->row.id = xstrdup(e->id);
	j->row.policy = xstrdup(e->text);
	j->row.fetched = e->fetched;
	j->row.expires = e->expires;
	(void)workpool_submit_or_run(e->m->p.store, put_run, put_done, j);
}

static struct mtasts_entry *
entry_get(struct mtasts *m, const char *domain)
{
	struct mtasts_entry *e;

	for (e = m->entries; e != NULL; e = e->next)
		if (strcmp(e->domain, domain) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->m = m;
	e->domain = xstrdup(domain);
	cache_load(e);
	e->next = m->entries;
	m->entries = e;
	return e;
}

static bool
entry_idle(const struct mtasts_entry *e)
{
	return e->txtq == NULL && e->txt_waiters == NULL && !e->fetching &&
	    e->fetch_waiters == NULL && !e->loading;
}

static void
entry_free(struct mtasts_entry *e)
{
	size_t i;

	dns_query_cancel(e->txtq);
	dns_query_cancel(e->aq);
	dns_query_cancel(e->aaaaq);
	if (e->wjob != NULL) {
		workpool_cancel(e->wjob);
		e->job->e = NULL;
	}
	if (e->load != NULL) {
		if (e->wload != NULL)
			workpool_cancel(e->wload);
		e->load->e = NULL;
	}
	if (e->txt_early != NULL)
		dns_answer_free(e->txt_early);
	while (e->txt_waiters != NULL)
		req_free(e->txt_waiters);
	while (e->fetch_waiters != NULL)
		req_free(e->fetch_waiters);
	for (i = 0; i < e->naddrs; i++)
		free(e->addrs[i]);
	free(e->addrs);
	cache_clear(e);
	free(e->domain);
	free(e);
}

/* Forget entries that hold nothing (most domains have no policy), so
 * memory follows the domains that publish one. */
static void
entries_prune(struct mtasts *m)
{
	struct mtasts_entry **pp = &m->entries, *e;

	while ((e = *pp) != NULL) {
		if (entry_idle(e) && !e->cached &&
		    e->fail_until <= now_secs()) {
			*pp = e->next;
			entry_free(e);
		} else
			pp = &e->next;
	}
}

/* Every loop callback of ours is bracketed by these: callbacks we run
 * may free m, which is then destroyed once the outermost one returns. */
static void
enter(struct mtasts *m)
{
	m->depth++;
}

static void
leave(struct mtasts *m)
{
	if (--m->depth > 0)
		return;
	if (m->dying)
		mtasts_destroy(m);
	else
		entries_prune(m);
}

/* --- the fetch --- */

static void
fetch_finish(struct mtasts_entry *e, enum sts_fetch_result rc,
    struct sts_fetch_out *out, const char *detail)
{
	const char *type = sts_fetch_result_type(rc);
	char q[LOG_QUOTE_SIZE(96)];

	e->fetching = false;
	if (rc == STS_FETCH_OK) {
		cache_store(e, out);
		e->fail_until = 0;
		log_info("mta-sts policy fetched domain=%s id=%s mode=%s "
		    "max_age=%u mx=%zu", e->domain, e->id,
		    sts_mode_name(e->policy.mode), e->policy.max_age,
		    e->policy.nmx);
		answer_cached(e, &e->fetch_waiters, true, NULL, NULL);
		return;
	}
	snprintf(e->fail_id, sizeof(e->fail_id), "%s", e->fetch_id);
	e->fail_until = now_secs() + FETCH_RETRY_SECS;
	e->fail_type = type;
	snprintf(e->fail_detail, sizeof(e->fail_detail), "%s", detail);
	/* RFC 8461 §3.3: alert on refresh failures unless mode is none. */
	if (cache_valid(e, now_secs()) && e->policy.mode == STS_MODE_NONE)
		log_debug("mta-sts fetch failed domain=%s result=%s "
		    "detail=%s", e->domain, type,
		    log_quote(detail, strlen(detail), q, sizeof(q)));
	else
		log_warn("mta-sts fetch failed domain=%s id=%s result=%s "
		    "cached=%s detail=%s", e->domain, e->fetch_id, type,
		    cache_valid(e, now_secs()) ? "yes" : "no",
		    log_quote(detail, strlen(detail), q, sizeof(q)));
	answer_fallback(e, &e->fetch_waiters, type, e->fail_detail);
}

static void
job_run(void *arg)
{
	struct mtasts_job *j = arg;

	sts_fetch(j->domain, (const char *const *)j->addrs, j->naddrs,
	    &j->params, &j->out);
}

static void
job_free(struct mtasts_job *j)
{
	size_t i;

	for (i = 0; i < j->naddrs; i++)
		free(j->addrs[i]);
	free(j->addrs);
	free(j->domain);
	sts_fetch_out_clear(&j->out);
	free(j);
}

static void
job_done(void *arg, bool cancelled)
{
	struct mtasts_job *j = arg;
	struct mtasts_entry *e = j->e;
	struct mtasts *m;

	if (cancelled || e == NULL) {
		job_free(j);
		return;
	}
	m = e->m;
	e->job = NULL;
	e->wjob = NULL;
	enter(m);
	fetch_finish(e, j->out.result, &j->out, j->out.detail);
	job_free(j);
	leave(m);
}

/* Both address lookups are in: hand the addresses to a fetch job. */
static void
addrs_ready(struct mtasts_entry *e, const char *why)
{
	struct mtasts_job *j;
	char detail[320];

	if (e->naddrs == 0) {
		snprintf(detail, sizeof(detail), "mta-sts.%.200s: %s",
		    e->domain, why != NULL ? why : "no address");
		fetch_finish(e, STS_FETCH_ERROR, NULL, detail);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->e = e;
	j->domain = xstrdup(e->domain);
	j->addrs = e->addrs;
	j->naddrs = e->naddrs;
	e->addrs = NULL;
	e->naddrs = 0;
	j->params.ca_file = e->m->ca_file;
	j->params.allow_private = e->m->p.allow_private;
	j->params.port = e->m->p.port;
	j->params.timeout_ms = e->m->p.fetch_timeout_ms;
	j->params.connect_timeout_ms = e->m->p.fetch_timeout_ms;
	e->job = j;
	e->wjob = workpool_submit(e->m->pool, job_run, job_done, j);
}

static void
on_addr(struct dns_answer *ans, void *arg, bool v6)
{
	struct mtasts_entry *e = arg;
	struct mtasts *m = e->m;
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (v6)
		e->aaaaq = NULL;
	else
		e->aq = NULL;
	/* A bogus answer's records are forged as far as we know (dns.h). */
	for (i = 0; ans->sec != DNS_SEC_BOGUS && i < ans->nrr &&
	    e->naddrs < STS_FETCH_ADDRS_MAX; i++) {
		if (ans->rr[i].type != (v6 ? DNS_T_AAAA : DNS_T_A))
			continue;
		if (inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ?
		    (const void *)ans->rr[i].u.aaaa :
		    (const void *)ans->rr[i].u.a, text, sizeof(text)) == NULL)
			continue;
		e->addrs = xreallocarray(e->addrs, e->naddrs + 1,
		    sizeof(*e->addrs));
		e->addrs[e->naddrs++] = xstrdup(text);
	}
	if (ans->rcode != DNS_RCODE_NOERROR)
		e->addr_why = dns_rcode_name(ans->rcode);
	else if (ans->sec == DNS_SEC_BOGUS)
		e->addr_why = "bogus DNSSEC";
	dns_answer_free(ans);
	if (e->aq != NULL || e->aaaaq != NULL)
		return;
	enter(m);
	addrs_ready(e, e->addr_why);
	leave(m);
}

static void
on_a(struct dns_answer *ans, void *arg)
{
	on_addr(ans, arg, false);
}

static void
on_aaaa(struct dns_answer *ans, void *arg)
{
	on_addr(ans, arg, true);
}

/* Look up the policy host, then fetch (addrs_ready). Runs from a loop
 * callback only, so answering waiters directly is allowed. */
static void
start_fetch(struct mtasts_entry *e, const char *id, bool background)
{
	struct mtasts *m = e->m;
	char host[DOMAIN_MAX + 16];

	e->fetching = true;
	e->addr_why = NULL;
	snprintf(e->fetch_id, sizeof(e->fetch_id), "%s", id);
	if (background)
		log_info("mta-sts refresh domain=%s id=%s age=%lld",
		    e->domain, id, (long long)(now_secs() - e->fetched));
	snprintf(host, sizeof(host), "mta-sts.%s", e->domain);
	e->aq = dns_query(m->dns, host, DNS_T_A, m->p.dns_timeout_ms, on_a, e);
	e->aaaaq = dns_query(m->dns, host, DNS_T_AAAA, m->p.dns_timeout_ms,
	    on_aaaa, e);
	if (e->aq == NULL && e->aaaaq == NULL)
		fetch_finish(e, STS_FETCH_ERROR, NULL,
		    "cannot start the policy host lookup");
}

/* §3.3/§5.1: refresh an unexpired policy in use in the background once
 * it is a day old or half its lifetime has passed (a policy with a
 * max_age of a day or less would otherwise be fetched again on every use),
 * and (§10.2) whatever the TXT record says. */
static void
maybe_refresh(struct mtasts_entry *e, int64_t now)
{
	int64_t age = now - e->fetched;

	if (e->fetching || !cache_valid(e, now))
		return;
	if (age < DAY && age < (e->expires - e->fetched) / 2)
		return;
	if (strcmp(e->fail_id, e->id) == 0 && now < e->fail_until)
		return;
	start_fetch(e, e->id, true);
}

/* --- the TXT record --- */

static void
txt_done(struct mtasts_entry *e, struct dns_answer *ans)
{
	const char *txt[DNS_RR_MAX];
	size_t len[DNS_RR_MAX], n = 0, i;
	struct sts_record rec;
	enum sts_record_result rr;
	char why[160], detail[512];
	int64_t now = now_secs();

	if (ans->rcode == DNS_RCODE_SERVFAIL || ans->rcode ==
	    DNS_RCODE_TIMEOUT || ans->sec == DNS_SEC_BOGUS) {
		snprintf(detail, sizeof(detail), "DNS temporary failure for "
		    "_mta-sts.%.160s: %s", e->domain, ans->sec ==
		    DNS_SEC_BOGUS ? "bogus DNSSEC" :
		    dns_rcode_name(ans->rcode));
		answer_fallback(e, &e->txt_waiters, NULL, detail);
		if (!e->m->dying)
			maybe_refresh(e, now);
		return;
	}
	for (i = 0; i < ans->nrr; i++)
		if (ans->rr[i].type == DNS_T_TXT) {
			txt[n] = ans->rr[i].u.txt.text;
			len[n++] = ans->rr[i].u.txt.len;
		}
	rr = sts_record_select(txt, len, n, &rec, why, sizeof(why));
	if (rr != STS_RECORD_OK) {
		snprintf(detail, sizeof(detail), "_mta-sts.%.160s: %s",
		    e->domain, rr == STS_RECORD_NONE ? "no MTA-STS record" :
		    why);
		answer_fallback(e, &e->txt_waiters, NULL, detail);
		if (!e->m->dying)
			maybe_refresh(e, now);
		return;
	}
	if (cache_valid(e, now) && strcmp(e->id, rec.id) == 0) {
		answer_cached(e, &e->txt_waiters, true, NULL, NULL);
		if (!e->m->dying)
			maybe_refresh(e, now);
		return;
	}
	if (!e->fetching && strcmp(e->fail_id, rec.id) == 0 &&
	    now < e->fail_until) {
		snprintf(detail, sizeof(detail), "%s (failed less than 5 "
		    "minutes ago, not retried yet)", e->fail_detail);
		answer_fallback(e, &e->txt_waiters, e->fail_type, detail);
		return;
	}
	/* Join the fetch in flight (whatever id it started under, it gets
	 * the policy being served now) or start one. */
	while (e->txt_waiters != NULL) {
		struct mtasts_req *r = e->txt_waiters;

		req_unlink(r);
		req_link(&e->fetch_waiters, r);
	}
	if (!e->fetching)
		start_fetch(e, rec.id, false);
}

static void
on_txt(struct dns_answer *ans, void *arg)
{
	struct mtasts_entry *e = arg;
	struct mtasts *m = e->m;

	e->txtq = NULL;
	if (e->loading) {	/* the cache first (load_done) */
		e->txt_early = ans;
		return;
	}
	enter(m);
	txt_done(e, ans);
	dns_answer_free(ans);
	leave(m);
}

/* --- requests --- */

/* A request that never reached an entry (invalid domain, lookup not
 * started): answered from the loop with no policy. */
static void
on_req_event(evutil_socket_t fd, short what, void *arg)
{
	struct mtasts_req *r = arg;
	struct mtasts *m = r->m;
	struct mtasts_result none = { false, NULL, NULL, false, NULL, "" };
	mtasts_cb *cb = r->cb;
	void *cbarg = r->arg;
	char detail[sizeof(r->detail)];

	(void)fd;
	(void)what;
	memcpy(detail, r->detail, sizeof(detail));
	none.detail = detail;
	req_free(r);
	enter(m);
	cb(&none, cbarg);
	leave(m);
}

static struct mtasts_req *
req_later(struct mtasts *m, struct mtasts_req *r, const char *detail)
{
	struct timeval tv = { 0, 0 };

	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	r->ev = evtimer_new(m->base, on_req_event, r);
	if (r->ev == NULL || evtimer_add(r->ev, &tv) == -1)
		fatal("mta-sts: cannot schedule an event");
	req_link(&m->later, r);
	return r;
}

struct mtasts_req *
mtasts_get(struct mtasts *m, const char *domain, mtasts_cb *cb, void *arg)
{
	struct mtasts_req *r = xcalloc(1, sizeof(*r));
	struct mtasts_entry *e;
	char d[DOMAIN_MAX + 1], name[DOMAIN_MAX + 16];

	r->m = m;
	r->cb = cb;
	r->arg = arg;
	if (normalize_domain(domain, d, sizeof(d)) == -1)
		return req_later(m, r, "invalid policy domain");
	e = entry_get(m, d);
	if (e->txtq == NULL) {
		snprintf(name, sizeof(name), "_mta-sts.%s", d);
		e->txtq = dns_query(m->dns, name, DNS_T_TXT,
		    m->p.dns_timeout_ms, on_txt, e);
		if (e->txtq == NULL)
			return req_later(m, r, "cannot start the TXT lookup");
	}
	r->e = e;
	req_link(&e->txt_waiters, r);
	return r;
}

void
mtasts_cancel(struct mtasts_req *r)
{
	if (r != NULL)
		req_free(r);
}

static void
sweep_answer(const struct mtasts_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* workpool_run_fn: the domains due, from the store. */
static void
sweep_run(void *arg)
{
	struct mtasts_sweep_job *j = arg;

	j->ok = db_sts_due(j->db, now_secs(), &j->due, &j->n) == DB_OK;
}

/* workpool_done_fn: a lookup like a delivery's for each: it refreshes
 * what is due (the TXT record first, §3.3), and its answer is not
 * needed. */
static void
sweep_done(void *arg, bool cancelled)
{
	struct mtasts_sweep_job *j = arg;
	struct mtasts *m = j->m;

	if (m != NULL) {
		m->sweep = NULL;
		m->wsweep = NULL;
	}
	if (!cancelled && m != NULL && j->ok) {
		for (size_t i = 0; i < j->n; i++)
			(void)mtasts_get(m, j->due[i], sweep_answer, NULL);
		if (j->n > 0)
			log_info("mta-sts sweep domains=%zu", j->n);
	}
	if (j->ok)
		db_strv_free(j->due, j->n);
	free(j);
}

void
mtasts_sweep(struct mtasts *m)
{
	struct mtasts_sweep_job *j;
	struct workpool_job *wj;

	if (m->db == NULL || m->sweep != NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->m = m;
	j->db = m->db;
	m->sweep = j;
	wj = workpool_submit_or_run(m->p.store, sweep_run, sweep_done, j);
	if (m->sweep != NULL)
		m->wsweep = wj;
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mtasts_sweep(arg);
}

struct mtasts *
mtasts_new(struct event_base *base, struct dns_resolver *dns, struct db *db,
    const struct mtasts_params *p, char *err, size_t errlen)
{
	struct mtasts *m;

	if (base == NULL || dns == NULL || p == NULL) {
		snprintf(err, errlen, "mta-sts: no event base or resolver");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->base = base;
	m->dns = dns;
	m->db = db;
	m->p = *p;
	if (p->ca_file != NULL && p->ca_file[0] != '\0')
		m->ca_file = xstrdup(p->ca_file);
	m->p.ca_file = m->ca_file;
	m->pool = workpool_new(base, MTASTS_THREADS, "mta-sts fetch");
	if (db != NULL) {
		const struct timeval every = { SWEEP_SECS, 0 };

		m->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, m);
		if (m->sweep_ev == NULL || event_add(m->sweep_ev, &every) == -1)
			log_warn("mta-sts: no background refresh (no event)");
	}
	return m;
}

static void
mtasts_destroy(struct mtasts *m)
{
	struct mtasts_entry *e;

	if (m->sweep_ev != NULL)
		event_free(m->sweep_ev);
	if (m->sweep != NULL) {
		if (m->wsweep != NULL)
			workpool_cancel(m->wsweep);
		m->sweep->m = NULL;
	}
	while ((e = m->entries) != NULL) {
		m->entries = e->next;
		entry_free(e);
	}
	while (m->later != NULL)
		req_free(m->later);
	/* Jobs still running finish first; their done() sees them
	 * cancelled and only frees them. */
	workpool_free(m->pool);
	free(m->ca_file);
	free(m);
}

void
mtasts_free(struct mtasts *m)
{
	if (m == NULL)
		return;
	m->dying = true;
	if (m->depth == 0)
		mtasts_destroy(m);
}
