/* SPDX-License-Identifier: ISC */
/*
 * Value syntax for the configuration (numbers, durations, booleans,
 * addresses, networks, host names), the defaults, and the checks that need
 * the whole file (a listener exists, TLS listeners have a certificate, no
 * address is bound twice, ...). The input is the text of a config file,
 * which is trusted no more than any other input: everything is bounded and
 * validated, and nothing here allocates from a length in the file without
 * a cap.
 */
#include "conf/conf_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/hostport.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* Escape a value for a problem text: short, printable, one line. */
static const char *
esc(const char *s, char *out, size_t outlen)
{
	return log_escape(s, strlen(s), out, outlen);
}

int
conf_check_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out, char *why, size_t len)
{
	unsigned long long n = 0;
	char e[64];

	if (*s == '\0') {
		snprintf(why, len, "a number is required");
		return -1;
	}
	for (const char *q = s; *q != '\0'; q++) {
		if (*q < '0' || *q > '9') {
			snprintf(why, len, "not a number: %s", esc(s, e, sizeof(e)));
			return -1;
		}
		if (n > (~0ULL - 9) / 10) {
			snprintf(why, len, "number too large: %s",
			    esc(s, e, sizeof(e)));
			return -1;
		}
		n = n * 10 + (unsigned long long)(*q - '0');
	}
	if (n < min || n > max) {
		snprintf(why, len, "%llu is out of range (%llu to %llu)", n, min,
		    max);
		return -1;
	}
	*out = n;
	return 0;
}

int
conf_check_duration(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out, char *why, size_t len)
{
	static const struct { char unit; unsigned mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 },
	};
	char num[32], e[64];
	size_t n = strlen(s);
	unsigned mult = 1;
	unsigned long long v;

	if (n > 0 && (s[n - 1] < '0' || s[n - 1] > '9')) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (s[n - 1] == units[i].unit)
				break;
		if (i == sizeof(units) / sizeof(units[0])) {
			snprintf(why, len, "bad duration %s (use N, Ns, Nm, Nh, "
			    "Nd or Nw)", esc(s, e, sizeof(e)));
			return -1;
		}
		mult = units[i].mult;
		n--;
	}
	if (n == 0 || n >= sizeof(num) || strspn(s, "0123456789") != n) {
		snprintf(why, len, "bad duration %s (use N, Ns, Nm, Nh, Nd or Nw)",
		    esc(s, e, sizeof(e)));
		return -1;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (conf_check_uint(num, 0, ~0ULL / (7 * 86400), &v, why, len) == -1)
		return -1;
	v *= mult;
	if (v < min || v > max) {
		char a[32], b[32];

		conf_duration_to_text(min, a, sizeof(a));
		conf_duration_to_text(max, b, sizeof(b));
		snprintf(why, len, "duration %s is out of range (%s to %s)",
		    esc(s, e, sizeof(e)), a, b);
		return -1;
	}
	*out = v;
	return 0;
}

void
conf_duration_to_text(unsigned long long secs, char *out, size_t len)
{
	if (secs != 0 && secs % 86400 == 0)
		snprintf(out, len, "%llud", secs / 86400);
	else if (secs != 0 && secs % 3600 == 0)
		snprintf(out, len, "%lluh", secs / 3600);
	else if (secs != 0 && secs % 60 == 0)
		snprintf(out, len, "%llum", secs / 60);
	else
		snprintf(out, len, "%llus", secs);
}

int
conf_check_bool(const char *s, bool *out, char *why, size_t len)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	char e[64];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(why, len, "not a boolean: %s (use yes or no)",
	    esc(s, e, sizeof(e)));
	return -1;
}

