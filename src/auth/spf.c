/* SPDX-License-Identifier: ISC */
/*
 * check_host() of RFC 7208 as a state machine on dns.h; see spf.h.
 *
 * One query owns a stack of frames: frame 0 is the identity's domain
 * (replaced in place by "redirect=", §6.1), each "include:" pushes one
 * (§5.2). At most one DNS query is in flight; spf_run() steps the machine
 * until it must wait, and every DNS callback feeds its answer in and runs
 * it again. The total work is bounded by SPF_LOOKUP_MAX DNS terms (so the
 * stack is at most SPF_LOOKUP_MAX + 1 deep), SPF_VOID_MAX void lookups,
 * SPF_MX_NAMES_MAX / SPF_PTR_NAMES_MAX address lookups per term and the
 * overall deadline. The done-callback always runs from its own event.
 */
#include "auth/spf.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/spf_macro.h"
#include "auth/spf_record.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dns/dns.h"

/* What the query in flight is for. */
enum spf_wait {
	SPF_W_TXT,		/* the record of the top frame */
	SPF_W_A,		/* "a": addresses of the target */
	SPF_W_MX,		/* "mx": the MX names */
	SPF_W_MX_ADDR,		/* "mx": addresses of one MX name */
	SPF_W_EXISTS,		/* "exists": any A record */
	SPF_W_PTR,		/* §5.5 validated names: the PTR names */
	SPF_W_PTR_ADDR,		/* §5.5: addresses of one PTR name */
	SPF_W_EXP,		/* §6.2 explanation TXT */
};

enum spf_ptr_state { SPF_PTR_UNKNOWN, SPF_PTR_RUNNING, SPF_PTR_DONE };

struct spf_frame {
	char			 domain[DNS_NAME_TEXT_MAX];
	struct spf_record	*rec;		/* NULL until fetched */
	size_t			 ti;		/* next term */
	bool			 counted;	/* term ti's lookup is counted */
	bool			 redirected;	/* reached by redirect= */
};

struct spf_query {
	struct event_base	*base;
	struct dns_resolver	*res;
	spf_done_cb		*cb;
	void			*arg;
	struct event		*deadline_ev;
	struct event		*done_ev;
	struct dns_query	*dq;
	enum spf_wait		 wait;
	bool			 finished;
	bool			 in_exp;	/* fetching the explanation */
	unsigned		 query_ms;

	struct spf_macro_ctx	 mctx;
	char			 local[LIMIT_LOCAL_PART * 2 + 3];
	char			 helo[256];
	char			 receiver[256];

	struct spf_frame	 frames[SPF_LOOKUP_MAX + 1];
	size_t			 depth;		/* index of the top frame */
	char			 target[DNS_NAME_TEXT_MAX];

	char			*mx[SPF_MX_NAMES_MAX];
	size_t			 nmx, mxi;

	enum spf_ptr_state	 ptr_state;
	char			*ptr[SPF_PTR_NAMES_MAX];
	bool			 ptr_ok[SPF_PTR_NAMES_MAX];
	size_t			 nptr, ptri;

	struct spf_outcome	 out;
};

static void spf_run(struct spf_query *);
static void spf_fail(struct spf_query *, enum spf_result, const char *,
    ...) __attribute__((format(printf, 3, 4)));

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "?";
}

static enum spf_result
spf_qual_result(enum spf_qualifier q)
{
	switch (q) {
	case SPF_QUAL_PASS: return SPF_PASS;
	case SPF_QUAL_FAIL: return SPF_FAIL;
	case SPF_QUAL_SOFTFAIL: return SPF_SOFTFAIL;
	case SPF_QUAL_NEUTRAL: return SPF_NEUTRAL;
	}
	return SPF_NEUTRAL;
}

/* Labels of 1..63 octets, at most 253 characters (one final dot
 * allowed); returns the number of labels, or 0 if d is not a name. */
static size_t
spf_labels(const char *d)
{
	size_t n = strlen(d), lab = 0, labels = 0;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > SPF_DOMAIN_TEXT_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || d[i] == '.') {
			if (lab == 0 || lab > 63)
				return 0;
			labels++;
			lab = 0;
		} else
			lab++;
	}
	return labels;
}

/* §4.3: a <domain> to check: a name of more than one label (an address
 * literal such as a HELO "[192.0.2.1]" is not one). */
