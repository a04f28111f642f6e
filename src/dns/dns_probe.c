/* SPDX-License-Identifier: ISC */
/*
 * The DNSSEC probe (see dns.h): one DNSKEY lookup of the trust anchor's
 * zone through the configured resolver, required to validate, and the
 * check serve and check-config make of it when DANE is on. The anchor file
 * is configuration (trusted); the answer is only looked at for its status.
 */
#include "dns/dns.h"
#include "dns/dns_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound-event.h>
#include <unbound.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define DNS_T_DNSKEY		48
/* The first record of an anchor file is at its top; root.key is 1 KiB. */
#define DNS_ANCHOR_READ_MAX	(1024 * 1024)

struct dns_probe {
	bool	 done;
	bool	 answered;
	bool	 timed_out;
	int	 rcode;		/* libunbound's, then the packet's */
	int	 sec;
	unsigned ancount;
	char	 why[256];	/* why bogus, escaped */
};

/* The next whitespace-separated token of [*p, end) up to a comment. */
static bool
dns_anchor_token(const char **p, const char *end, const char **tok,
    size_t *toklen)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	if (s == end || *s == ';')
		return false;
	*tok = s;
	while (s < end && *s != ' ' && *s != '\t' && *s != '\r' && *s != ';')
		s++;
	*toklen = (size_t)(s - *tok);
	*p = s;
	return true;
}

static bool
dns_anchor_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(tok, word, len) == 0;
}

/* A TTL or a class, which may stand between owner and type. */
static bool
dns_anchor_skippable(const char *tok, size_t len)
{
	if (dns_anchor_is(tok, len, "IN") || dns_anchor_is(tok, len, "CH") ||
	    dns_anchor_is(tok, len, "HS") || dns_anchor_is(tok, len, "CS"))
		return true;
	for (size_t i = 0; i < len; i++)
		if (tok[i] < '0' || tok[i] > '9')
			return false;
	return true;
}

/* The owner of the line [p, end) if it is a DS or DNSKEY record. */
static bool
dns_anchor_line(const char *p, const char *end, const char **owner,
    size_t *ownerlen)
{
	const char *tok;
	size_t len;

	/* A line starting with blanks continues a record or omits the
	 * owner; '$' lines are directives. */
	if (p == end || *p == ' ' || *p == '\t' || *p == '\r' || *p == '$' ||
	    *p == ';')
		return false;
	if (!dns_anchor_token(&p, end, owner, ownerlen))
		return false;
	/* A name in presentation form is printable ASCII (a NUL would cut
	 * it short). */
	for (size_t i = 0; i < *ownerlen; i++)
		if ((unsigned char)(*owner)[i] <= ' ' ||
		    (unsigned char)(*owner)[i] >= 0x7f)
			return false;
	for (int i = 0; i < 3 && dns_anchor_token(&p, end, &tok, &len); i++) {
		if (dns_anchor_is(tok, len, "DS") ||
		    dns_anchor_is(tok, len, "DNSKEY"))
			return true;
		if (!dns_anchor_skippable(tok, len))
			return false;
	}
	return false;
}

int
dns_anchor_zone(const char *text, size_t len, char *out, size_t outlen)
{
	const char *p = text, *end = text + len, *nl, *owner;
	size_t ownerlen;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (!dns_anchor_line(p, nl, &owner, &ownerlen))
			continue;
		if (ownerlen >= outlen || ownerlen >= DNS_NAME_TEXT_MAX)
			return -1;
		memcpy(out, owner, ownerlen);
		out[ownerlen] = '\0';
		return 0;
	}
	return -1;
}

/* The zone of the anchor file at path into zone; -1 with err. */
static int
dns_anchor_file_zone(const char *path, char *zone, size_t zonelen, char *err,
    size_t errlen)
{
	char *buf = xmalloc(DNS_ANCHOR_READ_MAX), esc[256];
	FILE *fp;
	size_t n;
	int r;

	log_escape(path, strlen(path), esc, sizeof(esc));
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "[dns] trust_anchor %s: %s", esc,
		    strerror(errno));
		free(buf);
		return -1;
	}
	n = fread(buf, 1, DNS_ANCHOR_READ_MAX, fp);
	fclose(fp);
	r = dns_anchor_zone(buf, n, zone, zonelen);
	free(buf);
	if (r == -1)
		snprintf(err, errlen, "[dns] trust_anchor %s holds no DS or "
		    "DNSKEY record", esc);
	return r;
}

static void
dns_probe_cb(void *arg, int rcode, void *pkt, int len, int sec,
    char *why_bogus, int ratelimited)
{
	struct dns_probe *p = arg;
	const unsigned char *b = pkt;

	(void)ratelimited;
	p->answered = p->done = true;
	p->rcode = rcode;
	p->sec = sec;
	/* NXDOMAIN comes with rcode 0; the packet has the real one
	 * (dns-testing.md, pitfall 5). */
	if (rcode == 0 && b != NULL && len >= 12) {
		p->rcode = b[3] & 0x0f;
		p->ancount = (unsigned)b[6] << 8 | b[7];
	}
	if (why_bogus != NULL)
		log_escape(why_bogus, strlen(why_bogus), p->why,
		    sizeof(p->why));
}

