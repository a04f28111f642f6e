/* SPDX-License-Identifier: ISC */
/* The DNS records to publish, as zone-file lines (see dnsrec.h). */
#include "check/dnsrec.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "cluster/cluster_node.h"
#include "core/xmalloc.h"
#include "sts/sts_serve.h"

/* Distinct addresses of the host we list; more is not a mail host. */
#define DNSREC_ADDRS_MAX	32

struct dnsrec_addr {
	int		 family;
	uint8_t		 addr[16];
	char		 why[160];
};

/* The host's publishable addresses and what we noticed finding them. */
struct dnsrec_host {
	struct dnsrec_addr	 a[DNSREC_ADDRS_MAX];
	size_t			 n;
	struct dnsrec_out	 notes;		/* comment lines */
	bool			 loopback_only;
};

struct dnsrec_emit {
	struct dnsrec_out	*out;
	bool			 zone;
	const char		*origin;	/* zone: the current $ORIGIN */
};

static void
add(struct dnsrec_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add(struct dnsrec_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->line = xreallocarray(o->line, o->n + 1, sizeof(*o->line));
	o->line[o->n++] = s;
}

void
dnsrec_out_clear(struct dnsrec_out *out)
{
	for (size_t i = 0; i < out->n; i++)
		free(out->line[i]);
	free(out->line);
	out->line = NULL;
	out->n = 0;
}

char *
dnsrec_txt_rdata(const char *value)
{
	size_t n = strlen(value), chunks = n / DNSREC_TXT_CHUNK + 1;
	/* Each octet may double when escaped; quotes and spaces per chunk. */
	char *out = xmalloc(2 * n + 3 * chunks + 1), *p = out;
	size_t off = 0;

	do {
		size_t len = n - off > DNSREC_TXT_CHUNK ? DNSREC_TXT_CHUNK :
		    n - off;
		if (p != out)
			*p++ = ' ';
		*p++ = '"';
		for (size_t i = 0; i < len; i++) {
			if (value[off + i] == '"' || value[off + i] == '\\')
				*p++ = '\\';
			*p++ = value[off + i];
		}
		*p++ = '"';
		off += len;
	} while (off < n);
	*p = '\0';
	return out;
}

bool
dnsrec_addr_is_public(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == AF_INET)
		return !(a[0] == 0 || a[0] == 10 || a[0] == 127 ||
		    (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) || a[0] >= 224);
	if (family != AF_INET6)
		return false;
	/* ::, ::1, IPv4-mapped, link-local, unique local, multicast */
	if (memcmp(a, zero, 15) == 0 && a[15] <= 1)
		return false;
	if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
		return false;
	return !((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	    (a[0] & 0xfe) == 0xfc || a[0] == 0xff);
}

void
dnsrec_reverse_name(int family, const uint8_t *a,
    char out[DNSREC_REVERSE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	if (family == AF_INET) {
		snprintf(out, DNSREC_REVERSE_MAX, "%u.%u.%u.%u.in-addr.arpa.",
		    a[3], a[2], a[1], a[0]);
		return;
	}
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[a[i] & 0xf];
		*p++ = '.';
		*p++ = hex[a[i] >> 4];
		*p++ = '.';
	}
	memcpy(p, "ip6.arpa.", sizeof("ip6.arpa."));
}

static const char *
addr_text(int family, const uint8_t *a, char *buf, size_t len)
{
	if (inet_ntop(family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* The family and raw address of a listener address. */
static int
sock_addr(const struct conf_sockaddr *sa, uint8_t addr[16])
{
	if (sa->ss.ss_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)&sa->ss)->sin_addr,
		    4);
		return AF_INET;
	}
	memcpy(addr, &((const struct sockaddr_in6 *)&sa->ss)->sin6_addr, 16);
	return AF_INET6;
}

static bool
is_unspecified(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}

static bool
is_loopback(int family, const uint8_t *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	return family == AF_INET ? a[0] == 127 : memcmp(a, one, 16) == 0;
}

static void
host_add(struct dnsrec_host *h, int family, const uint8_t *a,
    const char *why)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < h->n; i++)
		if (h->a[i].family == family && memcmp(h->a[i].addr, a, len)
		    == 0)
			return;
	if (h->n == DNSREC_ADDRS_MAX)
		return;
	h->a[h->n].family = family;
	memset(h->a[h->n].addr, 0, 16);
	memcpy(h->a[h->n].addr, a, len);
	snprintf(h->a[h->n].why, sizeof(h->a[h->n].why), "%s", why);
	h->n++;
}