int
conf_check_port(const char *s, unsigned *out, char *why, size_t len)
{
	unsigned long long n;

	if (conf_check_uint(s, 1, 65535, &n, why, len) == -1)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Fill a sockaddr from a numeric address of either family. */
static int
conf_check_fill(int family, const char *addr, unsigned port,
    struct conf_sockaddr *out)
{
	char text[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		snprintf(out->text, sizeof(out->text), "%s:%u", text, port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		snprintf(out->text, sizeof(out->text), "[%s]:%u", text, port);
	}
	return 0;
}

int
conf_check_sockaddr(const char *s, struct conf_sockaddr *out, char *why,
    size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], e[80];
	const char *port;
	unsigned portnum;
	bool v6;

	if (hostport_split(s, host, sizeof(host), &port, &v6) == -1 ||
	    port == NULL)
		goto bad;
	if (conf_check_port(port, &portnum, why, len) == -1)
		return -1;
	if (conf_check_fill(v6 ? AF_INET6 : AF_INET, host, portnum, out) == -1)
		goto bad;
	return 0;
bad:
	snprintf(why, len, "bad address %s (use IPv4:PORT or [IPv6]:PORT)",
	    esc(s, e, sizeof(e)));
	return -1;
}

/* Clear the bits of addr past prefix. */
static void
conf_check_mask(struct conf_network *n)
{
	unsigned bytes = n->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = n->prefix > i * 8 ? n->prefix - i * 8 : 0;

		if (keep < 8)
			n->addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

int
conf_check_network(const char *s, struct conf_network *out, char *why,
    size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], e[80];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long long prefix;

	memset(out, 0, sizeof(*out));
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		goto bad;
	prefix = out->family == AF_INET ? 32 : 128;
	if (slash != NULL && conf_check_uint(slash + 1, 0, prefix, &prefix,
	    why, len) == -1) {
		snprintf(why, len, "bad prefix length in %s (0 to %d)",
		    esc(s, e, sizeof(e)), out->family == AF_INET ? 32 : 128);
		return -1;
	}
	out->prefix = (unsigned)prefix;
	conf_check_mask(out);
	return 0;
bad:
	snprintf(why, len, "bad network %s (use ADDRESS or ADDRESS/PREFIX)",
	    esc(s, e, sizeof(e)));
	return -1;
}

void
conf_network_to_text(const struct conf_network *n, char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(n->family, n->addr, text, sizeof(text));
	snprintf(out, len, "%s/%u", text, n->prefix);
}

/* Labels of letters, digits and inner hyphens (RFC 1123 §2.1). */
static bool
conf_valid_labels(const char *s, bool numeric_last_ok)
{
	size_t total = strlen(s), label = 0;
	bool digits_only = true;

	if (total == 0 || total > 253)
		return false;
	for (size_t i = 0; i <= total; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (ch == '\0')
				break;
			label = 0;
			digits_only = true;
			continue;
		}
		if (!isascii(ch) || !(isalnum(ch) || ch == '-'))
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (!isdigit(ch))
			digits_only = false;
		label++;
	}
	return numeric_last_ok || !digits_only;
}

bool
conf_valid_hostname(const char *s)
{
	return conf_valid_labels(s, false);
}

bool
conf_valid_selector(const char *s)
{
	return conf_valid_labels(s, true);
}