static void
dns_probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_probe *p = arg;

	(void)fd;
	(void)what;
	p->timed_out = p->done = true;
}

/* What came back, as the end of the probe's error line. */
static void
dns_probe_verdict(const struct dns_probe *p, char *out, size_t outlen)
{
	static const char *const rcodes[] = { "NOERROR", "FORMERR",
	    "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	if (p->timed_out)
		snprintf(out, outlen, "no answer within %d s",
		    DNS_PROBE_TIMEOUT_MS / 1000);
	else if (p->sec == 1)
		snprintf(out, outlen, "the answer is bogus (%s)",
		    p->why[0] != '\0' ? p->why : "validation failed");
	else if (p->rcode != 0 && p->rcode < 6)
		snprintf(out, outlen, "the answer is %s", rcodes[p->rcode]);
	else if (p->rcode != 0)
		snprintf(out, outlen, "the answer has rcode %d", p->rcode);
	else if (p->sec != 2)
		snprintf(out, outlen, "the answer is not validated (insecure)");
	else
		snprintf(out, outlen, "the answer holds no DNSKEY record");
}

/* Run the lookup of zone's DNSKEY on env; fills p. -1 with err if it
 * could not be started. */
static int
dns_probe_run(struct dns_sync_env *env, const char *zone,
    struct dns_probe *p, char *err, size_t errlen)
{
	struct ub_ctx *ub = dns_resolver_ub(env->res);
	struct timeval tv = { DNS_PROBE_TIMEOUT_MS / 1000,
	    (DNS_PROBE_TIMEOUT_MS % 1000) * 1000 };
	struct event *ev;
	int rc, id = 0;

	if ((ev = evtimer_new(env->base, dns_probe_timeout, p)) == NULL)
		fatal("dns: evtimer_new failed");
	evtimer_add(ev, &tv);
	/* p is ready before the call: a cached or local answer runs the
	 * callback inside it (dns-testing.md, pitfall 8). */
	rc = ub_resolve_event(ub, zone, DNS_T_DNSKEY, 1 /* IN */, p,
	    dns_probe_cb, &id);
	if (rc != 0) {
		snprintf(err, errlen, "DNSSEC probe: cannot ask for the "
		    "DNSKEY records of %s: %s", zone, ub_strerror(rc));
		event_free(ev);
		return -1;
	}
	dns_sync_run(env, &p->done);
	if (!p->answered)
		ub_cancel(ub, id);
	event_free(ev);
	return 0;
}

int
dns_dnssec_probe(const struct conf *conf, char *err, size_t errlen)
{
	struct dns_probe p;
	struct dns_sync_env env;
	char zone[DNS_NAME_TEXT_MAX], verdict[400], res[128], ta[256];
	const char *resolver = conf->dns_resolver != NULL &&
	    conf->dns_resolver[0] != '\0' ? conf->dns_resolver : "system";
	int r;

	if (conf->dns_trust_anchor == NULL ||
	    conf->dns_trust_anchor[0] == '\0') {
		snprintf(err, errlen, "[dns] trust_anchor is empty: no "
		    "DNSSEC validation");
		return -1;
	}
	if (dns_anchor_file_zone(conf->dns_trust_anchor, zone, sizeof(zone),
	    err, errlen) == -1)
		return -1;
	if (dns_sync_open(&env, conf, err, errlen) == -1)
		return -1;
	memset(&p, 0, sizeof(p));
	r = dns_probe_run(&env, zone, &p, err, errlen);
	dns_sync_close(&env);
	if (r == -1)
		return -1;
	if (p.answered && p.rcode == 0 && p.sec == 2 && p.ancount > 0)
		return 0;
	dns_probe_verdict(&p, verdict, sizeof(verdict));
	snprintf(err, errlen, "DNSSEC probe failed: the DNSKEY records of "
	    "\"%s\" (the zone of [dns] trust_anchor %s), asked through [dns] "
	    "resolver = %s: %s", zone, log_escape(conf->dns_trust_anchor,
	    strlen(conf->dns_trust_anchor), ta, sizeof(ta)),
	    log_escape(resolver, strlen(resolver), res, sizeof(res)),
	    verdict);
	return -1;
}

int
dns_dane_check(const struct conf *conf, char *err, size_t errlen)
{
	char why[1024];
	bool recursive = conf->dns_resolver != NULL &&
	    strcmp(conf->dns_resolver, "recursive") == 0 &&
	    conf->dns_trust_anchor != NULL && conf->dns_trust_anchor[0] != '\0';

	if (!conf->dane)
		return 0;
	if (dns_dnssec_probe(conf, why, sizeof(why)) == 0)
		return 0;
	/* The fix first: a long reason may be cut where this is shown. */
	snprintf(err, errlen, "[delivery] dane = yes needs DNSSEC validation, "
	    "which does not work here. Fix: %s, or use a validating resolver "
	    "that passes DNSSEC records through ([dns] resolver = ADDR), or "
	    "set [delivery] dane = no. %s", recursive ? "let this host reach "
	    "the DNS servers of the Internet (port 53, UDP and TCP) for [dns] "
	    "resolver = recursive" : "set [dns] resolver = recursive (with "
	    "trust_anchor = /usr/share/dns/root.key)", why);
	return -1;
}