/* Listeners behind 0.0.0.0 or [::]: the machine's public addresses. */
static void
host_interfaces(struct dnsrec_host *h, const struct dnsrec_facts *f,
    bool wild4, bool wild6)
{
	char t[INET6_ADDRSTRLEN], why[160];

	for (size_t i = 0; i < f->nifaddrs; i++) {
		const struct dnsrec_ifaddr *ia = &f->ifaddrs[i];
		if (!(ia->family == AF_INET ? wild4 : wild6) ||
		    is_loopback(ia->family, ia->addr))
			continue;
		addr_text(ia->family, ia->addr, t, sizeof(t));
		if (!dnsrec_addr_is_public(ia->family, ia->addr)) {
			add(&h->notes, "; not published: %s on %s (private or "
			    "link-local; if it is NATed, publish the public "
			    "address instead)", t, ia->ifname);
			continue;
		}
		snprintf(why, sizeof(why), "interface %s (listeners on %s)",
		    ia->ifname, ia->family == AF_INET ? "0.0.0.0" : "[::]");
		host_add(h, ia->family, ia->addr, why);
	}
}

/*
 * Where the host receives (mx, submission listeners) and, as far as we
 * can tell, sends from: their addresses, or for 0.0.0.0 / [::] the
 * machine's public interface addresses.
 */
static void
host_collect(const struct conf *c, const struct dnsrec_facts *f,
    struct dnsrec_host *h)
{
	bool wild4 = false, wild6 = false, smtp = false, other = false;
	char why[160];
	uint8_t a[16];

	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		if (CONF_ROLE_IS_HTTP(l->role))
			continue;
		for (size_t j = 0; j < l->naddrs; j++) {
			int fam = sock_addr(&l->addrs[j], a);
			smtp = true;
			if (is_unspecified(fam, a)) {
				*(fam == AF_INET ? &wild4 : &wild6) = true;
				other = true;
			} else if (is_loopback(fam, a))
				continue;
			else if (!dnsrec_addr_is_public(fam, a)) {
				other = true;
				add(&h->notes, "; not published: listener %s on "
				    "%s (a private address; publish the public "
				    "address it is reached by)", l->name,
				    l->addrs[j].text);
			} else {
				other = true;
				snprintf(why, sizeof(why), "listener %s (%s)",
				    l->name, l->addrs[j].text);
				host_add(h, fam, a, why);
			}
		}
	}
	host_interfaces(h, f, wild4, wild6);
	h->loopback_only = smtp && !other;
	if (h->loopback_only)
		add(&h->notes, "; the SMTP listeners are on loopback only (a "
		    "development config): no address to publish");
	else if (h->n == 0)
		add(&h->notes, "; the public address of %s cannot be known "
		    "from the config (no public address on this machine): "
		    "fill it in below", c->hostname);
}

/* ---- emitting --------------------------------------------------------- */

static bool
name_under(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	return strcasecmp(name, zone) == 0 || (n > z && name[n - z - 1] ==
	    '.' && strcasecmp(name + n - z, zone) == 0);
}

/* One record; owner is absolute without the final dot. With zone, a
 * record outside the current zone is shown as a comment. */
static void
rr(struct dnsrec_emit *e, const char *owner, const char *type,
    const char *rdata)
{
	size_t n = strlen(owner);

	if (!e->zone)
		add(e->out, "%s. %d IN %s %s", owner, DNSREC_TTL, type, rdata);
	else if (e->origin != NULL && name_under(owner, e->origin)) {
		n -= strlen(e->origin);
		if (n == 0)
			add(e->out, "@ IN %s %s", type, rdata);
		else
			add(e->out, "%.*s IN %s %s", (int)(n - 1), owner, type,
			    rdata);
	} else {
		add(e->out, "; (belongs in the zone that holds %s, not this "
		    "one)", owner);
		add(e->out, "; %s. IN %s %s", owner, type, rdata);
	}
}