static bool
spf_domain_ok(const char *d)
{
	return d[0] != '[' && spf_labels(d) > 1;
}

/* Any name we hand to the resolver (a single label is fine). Domains
 * arrive as A-labels (msg/addr.h), so only %{s} or %{l} of a UTF-8 local
 * part makes a name non-ASCII: RFC 8616 §4, such a term matches nothing. */
static bool
spf_name_ok(const char *d)
{
	for (const char *p = d; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	return spf_labels(d) > 0;
}

/* Case-insensitive: name equals dom or is a subdomain of it (§5.5). */
static bool
spf_name_within(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && dom[d - 1] == '.')
		d--;
	if (n < d || strncasecmp(name + n - d, dom, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

static bool
spf_cidr_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static size_t
spf_iplen(const struct spf_query *q)
{
	return q->mctx.family == AF_INET6 ? 16 : 4;
}

static uint16_t
spf_addr_type(const struct spf_query *q)
{
	return q->mctx.family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
}

/* True if one address record of ans is within bits of the client. */
static bool
spf_answer_match(const struct spf_query *q, const struct dns_answer *ans,
    unsigned bits)
{
	const uint8_t *a;

	for (size_t i = 0; i < ans->nrr; i++) {
		if (ans->rr[i].type != spf_addr_type(q))
			continue;
		a = q->mctx.family == AF_INET6 ? ans->rr[i].u.aaaa :
		    ans->rr[i].u.a;
		if (spf_cidr_match(a, q->mctx.ip, bits))
			return true;
	}
	return false;
}

/* Copy untrusted text for a reply or header: bytes that are not
 * printable ASCII become '?' (the macro grammar already keeps DNS text
 * printable; this covers the client's sender and HELO). */
static void
spf_copy_printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < dstlen; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static void
spf_finish(struct spf_query *q, enum spf_result r)
{
	if (q->finished)
		return;
	q->finished = true;
	q->out.result = r;
	if (q->dq != NULL) {
		dns_query_cancel(q->dq);
		q->dq = NULL;
	}
	event_del(q->deadline_ev);
	event_active(q->done_ev, EV_TIMEOUT, 0);
}

static void
spf_fail(struct spf_query *q, enum spf_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->out.problem, sizeof(q->out.problem), fmt, ap);
	va_end(ap);
	spf_finish(q, r);
}

/* Count a void lookup (§4.6.4); false (check finished) past the limit. */
static bool
spf_void(struct spf_query *q, const char *name)
{
	char esc[128];

	if (++q->out.void_lookups <= SPF_VOID_MAX)
		return true;
	spf_fail(q, SPF_PERMERROR, "more than %d void lookups (at %s)",
	    SPF_VOID_MAX, log_escape(name, strlen(name), esc, sizeof(esc)));
	return false;
}

static bool
spf_is_void(const struct dns_answer *ans)
{
	return ans->rcode == DNS_RCODE_NXDOMAIN ||
	    (ans->rcode == DNS_RCODE_NOERROR && ans->nrr == 0);
}

static bool
spf_is_error(const struct dns_answer *ans)
{
	return ans->rcode == DNS_RCODE_SERVFAIL ||
	    ans->rcode == DNS_RCODE_TIMEOUT;
}

static void spf_answer(struct spf_query *, struct dns_answer *);

static void
spf_dns_cb(struct dns_answer *ans, void *arg)
{
	struct spf_query *q = arg;

	q->dq = NULL;
	spf_answer(q, ans);
	dns_answer_free(ans);
	spf_run(q);
}

/*
 * Ask name/type for wait. A name the resolver would refuse (empty label,
 * too long: possible after macro expansion) is answered here as NXDOMAIN,
 * without a query, as it cannot exist.
 */
static void
spf_send(struct spf_query *q, const char *name, uint16_t type,
    enum spf_wait wait)
{
	struct dns_answer *ans;

	q->wait = wait;
	if (spf_name_ok(name) && (q->dq = dns_query(q->res, name, type,
	    q->query_ms, spf_dns_cb, q)) != NULL)
		return;
	ans = dns_answer_new();
	ans->rcode = DNS_RCODE_NXDOMAIN;
	spf_answer(q, ans);
	dns_answer_free(ans);
}

/* Count the DNS term at the top frame once (§4.6.4). */
static bool
spf_count(struct spf_query *q, struct spf_frame *f)
{
	if (f->counted)
		return true;
	f->counted = true;
	if (++q->out.lookups <= SPF_LOOKUP_MAX)
		return true;
	spf_fail(q, SPF_PERMERROR, "more than %d DNS lookups", SPF_LOOKUP_MAX);
	return false;
}

/* Start §5.5 name validation (shared by "ptr" and %{p}). */
static void
spf_ptr_start(struct spf_query *q)
{
	char name[80];
	const uint8_t *ip = q->mctx.ip;
	size_t n = 0;

	q->ptr_state = SPF_PTR_RUNNING;
	if (q->mctx.family == AF_INET6) {
		for (int k = 15; k >= 0; k--)
			n += (size_t)snprintf(name + n, sizeof(name) - n,
			    "%x.%x.", ip[k] & 15, ip[k] >> 4);
		snprintf(name + n, sizeof(name) - n, "ip6.arpa");
	} else
		snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa",
		    ip[3], ip[2], ip[1], ip[0]);
	spf_send(q, name, DNS_T_PTR, SPF_W_PTR);
}

/* Next step of validation: look up the next PTR name, or be done. */
static void
spf_ptr_next(struct spf_query *q)
{
	if (q->ptri < q->nptr)
		spf_send(q, q->ptr[q->ptri], spf_addr_type(q), SPF_W_PTR_ADDR);
	else
		q->ptr_state = SPF_PTR_DONE;
}

/*
 * §7.3 %{p}: a validated name equal to domain, else one below it, else
 * any; NULL ("unknown") if none.
 */
static const char *
spf_ptr_value(struct spf_query *q, const char *domain)
{
	const char *any = NULL, *sub = NULL;

	for (size_t i = 0; i < q->nptr; i++) {
		if (!q->ptr_ok[i])
			continue;
		if (spf_name_within(q->ptr[i], domain)) {
			if (strlen(q->ptr[i]) == strlen(domain))
				return q->ptr[i];
			if (sub == NULL)
				sub = q->ptr[i];
		}
		if (any == NULL)
			any = q->ptr[i];
	}
	return sub != NULL ? sub : any;
}

/*
 * Expand a domain-spec for the current <domain> into q->target (§4.8,
 * §7.3). Returns 1 when done, 0 when %{p} needs validation first (started),
 * -1 when the check finished with a permerror.
 */
static int
spf_expand_target(struct spf_query *q, const char *spec, const char *domain)
{
	struct buf b;
	enum spf_macro_result r;
	const char *fit;
	char *s;

	if (spec == NULL) {
		snprintf(q->target, sizeof(q->target), "%s", domain);
		return 1;
	}
	if (spf_macro_uses(spec, strlen(spec), 'p')) {
		if (q->ptr_state == SPF_PTR_UNKNOWN) {
			spf_ptr_start(q);
			return 0;
		}
		q->mctx.ptr = spf_ptr_value(q, domain);
	}
	q->mctx.domain = domain;
	buf_init(&b, 4096);
	r = spf_macro_expand(spec, strlen(spec), SPF_MACRO_DOMAIN, &q->mctx, &b);
	if (r != SPF_MACRO_OK) {
		buf_clear(&b);
		spf_fail(q, SPF_PERMERROR, "%s", spf_macro_result_name(r));
		return -1;
	}
	s = buf_take(&b);
	fit = spf_macro_domain_fit(s != NULL ? s : (char *)"");
	snprintf(q->target, sizeof(q->target), "%s", fit);
	free(s);
	return 1;
}

/* A term of the frame f matched. */
static void spf_frame_done(struct spf_query *q, enum spf_result r,
    const struct spf_term *t);

/* The term at f->ti did not match: go on with the next one. */
static void
spf_next_term(struct spf_frame *f)
{
	f->ti++;
	f->counted = false;
}

static void
spf_push(struct spf_query *q, const char *domain, bool redirected)
{
	struct spf_frame *f;

	if (!redirected)
		q->depth++;
	f = &q->frames[q->depth];
	spf_record_free(f->rec);
	memset(f, 0, sizeof(*f));
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	f->redirected = redirected;
}

/* No term matched: redirect= (§6.1) or the default neutral (§4.7). */
static void
spf_no_match(struct spf_query *q, struct spf_frame *f)
{
	if (f->rec->redirect == NULL) {
		spf_frame_done(q, SPF_NEUTRAL, NULL);
		return;
	}
	if (!spf_count(q, f) ||
	    spf_expand_target(q, f->rec->redirect, f->domain) != 1)
		return;
	/* §6.1: an invalid target, or one without a record, is a
	 * permerror; spf_frame_done() sees "redirected". */
	spf_push(q, q->target, true);
}

/* Evaluate the term at the top frame's ti (§5). */
static void
spf_term(struct spf_query *q, struct spf_frame *f, const struct spf_term *t)
{
	switch (t->mech) {
	case SPF_MECH_ALL:
		spf_frame_done(q, spf_qual_result(t->qual), t);
		return;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		/* §5.6: only an address of the same family can match. */
		if ((t->mech == SPF_MECH_IP6) == (q->mctx.family == AF_INET6) &&
		    spf_cidr_match(t->addr, q->mctx.ip, t->mech == SPF_MECH_IP6 ?
		    t->cidr6 : t->cidr4))
			spf_frame_done(q, spf_qual_result(t->qual), t);
		else
			spf_next_term(f);
		return;
	default:
		break;
	}
	if (!spf_count(q, f) || spf_expand_target(q, t->spec, f->domain) != 1)
		return;
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		spf_push(q, q->target, false);
		break;
	case SPF_MECH_A:
		spf_send(q, q->target, spf_addr_type(q), SPF_W_A);
		break;
	case SPF_MECH_MX:
		spf_send(q, q->target, DNS_T_MX, SPF_W_MX);
		break;
	case SPF_MECH_EXISTS:
		/* §5.7: always an A query, whatever the client's family. */
		spf_send(q, q->target, DNS_T_A, SPF_W_EXISTS);
		break;
	case SPF_MECH_PTR:
		if (q->ptr_state == SPF_PTR_UNKNOWN) {
			spf_ptr_start(q);
			break;
		}
		for (size_t i = 0; i < q->nptr; i++)
			if (q->ptr_ok[i] && spf_name_within(q->ptr[i],
			    q->target)) {
				spf_frame_done(q, spf_qual_result(t->qual), t);
				return;
			}
		spf_next_term(f);
		break;
	default:
		break;
	}
}

