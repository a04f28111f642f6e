/* SPDX-License-Identifier: ISC */
/* Unit tests for the records dns-records prints: TXT strings cut at 255
 * octets, which addresses are published, SPF, comments for what cannot be
 * known, the zone header and relative names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "check/dnsrec.h"
#include "sts/sts_serve.h"

/* ---- fixtures --------------------------------------------------------- */

struct fix {
	struct conf		 c;
	struct conf_listener	 l[3];
	struct conf_sockaddr	 a[6];
	struct conf_domain	 d[2];
	struct conf_dkim	 k[1];
	char			*inbox[1];
	struct dnsrec_dkim	 fk[1];
	struct dnsrec_cert	 fc[1];
	struct dnsrec_ifaddr	 ifa[16];
	struct dnsrec_facts	 f;
	struct dnsrec_out	 out;
};

static void
set_addr(struct conf_sockaddr *sa, const char *ip, unsigned port)
{
	memset(sa, 0, sizeof(*sa));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa->ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		snprintf(sa->text, sizeof(sa->text), "[%s]:%u", ip, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa->ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		snprintf(sa->text, sizeof(sa->text), "%s:%u", ip, port);
	}
}

/* mail.example.org for example.org (DKIM s1, the fact's record) and
 * example.net; an mx listener on the given addresses (up to 2). */
static void
fix_init(struct fix *x, const char *mx1, const char *mx2)
{
	memset(x, 0, sizeof(*x));
	x->c.hostname = "mail.example.org";
	set_addr(&x->a[0], mx1, 25);
	x->l[0] = (struct conf_listener){ .name = "mx", .addrs = x->a,
	    .naddrs = 1, .role = CONF_ROLE_MX };
	if (mx2 != NULL) {
		set_addr(&x->a[1], mx2, 25);
		x->l[0].naddrs = 2;
	}
	x->c.listeners = x->l;
	x->c.nlisteners = 1;
	x->k[0] = (struct conf_dkim){ .selector = "s1",
	    .key = "/k/example.org.s1.key" };
	x->d[0] = (struct conf_domain){ .name = "example.org", .dkim = x->k,
	    .ndkim = 1, .mta_sts = CONF_STS_TESTING,
	    .mta_sts_max_age = 604800 };
	x->d[1] = (struct conf_domain){ .name = "example.net",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400 };
	x->c.domains = x->d;
	x->c.ndomains = 2;
	x->fk[0] = (struct dnsrec_dkim){ .domain = "example.org",
	    .selector = "s1", .record = "v=DKIM1; k=ed25519; p=AAAA" };
	x->fc[0] = (struct dnsrec_cert){ .path = "/t/cert.pem", .spki =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" };
	x->f = (struct dnsrec_facts){ .ifaddrs = x->ifa, .dkim = x->fk,
	    .ndkim = 1, .certs = x->fc, .ncerts = 1 };
}

static void
add_ifaddr(struct fix *x, const char *ip, const char *name)
{
	struct dnsrec_ifaddr *a = &x->ifa[x->f.nifaddrs++];

	a->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a->family, ip, a->addr), 1);
	snprintf(a->ifname, sizeof(a->ifname), "%s", name);
}

static void
add_https(struct fix *x, const char *ip)
{
	set_addr(&x->a[4], ip, 443);
	x->l[x->c.nlisteners++] = (struct conf_listener){ .name = "https",
	    .addrs = &x->a[4], .naddrs = 1, .role = CONF_ROLE_HTTPS,
	    .tls = CONF_TLS_IMPLICIT };
}

static bool
has_line(const struct dnsrec_out *o, const char *line)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->line[i], line) == 0)
			return true;
	return false;
}

static bool
has_text(const struct dnsrec_out *o, const char *text)
{
	for (size_t i = 0; i < o->n; i++)
		if (strstr(o->line[i], text) != NULL)
			return true;
	return false;
}

