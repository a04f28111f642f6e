/* SPDX-License-Identifier: ISC */
/*
 * SPF evaluation (RFC 7208): check_host() for the MAIL FROM identity (or,
 * for the null sender, the HELO identity, §2.4) and for the HELO identity
 * alone (§2.3), asynchronously on the resolver of dns.h, plus a blocking
 * wrapper for the offline check-auth tool.
 *
 * Trust: the request (client address, HELO, MAIL FROM) comes from the
 * SMTP client and every DNS answer from the network; both are untrusted.
 * Records are parsed by spf_record.c and macros expanded by spf_macro.c,
 * both pure. The work of one check is bounded by the limits below: DNS
 * terms, void lookups, addresses per MX / PTR name, include depth, one
 * query in flight at a time and an overall deadline.
 *
 * Results are values: a DNS failure is SPF_TEMPERROR, a bad record
 * SPF_PERMERROR, never an error return.
 */
#ifndef SEALMAIL_AUTH_SPF_H
#define SEALMAIL_AUTH_SPF_H

#include <stddef.h>
#include <sys/socket.h>

struct conf;
struct dns_resolver;
struct event_base;
struct spf_query;

/* §4.6.4: at most 10 terms that cause DNS queries (include, a, mx, ptr,
 * exists, redirect) per check_host() evaluation, includes counted. */
#define SPF_LOOKUP_MAX		10
/* §4.6.4 and §11.1: at most 2 "void lookups" (NOERROR with no answer, or
 * NXDOMAIN); one more is a permerror. */
#define SPF_VOID_MAX		2
/* §4.6.4: an "mx" may query at most 10 address records (more MX names is a
 * permerror); a "ptr" or %{p} looks at the first 10 PTR names only. */
#define SPF_MX_NAMES_MAX	10
#define SPF_PTR_NAMES_MAX	10
/* §4.6.4: elapsed time for one check; "SHOULD allow at least 20 seconds".
 * Past it the result is temperror. */
#define SPF_TIMEOUT_MS		20000
/* Deadline of one DNS query inside a check (bounded by what is left). */
#define SPF_QUERY_TIMEOUT_MS	10000
/* Sizes of the outcome's text fields (with the NUL). An explanation is
 * cut to fit; RFC 5321 §4.5.3.1.5 limits a reply line to 512. */
#define SPF_EXPLANATION_MAX	512
#define SPF_PROBLEM_MAX		256
#define SPF_MECHANISM_MAX	256

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_identity {
	SPF_ID_MAILFROM,	/* smtp.mailfrom */
	SPF_ID_HELO,		/* smtp.helo */
};

struct spf_request {
	const struct sockaddr	*ip;		/* the client; AF_INET or AF_INET6
						 * (an IPv4-mapped IPv6 address
						 * is checked as IPv4) */
	const char		*helo;		/* HELO/EHLO argument, or NULL */
	const char		*mail_from;	/* "local@domain"; "" or NULL is
						 * the null sender */
	const char		*receiver;	/* our hostname for %{r}; NULL =
						 * "unknown" */
	unsigned		 timeout_ms;	/* overall deadline; 0 =
						 * SPF_TIMEOUT_MS */
};

struct spf_outcome {
	enum spf_result		result;
	enum spf_identity	identity;	/* which identity was checked */
	char			domain[256];	/* its domain (<domain> of §4.1) */
	char			sender[400];	/* the <sender> used (§4.3) */
	/* Only for SPF_FAIL, when the record had exp= and the text could
	 * be fetched and expanded (§6.2); bytes that are not printable
	 * ASCII are replaced with '?'; cut to fit. Else "". */
	char			explanation[SPF_EXPLANATION_MAX];
	/* Why, for temperror and permerror; else "". */
	char			problem[SPF_PROBLEM_MAX];
	/* The top-level term that matched, as written ("-all",
	 * "include:_spf.example.org"; printable ASCII), or "" (default
	 * result). */
	char			mechanism[SPF_MECHANISM_MAX];
	unsigned		lookups;	/* DNS terms used (§4.6.4) */
	unsigned		void_lookups;
};

/*
 * Called exactly once per check that was not cancelled, always from a
 * turn of the event loop (never inside spf_check_start()). out is
 * borrowed for the duration of the call. The query handle is freed when
 * the callback returns: do not pass it to spf_cancel() from here.
 */
typedef void spf_done_cb(const struct spf_outcome *out, void *arg);

/*
 * Start check_host() for the MAIL FROM identity of req: <sender> is
 * req->mail_from, or "postmaster@" req->helo for the null sender (§2.4),
 * in which case the identity is SPF_ID_HELO. res and base must outlive
 * the query (or the query must be cancelled first). req and its strings
 * are copied. Returns the handle, valid until cb starts or spf_cancel().
 * Never fails for bad input: a malformed identity ends in SPF_NONE.
 * Returns NULL only if req->ip is not an IPv4/IPv6 address.
 */
struct spf_query *spf_check_start(struct event_base *base,
    struct dns_resolver *res, const struct spf_request *req,
    spf_done_cb *cb, void *arg);

/* The same for the HELO identity alone (§2.3): <sender> is
 * "postmaster@" req->helo; req->mail_from is ignored. */
struct spf_query *spf_check_helo_start(struct event_base *base,
    struct dns_resolver *res, const struct spf_request *req,
    spf_done_cb *cb, void *arg);

/* Stop q: its DNS query is cancelled and cb never runs. NULL is a no-op.
 * May be called from another DNS callback. */
void spf_cancel(struct spf_query *q);

/*
 * Blocking check for CLI tools (check-auth): its own event base and
 * resolver built from conf's [dns], then spf_check_start() (or the HELO
 * check when helo_only). Returns 0 and fills *out, or -1 if the resolver
 * could not be set up or req->ip is unusable (logged with log_warn).
 * Never use it inside the daemon's event loops.
 */
int spf_check_sync(const struct conf *conf, const struct spf_request *req,
    int helo_only, struct spf_outcome *out);

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (RFC 8601 §2.7.2 result names). Never NULL. */
const char *spf_result_name(enum spf_result r);

#endif