/* Fetch and expand the explanation (§6.2) for a top-level fail. */
static void
spf_exp_step(struct spf_query *q)
{
	struct spf_frame *f = &q->frames[0];

	if (spf_expand_target(q, f->rec->exp, f->domain) != 1)
		return;
	spf_send(q, q->target, DNS_T_TXT, SPF_W_EXP);
}

/* One step of the machine: start a query, or finish. */
static void
spf_step(struct spf_query *q)
{
	struct spf_frame *f = &q->frames[q->depth];

	if (q->ptr_state == SPF_PTR_RUNNING) {
		spf_ptr_next(q);
		return;
	}
	if (q->in_exp) {
		spf_exp_step(q);
		return;
	}
	if (f->rec == NULL) {
		if (!spf_domain_ok(f->domain)) {
			spf_frame_done(q, SPF_NONE, NULL);
			return;
		}
		spf_send(q, f->domain, DNS_T_TXT, SPF_W_TXT);
		return;
	}
	if (f->ti == f->rec->nterms)
		spf_no_match(q, f);
	else
		spf_term(q, f, &f->rec->terms[f->ti]);
}

static void
spf_run(struct spf_query *q)
{
	while (!q->finished && q->dq == NULL)
		spf_step(q);
}

/* The result of the frame at the top of the stack. */
static void
spf_frame_done(struct spf_query *q, enum spf_result r, const struct spf_term *t)
{
	struct spf_frame *f = &q->frames[q->depth];
	char esc[128];

	if (r == SPF_NONE && (q->depth > 0 || f->redirected)) {
		/* §5.2 (include) and §6.1 (redirect): no record there. */
		spf_fail(q, SPF_PERMERROR, "no SPF record at %s",
		    log_escape(f->domain, strlen(f->domain), esc, sizeof(esc)));
		return;
	}
	if (q->depth == 0) {
		if (t != NULL)
			spf_copy_printable(q->out.mechanism,
			    sizeof(q->out.mechanism), t->text,
			    strlen(t->text));
		if (r == SPF_FAIL && f->rec != NULL && f->rec->exp != NULL) {
			q->out.result = r;
			q->in_exp = true;
			return;
		}
		spf_finish(q, r);
		return;
	}
	/* §5.2: an include matches only on the included domain's pass. */
	spf_record_free(f->rec);
	f->rec = NULL;
	q->depth--;
	f = &q->frames[q->depth];
	t = &f->rec->terms[f->ti];
	if (r == SPF_PASS)
		spf_frame_done(q, spf_qual_result(t->qual), t);
	else
		spf_next_term(f);
}