/* Fail with the whole output, so a broken expectation is readable. */
#define assert_line(o, l) do { if (!has_line(o, l)) dump_fail(o, l); } \
	while (0)
#define assert_text(o, t) do { if (!has_text(o, t)) dump_fail(o, t); } \
	while (0)

static void
dump_fail(const struct dnsrec_out *o, const char *want)
{
	for (size_t i = 0; i < o->n; i++)
		print_message("%s\n", o->line[i]);
	fail_msg("missing: %s", want);
}

/* Every line that is not a comment or a directive is a record. */
static size_t
count_records(const struct dnsrec_out *o, const char *type)
{
	size_t n = 0;
	char want[32];

	snprintf(want, sizeof(want), " IN %s ", type);
	for (size_t i = 0; i < o->n; i++)
		if (o->line[i][0] != ';' && o->line[i][0] != '$' &&
		    strstr(o->line[i], want) != NULL)
			n++;
	return n;
}

/* ---- TXT strings ------------------------------------------------------ */

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_txt_split_at_255(void **state)
{
	size_t sizes[] = { 0, 1, 254, 255, 256, 510, 511 };
	size_t want[] = { 1, 1, 1, 1, 2, 2, 3 };

	(void)state;
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		char *v = repeat('a', sizes[t]), *rd = dnsrec_txt_rdata(v);
		size_t strings = 0, total = 0;
		char *p = rd;

		/* "aaa" "aaa": each quoted string at most 255 octets */
		while (*p == '"') {
			char *q = strchr(p + 1, '"');
			assert_non_null(q);
			assert_true((size_t)(q - p - 1) <= DNSREC_TXT_CHUNK);
			/* every string but the last is full */
			total += (size_t)(q - p - 1);
			strings++;
			p = q + 1;
			if (*p == ' ')
				p++;
		}
		assert_int_equal(*p, '\0');
		assert_int_equal(strings, want[t]);
		assert_int_equal(total, sizes[t]);
		free(v);
		free(rd);
	}
}

static void
test_txt_exact_boundary_content(void **state)
{
	char *v = repeat('x', 256), *rd, *want;

	(void)state;
	v[254] = 'A';
	v[255] = 'B';	/* the 256th octet opens the second string */
	rd = dnsrec_txt_rdata(v);
	want = malloc(300);
	snprintf(want, 300, "\"%.254sA\" \"B\"", v);
	assert_string_equal(rd, want);
	free(want);
	free(rd);
	free(v);
}

static void
test_txt_escapes_count_octets(void **state)
{
	char *v = repeat('"', 256), *rd;

	(void)state;
	/* 255 quotes, escaped, fill the first string; one in the second */
	rd = dnsrec_txt_rdata(v);
	assert_int_equal(strlen(rd), 2 + 2 * 255 + 1 + 2 + 2);
	assert_memory_equal(rd + 1 + 2 * 255, "\" \"\\\"\"", 6);
	free(rd);
	free(v);
	rd = dnsrec_txt_rdata("a\\b");
	assert_string_equal(rd, "\"a\\\\b\"");
	free(rd);
}

/* ---- addresses -------------------------------------------------------- */

static void
test_public_addresses(void **state)
{
	static const struct { const char *ip; bool pub; } t[] = {
		{ "192.0.2.1", true }, { "198.51.100.7", true },
		{ "10.1.2.3", false }, { "172.16.0.1", false },
		{ "172.32.0.1", true }, { "192.168.1.1", false },
		{ "100.64.0.1", false }, { "100.128.0.1", true },
		{ "127.0.0.1", false }, { "169.254.1.1", false },
		{ "0.0.0.0", false }, { "224.0.0.1", false },
		{ "2001:db8::1", true }, { "::1", false }, { "::", false },
		{ "fe80::1", false }, { "fd00::2", false },
		{ "::ffff:192.0.2.1", false }, { "ff02::1", false },
	};
	uint8_t a[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int fam = strchr(t[i].ip, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(fam, t[i].ip, a), 1);
		if (dnsrec_addr_is_public(fam, a) != t[i].pub)
			fail_msg("%s", t[i].ip);
	}
}