static void
rr_txt(struct dnsrec_emit *e, const char *owner, const char *value)
{
	char *rd = dnsrec_txt_rdata(value);

	rr(e, owner, "TXT", rd);
	free(rd);
}

/* A record the operator completes: always a comment. */
static void
rr_todo(struct dnsrec_emit *e, const char *owner, const char *type,
    const char *rdata)
{
	add(e->out, "; %s. IN %s %s", owner, type, rdata);
}

static void
emit_addresses(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_host *h)
{
	char t[INET6_ADDRSTRLEN];

	add(e->out, "; A/AAAA of %s: the addresses the listeners are "
	    "reached on", c->hostname);
	for (size_t i = 0; i < h->notes.n; i++)
		add(e->out, "%s", h->notes.line[i]);
	for (size_t i = 0; i < h->n; i++) {
		add(e->out, "; from %s", h->a[i].why);
		rr(e, c->hostname, h->a[i].family == AF_INET ? "A" : "AAAA",
		    addr_text(h->a[i].family, h->a[i].addr, t, sizeof(t)));
	}
	if (h->n == 0 && !h->loopback_only) {
		rr_todo(e, c->hostname, "A", "<its public IPv4 address>");
		rr_todo(e, c->hostname, "AAAA", "<its public IPv6 address, "
		    "if any>");
	}
}

static void
emit_tlsa(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_facts *f)
{
	char *owner = xasprintf("_25._tcp.%s", c->hostname), *rd;

	add(e->out, "; TLSA 3 1 1 (DANE-EE, RFC 7672): the SHA-256 of each "
	    "certificate's public key. DANE needs DNSSEC: without a signed "
	    "zone senders ignore it.");
	add(e->out, "; Before a key rollover publish the next key's record "
	    "beside these and wait two TTLs before switching (certbot makes "
	    "a new key on each renewal unless run with --reuse-key).");
	for (size_t i = 0; i < f->ncerts; i++) {
		const struct dnsrec_cert *ce = &f->certs[i];
		bool dup = false;
		if (ce->spki == NULL) {
			add(e->out, "; cannot read certificate %s: %s",
			    ce->path, ce->error ? ce->error : "unknown error");
			rr_todo(e, owner, "TLSA", "3 1 1 <SHA-256 of its "
			    "public key>");
			continue;
		}
		for (size_t j = 0; j < i; j++)
			dup |= f->certs[j].spki != NULL &&
			    strcmp(f->certs[j].spki, ce->spki) == 0;
		if (dup)
			continue;
		add(e->out, "; key of %s", ce->path);
		rd = xasprintf("3 1 1 %s", ce->spki);
		rr(e, owner, "TLSA", rd);
		free(rd);
	}
	if (f->ncerts == 0)
		add(e->out, "; no [tls] certificate: no TLSA record");
	free(owner);
}

static void
emit_ptr(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_host *h)
{
	char rev[DNSREC_REVERSE_MAX];

	add(e->out, "; PTR (reverse DNS) is set by whoever hosts the address "
	    "(your provider's panel), not in your zone; receivers expect:");
	for (size_t i = 0; i < h->n; i++) {
		dnsrec_reverse_name(h->a[i].family, h->a[i].addr, rev);
		add(e->out, "; %s IN PTR %s.", rev, c->hostname);
	}
	if (h->n == 0)
		add(e->out, "; <reverse name of each public address> IN PTR "
		    "%s.", c->hostname);
}

/* Whether node i is another node whose MX name is a host name not
 * printed before (ours, or an earlier node's). */
static bool
node_other_mx(const struct conf *c, const struct dnsrec_facts *f, size_t i)
{
	const char *mx = f->nodes[i].mx;

	if (mx == NULL || !cluster_valid_mx(mx) ||
	    strcasecmp(mx, c->hostname) == 0)
		return false;
	for (size_t j = 0; j < i; j++)
		if (f->nodes[j].mx != NULL &&
		    strcasecmp(f->nodes[j].mx, mx) == 0)
			return false;
	return true;
}