/* The top frame's TXT answer: select the record (§4.5) and parse it. */
static void
spf_answer_txt(struct spf_query *q, const struct dns_answer *ans)
{
	struct spf_frame *f = &q->frames[q->depth];
	const struct dns_rr *rr = NULL;
	char err[SPF_PROBLEM_MAX];
	size_t n = 0;

	if (spf_is_error(ans)) {
		spf_fail(q, SPF_TEMPERROR, "DNS %s for %s TXT",
		    dns_rcode_name(ans->rcode), f->domain);
		return;
	}
	if (spf_is_void(ans) && q->depth + (f->redirected ? 1 : 0) > 0 &&
	    !spf_void(q, f->domain))
		return;
	for (size_t i = 0; i < ans->nrr; i++)
		if (ans->rr[i].type == DNS_T_TXT &&
		    spf_record_is_spf(ans->rr[i].u.txt.text,
		    ans->rr[i].u.txt.len) && n++ == 0)
			rr = &ans->rr[i];
	if (n == 0) {
		spf_frame_done(q, SPF_NONE, NULL);
		return;
	}
	if (n > 1) {
		spf_fail(q, SPF_PERMERROR, "%zu SPF records at %s", n,
		    f->domain);
		return;
	}
	if (spf_record_parse(rr->u.txt.text, rr->u.txt.len, &f->rec, err,
	    sizeof(err)) != SPF_RECORD_OK)
		spf_fail(q, SPF_PERMERROR, "%s", err);
}