static void
test_reverse_names(void **state)
{
	char out[DNSREC_REVERSE_MAX];
	uint8_t a[16];

	(void)state;
	inet_pton(AF_INET, "192.0.2.25", a);
	dnsrec_reverse_name(AF_INET, a, out);
	assert_string_equal(out, "25.2.0.192.in-addr.arpa.");
	inet_pton(AF_INET6, "2001:db8::567:89ab", a);
	dnsrec_reverse_name(AF_INET6, a, out);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
}

/* ---- the records ------------------------------------------------------ */

static void
test_specific_listener_addresses(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", "2001:db8::25");
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_line(&x.out, "example.org. 3600 IN MX 10 mail.example.org.");
	assert_line(&x.out, "example.net. 3600 IN MX 10 mail.example.org.");
	assert_line(&x.out, "mail.example.org. 3600 IN A 192.0.2.25");
	assert_line(&x.out, "mail.example.org. 3600 IN AAAA 2001:db8::25");
	assert_line(&x.out, "; from listener mx (192.0.2.25:25)");
	assert_line(&x.out, "example.org. 3600 IN TXT \"v=spf1 "
	    "ip4:192.0.2.25 ip6:2001:db8::25 -all\"");
	assert_line(&x.out, "; ip4:192.0.2.25 from listener mx "
	    "(192.0.2.25:25)");
	assert_text(&x.out, "-all: mail from example.org sent from anywhere "
	    "else fails; use ~all");
	assert_text(&x.out, "Not just \"mx\": behind a load balancer");
	assert_line(&x.out, "s1._domainkey.example.org. 3600 IN TXT "
	    "\"v=DKIM1; k=ed25519; p=AAAA\"");
	assert_line(&x.out, "_25._tcp.mail.example.org. 3600 IN TLSA 3 1 1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_line(&x.out, "; 25.2.0.192.in-addr.arpa. IN PTR "
	    "mail.example.org.");
	assert_text(&x.out, "publish the next key's record");
	/* host records once, in the zone that holds the host name */
	assert_int_equal(count_records(&x.out, "A"), 1);
	assert_int_equal(count_records(&x.out, "TLSA"), 1);
	assert_int_equal(count_records(&x.out, "MX"), 2);
	assert_line(&x.out, "; default._bimi.example.org. IN TXT \"v=BIMI1; "
	    "l=https://.../logo.svg; a=\"");
	dnsrec_out_clear(&x.out);
}

static void
test_wildcard_without_public_address_is_a_comment(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "0.0.0.0", "::");
	add_ifaddr(&x, "10.0.0.5", "eth0");
	add_ifaddr(&x, "fe80::1", "eth0");
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_int_equal(count_records(&x.out, "A"), 0);
	assert_int_equal(count_records(&x.out, "AAAA"), 0);
	assert_line(&x.out, "; mail.example.org. IN A <its public IPv4 "
	    "address>");
	assert_text(&x.out, "cannot be known from the config");
	assert_text(&x.out, "not published: 10.0.0.5 on eth0 (private");
	assert_text(&x.out, "not published: fe80::1 on eth0");
	assert_line(&x.out, "example.org. 3600 IN TXT \"v=spf1 "
	    "a:mail.example.org -all\"");
	assert_text(&x.out, "a:mail.example.org is right only if");
	assert_line(&x.out, "; <reverse name of each public address> IN PTR "
	    "mail.example.org.");
	dnsrec_out_clear(&x.out);
}