int
conf_check_list(struct conf_parse *p, void *base, const char *value,
    conf_set_fn *fn)
{
	char item[256];
	const char *s = value;

	for (;;) {
		const char *comma = strchr(s, ',');
		const char *end = comma ? comma : s + strlen(s);

		while (s < end && isspace((unsigned char)*s))
			s++;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		if (s == end) {
			/* "a, b," may be continued on the next line. */
			if (comma == NULL)
				return 0;
			return conf_parse_fail(p, "empty item in list");
		}
		if ((size_t)(end - s) >= sizeof(item))
			return conf_parse_fail(p, "list item too long");
		memcpy(item, s, (size_t)(end - s));
		item[end - s] = '\0';
		if (fn(p, base, item) == -1)
			return -1;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

unsigned
conf_check_workers_auto(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	return ncpu < 1 ? 1 : ncpu > 256 ? 256 : (unsigned)ncpu;
}

void
conf_check_defaults(struct conf *c)
{
	static const unsigned retry[] = { 300, 600, 1800, 3600, 14400 };

	c->data_dir = xstrdup("/var/lib/sealmail");
	c->user = xstrdup("sealmail");
	c->workers = conf_check_workers_auto();
	c->max_message_size = 52428800;
	c->max_recipients = LIMIT_RECIPIENTS_DEFAULT;
	c->max_hops = LIMIT_HOPS_DEFAULT;
	c->max_connections = 1000;
	c->max_connections_per_ip = 20;
	c->max_errors = 10;
	c->max_line_length = LIMIT_TEXT_LINE;
	c->bare_newline = CONF_BARE_NEWLINE_NORMALIZE;
	c->command_timeout = 300;
	c->data_timeout = 600;
	c->tls_handshake_timeout = 30;
	memcpy(c->recipient_delimiter, "+", 2);
	c->submit_socket = xstrdup(CONF_DEFAULT_SUBMIT_SOCKET);
	c->data_total_timeout = 3600;
	c->stress_timeout = 10;
	/* On: it costs a client one wait per day (connlimit remembers who
	 * passed), and it stops most spambots, which talk first. */
	c->pregreet_wait = 1;
	c->min_version = TLS1_2_VERSION;
	c->delivery_local = CONF_LOCAL_MAILDIR;
	c->mx_port = 25;
	c->retry_schedule = xreallocarray(NULL, 5, sizeof(unsigned));
	memcpy(c->retry_schedule, retry, sizeof(retry));
	c->nretry_schedule = 5;
	c->queue_lifetime = 5 * 86400;
	c->dane = true;
	c->mta_sts = true;
	c->spf_reject_fail = false;
	c->dmarc_enforce = true;
	c->min_password_length = 10;
	c->dns_resolver = xstrdup("system");
	c->dns_trust_anchor = xstrdup("/usr/share/dns/root.key");
	c->reports_dmarc_aggregate = true;
	c->reports_tlsrpt = true;
	c->reports_dmarc_failure = false;
	c->reports_interval = 86400;
	c->reports_retention = 30 * 86400;
	c->reports_failure_per_hour = 10;
	c->forward_srs = true;
	c->forward_srs_max_age = 21 * 86400;
	c->forward_arc = true;
	/* Far above what a person sends (Gmail lets a paid account mail
	 * 2000 recipients a day), far below what a spammer with a stolen
	 * password would. */
	c->limits_messages_per_hour = 500;
	c->limits_recipients_per_hour = 2000;
}

/* hostname defaults to gethostname(), which must then be a valid name. */
static int
conf_check_hostname(struct conf_parse *p)
{
	char name[256], e[80];
	unsigned line = p->server_line ? p->server_line : p->lineno;

	if (p->c->hostname != NULL)
		return 0;
	if (gethostname(name, sizeof(name)) == -1)
		return conf_parse_fail_at(p, line, "[server]", "hostname",
		    "not set, and gethostname failed: %s", strerror(errno));
	name[sizeof(name) - 1] = '\0';
	if (!conf_valid_hostname(name))
		return conf_parse_fail_at(p, line, "[server]", "hostname",
		    "not set, and the system host name %s is not a valid "
		    "host name", esc(name, e, sizeof(e)));
	p->c->hostname = xstrdup(name);
	return 0;
}

/* Port of a listener address (network order is fine for equality). */
static in_port_t
conf_check_port_of(const struct conf_sockaddr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_port;
	return ((const struct sockaddr_in6 *)&a->ss)->sin6_port;
}

static bool
conf_check_is_wildcard(const struct conf_sockaddr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

/*
 * Would binding both fail with EADDRINUSE? The same address, or the same
 * port and family with a wildcard on one side (0.0.0.0:2525 takes the
 * port on 127.0.0.1 too). IPv6 sockets are IPV6_V6ONLY (net/listener.c),
 * so [::]:25 and 0.0.0.0:25 coexist.
 */
static bool
conf_check_overlap(const struct conf_sockaddr *a, const struct conf_sockaddr *b)
{
	if (strcmp(a->text, b->text) == 0)
		return true;
	return a->ss.ss_family == b->ss.ss_family &&
	    conf_check_port_of(a) == conf_check_port_of(b) &&
	    (conf_check_is_wildcard(a) || conf_check_is_wildcard(b));
}

/* Every listener has an address, none is bound twice, TLS has a cert. */
static int
conf_check_listeners(struct conf_parse *p)
{
	const struct conf *c = p->c;
	char sec[64];

	if (c->nlisteners == 0)
		return conf_parse_fail_at(p, p->lineno ? p->lineno : 1,
		    "[listen]", NULL, "at least one [listen \"NAME\"] section "
		    "is required");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		snprintf(sec, sizeof(sec), "[listen \"%s\"]", l->name);
		if (l->naddrs == 0)
			return conf_parse_fail_at(p, p->listener_line[i], sec,
			    "address", "missing: a listener needs an address");
		if (l->tls != CONF_TLS_NONE && c->ncerts == 0)
			return conf_parse_fail_at(p, p->listener_line[i], sec,
			    "tls", "%s needs a certificate: add [tls] cert "
			    "and key", l->tls == CONF_TLS_IMPLICIT ?
			    "implicit" : "starttls");
		if (l->role == CONF_ROLE_HTTPS && l->tls != CONF_TLS_IMPLICIT)
			return conf_parse_fail_at(p, p->listener_line[i], sec,
			    "tls", "role = https needs tls = implicit (MTA-STS "
			    "policies are fetched over HTTPS only, RFC 8461 "
			    "§3.3)");
		if (l->role == CONF_ROLE_ADMIN && l->tls == CONF_TLS_STARTTLS)
			return conf_parse_fail_at(p, p->listener_line[i], sec,
			    "tls", "role = admin needs tls = none (plain HTTP) "
			    "or implicit (HTTPS)");
		if (l->password_file != NULL && l->role != CONF_ROLE_ADMIN)
			return conf_parse_fail_at(p, p->listener_line[i], sec,
			    "password_file", "only an admin listener takes "
			    "a password_file");
		if (l->role == CONF_ROLE_ADMIN && l->password_file != NULL &&
		    l->tls == CONF_TLS_NONE)
			conf_parse_warn_at(p, p->listener_line[i], sec,
			    "password_file", "basic auth over plain HTTP sends "
			    "the password in clear: use tls = implicit");
		if (conf_check_proxy(p, i, sec) == -1)
			return -1;
		if (l->role == CONF_ROLE_SUBMISSION && l->tls == CONF_TLS_NONE)
			conf_parse_warn_at(p, p->listener_line[i], sec, "tls",
			    "none on a submission listener: AUTH is never "
			    "offered without TLS, so only trusted_networks "
			    "can send here");
		for (size_t j = 0; j <= i; j++) {
			const struct conf_listener *o = &c->listeners[j];

			for (size_t a = 0; a < l->naddrs; a++)
				for (size_t b = 0; b < (j == i ? a : o->naddrs);
				    b++)
					if (conf_check_overlap(&l->addrs[a],
					    &o->addrs[b]))
						return conf_parse_fail_at(p,
						    p->listener_line[i], sec,
						    "address", "%s overlaps %s "
						    "in [listen \"%s\"]",
						    l->addrs[a].text,
						    o->addrs[b].text, o->name);
		}
	}
	return 0;
}

/* Networks nobody outside the site can send from (RFC 1918, RFC 6598,
 * RFC 3927, RFC 4193, RFC 4291 §2.5.3 and §2.5.6). */
static const struct conf_network conf_check_private[] = {
	{ AF_INET, { 127 }, 8, 0 },
	{ AF_INET, { 10 }, 8, 0 },
	{ AF_INET, { 172, 16 }, 12, 0 },
	{ AF_INET, { 192, 168 }, 16, 0 },
	{ AF_INET, { 100, 64 }, 10, 0 },
	{ AF_INET, { 169, 254 }, 16, 0 },
	{ AF_INET6, { [15] = 1 }, 128, 0 },
	{ AF_INET6, { 0xfc }, 7, 0 },
	{ AF_INET6, { 0xfe, 0x80 }, 10, 0 },
};

/* The private range n lies in, or NULL; an IPv4-mapped IPv6 network
 * counts as its IPv4 part. */
static const struct conf_network *
conf_check_private_range(const struct conf_network *n)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct conf_network v4;

	if (n->family == AF_INET6 && n->prefix >= 96 &&
	    memcmp(n->addr, mapped, sizeof(mapped)) == 0) {
		memset(&v4, 0, sizeof(v4));
		v4.family = AF_INET;
		v4.prefix = n->prefix - 96;
		memcpy(v4.addr, n->addr + 12, 4);
		n = &v4;
	}
	for (size_t i = 0; i < sizeof(conf_check_private) /
	    sizeof(conf_check_private[0]); i++) {
		const struct conf_network *r = &conf_check_private[i];

		if (r->family == n->family && n->prefix >= r->prefix &&
		    conf_network_match(r, n->addr))
			return r;
	}
	return NULL;
}

/* Does IPv6 network n hold all of ::ffff:0:0/96? conf_is_trusted matches
 * IPv4 clients in that form too, so n then trusts every IPv4 client. */
static bool
conf_check_all_mapped(const struct conf_network *n)
{
	static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff };

	return n->family == AF_INET6 && n->prefix <= 96 &&
	    conf_network_match(n, mapped);
}