/* "mx": keep the names (§4.6.4: more than 10 is a permerror). */
static void
spf_answer_mx(struct spf_query *q, const struct dns_answer *ans)
{
	struct spf_frame *f = &q->frames[q->depth];

	if (ans->nrr > SPF_MX_NAMES_MAX) {
		spf_fail(q, SPF_PERMERROR, "more than %d MX names at %s",
		    SPF_MX_NAMES_MAX, q->target);
		return;
	}
	for (size_t i = 0; i < q->nmx; i++)
		free(q->mx[i]);
	q->nmx = q->mxi = 0;
	for (size_t i = 0; i < ans->nrr; i++)
		if (ans->rr[i].type == DNS_T_MX &&
		    strcmp(ans->rr[i].u.mx.host, ".") != 0)
			q->mx[q->nmx++] = xstrdup(ans->rr[i].u.mx.host);
	if (q->nmx == 0)
		spf_next_term(f);
	else
		spf_send(q, q->mx[0], spf_addr_type(q), SPF_W_MX_ADDR);
}

static void
spf_answer_ptr(struct spf_query *q, const struct dns_answer *ans)
{
	for (size_t i = 0; i < q->nptr; i++)
		free(q->ptr[i]);
	q->nptr = q->ptri = 0;
	/* §5.5: a DNS error means no validated names; §4.6.4: only the
	 * first 10 names are looked at. */
	if (spf_is_void(ans) && !spf_void(q, "PTR"))
		return;
	for (size_t i = 0; i < ans->nrr && q->nptr < SPF_PTR_NAMES_MAX; i++)
		if (ans->rr[i].type == DNS_T_PTR) {
			q->ptr_ok[q->nptr] = false;
			q->ptr[q->nptr++] = xstrdup(ans->rr[i].u.name);
		}
}

static void
spf_answer_exp(struct spf_query *q, const struct dns_answer *ans)
{
	struct buf b;
	const struct dns_rr *rr;

	q->in_exp = false;
	/* §6.2: any DNS problem, no record or several, or a syntax error
	 * means "as if no exp modifier was given". */
	if (ans->rcode != DNS_RCODE_NOERROR || ans->nrr != 1 ||
	    ans->rr[0].type != DNS_T_TXT) {
		spf_finish(q, SPF_FAIL);
		return;
	}
	rr = &ans->rr[0];
	q->mctx.domain = q->frames[0].domain;
	buf_init(&b, 4096);
	if (spf_macro_expand(rr->u.txt.text, rr->u.txt.len, SPF_MACRO_EXPLAIN,
	    &q->mctx, &b) == SPF_MACRO_OK)
		spf_copy_printable(q->out.explanation,
		    sizeof(q->out.explanation), buf_cstr(&b), b.len);
	buf_clear(&b);
	spf_finish(q, SPF_FAIL);
}