/* The TLSA records of the other nodes' keys, each under its MX name. */
static void
emit_node_tlsa(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_facts *f)
{
	for (size_t i = 0; i < f->nnodes; i++) {
		const struct dnsrec_node *n = &f->nodes[i];
		char *keys, *key, *save = NULL, *owner, *rd;

		if (n->mx == NULL || !cluster_valid_mx(n->mx) ||
		    (n->name != NULL && strcasecmp(n->name, c->hostname) == 0))
			continue;
		owner = xasprintf("_25._tcp.%s", n->mx);
		/* Only host names reach the output: a line break in a row
		 * would forge records. */
		add(e->out, "; cluster node %s (MX %s)%s: TLSA of its keys, "
		    "as its last heartbeat wrote them", n->name != NULL &&
		    cluster_valid_mx(n->name) ? n->name : n->mx, n->mx,
		    n->stale ? ", stale: stopped beating "
		    "(sealmail cluster forget removes it)" : "");
		keys = xstrdup(n->spki ? n->spki : "");
		for (key = strtok_r(keys, " ", &save); key != NULL;
		    key = strtok_r(NULL, " ", &save)) {
			if (strlen(key) != 64 || strspn(key,
			    "0123456789abcdef") != 64)
				continue;
			rd = xasprintf("3 1 1 %s", key);
			rr(e, owner, "TLSA", rd);
			free(rd);
		}
		free(keys);
		free(owner);
	}
}

static void
emit_host(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_facts *f, const struct dnsrec_host *h)
{
	add(e->out, ";");
	add(e->out, "; ---- the mail host %s ----", c->hostname);
	emit_addresses(e, c, h);
	emit_tlsa(e, c, f);
	emit_node_tlsa(e, c, f);
	emit_ptr(e, c, h);
}

static void
emit_spf(struct dnsrec_emit *e, const struct conf *c,
    const struct conf_domain *d, const struct dnsrec_host *h)
{
	char t[INET6_ADDRSTRLEN], *v, *nv;

	add(e->out, "; SPF (RFC 7208): the addresses mail from %s leaves "
	    "from. Not just \"mx\": behind a load balancer or NAT the MX "
	    "addresses are not the sending ones.", d->name);
	if (c->relayhost != NULL && *c->relayhost != '\0') {
		add(e->out, "; mail leaves through [delivery] relayhost %s: "
		    "authorise it (its provider names the include:)",
		    c->relayhost);
		rr_todo(e, d->name, "TXT", "\"v=spf1 include:<the relay "
		    "provider's SPF domain> -all\"");
		return;
	}
	v = xstrdup("v=spf1");
	for (size_t i = 0; i < h->n; i++) {
		addr_text(h->a[i].family, h->a[i].addr, t, sizeof(t));
		add(e->out, "; %s:%s from %s", h->a[i].family == AF_INET ?
		    "ip4" : "ip6", t, h->a[i].why);
		nv = xasprintf("%s %s:%s", v, h->a[i].family == AF_INET ?
		    "ip4" : "ip6", t);
		free(v);
		v = nv;
	}
	if (h->n == 0) {
		add(e->out, "; the sending addresses cannot be known from the "
		    "config: a:%s is right only if its A/AAAA records are "
		    "the addresses mail leaves from; else list them as "
		    "ip4:/ip6:", c->hostname);
		nv = xasprintf("%s a:%s", v, c->hostname);
		free(v);
		v = nv;
	}
	add(e->out, "; -all: mail from %s sent from anywhere else fails; "
	    "use ~all while other senders (a newsletter service, an old "
	    "server) are not listed yet.", d->name);
	nv = xasprintf("%s -all", v);
	rr_txt(e, d->name, nv);
	free(nv);
	free(v);
}

static const struct dnsrec_dkim *
find_dkim(const struct dnsrec_facts *f, const char *domain,
    const char *selector)
{
	for (size_t i = 0; i < f->ndkim; i++)
		if (strcasecmp(f->dkim[i].domain, domain) == 0 &&
		    strcmp(f->dkim[i].selector, selector) == 0)
			return &f->dkim[i];
	return NULL;
}