/*
 * trusted_networks relay without AUTH on every listener (Postfix's
 * mynetworks), so a mistake here makes an open relay: one that matches
 * every address (or every IPv4 address) is refused, a public or wide one
 * is worth a warning (loopback excepted: all of 127/8 is this host).
 */
static int
conf_check_trusted(struct conf_parse *p)
{
	const struct conf *c = p->c;
	char text[80];

	for (size_t i = 0; i < c->ntrusted_networks; i++) {
		const struct conf_network *n = &c->trusted_networks[i];
		const struct conf_network *r = conf_check_private_range(n);
		unsigned widest = n->family == AF_INET ? 24 : 48;

		conf_network_to_text(n, text, sizeof(text));
		if (n->prefix == 0)
			return conf_parse_fail_at(p, n->line, "[server]",
			    "trusted_networks", "%s matches every address: "
			    "anyone could relay through this server", text);
		if (conf_check_all_mapped(n))
			return conf_parse_fail_at(p, n->line, "[server]",
			    "trusted_networks", "%s matches every IPv4 address "
			    "(as ::ffff:a.b.c.d): anyone could relay through "
			    "this server", text);
		if (r == NULL)
			conf_parse_warn_at(p, n->line, "[server]",
			    "trusted_networks", "%s is public (not loopback, "
			    "RFC 1918, ULA or link-local): every host in it "
			    "may relay without AUTH", text);
		else if (n->prefix < widest && r != &conf_check_private[0])
			conf_parse_warn_at(p, n->line, "[server]",
			    "trusted_networks", "%s is wider than a /%u: every "
			    "host in it may relay without AUTH", text, widest);
	}
	return 0;
}