/* A mechanism's address / existence answer. */
static void
spf_answer_mech(struct spf_query *q, const struct dns_answer *ans)
{
	struct spf_frame *f = &q->frames[q->depth];
	const struct spf_term *t = &f->rec->terms[f->ti];
	unsigned bits = q->mctx.family == AF_INET6 ? t->cidr6 : t->cidr4;

	if (spf_is_error(ans)) {
		spf_fail(q, SPF_TEMPERROR, "DNS %s for %s",
		    dns_rcode_name(ans->rcode), q->wait == SPF_W_MX_ADDR ?
		    q->mx[q->mxi] : q->target);
		return;
	}
	if (spf_is_void(ans) && q->wait != SPF_W_MX_ADDR &&
	    !spf_void(q, q->target))
		return;
	switch (q->wait) {
	case SPF_W_A:
		if (spf_answer_match(q, ans, bits))
			spf_frame_done(q, spf_qual_result(t->qual), t);
		else
			spf_next_term(f);
		break;
	case SPF_W_EXISTS:
		if (ans->nrr > 0)
			spf_frame_done(q, spf_qual_result(t->qual), t);
		else
			spf_next_term(f);
		break;
	case SPF_W_MX:
		spf_answer_mx(q, ans);
		break;
	case SPF_W_MX_ADDR:
		if (spf_answer_match(q, ans, bits))
			spf_frame_done(q, spf_qual_result(t->qual), t);
		else if (++q->mxi < q->nmx)
			spf_send(q, q->mx[q->mxi], spf_addr_type(q),
			    SPF_W_MX_ADDR);
		else
			spf_next_term(f);
		break;
	default:
		break;
	}
}

static void
spf_answer(struct spf_query *q, struct dns_answer *ans)
{
	switch (q->wait) {
	case SPF_W_TXT:
		spf_answer_txt(q, ans);
		break;
	case SPF_W_PTR:
		spf_answer_ptr(q, ans);
		break;
	case SPF_W_PTR_ADDR:
		/* §5.5: an error on one name skips that name. */
		q->ptr_ok[q->ptri] = spf_answer_match(q, ans,
		    (unsigned)spf_iplen(q) * 8);
		q->ptri++;
		break;
	case SPF_W_EXP:
		spf_answer_exp(q, ans);
		break;
	default:
		spf_answer_mech(q, ans);
		break;
	}
}

static void
spf_free(struct spf_query *q)
{
	if (q->dq != NULL)
		dns_query_cancel(q->dq);
	for (size_t i = 0; i <= q->depth && i <= SPF_LOOKUP_MAX; i++)
		spf_record_free(q->frames[i].rec);
	for (size_t i = 0; i < q->nmx; i++)
		free(q->mx[i]);
	for (size_t i = 0; i < q->nptr; i++)
		free(q->ptr[i]);
	event_free(q->deadline_ev);
	event_free(q->done_ev);
	free(q);
}

static void
spf_done_ev(evutil_socket_t fd, short ev, void *arg)
{
	struct spf_query *q = arg;

	(void)fd;
	(void)ev;
	q->cb(&q->out, q->arg);
	spf_free(q);
}

static void
spf_deadline_ev(evutil_socket_t fd, short ev, void *arg)
{
	struct spf_query *q = arg;

	(void)fd;
	(void)ev;
	spf_fail(q, SPF_TEMPERROR, "no result within %u ms", q->query_ms);
}

/* The client address into mctx; IPv4-mapped IPv6 becomes IPv4. */
static int
spf_set_ip(struct spf_query *q, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		q->mctx.family = AF_INET;
		memcpy(q->mctx.ip, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		q->mctx.family = AF_INET;
		memcpy(q->mctx.ip, s6->sin6_addr.s6_addr + 12, 4);
	} else {
		q->mctx.family = AF_INET6;
		memcpy(q->mctx.ip, s6->sin6_addr.s6_addr, 16);
	}
	return 0;
}