static void
emit_dkim(struct dnsrec_emit *e, const struct conf_domain *d,
    const struct dnsrec_facts *f)
{
	if (d->ndkim == 0)
		add(e->out, "; DKIM: [domain \"%s\"] has no dkim_selector and "
		    "dkim_key, so its mail is not signed (sealmail dkim "
		    "keygen makes a key)", d->name);
	for (size_t j = 0; j < d->ndkim; j++) {
		const struct dnsrec_dkim *k = find_dkim(f, d->name,
		    d->dkim[j].selector);
		char *owner = xasprintf("%s._domainkey.%s",
		    d->dkim[j].selector, d->name);
		if (k != NULL && k->record != NULL) {
			add(e->out, "; DKIM selector %s (key %s)",
			    d->dkim[j].selector, d->dkim[j].key);
			rr_txt(e, owner, k->record);
		} else {
			add(e->out, "; DKIM selector %s: %s", d->dkim[j].selector,
			    k != NULL && k->error != NULL ? k->error :
			    "the key was not read");
			rr_todo(e, owner, "TXT", "\"v=DKIM1; k=<rsa|ed25519>; "
			    "p=<public key>\"");
		}
		free(owner);
	}
}

/* The [reports] inbox for d's reports: one in d first, else the first. */
static const char *
pick_inbox(const struct conf *c, const struct conf_domain *d)
{
	for (size_t i = 0; i < c->nreports_inbox; i++) {
		const char *at = strrchr(c->reports_inbox[i], '@');
		if (at != NULL && strcasecmp(at + 1, d->name) == 0)
			return c->reports_inbox[i];
	}
	return c->nreports_inbox > 0 ? c->reports_inbox[0] : NULL;
}

/* RFC 9990 §4: the inbox's domain agrees to receive d's reports. */
static void
emit_dmarc_auth(struct dnsrec_emit *e, const char *domain,
    const char *inbox_domain)
{
	char *owner = xasprintf("%s._report._dmarc.%s", domain, inbox_domain);

	rr_txt(e, owner, "v=DMARC1");
	free(owner);
}

static void
emit_dmarc(struct dnsrec_emit *e, const struct conf *c,
    const struct conf_domain *d, const char *inbox)
{
	char *owner = xasprintf("_dmarc.%s", d->name), *v;
	const char *at = inbox ? strrchr(inbox, '@') : NULL;

	add(e->out, "; DMARC (RFC 9989): start with p=none and read the "
	    "aggregate reports; once they show only your own mail passing, "
	    "move to p=quarantine, then p=reject.");
	if (inbox == NULL) {
		add(e->out, "; no [reports] inbox: set one (e.g. inbox = "
		    "dmarc-reports@%s, a user or alias) to receive the "
		    "reports; rua= then names it", d->name);
		rr_txt(e, owner, "v=DMARC1; p=none");
	} else {
		v = xasprintf("v=DMARC1; p=none; rua=mailto:%s", inbox);
		rr_txt(e, owner, v);
		free(v);
	}
	free(owner);
	/* Another domain's consent lives in its zone: with its records
	 * when it is one of ours, else here. */
	if (at != NULL && strcasecmp(at + 1, d->name) != 0) {
		if (conf_is_local_domain(c, at + 1))
			add(e->out, "; the reports go to %s, which agrees to "
			    "receive them with %s._report._dmarc.%s (printed "
			    "with %s's records)", at + 1, d->name, at + 1,
			    at + 1);
		else {
			add(e->out, "; the reports go to %s, another domain, "
			    "which must agree to receive them (RFC 9990 §4):",
			    at + 1);
			emit_dmarc_auth(e, d->name, at + 1);
		}
	}
	for (size_t i = 0; i < c->ndomains; i++) {
		const char *o = pick_inbox(c, &c->domains[i]);
		const char *oat = o ? strrchr(o, '@') : NULL;
		if (oat == NULL || strcasecmp(oat + 1, d->name) != 0 ||
		    strcasecmp(c->domains[i].name, d->name) == 0)
			continue;
		add(e->out, "; %s sends its DMARC reports to %s: agree to "
		    "receive them (RFC 9990 §4)", c->domains[i].name, o);
		emit_dmarc_auth(e, c->domains[i].name, d->name);
	}
}