static void
test_wildcard_uses_public_interfaces(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "0.0.0.0", NULL);	/* IPv4 only: no AAAA from eth0 */
	add_ifaddr(&x, "10.0.0.5", "eth0");
	add_ifaddr(&x, "198.51.100.7", "eth1");
	add_ifaddr(&x, "2001:db8::7", "eth1");
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_line(&x.out, "mail.example.org. 3600 IN A 198.51.100.7");
	assert_int_equal(count_records(&x.out, "AAAA"), 0);
	assert_line(&x.out, "; from interface eth1 (listeners on 0.0.0.0)");
	assert_line(&x.out, "example.org. 3600 IN TXT \"v=spf1 "
	    "ip4:198.51.100.7 -all\"");
	assert_line(&x.out, "; 7.100.51.198.in-addr.arpa. IN PTR "
	    "mail.example.org.");
	dnsrec_out_clear(&x.out);
}

static void
test_loopback_only_is_a_comment(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "127.0.0.1", "::1");
	add_ifaddr(&x, "198.51.100.7", "eth1");	/* not listened on */
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_int_equal(count_records(&x.out, "A"), 0);
	assert_text(&x.out, "loopback only (a development config)");
	assert_false(has_text(&x.out, "<its public IPv4 address>"));
	dnsrec_out_clear(&x.out);
}

/* The TXT string of line (a record) after the owner: its value joined,
 * and how many character-strings it has. */
static size_t
txt_strings(const char *line, char *joined, size_t cap)
{
	const char *p = strchr(line, '"');
	size_t n = 0, len = 0;

	while (p != NULL && *p == '"') {
		const char *q = strchr(p + 1, '"');
		assert_non_null(q);
		assert_true((size_t)(q - p - 1) <= DNSREC_TXT_CHUNK);
		assert_true(len + (size_t)(q - p - 1) < cap);
		memcpy(joined + len, p + 1, (size_t)(q - p - 1));
		len += (size_t)(q - p - 1);
		n++;
		p = q[1] == ' ' ? q + 2 : NULL;
	}
	joined[len] = '\0';
	return n;
}

static const char *
find_prefix(const struct dnsrec_out *o, const char *prefix)
{
	for (size_t i = 0; i < o->n; i++)
		if (strncmp(o->line[i], prefix, strlen(prefix)) == 0)
			return o->line[i];
	fail_msg("no line starts with %s", prefix);
	return NULL;
}

static void
test_long_records_split(void **state)
{
	struct fix x;
	char ip[32], joined[1024], want[1024];
	const char *l;

	(void)state;
	fix_init(&x, "0.0.0.0", "::");
	/* 12 x " ip6:2001:db8:1234:5678::N": SPF passes 255 octets */
	size_t len = (size_t)snprintf(want, sizeof(want), "v=spf1");
	for (int i = 0; i < 12; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1234:5678::%d", i + 1);
		add_ifaddr(&x, ip, "eth0");
		len += (size_t)snprintf(want + len, sizeof(want) - len,
		    " ip6:%s", ip);
	}
	snprintf(want + len, sizeof(want) - len, " -all");
	x.fk[0].record = "v=DKIM1; k=rsa; p="
	    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0123456789012345678901"
	    "2345678901234567890123456789012345678901234567890123456789012345678"
	    "9012345678901234567890123456789012345678901234567890123456789012345"
	    "6789012345678901234567890123456789012345678901234567890123456789ABC";
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_int_equal(count_records(&x.out, "AAAA"), 12);
	assert_true(strlen(want) > DNSREC_TXT_CHUNK);
	l = find_prefix(&x.out, "example.org. 3600 IN TXT \"v=spf1");
	assert_int_equal(txt_strings(l, joined, sizeof(joined)), 2);
	assert_string_equal(joined, want);
	l = find_prefix(&x.out, "s1._domainkey.example.org. 3600 IN TXT ");
	assert_int_equal(txt_strings(l, joined, sizeof(joined)), 2);
	assert_string_equal(joined, x.fk[0].record);
	/* the first string is full: cut at exactly 255 octets */
	assert_int_equal(strchr(l, '"')[256], '"');
	assert_false(has_text(&x.out, "example.net"));	/* --domain */
	dnsrec_out_clear(&x.out);
}