/* §4.3: <sender> and <domain> from MAIL FROM, or postmaster@HELO. */
static void
spf_set_sender(struct spf_query *q, const char *from, bool helo_only)
{
	const char *at, *dom;
	size_t ll;

	if (helo_only || from == NULL || from[0] == '\0') {
		q->out.identity = SPF_ID_HELO;
		from = "";
	} else
		q->out.identity = SPF_ID_MAILFROM;
	at = strrchr(from, '@');
	ll = at != NULL ? (size_t)(at - from) : 0;
	dom = q->out.identity == SPF_ID_HELO ? q->helo :
	    at != NULL ? at + 1 : from;
	if (ll == 0 || ll >= sizeof(q->local))
		snprintf(q->local, sizeof(q->local), "postmaster");
	else
		snprintf(q->local, sizeof(q->local), "%.*s", (int)ll, from);
	snprintf(q->out.domain, sizeof(q->out.domain), "%s", dom);
	snprintf(q->out.sender, sizeof(q->out.sender), "%s@%s", q->local,
	    q->out.domain);
	q->mctx.sender = q->out.sender;
	q->mctx.local = q->local;
	q->mctx.sender_domain = q->out.domain;
}

static struct spf_query *
spf_start(struct event_base *base, struct dns_resolver *res,
    const struct spf_request *req, spf_done_cb *cb, void *arg,
    bool helo_only)
{
	struct spf_query *q = xcalloc(1, sizeof(*q));
	unsigned total = req->timeout_ms ? req->timeout_ms : SPF_TIMEOUT_MS;
	struct timeval tv = { total / 1000, (total % 1000) * 1000 };

	if (spf_set_ip(q, req->ip) == -1) {
		free(q);
		return NULL;
	}
	q->base = base;
	q->res = res;
	q->cb = cb;
	q->arg = arg;
	q->query_ms = total < SPF_QUERY_TIMEOUT_MS ? total :
	    SPF_QUERY_TIMEOUT_MS;
	snprintf(q->helo, sizeof(q->helo), "%s", req->helo ? req->helo : "");
	snprintf(q->receiver, sizeof(q->receiver), "%s",
	    req->receiver ? req->receiver : "");
	q->mctx.helo = q->helo;
	q->mctx.receiver = q->receiver[0] ? q->receiver : NULL;
	q->mctx.now = (long long)time(NULL);
	spf_set_sender(q, req->mail_from, helo_only);
	snprintf(q->frames[0].domain, sizeof(q->frames[0].domain), "%s",
	    q->out.domain);
	q->deadline_ev = evtimer_new(base, spf_deadline_ev, q);
	q->done_ev = event_new(base, -1, 0, spf_done_ev, q);
	if (q->deadline_ev == NULL || q->done_ev == NULL)
		fatal("spf: cannot create events");
	evtimer_add(q->deadline_ev, &tv);
	spf_run(q);
	return q;
}

struct spf_query *
spf_check_start(struct event_base *base, struct dns_resolver *res,
    const struct spf_request *req, spf_done_cb *cb, void *arg)
{
	return spf_start(base, res, req, cb, arg, false);
}

struct spf_query *
spf_check_helo_start(struct event_base *base, struct dns_resolver *res,
    const struct spf_request *req, spf_done_cb *cb, void *arg)
{
	return spf_start(base, res, req, cb, arg, true);
}

void
spf_cancel(struct spf_query *q)
{
	if (q != NULL)
		spf_free(q);
}

struct spf_sync {
	struct spf_outcome	*out;
	bool			 done;
};

static void
spf_sync_cb(const struct spf_outcome *out, void *arg)
{
	struct spf_sync *s = arg;

	*s->out = *out;
	s->done = true;
}

int
spf_check_sync(const struct conf *conf, const struct spf_request *req,
    int helo_only, struct spf_outcome *out)
{
	struct spf_sync s = { out, false };
	struct dns_sync_env env;
	char err[256];

	memset(out, 0, sizeof(*out));
	if (dns_sync_open(&env, conf, err, sizeof(err)) == -1) {
		log_warn("%s", err);
		return -1;
	}
	if (spf_start(env.base, env.res, req, spf_sync_cb, &s, helo_only != 0)
	    == NULL)
		log_warn("spf: the client address is not IPv4 or IPv6");
	else
		dns_sync_run(&env, &s.done);
	dns_sync_close(&env);
	return s.done ? 0 : -1;
}