/* The https listeners' addresses: none, wildcard, public ones, or
 * loopback/private only. */
static void
emit_sts_host(struct dnsrec_emit *e, const struct conf *c,
    const char *owner)
{
	bool wild = false, shown = false;
	char t[INET6_ADDRSTRLEN];
	uint8_t a[16];

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; c->listeners[i].role == CONF_ROLE_HTTPS &&
		    j < c->listeners[i].naddrs; j++)
			wild |= is_unspecified(sock_addr(
			    &c->listeners[i].addrs[j], a), a);
	if (wild) {
		char *host = xasprintf("%s.", c->hostname);
		rr(e, owner, "CNAME", host);
		free(host);
		return;
	}
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; c->listeners[i].role == CONF_ROLE_HTTPS &&
		    j < c->listeners[i].naddrs; j++) {
			int fam = sock_addr(&c->listeners[i].addrs[j], a);
			if (!dnsrec_addr_is_public(fam, a))
				continue;
			rr(e, owner, fam == AF_INET ? "A" : "AAAA",
			    addr_text(fam, a, t, sizeof(t)));
			shown = true;
		}
	if (!shown) {
		add(e->out, "; the https listener is on loopback or private "
		    "addresses only: publish the public address it is "
		    "reached by");
		rr_todo(e, owner, "A", "<public address of the https "
		    "listener>");
	}
}

static void
emit_sts(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_facts *f, const struct conf_domain *d)
{
	const char **mx = xcalloc(f->nnodes + 1, sizeof(*mx));
	char *txt, *owner = xasprintf("_mta-sts.%s",
	    d->name), *host = xasprintf("mta-sts.%s", d->name), *rd;
	bool https = false;

	for (size_t i = 0; i < f->nnodes; i++)
		mx[i] = f->nodes[i].mx;
	txt = sts_serve_txt(c, d, mx, f->nnodes);
	free(mx);
	for (size_t i = 0; i < c->nlisteners; i++)
		https |= c->listeners[i].role == CONF_ROLE_HTTPS;
	add(e->out, "; MTA-STS (RFC 8461): policy mode %s, served at "
	    "https://%s/.well-known/mta-sts.txt; the id changes whenever "
	    "the policy does.", conf_sts_mode_name(d->mta_sts), host);
	if (d->mta_sts == CONF_STS_TESTING)
		add(e->out, "; testing: senders report TLS failures but still "
		    "deliver; set [domain] mta_sts = enforce once the TLS-RPT "
		    "reports are clean.");
	else if (d->mta_sts == CONF_STS_ENFORCE)
		add(e->out, "; enforce: senders that know MTA-STS deliver only "
		    "over TLS with a valid certificate for a listed MX.");
	else
		add(e->out, "; none: withdraws the policy (RFC 8461 §8.3); "
		    "remove both records once max_age has passed.");
	if (!https) {
		add(e->out, "; no listener has role = https, so the policy is "
		    "not served. Add one, with a [tls] certificate that "
		    "covers %s:", host);
		add(e->out, ";   [listen \"https\"]");
		add(e->out, ";   address = 0.0.0.0:443, [::]:443");
		add(e->out, ";   role = https");
		add(e->out, ";   tls = implicit");
		add(e->out, "; then publish:");
		rd = dnsrec_txt_rdata(txt);
		rr_todo(e, owner, "TXT", rd);
		free(rd);
		rd = xasprintf("%s.", c->hostname);
		rr_todo(e, host, "CNAME", rd);
		free(rd);
	} else {
		rr_txt(e, owner, txt);
		add(e->out, "; %s reaches the https listener; its certificate "
		    "must cover that name", host);
		emit_sts_host(e, c, host);
	}
	free(host);
	free(owner);
	free(txt);
}