static void
test_zone_header_and_relative_names(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	dnsrec_build(&x.c, &x.f, NULL, true, &x.out);
	assert_line(&x.out, "$ORIGIN example.org.");
	assert_line(&x.out, "$ORIGIN example.net.");
	assert_line(&x.out, "$TTL 3600");
	assert_line(&x.out, "@ IN MX 10 mail.example.org.");
	assert_line(&x.out, "mail IN A 192.0.2.25");
	assert_line(&x.out, "_25._tcp.mail IN TLSA 3 1 1 "
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_line(&x.out, "s1._domainkey IN TXT \"v=DKIM1; k=ed25519; "
	    "p=AAAA\"");
	assert_line(&x.out, "_dmarc IN TXT \"v=DMARC1; p=none\"");
	/* a directive comes before the first record of its domain */
	for (size_t i = 0; i < x.out.n; i++) {
		if (x.out.line[i][0] == ';')
			continue;
		assert_string_equal(x.out.line[i], "$ORIGIN example.org.");
		break;
	}
	dnsrec_out_clear(&x.out);
}

static void
test_zone_host_outside_domain_is_commented(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	x.c.hostname = "mx.hoster.example";
	dnsrec_build(&x.c, &x.f, NULL, true, &x.out);
	assert_int_equal(count_records(&x.out, "A"), 0);
	assert_int_equal(count_records(&x.out, "TLSA"), 0);
	assert_line(&x.out, "; mx.hoster.example. IN A 192.0.2.25");
	assert_text(&x.out, "belongs in the zone that holds "
	    "mx.hoster.example");
	dnsrec_out_clear(&x.out);
	/* without --zone the same records are plain, ready to paste */
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_line(&x.out, "mx.hoster.example. 3600 IN A 192.0.2.25");
	dnsrec_out_clear(&x.out);
}

static void
test_reports_inbox_and_authorisation(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	x.inbox[0] = "reports@example.org";
	x.c.reports_inbox = x.inbox;
	x.c.nreports_inbox = 1;
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_line(&x.out, "_dmarc.example.org. 3600 IN TXT \"v=DMARC1; "
	    "p=none; rua=mailto:reports@example.org\"");
	assert_line(&x.out, "_smtp._tls.example.org. 3600 IN TXT "
	    "\"v=TLSRPTv1; rua=mailto:reports@example.org\"");
	/* example.net's reports go to example.org, which must agree */
	assert_line(&x.out, "_dmarc.example.net. 3600 IN TXT \"v=DMARC1; "
	    "p=none; rua=mailto:reports@example.org\"");
	assert_line(&x.out, "example.net._report._dmarc.example.org. 3600 IN "
	    "TXT \"v=DMARC1\"");
	/* SPF, DKIM, DMARC, TLS-RPT, consent; SPF, DMARC, TLS-RPT */
	assert_int_equal(count_records(&x.out, "TXT"), 8);
	assert_false(has_text(&x.out, "example.org._report._dmarc"));
	assert_text(&x.out, "move to p=quarantine, then p=reject");
	dnsrec_out_clear(&x.out);
	/* --zone: in example.org's zone, where it belongs */
	dnsrec_build(&x.c, &x.f, "example.org", true, &x.out);
	assert_line(&x.out, "example.net._report._dmarc IN TXT "
	    "\"v=DMARC1\"");
	dnsrec_out_clear(&x.out);
	dnsrec_build(&x.c, &x.f, "example.net", true, &x.out);
	assert_text(&x.out, "printed with example.org's records");
	assert_false(has_text(&x.out, "._report._dmarc IN"));
	dnsrec_out_clear(&x.out);
	/* an inbox elsewhere: the consent record is printed, for its zone */
	x.inbox[0] = "reports@elsewhere.example";
	dnsrec_build(&x.c, &x.f, "example.org", true, &x.out);
	assert_line(&x.out, "; example.org._report._dmarc.elsewhere.example. "
	    "IN TXT \"v=DMARC1\"");
	dnsrec_out_clear(&x.out);
}

static void
test_no_inbox_is_a_comment(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_text(&x.out, "no [reports] inbox: set one");
	assert_line(&x.out, "; _smtp._tls.example.org. IN TXT \"v=TLSRPTv1; "
	    "rua=mailto:<the inbox>\"");
	assert_int_equal(count_records(&x.out, "TXT"), 3);  /* SPF DKIM DMARC */
	dnsrec_out_clear(&x.out);
}

/* A cluster: the other nodes' MX lines (domains without mta_sts_mx),
 * the TLSA records of their keys under their own MX names, a stale one
 * marked; this node's row is not printed twice; the MTA-STS id is the
 * one of the policy listing every node. */
static void
test_cluster_nodes(void **state)
{
	static const char k2[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char k3[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	char spki2[200], *txt, *line;
	const char *mx[4];
	struct dnsrec_node n[4];
	char *cfgmx[] = { "mx.example.net" };
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	add_https(&x, "0.0.0.0");
	snprintf(spki2, sizeof(spki2), "%s %s not-a-digest", k2, k3);
	n[0] = (struct dnsrec_node){ .name = "mail.example.org",
	    .mx = "mail.example.org", .spki = x.fc[0].spki };
	n[1] = (struct dnsrec_node){ .name = "mx2.example.org",
	    .mx = "mx2.example.org", .spki = spki2 };
	n[2] = (struct dnsrec_node){ .name = "mx3.example.org",
	    .mx = "mx3.example.org", .spki = k3, .stale = true };
	/* a row whose name is no host name: shown by its MX only */
	n[3] = (struct dnsrec_node){ .name = "evil\nexample.org. IN A 1.2.3.4",
	    .mx = "mx4.example.org", .spki = "" };
	x.f.nodes = n;
	x.f.nnodes = 4;
	x.d[1].mta_sts_mx = cfgmx;
	x.d[1].nmta_sts_mx = 1;
	dnsrec_build(&x.c, &x.f, NULL, false, &x.out);
	assert_line(&x.out, "example.org. 3600 IN MX 10 mail.example.org.");
	assert_line(&x.out, "example.org. 3600 IN MX 10 mx2.example.org.");
	assert_line(&x.out, "example.org. 3600 IN MX 10 mx3.example.org.");
	assert_line(&x.out, "example.org. 3600 IN MX 10 mx4.example.org.");
	assert_line(&x.out, "; cluster node mx4.example.org (MX "
	    "mx4.example.org): TLSA of its keys, as its last heartbeat wrote "
	    "them");
	assert_false(has_text(&x.out, "evil"));
	/* example.net lists its own mx hosts: no node MX lines */
	assert_false(has_line(&x.out, "example.net. 3600 IN MX 10 "
	    "mx2.example.org."));
	assert_int_equal(count_records(&x.out, "MX"), 5);
	assert_line(&x.out, "_25._tcp.mx2.example.org. 3600 IN TLSA 3 1 1 "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_line(&x.out, "_25._tcp.mx2.example.org. 3600 IN TLSA 3 1 1 "
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_line(&x.out, "_25._tcp.mx3.example.org. 3600 IN TLSA 3 1 1 "
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_text(&x.out, "cluster node mx3.example.org (MX "
	    "mx3.example.org), stale");
	assert_false(has_text(&x.out, "not-a-digest"));
	/* ours once (from the certificate), the others' three */
	assert_int_equal(count_records(&x.out, "TLSA"), 4);
	for (size_t i = 0; i < 4; i++)
		mx[i] = n[i].mx;
	txt = sts_serve_txt(&x.c, &x.d[0], mx, 4);
	line = malloc(strlen(txt) + 64);
	snprintf(line, strlen(txt) + 64, "_mta-sts.example.org. 3600 IN TXT "
	    "\"%s\"", txt);
	assert_line(&x.out, line);
	free(line);
	free(txt);
	dnsrec_out_clear(&x.out);
}

static void
test_mta_sts_uses_the_served_id(void **state)
{
	struct fix x;
	char *txt, *line;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	/* no https listener: only comments, with the config to add */
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_line(&x.out, ";   role = https");
	assert_int_equal(count_records(&x.out, "CNAME"), 0);
	assert_false(has_text(&x.out, "\n"));
	dnsrec_out_clear(&x.out);

	add_https(&x, "0.0.0.0");
	txt = sts_serve_txt(&x.c, &x.d[0], NULL, 0);
	line = malloc(strlen(txt) + 64);
	snprintf(line, strlen(txt) + 64, "_mta-sts.example.org. 3600 IN TXT "
	    "\"%s\"", txt);
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_line(&x.out, line);
	assert_line(&x.out, "mta-sts.example.org. 3600 IN CNAME "
	    "mail.example.org.");
	assert_text(&x.out, "policy mode testing");
	dnsrec_out_clear(&x.out);
	free(line);
	free(txt);

	/* a specific address: A instead of CNAME */
	set_addr(&x.a[4], "192.0.2.44", 443);
	dnsrec_build(&x.c, &x.f, "example.net", false, &x.out);
	assert_line(&x.out, "mta-sts.example.net. 3600 IN A 192.0.2.44");
	assert_text(&x.out, "policy mode enforce");
	dnsrec_out_clear(&x.out);
}

static void
test_unreadable_facts_are_comments(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	x.fk[0].record = NULL;
	x.fk[0].error = "dkim: cannot open /k/example.org.s1.key";
	x.fc[0].spki = NULL;
	x.fc[0].error = "/t/cert.pem: no such file";
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_line(&x.out, "; DKIM selector s1: dkim: cannot open "
	    "/k/example.org.s1.key");
	assert_line(&x.out, "; s1._domainkey.example.org. IN TXT \"v=DKIM1; "
	    "k=<rsa|ed25519>; p=<public key>\"");
	assert_line(&x.out, "; cannot read certificate /t/cert.pem: "
	    "/t/cert.pem: no such file");
	assert_int_equal(count_records(&x.out, "TLSA"), 0);
	dnsrec_out_clear(&x.out);
}

static void
test_relayhost_spf_is_a_comment(void **state)
{
	struct fix x;

	(void)state;
	fix_init(&x, "192.0.2.25", NULL);
	x.c.relayhost = "[smtp.relay.example]:587";
	dnsrec_build(&x.c, &x.f, "example.org", false, &x.out);
	assert_text(&x.out, "mail leaves through [delivery] relayhost "
	    "[smtp.relay.example]:587");
	assert_false(has_text(&x.out, "IN TXT \"v=spf1 ip4"));
	dnsrec_out_clear(&x.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_split_at_255),
		cmocka_unit_test(test_txt_exact_boundary_content),
		cmocka_unit_test(test_txt_escapes_count_octets),
		cmocka_unit_test(test_public_addresses),
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_specific_listener_addresses),
		cmocka_unit_test(test_wildcard_without_public_address_is_a_comment),
		cmocka_unit_test(test_wildcard_uses_public_interfaces),
		cmocka_unit_test(test_loopback_only_is_a_comment),
		cmocka_unit_test(test_long_records_split),
		cmocka_unit_test(test_zone_header_and_relative_names),
		cmocka_unit_test(test_zone_host_outside_domain_is_commented),
		cmocka_unit_test(test_reports_inbox_and_authorisation),
		cmocka_unit_test(test_no_inbox_is_a_comment),
		cmocka_unit_test(test_mta_sts_uses_the_served_id),
		cmocka_unit_test(test_cluster_nodes),
		cmocka_unit_test(test_unreadable_facts_are_comments),
		cmocka_unit_test(test_relayhost_spf_is_a_comment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