/* Reports come from the first local domain, whose DKIM keys sign them,
 * else from the host name. */
static void
conf_check_reports(struct conf *c)
{
	const char *dom = c->ndomains > 0 ? c->domains[0].name : c->hostname;

	if (c->reports_org_name == NULL)
		c->reports_org_name = xstrdup(dom);
	if (c->reports_from == NULL) {
		/* In the form an explicit from = takes (the host name may
		 * have capitals), so a printed configuration loads back the
		 * same. */
		char *from = xasprintf("noreply-reports@%s", dom);

		c->reports_from = conf_parse_address_dup(from);
		free(from);
	}
}

/* Every [policy] names its level; mx_match belongs to verify. */
static int
conf_check_policies(struct conf_parse *p)
{
	const struct conf *c = p->c;
	char sec[300], e[280];

	for (size_t i = 0; i < c->npolicies; i++) {
		const struct conf_policy *pol = &c->policies[i];

		snprintf(sec, sizeof(sec), "[policy \"%s\"]",
		    esc(pol->name, e, sizeof(e)));
		if (pol->tls == CONF_TLSPOL_AUTO)
			return conf_parse_fail_at(p, pol->line, sec, "tls",
			    "must be set (none, may, encrypt, verify, dane or "
			    "dane-only)");
		if (pol->nmx_match > 0 && pol->tls != CONF_TLSPOL_VERIFY)
			return conf_parse_fail_at(p, pol->line, sec,
			    "mx_match", "only applies to tls = verify");
	}
	return 0;
}