static void
emit_tlsrpt(struct dnsrec_emit *e, const struct conf_domain *d,
    const char *inbox)
{
	char *owner = xasprintf("_smtp._tls.%s", d->name), *v;

	add(e->out, "; TLS-RPT (RFC 8460): where senders report TLS "
	    "problems delivering to %s", d->name);
	if (inbox == NULL) {
		add(e->out, "; no [reports] inbox: set one, then publish:");
		rr_todo(e, owner, "TXT", "\"v=TLSRPTv1; rua=mailto:<the "
		    "inbox>\"");
	} else {
		v = xasprintf("v=TLSRPTv1; rua=mailto:%s", inbox);
		rr_txt(e, owner, v);
		free(v);
	}
	free(owner);
}

static void
emit_bimi(struct dnsrec_emit *e, const struct conf_domain *d)
{
	add(e->out, "; BIMI (a logo some mailbox providers show) needs DMARC "
	    "at p=quarantine or p=reject first, an SVG Tiny PS logo over "
	    "https and, for most providers, a mark certificate (a=):");
	add(e->out, "; default._bimi.%s. IN TXT \"v=BIMI1; "
	    "l=https://.../logo.svg; a=\"", d->name);
}

static void
emit_domain(struct dnsrec_emit *e, const struct conf *c,
    const struct dnsrec_facts *f, const struct conf_domain *d,
    const struct dnsrec_host *h, bool home)
{
	const char *inbox = pick_inbox(c, d);
	char *mx = xasprintf("10 %s.", c->hostname);

	add(e->out, ";");
	add(e->out, "; ---- domain %s ----", d->name);
	if (e->zone) {
		add(e->out, "$ORIGIN %s.", d->name);
		add(e->out, "$TTL %d", DNSREC_TTL);
		e->origin = d->name;
	}
	add(e->out, "; MX: mail for %s goes to %s. Several MX hosts: one line "
	    "each, the lower preference tried first.", d->name, c->hostname);
	rr(e, d->name, "MX", mx);
	free(mx);
	/* The other nodes, which its MTA-STS policy lists too. */
	for (size_t i = 0; d->nmta_sts_mx == 0 && i < f->nnodes; i++) {
		if (!node_other_mx(c, f, i))
			continue;
		mx = xasprintf("10 %s.", f->nodes[i].mx);
		rr(e, d->name, "MX", mx);
		free(mx);
	}
	if (home)
		emit_host(e, c, f, h);
	emit_spf(e, c, d, h);
	emit_dkim(e, d, f);
	emit_dmarc(e, c, d, inbox);
	emit_sts(e, c, f, d);
	emit_tlsrpt(e, d, inbox);
	emit_bimi(e, d);
}

/* The local domain whose zone holds the host name (the longest), or -1. */
static long
home_domain(const struct conf *c)
{
	long best = -1;

	for (size_t i = 0; i < c->ndomains; i++)
		if (name_under(c->hostname, c->domains[i].name) && (best < 0 ||
		    strlen(c->domains[i].name) >
		    strlen(c->domains[best].name)))
			best = (long)i;
	return best;
}

void
dnsrec_build(const struct conf *c, const struct dnsrec_facts *f,
    const char *domain, bool zone, struct dnsrec_out *out)
{
	struct dnsrec_emit e = { .out = out, .zone = zone };
	struct dnsrec_host h;
	long home = home_domain(c);

	host_collect(c, f, &h);
	add(out, "; DNS records for %s, as sealmail dns-records prints them.",
	    c->hostname);
	add(out, "; Lines starting with ';' are notes, or records to complete "
	    "or to publish elsewhere.");
	if (home >= 0 && domain != NULL && strcasecmp(domain,
	    c->domains[home].name) != 0)
		home = -1;
	if (home < 0)
		emit_host(&e, c, f, &h);
	for (size_t i = 0; i < c->ndomains; i++)
		if (domain == NULL || strcasecmp(domain, c->domains[i].name)
		    == 0)
			emit_domain(&e, c, f, &c->domains[i], &h,
			    (long)i == home);
	dnsrec_out_clear(&h.notes);
}