int
conf_check_all(struct conf_parse *p)
{
	struct conf *c = p->c;
	unsigned line = p->server_line ? p->server_line : p->lineno;

	if (p->cert_pending)
		return conf_parse_fail_at(p, p->cert_pending, "[tls]", "cert",
		    "no key follows this cert (write each cert's key right "
		    "after it)");
	if (p->dkim_pending)	/* the file ended inside a [domain] */
		return conf_parse_fail_at(p, p->dkim_pending, p->sectext,
		    "dkim_selector", "no dkim_key follows this dkim_selector "
		    "(write each dkim_selector's dkim_key right after it)");
	if (conf_check_hostname(p) == -1)
		return -1;
	c->user_line = conf_parse_line_of(p, CONF_SEC_SERVER, "user");
	c->data_dir_line = conf_parse_line_of(p, CONF_SEC_SERVER, "data_dir");
	if (conf_milter_check(p) == -1)
		return -1;
	if (conf_store_check(p) == -1)
		return -1;
	if (conf_check_trusted(p) == -1)
		return -1;
	conf_check_reports(c);
	if (c->data_dir == NULL || c->data_dir[0] != '/')
		return conf_parse_fail_at(p, line, "[server]", "data_dir",
		    "must be an absolute path");
	if (c->submit_socket != NULL && strlen(c->submit_socket) >=
	    sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return conf_parse_fail_at(p, conf_parse_line_of(p,
		    CONF_SEC_SERVER, "submit_socket"), "[server]",
		    "submit_socket", "path too long for a unix socket (at "
		    "most %zu bytes)", sizeof(((struct sockaddr_un *)NULL)->
		    sun_path) - 1);
	/* Else every worker would die at start (dovecot_client_new). */
	if (c->passdb_socket != NULL && strlen(c->passdb_socket) >=
	    sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return conf_parse_fail_at(p, conf_parse_line_of(p,
		    CONF_SEC_AUTH, "passdb"), "[auth]", "passdb", "path too "
		    "long for a unix socket (at most %zu bytes)",
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	if (c->max_connections_per_ip > c->max_connections)
		return conf_parse_fail_at(p, conf_parse_line_of(p,
		    CONF_SEC_SERVER, "max_connections_per_ip"), "[server]",
		    "max_connections_per_ip", "%u is more than "
		    "max_connections (%u)", c->max_connections_per_ip,
		    c->max_connections);
	/* The setters refuse these; kept so that a new code path cannot hand
	 * the daemon an empty resolver or schedule. */
	if (c->dns_resolver == NULL)
		return conf_parse_fail_at(p, conf_parse_line_of(p, CONF_SEC_DNS,
		    "resolver"), "[dns]", "resolver", "must not be empty");
	if (c->nretry_schedule == 0)
		return conf_parse_fail_at(p, conf_parse_line_of(p,
		    CONF_SEC_DELIVERY, "retry_schedule"), "[delivery]",
		    "retry_schedule", "must not be empty");
	if (conf_check_policies(p) == -1)
		return -1;
	return conf_check_listeners(p);
}
