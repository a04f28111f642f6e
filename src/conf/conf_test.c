/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the configuration: defaults, a full config that survives
 * load -> print -> load, one test per error class checking the exact
 * "FILE:LINE: [section] key: problem" prefix, IPv6 listeners, trusted
 * networks (with v4-mapped clients), and `sealmail init` / `check-config`
 * writing and reading real files in a mkdtemp folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "core/xmalloc.h"

static char tmpdir[] = "/tmp/sealmail-conf-test-XXXXXX";

/* Write text to tmpdir/name; returns the path (caller frees). */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* Load text; on success return the conf, else NULL with err filled. */
static struct conf *
load_text(const char *text, char *err, size_t errlen)
{
	char *path = write_file("t.conf", text);
	struct conf *c = NULL;
	int r = conf_load(path, &c, err, errlen);

	free(path);
	assert_true(r == 0 ? c != NULL : c == NULL);
	return c;
}

static const char *minimal =
    "[listen \"mx\"]\n"
    "address = 127.0.0.1:25\n"
    "tls = none\n";

static void
test_defaults(void **state)
{
	char err[512];
	struct conf *c;
	char host[256];

	(void)state;
	c = load_text(minimal, err, sizeof(err));
	assert_non_null(c);
	gethostname(host, sizeof(host));
	assert_string_equal(c->hostname, host);
	assert_string_equal(c->data_dir, "/var/lib/sealmail");
	assert_string_equal(c->user, "sealmail");
	assert_true(c->workers >= 1 && c->workers <= 256);
	assert_int_equal(c->max_message_size, 52428800);
	assert_int_equal(c->max_recipients, 100);
	assert_int_equal(c->max_hops, 100);
	assert_int_equal(c->ntrusted_networks, 0);
	assert_int_equal(c->max_connections, 1000);
	assert_int_equal(c->max_connections_per_ip, 20);
	assert_int_equal(c->max_errors, 10);
	assert_int_equal(c->max_line_length, 1000);
	assert_int_equal(c->bare_newline, CONF_BARE_NEWLINE_NORMALIZE);
	assert_int_equal(c->command_timeout, 300);
	assert_int_equal(c->data_timeout, 600);
	assert_int_equal(c->tls_handshake_timeout, 30);
	assert_string_equal(c->submit_socket, "/run/sealmail/submit.sock");
	assert_int_equal(c->data_total_timeout, 3600);
	assert_int_equal(c->stress_timeout, 10);
	assert_int_equal(c->pregreet_wait, 1);
	assert_int_equal(c->ndnsbl, 0);
	assert_int_equal(c->limits_messages_per_hour, 500);
	assert_int_equal(c->limits_recipients_per_hour, 2000);
	assert_int_equal(c->ncerts, 0);
	assert_int_equal(c->min_version, TLS1_2_VERSION);
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].name, "mx");
	assert_int_equal(c->listeners[0].role, CONF_ROLE_MX);
	assert_int_equal(c->listeners[0].tls, CONF_TLS_NONE);
	assert_int_equal(c->ndomains, 0);
	assert_int_equal(c->delivery_local, CONF_LOCAL_MAILDIR);
	assert_null(c->delivery_lmtp_target);
	assert_null(c->relayhost);
	assert_null(c->relayhost_credentials);
	assert_null(c->relayhost_ca);
	assert_int_equal(c->mx_port, 25);
	assert_int_equal(c->nretry_schedule, 5);
	assert_int_equal(c->retry_schedule[0], 300);
	assert_int_equal(c->retry_schedule[4], 14400);
	assert_int_equal(c->queue_lifetime, 5 * 86400);
	assert_false(c->spf_reject_fail);
	assert_true(c->dmarc_enforce);
	assert_int_equal(c->min_password_length, 10);
	assert_string_equal(c->dns_resolver, "system");
	assert_string_equal(c->dns_trust_anchor, "/usr/share/dns/root.key");
	assert_null(c->dns_unbound_config);
	assert_int_equal(c->nlookalike_protect, 0);
	assert_int_equal(c->lookalike_action, CONF_LOOKALIKE_HEADER);
	conf_free(c);
}

/* Every key set away from its default, with the syntax's corners: a BOM,
 * CRLF, both comment styles, indented keys, continuation lines. */
static const char *full =
    "\xef\xbb\xbf; full test config\r\n"
    "# hash comment\n"
    "[server]\n"
    "  hostname = MX1.Example.org   ; indented, inline comment\n"
    "data_dir = /srv/sealmail # hash inline comment\n"
    "user =\n"
    "workers = 7\n"
    "max_message_size = 1048576\n"
    "max_recipients = 50\n"
    "max_hops = 30\n"
    "trusted_networks = 10.1.2.3/8, 192.168.1.5,\n"
    "    2001:DB8::1/32\n"
    "\t::ffff:172.16.0.0/108\n"
    "max_connections = 500\n"
    "max_connections_per_ip = 5\n"
    "max_errors = 3\n"
    "max_line_length = 80\n"
    "bare_newline = reject\n"
    "command_timeout = 120\n"
    "data_timeout = 2h\n"
    "tls_handshake_timeout = 1d\n"
    "data_total_timeout = 2d\n"
    "stress_timeout = 5s\n"
    "pregreet_wait = 3s\n"
    "dnsbl = bl.example, Zen.Example.=127.0.0.2,127.0.0.4,\n"
    "  127.0.0.9\n"
    "dnsbl = six.example=127.0.0.3\n"
    "\n"
    "[tls]\n"
    "cert = /etc/t/rsa.pem\n"
    "key = /etc/t/rsa.key\n"
    "cert = /etc/t/ecdsa.pem\n"
    "key = /etc/t/ecdsa.key\n"
    "min_version = TLSv1.3\n"
    "[listen \"mx\"]\n"
    "address = 0.0.0.0:25, [::]:25\n"
    "[listen   \"sub-1\"]\n"
    "address = [2001:DB8:0:0::1]:587\n"
    "role = submission\n"
    "tls = implicit\n"
    "[domain \"Example.ORG.\"]\n"
    "dkim_selector = 2024.s-1\n"
    "dkim_key = /etc/dkim/example.org.key\n"
    "dkim_selector = rsa1\t; the same domain, also signed with RSA\n"
    "dkim_key = /etc/dkim/example.org.rsa.key\n"
    "[domain \"a-very-long-domain-name-that-inih-would-truncate.example."
    "co.uk\"]\n"
    "[delivery]\n"
    "local = lmtp:unix:/run/dovecot/lmtp\n"
    "relayhost = smtps://[2001:db8::25]:465\n"
    "relayhost_credentials = /etc/sealmail/relay;pw\n"
    "relayhost_ca = /etc/ssl/relay-ca.pem\n"
    "mx_port = 2526\n"
    "retry_schedule = 1m, 90s,\n"
    "  3h\n"
    "queue_lifetime = 2d\n"
    "[auth]\n"
    "spf_reject_fail = On\n"
    "dmarc_enforce = false\n"
    "min_password_length = 12\n"
    "[dns]\n"
    "resolver = 127.0.0.1@5353, ::1\n"
    "trust_anchor =\n"
    "unbound_config = /etc/unbound/extra.conf\n"
    "[lookalike]\n"
    "protect = Bank.example,\n"
    "  b\xc3\xbc" "cher.example\n"
    "action = junk\n";

static void
check_full(const struct conf *c)
{
	assert_string_equal(c->hostname, "MX1.Example.org");
	assert_string_equal(c->data_dir, "/srv/sealmail");
	assert_null(c->user);
	assert_int_equal(c->workers, 7);
	assert_int_equal(c->max_message_size, 1048576);
	assert_int_equal(c->max_recipients, 50);
	assert_int_equal(c->max_hops, 30);
	assert_int_equal(c->ntrusted_networks, 4);
	assert_int_equal(c->trusted_networks[0].family, AF_INET);
	assert_int_equal(c->trusted_networks[0].prefix, 8);
	assert_int_equal(c->trusted_networks[0].addr[1], 0);	/* masked */
	assert_int_equal(c->trusted_networks[1].prefix, 32);
	assert_int_equal(c->trusted_networks[2].family, AF_INET6);
	assert_int_equal(c->trusted_networks[2].prefix, 32);
	assert_int_equal(c->trusted_networks[3].prefix, 108);
	assert_int_equal(c->max_connections, 500);
	assert_int_equal(c->max_connections_per_ip, 5);
	assert_int_equal(c->max_errors, 3);
	assert_int_equal(c->max_line_length, 80);
	assert_int_equal(c->bare_newline, CONF_BARE_NEWLINE_REJECT);
	assert_int_equal(c->command_timeout, 120);
	assert_int_equal(c->data_timeout, 7200);
	assert_int_equal(c->data_total_timeout, 172800);
	assert_int_equal(c->stress_timeout, 5);
	assert_int_equal(c->pregreet_wait, 3);
	/* A code after a zone without '=' is refused (error_cases); after
	 * one with '=', it joins that zone, across a continuation line. */
	assert_int_equal(c->ndnsbl, 3);
	assert_string_equal(c->dnsbl[0].zone, "bl.example");
	assert_int_equal(c->dnsbl[0].ncodes, 0);
	assert_string_equal(c->dnsbl[1].zone, "zen.example");
	assert_int_equal(c->dnsbl[1].ncodes, 3);
	assert_int_equal(c->dnsbl[1].codes[0], 0x7f000002);
	assert_int_equal(c->dnsbl[1].codes[1], 0x7f000004);
	assert_int_equal(c->dnsbl[1].codes[2], 0x7f000009);
	assert_string_equal(c->dnsbl[2].zone, "six.example");
	assert_int_equal(c->dnsbl[2].ncodes, 1);
	assert_int_equal(c->tls_handshake_timeout, 86400);
	assert_int_equal(c->ncerts, 2);
	assert_string_equal(c->certs[0].cert, "/etc/t/rsa.pem");
	assert_string_equal(c->certs[0].key, "/etc/t/rsa.key");
	assert_string_equal(c->certs[1].cert, "/etc/t/ecdsa.pem");
	assert_string_equal(c->certs[1].key, "/etc/t/ecdsa.key");
	assert_int_equal(c->min_version, TLS1_3_VERSION);
	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[0].name, "mx");
	assert_int_equal(c->listeners[0].naddrs, 2);
	assert_string_equal(c->listeners[0].addrs[0].text, "0.0.0.0:25");
	assert_string_equal(c->listeners[0].addrs[1].text, "[::]:25");
	assert_int_equal(c->listeners[0].role, CONF_ROLE_MX);
	assert_int_equal(c->listeners[0].tls, CONF_TLS_STARTTLS);
	assert_string_equal(c->listeners[1].name, "sub-1");
	assert_int_equal(c->listeners[1].role, CONF_ROLE_SUBMISSION);
	assert_int_equal(c->listeners[1].tls, CONF_TLS_IMPLICIT);
	assert_int_equal(c->ndomains, 2);
	assert_string_equal(c->domains[0].name, "example.org");
	assert_int_equal(c->domains[0].ndkim, 2);
	assert_string_equal(c->domains[0].dkim[0].selector, "2024.s-1");
	assert_string_equal(c->domains[0].dkim[0].key,
	    "/etc/dkim/example.org.key");
	assert_string_equal(c->domains[0].dkim[1].selector, "rsa1");
	assert_string_equal(c->domains[0].dkim[1].key,
	    "/etc/dkim/example.org.rsa.key");
	assert_string_equal(c->domains[1].name, "a-very-long-domain-name-that-"
	    "inih-would-truncate.example.co.uk");
	assert_int_equal(c->domains[1].ndkim, 0);
	assert_null(c->domains[1].dkim);
	assert_int_equal(c->delivery_local, CONF_LOCAL_LMTP_UNIX);
	assert_string_equal(c->delivery_lmtp_target, "/run/dovecot/lmtp");
	assert_string_equal(c->relayhost, "smtps://[2001:db8::25]:465");
	assert_string_equal(c->relayhost_credentials, "/etc/sealmail/relay;pw");
	assert_string_equal(c->relayhost_ca, "/etc/ssl/relay-ca.pem");
	assert_int_equal(c->mx_port, 2526);
	assert_int_equal(c->nretry_schedule, 3);
	assert_int_equal(c->retry_schedule[0], 60);
	assert_int_equal(c->retry_schedule[1], 90);
	assert_int_equal(c->retry_schedule[2], 3 * 3600);
	assert_int_equal(c->queue_lifetime, 2 * 86400);
	assert_true(c->spf_reject_fail);
	assert_false(c->dmarc_enforce);
	assert_int_equal(c->min_password_length, 12);
	assert_string_equal(c->dns_resolver, "127.0.0.1@5353, ::1");
	assert_null(c->dns_trust_anchor);
	assert_string_equal(c->dns_unbound_config, "/etc/unbound/extra.conf");
	assert_int_equal(c->nlookalike_protect, 2);
	assert_string_equal(c->lookalike_protect[0], "bank.example");
	assert_string_equal(c->lookalike_protect[1], "xn--bcher-kva.example");
	assert_int_equal(c->lookalike_action, CONF_LOOKALIKE_JUNK);
}

/* conf_print output, without its first line (which names the file). */
static char *
print_body(const struct conf *c)
{
	char *text = NULL, *body;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	conf_print(c, fp);
	assert_int_equal(fclose(fp), 0);
	body = strchr(text, '\n');
	assert_non_null(body);
	body = xstrdup(body + 1);
	free(text);
	return body;
}

static void
test_full_roundtrip(void **state)
{
	char err[512], *text, *body1, *body2;
	struct conf *c, *c2;
	size_t len = 0;
	FILE *fp;

	(void)state;
	c = load_text(full, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	check_full(c);

	fp = open_memstream(&text, &len);
	conf_print(c, fp);
	fclose(fp);
	c2 = load_text(text, err, sizeof(err));
	if (c2 == NULL)
		fail_msg("printed config does not load: %s\n%s", err, text);
	check_full(c2);
	body1 = print_body(c);
	body2 = print_body(c2);
	assert_string_equal(body1, body2);
	free(text);
	free(body1);
	free(body2);
	conf_free(c);
	conf_free(c2);
}

/* The reports sender made from a host name with capitals has the form
 * an explicit from = takes: the printed configuration loads back the same
 * (found by fuzz_conf). */
static void
test_default_reports_from_canonical(void **state)
{
	char err[512], *body1, *body2;
	struct conf *c, *c2;

	(void)state;
	c = load_text("[server]\nhostname = MX1.Example.ORG\n"
	    "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n", err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->reports_from,
	    "noreply-reports@mx1.example.org");
	body1 = print_body(c);
	c2 = load_text(body1, err, sizeof(err));
	if (c2 == NULL)
		fail_msg("printed config does not load: %s", err);
	body2 = print_body(c2);
	assert_string_equal(body1, body2);
	free(body1);
	free(body2);
	conf_free(c);
	conf_free(c2);
}

/* Long lists print on continuation lines that load back. */
static void
test_long_list_roundtrip(void **state)
{
	char err[512], *text = NULL, buf[64];
	struct conf *c, *c2;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	fprintf(fp, "%s[server]\ntrusted_networks = 10.0.0.1\n", minimal);
	for (int i = 2; i < 200; i++) {
		snprintf(buf, sizeof(buf), "  10.0.%d.%d/32, 2001:db8::%x\n",
		    i, i, i);
		fputs(buf, fp);
	}
	fclose(fp);
	c = load_text(text, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->ntrusted_networks, 1 + 198 * 2);
	free(text);
	text = NULL;
	fp = open_memstream(&text, &len);
	conf_print(c, fp);
	fclose(fp);
	c2 = load_text(text, err, sizeof(err));
	if (c2 == NULL)
		fail_msg("%s", err);
	assert_int_equal(c2->ntrusted_networks, c->ntrusted_networks);
	for (size_t i = 0; i < c->ntrusted_networks; i++) {
		const struct conf_network *a = &c->trusted_networks[i];
		const struct conf_network *b = &c2->trusted_networks[i];

		assert_int_equal(a->family, b->family);
		assert_int_equal(a->prefix, b->prefix);
		assert_memory_equal(a->addr, b->addr, sizeof(a->addr));
	}
	free(text);
	conf_free(c);
	conf_free(c2);
}

/* Read a whole file into a heap string, or NULL. */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int ch;

	if (fp == NULL)
		return NULL;
	out = open_memstream(&text, &len);
	while ((ch = fgetc(fp)) != EOF)
		fputc(ch, out);
	fclose(out);
	fclose(fp);
	return text;
}

/*
 * Golden test (STYLE.md §11): tests/data/conf/full.conf prints as
 * full.print. Run from the source tree (make test-unit does), or set
 * SEALMAIL_SRCDIR. To accept a deliberate change, run the test with
 * SEALMAIL_GOLDEN_WRITE=1, which rewrites full.print, and read the diff.
 */
static void
test_golden(void **state)
{
	const char *src = getenv("SEALMAIL_SRCDIR");
	char *in, *want, *got, err[512];
	struct conf *c;

	(void)state;
	in = xasprintf("%s/tests/data/conf/full.conf", src ? src : ".");
	want = xasprintf("%s/tests/data/conf/full.print", src ? src : ".");
	if (access(in, R_OK) == -1) {
		free(in);
		free(want);
		skip();
	}
	if (conf_load(in, &c, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	got = print_body(c);
	free(in);
	if (getenv("SEALMAIL_GOLDEN_WRITE") != NULL) {
		FILE *fp = fopen(want, "w");

		assert_non_null(fp);
		fputs(got, fp);
		assert_int_equal(fclose(fp), 0);
	}
	in = slurp(want);
	if (in == NULL)
		fail_msg("%s is missing", want);
	assert_string_equal(got, in);
	free(in);
	free(want);
	free(got);
	conf_free(c);
}

struct error_case {
	const char	*text;
	const char	*want;	/* after "PATH:" */
};

static const struct error_case error_cases[] = {
	/* unknown key */
	{ "[server]\nfoo = 1\n", "2: [server] foo: unknown key" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\nTLS = none\n",
	    "3: [listen \"mx\"] TLS: unknown key" },
	/* bad role, bad tls */
	{ "[listen \"mx\"]\nrole = relay\n",
	    "2: [listen \"mx\"] role: must be mx, submission, https or admin" },
	{ "[listen \"mx\"]\ntls = ssl\n",
	    "2: [listen \"mx\"] tls: must be starttls, implicit or none" },
	/* bad address */
	{ "[listen \"mx\"]\naddress = 127.0.0.1\n",
	    "2: [listen \"mx\"] address: bad address 127.0.0.1" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:0\n",
	    "2: [listen \"mx\"] address: 0 is out of range (1 to 65535)" },
	{ "[listen \"mx\"]\naddress = ::1:25\n",
	    "2: [listen \"mx\"] address: bad address" },
	{ "[listen \"mx\"]\naddress = [::1]:25,,[::1]:26\n",
	    "2: [listen \"mx\"] address: empty item in list" },
	/* bad duration */
	{ "[server]\ncommand_timeout = 5x\n",
	    "2: [server] command_timeout: bad duration 5x" },
	{ "[server]\ndata_timeout = 0\n",
	    "2: [server] data_timeout: duration 0 is out of range" },
	{ "[delivery]\nretry_schedule = 5m, m\n",
	    "2: [delivery] retry_schedule: bad duration m" },
	{ "[delivery]\nqueue_lifetime = 99999999999999999999d\n",
	    "2: [delivery] queue_lifetime: number too large" },
	/* cert without key, key without cert */
	{ "[tls]\ncert = /a.pem\nmin_version = TLSv1.2\n",
	    "2: [tls] cert: no key follows this cert" },
	{ "[tls]\ncert = /a.pem\ncert = /b.pem\nkey = /b.key\n",
	    "3: [tls] cert: the cert on line 2 has no key" },
	{ "[tls]\nkey = /a.key\n", "2: [tls] key: key without a cert" },
	{ "[tls]\ncert = a.pem\n",
	    "2: [tls] cert: must be an absolute path" },
	{ "[tls]\nmin_version = TLSv1.1\n",
	    "2: [tls] min_version: must be TLSv1.2 or TLSv1.3" },
	/* no listener; a listener without address; TLS without cert */
	{ "[server]\nworkers = 2\n", "2: [listen]: at least one" },
	{ "", "1: [listen]: at least one" },
	{ "[server]\n[listen \"mx\"]\nrole = mx\n",
	    "2: [listen \"mx\"] address: missing" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\n",
	    "1: [listen \"mx\"] tls: starttls needs a certificate" },
	{ "[listen \"a\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "[listen \"b\"]\naddress = 127.0.0.1:26, 127.0.0.1:25\n"
	    "tls = none\n",
	    "4: [listen \"b\"] address: 127.0.0.1:25 overlaps 127.0.0.1:25 in "
	    "[listen \"a\"]" },
	/* a wildcard takes the port on every address of its family */
	{ "[listen \"a\"]\naddress = 0.0.0.0:2525\ntls = none\n"
	    "[listen \"b\"]\naddress = 127.0.0.1:2525\ntls = none\n",
	    "4: [listen \"b\"] address: 127.0.0.1:2525 overlaps 0.0.0.0:2525 "
	    "in [listen \"a\"]" },
	{ "[listen \"a\"]\naddress = [::1]:2525, [::]:2525\ntls = none\n",
	    "1: [listen \"a\"] address: [::]:2525 overlaps [::1]:2525 in "
	    "[listen \"a\"]" },
	/* trusted_networks that match everyone: an open relay */
	{ "[server]\ntrusted_networks = 10.0.0.0/8,\n  0.0.0.0/0\n",
	    "3: [server] trusted_networks: 0.0.0.0/0 matches every address" },
	{ "[server]\ntrusted_networks = ::/0\n",
	    "2: [server] trusted_networks: ::/0 matches every address" },
	/* IPv4 clients are matched as ::ffff:a.b.c.d too (conf_is_trusted) */
	{ "[server]\ntrusted_networks = ::ffff:0:0/96\n",
	    "2: [server] trusted_networks: ::ffff:0.0.0.0/96 matches every "
	    "IPv4 address" },
	{ "[server]\ntrusted_networks = ::/64\n",
	    "2: [server] trusted_networks: ::/64 matches every IPv4 address" },
	/* duplicates */
	{ "[server]\nworkers = 2\n\n[server]\nworkers = 3\n",
	    "5: [server] workers: duplicate key (first set on line 2)" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\naddress = 127.0.0.1:26\n",
	    "3: [listen \"mx\"] address: duplicate key (first set on line 2)" },
	{ "[listen \"mx\"]\n[listen \"mx\"]\n",
	    "2: [listen \"mx\"]: duplicate listener (first on line 1)" },
	{ "[domain \"a.example\"]\n[domain \"A.Example.\"]\n",
	    "2: [domain \"A.Example.\"]: duplicate domain" },
	/* sections */
	{ "[servers]\n", "1: [servers]: unknown section" },
	{ "[listen]\n", "1: [listen]: needs a name" },
	{ "[server \"x\"]\n", "1: [server]: takes no name" },
	{ "[server\n", "1: section header without a closing ']'" },
	{ "[listen \"a b\"]\n", "1: [listen \"a b\"]: bad listener name" },
	{ "[domain \"-bad.example\"]\n", "1: [domain \"-bad.example\"]: "
	    "bad domain name" },
	{ "[domain \"xn--bad.example\"]\n", "1: [domain \"xn--bad.example\"]: "
	    "bad domain name xn--bad.example (invalid IDN: disallowed code "
	    "point (RFC 5892))" },
	{ "[domain \"b\xc3\xbc" "cher.example\"]\n[domain \"xn--bcher-kva."
	    "example\"]\n", "2: [domain \"xn--bcher-kva.example\"]: "
	    "duplicate domain" },
	{ "hostname = x\n", "1: hostname: key outside of any section" },
	/* values */
	{ "[server]\nworkers = 0\n", "2: [server] workers: 0 is out of range" },
	{ "[server]\nworkers = -1\n", "2: [server] workers: not a number" },
	{ "[server]\nmax_line_length = 79\n",
	    "2: [server] max_line_length: 79 is out of range (80 to 65536)" },
	{ "[server]\nmax_line_length = 65537\n",
	    "2: [server] max_line_length: 65537 is out of range" },
	{ "[server]\nbare_newline = strip\n",
	    "2: [server] bare_newline: must be normalize or reject" },
	{ "[server]\nhostname = mail_1.example\n",
	    "2: [server] hostname: bad host name" },
	{ "[server]\nhostname = 192.0.2.1\n",
	    "2: [server] hostname: bad host name" },
	{ "[server]\ndata_dir = var/lib\n",
	    "2: [server] data_dir: must be an absolute path" },
	{ "[server]\ndata_dir =\n",
	    "2: [server] data_dir: must be an absolute path" },
	{ "[server]\nuser = -x\n", "2: [server] user: bad user name" },
	{ "[server]\ntrusted_networks = 10.0.0.0/33\n",
	    "2: [server] trusted_networks: bad prefix length" },
	{ "[server]\ntrusted_networks = example.org\n",
	    "2: [server] trusted_networks: bad network" },
	{ "[server]\nmax_connections = 10\nmax_connections_per_ip = 11\n",
	    "3: [server] max_connections_per_ip: 11 is more than" },
	{ "[auth]\ndmarc_enforce = maybe\n",
	    "2: [auth] dmarc_enforce: not a boolean" },
	{ "[lookalike]\nprotect = bank.example, localhost\n",
	    "2: [lookalike] protect: localhost is not a domain name" },
	{ "[lookalike]\nprotect = bad_name.example\n",
	    "2: [lookalike] protect: bad_name.example is not a domain name" },
	{ "[lookalike]\naction = drop\n",
	    "2: [lookalike] action: must be header, tag or junk" },
	{ "[delivery]\nlocal = mbox\n", "2: [delivery] local: must be maildir" },
	{ "[delivery]\nlocal = lmtp:127.0.0.1\n",
	    "2: [delivery] local: a port is required" },
	{ "[delivery]\nlocal = lmtp:unix:run/lmtp\n",
	    "2: [delivery] local: lmtp:unix: needs an absolute" },
	{ "[delivery]\nrelayhost = host:25\n",
	    "2: [delivery] relayhost: must be smtps://" },
	{ "[delivery]\nrelayhost = smtp://bad_host\n",
	    "2: [delivery] relayhost: bad host" },
	{ "[delivery]\nmx_port = 70000\n",
	    "2: [delivery] mx_port: 70000 is out of range" },
	{ "[delivery]\nretry_schedule =\n",
	    "2: [delivery] retry_schedule: must not be empty" },
	{ "[dns]\nresolver = system, 127.0.0.1\n",
	    "2: [dns] resolver: system cannot be combined" },
	{ "[dns]\nresolver = 127.0.0.1, recursive\n",
	    "2: [dns] resolver: recursive cannot be combined" },
	/* [policy "NAME"] */
	{ "[policy \"a.example\"]\ntls = strict\n",
	    "2: [policy \"a.example\"] tls: must be none, may, encrypt" },
	{ "[policy \"a.example\"]\nmx_match = mx.a.example\n",
	    "1: [policy \"a.example\"] tls: must be set" },
	{ "[policy \"a.example\"]\ntls = dane\nmx_match = mx.a.example\n",
	    "1: [policy \"a.example\"] mx_match: only applies to tls = "
	    "verify" },
	{ "[policy \"a.example\"]\ntls = verify\nmx_match = mx.*.example\n",
	    "3: [policy \"a.example\"] mx_match: bad MX pattern" },
	{ "[policy \"a..example\"]\ntls = may\n",
	    "1: [policy \"a..example\"]: bad destination" },
	{ "[policy \"a.example\"]\ntls = may\n[policy \"A.Example.\"]\n"
	    "tls = may\n", "3: [policy \"A.Example.\"]: duplicate policy" },
	{ "[dns]\nresolver = 127.0.0.1@99999\n",
	    "2: [dns] resolver: bad forwarder" },
	{ "[dns]\nresolver =\n", "2: [dns] resolver: must not be empty" },
	/* dkim_selector/dkim_key pairs */
	{ "[domain \"a.example\"]\ndkim_selector = s1\n",
	    "2: [domain \"a.example\"] dkim_selector: no dkim_key follows "
	    "this dkim_selector" },
	{ "[domain \"a.example\"]\ndkim_selector = s1\n[domain \"b.example\"]"
	    "\ndkim_key = /k\n", "2: [domain \"a.example\"] dkim_selector: "
	    "no dkim_key follows this dkim_selector" },
	{ "[domain \"a.example\"]\ndkim_selector = s1\ndkim_selector = s2\n"
	    "dkim_key = /k2\n", "3: [domain \"a.example\"] dkim_selector: "
	    "the dkim_selector on line 2 has no dkim_key" },
	{ "[domain \"a.example\"]\ndkim_key = /k\n",
	    "2: [domain \"a.example\"] dkim_key: dkim_key without a "
	    "dkim_selector before it" },
	{ "[domain \"a.example\"]\ndkim_selector = s1\ndkim_key = /k1\n"
	    "dkim_key = /k2\n", "4: [domain \"a.example\"] dkim_key: "
	    "dkim_key without a dkim_selector before it" },
	{ "[domain \"a.example\"]\ndkim_selector = s1\ndkim_key = k1\n",
	    "3: [domain \"a.example\"] dkim_key: must be an absolute path" },
	{ "[domain \"a.example\"]\ndkim_selector =\n",
	    "2: [domain \"a.example\"] dkim_selector: must not be empty" },
	{ "[domain \"a.example\"]\ndkim_selector = s1\ndkim_key = /k1\n"
	    "dkim_selector = S1\ndkim_key = /k2\n", "4: [domain \"a.example\"] "
	    "dkim_selector: duplicate selector S1 (first on line 2)" },
	{ "[domain \"a.example\"]\n"
	    "dkim_selector = s1\ndkim_key = /k1\n"
	    "dkim_selector = s2\ndkim_key = /k2\n"
	    "dkim_selector = s3\ndkim_key = /k3\n"
	    "dkim_selector = s4\ndkim_key = /k4\n"
	    "dkim_selector = s5\ndkim_key = /k5\n",
	    "10: [domain \"a.example\"] dkim_selector: too many DKIM keys (at "
	    "most 4 per domain)" },
	{ "[domain \"a.example\"]\ndkim_selector = s_1\n",
	    "2: [domain \"a.example\"] dkim_selector: bad selector" },
	/* lines */
	{ "[server]\nworkers\n", "2: expected 'key = value'" },
	{ "[server]\nwork ers = 1\n", "2: [server]: bad key name" },
	{ "[server]\nworkers = 1\n  2\n",
	    "3: [server]: indented line without '=' that does not continue" },
	{ "[server]\nworkers = 1\x01\n", "2: control character 0x01" },
	{ "[server]\n\n\ndata_dir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaa\n", "4: [server]: line too long" },
	{ "[server]\ndata_dir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "2: [server] data_dir: value too long" },
	{ "[server]\nsubmit_socket = run/submit.sock\n",
	    "2: [server] submit_socket: must be an absolute path" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n[server]\n"
	    "submit_socket = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	    "5: [server] submit_socket: path too long for a unix socket" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n[auth]\n"
	    "passdb = dovecot:/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-client\n",
	    "5: [auth] passdb: path too long for a unix socket" },
	/* [server] dnsbl and pregreet_wait, [limits] */
	{ "[server]\ndnsbl = bl.example, 127.0.0.2\n",
	    "2: [server] dnsbl: 127.0.0.2: an answer code must follow "
	    "zone=CODE" },
	{ "[server]\ndnsbl = bl.example=127.0.0.x\n",
	    "2: [server] dnsbl: bl.example: answer code 127.0.0.x is not an "
	    "IPv4 address" },
	{ "[server]\ndnsbl = 127.0.0.2\n",
	    "2: [server] dnsbl: 127.0.0.2: an answer code must follow "
	    "zone=CODE" },
	{ "[server]\ndnsbl = bl_x.example\n",
	    "2: [server] dnsbl: bl_x.example is not a DNS zone name" },
	{ "[server]\ndnsbl = a,b,c,d,e,f,g,h,i\n",
	    "2: [server] dnsbl: too many zones (at most 8)" },
	{ "[server]\npregreet_wait = 2m\n",
	    "2: [server] pregreet_wait: " },
	{ "[limits]\nmessages_per_hour = -1\n",
	    "2: [limits] messages_per_hour: " },
	{ "[limits]\nrecipients_per_hour = 10000001\n",
	    "2: [limits] recipients_per_hour: " },
	/* Above what the shared hour counters hold (HOURWIN_MAX): such a
	 * limit would never be reached. */
	{ "[limits]\nmessages_per_hour = 1048576\n",
	    "2: [limits] messages_per_hour: " },
	{ "[limits]\nrecipients_per_hour = 2000000\n",
	    "2: [limits] recipients_per_hour: " },
	{ "[limits]\nconnections_per_hour = 1\n",
	    "2: [limits] connections_per_hour: unknown key" },
	/* PROXY protocol: only from named proxies, on any listener */
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "proxy_protocol = yes\n",
	    "1: [listen \"mx\"] proxy_from: missing: proxy_protocol = yes "
	    "needs" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "proxy_protocol = maybe\n",
	    "4: [listen \"mx\"] proxy_protocol: " },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "proxy_from = 10.0.0.0/33\n",
	    "4: [listen \"mx\"] proxy_from: " },
	{ "[listen \"a\"]\naddress = 127.0.0.1:8080\nrole = admin\n"
	    "tls = none\nproxy_protocol = yes\n",
	    "1: [listen \"a\"] proxy_from: missing: proxy_protocol = yes "
	    "needs" },
	/* [store]: a known backend, a connection string libpq reads, never
	 * a password in it, none missing. */
	{ "[store]\nbackend = mysql\n",
	    "2: [store] backend: must be sqlite or postgresql" },
	{ "[store]\npostgresql = host=db password=secret\n",
	    "2: [store] postgresql: must not hold a password" },
	{ "[store]\npostgresql = postgresql://u:secret@db/sealmail\n",
	    "2: [store] postgresql: must not hold a password" },
	{ "[store]\npostgresql = host=db nonsense\n",
	    "2: [store] postgresql: not a libpq connection string: " },
	{ "[store]\npostgresql = host=db colour=blue\n",
	    "2: [store] postgresql: not a libpq connection string: " },
	{ "[store]\npostgresql_password_file = pw\n",
	    "2: [store] postgresql_password_file: must be an absolute path" },
	/* The keys process's role: the same rules. */
	{ "[store]\nkeys_postgresql = host=db user=k password=secret\n",
	    "2: [store] keys_postgresql: must not hold a password" },
	{ "[store]\nkeys_postgresql = host=db colour=blue\n",
	    "2: [store] keys_postgresql: not a libpq connection string: " },
	{ "[store]\nkeys_postgresql_password_file = pw\n",
	    "2: [store] keys_postgresql_password_file: must be an absolute "
	    "path" },
	{ "[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "[store]\nbackend = postgresql\n",
	    "5: [store] postgresql: missing: backend = postgresql needs" },
};

static void
test_errors(void **state)
{
	char err[512], want[600];
	char *path = xasprintf("%s/t.conf", tmpdir);

	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]);
	    i++) {
		struct conf *c = load_text(error_cases[i].text, err,
		    sizeof(err));

		snprintf(want, sizeof(want), "%s:%s", path,
		    error_cases[i].want);
		if (c != NULL)
			fail_msg("case %zu loaded; wanted %s", i, want);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, err, want);
		assert_null(strchr(err, '\n'));
	}
	free(path);
}

static void
test_open_error(void **state)
{
	char err[512];
	struct conf *c = (struct conf *)1;

	(void)state;
	assert_int_equal(conf_load("/nonexistent/sealmail.conf", &c, err,
	    sizeof(err)), -1);
	assert_null(c);
	assert_string_equal(err, "/nonexistent/sealmail.conf: cannot open: "
	    "No such file or directory");
	/* A small err buffer truncates but stays a terminated string. */
	assert_int_equal(conf_load("/nonexistent/x", &c, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(conf_load("/nonexistent/x", &c, NULL, 0), -1);
}

static void
test_ipv6_listeners(void **state)
{
	char err[512];
	struct conf *c;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_in *sin;

	(void)state;
	c = load_text("[listen \"x\"]\naddress = [::1]:25, [2001:DB8::0:1]:587,"
	    " 192.0.2.1:465\ntls = none\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->listeners[0].naddrs, 3);
	assert_string_equal(c->listeners[0].addrs[0].text, "[::1]:25");
	assert_string_equal(c->listeners[0].addrs[1].text,
	    "[2001:db8::1]:587");
	assert_string_equal(c->listeners[0].addrs[2].text, "192.0.2.1:465");
	sin6 = (const struct sockaddr_in6 *)&c->listeners[0].addrs[1].ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 587);
	assert_int_equal(c->listeners[0].addrs[1].len, sizeof(*sin6));
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 1);
	sin = (const struct sockaddr_in *)&c->listeners[0].addrs[2].ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 465);
	assert_int_equal(c->listeners[0].addrs[2].len, sizeof(*sin));
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);
	conf_free(c);
}

static bool
trusted(const struct conf *c, const char *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return conf_is_trusted(c, (struct sockaddr *)&sin);
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	sin6.sin6_family = AF_INET6;
	return conf_is_trusted(c, (struct sockaddr *)&sin6);
}

/* proxy_from is its listener's own list, matched like trusted_networks;
 * the proxies are not trusted for relaying by being named. */
static void
test_proxy_from(void **state)
{
	char err[512];
	struct conf *c;
	struct sockaddr_in sin;

	(void)state;
	c = load_text("[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "proxy_protocol = yes\nproxy_from = 10.0.0.5, 2001:db8::/64\n"
	    "[listen \"sub\"]\naddress = 127.0.0.1:587\ntls = none\n"
	    "role = submission\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_true(c->listeners[0].proxy_protocol);
	assert_int_equal(c->listeners[0].nproxy_from, 2);
	assert_false(c->listeners[1].proxy_protocol);
	assert_int_equal(c->listeners[1].nproxy_from, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.5", &sin.sin_addr);
	assert_true(conf_networks_match(c->listeners[0].proxy_from,
	    c->listeners[0].nproxy_from, (struct sockaddr *)&sin));
	assert_false(conf_is_trusted(c, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "10.0.0.6", &sin.sin_addr);
	assert_false(conf_networks_match(c->listeners[0].proxy_from,
	    c->listeners[0].nproxy_from, (struct sockaddr *)&sin));
	conf_free(c);
}

static void
test_trusted_networks(void **state)
{
	char err[512], *text;
	struct conf *c;

	(void)state;
	text = xasprintf("%s[server]\ntrusted_networks = 10.0.0.0/8, "
	    "192.168.1.5, 172.16.0.0/12, 2001:db8::/32, ::1, 198.51.100.7/25\n",
	    minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	if (c == NULL)
		fail_msg("%s", err);
	assert_true(trusted(c, "10.200.3.4"));
	assert_false(trusted(c, "11.0.0.1"));
	assert_true(trusted(c, "192.168.1.5"));
	assert_false(trusted(c, "192.168.1.6"));
	assert_true(trusted(c, "172.31.255.255"));
	assert_false(trusted(c, "172.32.0.0"));
	assert_true(trusted(c, "198.51.100.1"));	/* host bits cleared */
	assert_false(trusted(c, "198.51.100.128"));
	assert_true(trusted(c, "2001:db8:ffff::1"));
	assert_false(trusted(c, "2001:db9::1"));
	assert_true(trusted(c, "::1"));
	assert_false(trusted(c, "::2"));
	/* v4-mapped IPv6 clients match IPv4 networks. */
	assert_true(trusted(c, "::ffff:10.1.2.3"));
	assert_true(trusted(c, "::ffff:192.168.1.5"));
	assert_false(trusted(c, "::ffff:192.168.1.6"));
	assert_false(trusted(c, "::10.1.2.3"));	/* not mapped */
	assert_false(conf_is_trusted(c, NULL));
	conf_free(c);

	/* An IPv6 network over the mapped range matches IPv4 clients. */
	text = xasprintf("%s[server]\ntrusted_networks = ::ffff:10.0.0.0/104\n",
	    minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_non_null(c);
	assert_true(trusted(c, "10.9.9.9"));
	assert_true(trusted(c, "::ffff:10.9.9.9"));
	assert_false(trusted(c, "11.9.9.9"));
	conf_free(c);

	/* Empty list: nobody; 1.0.0.0/1: half of IPv4 only. */
	c = load_text(minimal, err, sizeof(err));
	assert_false(trusted(c, "127.0.0.1"));
	conf_free(c);
	text = xasprintf("%s[server]\ntrusted_networks = 0.0.0.0/1\n", minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_true(trusted(c, "103.0.113.9"));
	assert_true(trusted(c, "::ffff:103.0.113.9"));
	assert_false(trusted(c, "203.0.113.9"));
	assert_false(trusted(c, "2001:db8::1"));
	conf_free(c);
}

/* Loads with exactly the warnings want (suffixes after "PATH:"), in order. */
static void
assert_warnings(const char *text, const char *const *want, size_t nwant)
{
	char err[512], *path = xasprintf("%s/t.conf", tmpdir);
	struct conf *c = load_text(text, err, sizeof(err));

	if (c == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < c->nwarnings; i++)
		if (i >= nwant || strncmp(c->warnings[i], path,
		    strlen(path)) != 0 || strstr(c->warnings[i] +
		    strlen(path) + 1, want[i]) != c->warnings[i] +
		    strlen(path) + 1)
			fail_msg("warning %zu: %s (want %s)", i, c->warnings[i],
			    i < nwant ? want[i] : "none");
	assert_int_equal(c->nwarnings, nwant);
	conf_free(c);
	free(path);
}

static void
test_warnings(void **state)
{
	static const char *const trusted_want[] = {
		"6: [server] trusted_networks: 10.0.0.0/8 is wider than a /24",
		"6: [server] trusted_networks: 192.0.2.0/24 is public",
		"7: [server] trusted_networks: 2001:db8::/64 is public",
		"7: [server] trusted_networks: fd00::/40 is wider than a /48",
	};
	static const char *const sub_want[] = {
		"4: [listen \"s\"] tls: none on a submission listener",
	};
	char *text;

	(void)state;
	/* Private, narrow enough, or loopback (all of it is this host). */
	text = xasprintf("%s[server]\ntrusted_networks = 127.0.0.0/8, "
	    "192.168.1.0/24, 10.1.2.3, ::1, fd12:3456::/48, fe80::/64,\n"
	    "  ::ffff:172.16.0.0/120, 100.64.0.0/24\n", minimal);
	assert_warnings(text, NULL, 0);
	free(text);
	text = xasprintf("%s[server]\ntrusted_networks = 127.0.0.1,\n"
	    "  10.0.0.0/8, 192.0.2.0/24,\n  2001:db8::/64, fd00::/40\n",
	    minimal);
	assert_warnings(text, trusted_want, 4);
	free(text);
	text = xasprintf("%s[listen \"s\"]\naddress = 127.0.0.1:587\n"
	    "role = submission\ntls = none\n", minimal);
	assert_warnings(text, sub_want, 1);
	free(text);
}

/* [store]: parsed and kept; PostgreSQL keys without that backend are
 * said to do nothing; per-node Maildirs with a shared store are warned
 * of; serve cannot run PostgreSQL yet, and says so. */
static void
test_store(void **state)
{
	static const char *const unused_want[] = {
		"5: [store] postgresql: has no effect without backend = "
		"postgresql",
		"6: [store] postgresql_password_file: has no effect",
		"7: [store] keys_postgresql: has no effect",
	};
	static const char *const keys_pw_want[] = {
		"9: [store] keys_postgresql_password_file: has no effect "
		"without keys_postgresql",
	};
	static const char *const maildir_want[] = {
		"5: [store] backend: postgresql with [delivery] local = "
		"maildir: each node",
	};
	char err[512], *text;
	struct conf *c;

	(void)state;
	c = load_text(minimal, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->store_backend, CONF_STORE_SQLITE);
	assert_null(c->store_postgresql);
	conf_free(c);

	text = xasprintf("%s[store]\npostgresql = host=db dbname=m\n"
	    "postgresql_password_file = /etc/pw\nkeys_postgresql = host=db\n",
	    minimal);
	assert_warnings(text, unused_want, 3);
	free(text);

	text = xasprintf("%s[store]\nbackend = postgresql\npostgresql = "
	    "host=127.0.0.1 port=5433 dbname=m user=u connect_timeout=3\n"
	    "postgresql_password_file = /etc/pw\n", minimal);
	assert_warnings(text, maildir_want, 1);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_non_null(c);
	assert_int_equal(c->store_backend, CONF_STORE_POSTGRESQL);
	assert_string_equal(c->store_postgresql, "host=127.0.0.1 port=5433 "
	    "dbname=m user=u connect_timeout=3");
	assert_string_equal(c->store_postgresql_password_file, "/etc/pw");
	assert_null(c->store_keys_postgresql);
	assert_int_equal(c->store_backend_line, 5);
	conf_free(c);

	text = xasprintf("%s[delivery]\nlocal = lmtp:127.0.0.1:24\n[store]\n"
	    "backend = postgresql\npostgresql = host=db user=w\n"
	    "keys_postgresql = host=db user=k\n"
	    "keys_postgresql_password_file = /etc/kpw\n", minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_non_null(c);
	assert_string_equal(c->store_keys_postgresql, "host=db user=k");
	assert_string_equal(c->store_keys_postgresql_password_file,
	    "/etc/kpw");
	conf_free(c);

	/* The keys role's password without the keys role. */
	text = xasprintf("%s[delivery]\nlocal = lmtp:127.0.0.1:24\n[store]\n"
	    "backend = postgresql\npostgresql = host=db user=w\n"
	    "keys_postgresql_password_file = /etc/kpw\n", minimal);
	assert_warnings(text, keys_pw_want, 1);
	free(text);

	/* LMTP to a shared Dovecot: no warning. */
	text = xasprintf("%s[delivery]\nlocal = lmtp:127.0.0.1:24\n[store]\n"
	    "backend = postgresql\npostgresql = postgresql://db/m\n",
	    minimal);
	assert_warnings(text, NULL, 0);
	free(text);
}

static void
test_local_domain(void **state)
{
	char err[512], *text;
	struct conf *c;

	(void)state;
	text = xasprintf("%s[domain \"Example.org\"]\n[domain \"b.test.\"]\n",
	    minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_non_null(c);
	assert_int_equal(c->ndomains, 2);
	assert_string_equal(c->domains[1].name, "b.test");
	assert_true(conf_is_local_domain(c, "example.org"));
	assert_true(conf_is_local_domain(c, "EXAMPLE.ORG"));
	assert_true(conf_is_local_domain(c, "example.org."));
	assert_true(conf_is_local_domain(c, "b.test"));
	assert_false(conf_is_local_domain(c, "sub.example.org"));
	assert_false(conf_is_local_domain(c, "example.or"));
	assert_false(conf_is_local_domain(c, ""));
	conf_free(c);
}

/* [policy]: exact names win, ".parent" covers subdomains only, the
 * longest parent wins. */
static void
test_policy_for(void **state)
{
	char err[512], *text;
	const struct conf_policy *p;
	struct conf *c;

	(void)state;
	text = xasprintf("%s[policy \".example.org\"]\ntls = encrypt\n"
	    "[policy \"Example.org\"]\ntls = verify\n"
	    "[policy \".in.example.org\"]\ntls = dane-only\n", minimal);
	c = load_text(text, err, sizeof(err));
	free(text);
	assert_non_null(c);
	assert_true(c->dane);
	assert_true(c->mta_sts);
	assert_false(c->fetch_private_addresses);
	assert_null(c->tls_ca);
	p = conf_policy_for(c, "EXAMPLE.org.");
	assert_non_null(p);
	assert_int_equal(p->tls, CONF_TLSPOL_VERIFY);
	p = conf_policy_for(c, "mx.example.org");
	assert_non_null(p);
	assert_int_equal(p->tls, CONF_TLSPOL_ENCRYPT);
	p = conf_policy_for(c, "a.in.example.org");
	assert_non_null(p);
	assert_int_equal(p->tls, CONF_TLSPOL_DANE_ONLY);
	/* "in.example.org" itself is only a subdomain of example.org. */
	assert_int_equal(conf_policy_for(c, "in.example.org")->tls,
	    CONF_TLSPOL_ENCRYPT);
	assert_null(conf_policy_for(c, "badexample.org"));
	assert_null(conf_policy_for(c, "org"));
	assert_string_equal(conf_tls_policy_name(CONF_TLSPOL_DANE_ONLY),
	    "dane-only");
	conf_free(c);
}

static void
test_default_path(void **state)
{
	(void)state;
	unsetenv("SEALMAIL_CONFIG");
	assert_string_equal(conf_default_path(NULL),
	    "/etc/sealmail/sealmail.conf");
	setenv("SEALMAIL_CONFIG", "/env/x.conf", 1);
	assert_string_equal(conf_default_path(NULL), "/env/x.conf");
	assert_string_equal(conf_default_path("/opt/y.conf"), "/opt/y.conf");
	unsetenv("SEALMAIL_CONFIG");
}

/* Run a CLI function with a NULL-terminated argument list. */
static int
run_cli(int (*fn)(int, char **, const char *), const char *config, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, config);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	return fn(argc, argv, config);
}

/* Write a new private key of the given OpenSSL type to tmpdir/name. */
static char *
write_key(const char *name, const char *type, size_t bits)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	EVP_PKEY *pk = bits ? EVP_PKEY_Q_keygen(NULL, NULL, type, bits) :
	    strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, type,
	    "P-256") : EVP_PKEY_Q_keygen(NULL, NULL, type);
	FILE *fp = fopen(path, "w");

	assert_non_null(pk);
	assert_non_null(fp);
	assert_int_equal(fchmod(fileno(fp), 0600), 0);	/* check-config */
	assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(fp), 0);
	EVP_PKEY_free(pk);
	return path;
}

/* Dual Ed25519 + RSA signing: both pairs load, print and load back, and
 * check-config reads every key, refusing one DKIM cannot use. */
static void
test_dkim_pairs(void **state)
{
	char err[512], *ed = write_key("ed.key", "ED25519", 0);
	char *rsa = write_key("rsa.key", "RSA", 1024);
	char *ec = write_key("ec.key", "EC", 0), *text, *path, *body;
	struct conf *c, *c2;

	(void)state;
	/* user = (no drop): check-config would want a user "sealmail";
	 * dane = no: it would probe DNSSEC through the host's resolver. */
	text = xasprintf("%s[server]\nuser =\n[delivery]\ndane = no\n"
	    "[domain \"d.example\"]\ndkim_selector = ed1\n"
	    "dkim_key = %s\ndkim_selector = rsa1\ndkim_key = %s\n", minimal,
	    ed, rsa);
	c = load_text(text, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->domains[0].ndkim, 2);
	assert_string_equal(c->domains[0].dkim[1].selector, "rsa1");
	assert_string_equal(c->domains[0].dkim[1].key, rsa);
	free(text);
	body = print_body(c);
	c2 = load_text(body, err, sizeof(err));
	if (c2 == NULL)
		fail_msg("printed config does not load: %s\n%s", err, body);
	assert_int_equal(c2->domains[0].ndkim, 2);
	assert_string_equal(c2->domains[0].dkim[0].selector, "ed1");
	assert_string_equal(c2->domains[0].dkim[0].key, ed);
	assert_string_equal(c2->domains[0].dkim[1].key, rsa);
	free(body);
	conf_free(c);
	conf_free(c2);

	path = xasprintf("%s/t.conf", tmpdir);
	assert_int_equal(run_cli(cli_check_config, path, "check-config",
	    (char *)NULL), 0);
	/* The second key OpenSSL reads, but DKIM has no ECDSA. */
	text = xasprintf("%s[server]\nuser =\n[delivery]\ndane = no\n"
	    "[domain \"d.example\"]\ndkim_selector = ed1\n"
	    "dkim_key = %s\ndkim_selector = ec1\ndkim_key = %s\n", minimal,
	    ed, ec);
	free(write_file("t.conf", text));
	assert_int_equal(run_cli(cli_check_config, path, "check-config",
	    (char *)NULL), 1);
	free(text);
	free(path);
	free(ed);
	free(rsa);
	free(ec);
}

static void
test_init_dev(void **state)
{
	char err[512], *dir = xasprintf("%s/dev/sub", tmpdir), *conf_path;
	char *keypath;
	struct conf *c;
	struct stat st;

	(void)state;
	assert_int_equal(run_cli(cli_init, NULL, "init", "-d", dir, "--dev",
	    (char *)NULL), 0);
	conf_path = xasprintf("%s/sealmail.conf", dir);
	assert_int_equal(conf_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->hostname, "localhost");
	assert_null(c->user);
	assert_int_equal(c->workers, 2);
	assert_int_equal(c->nlisteners, 3);
	assert_string_equal(c->listeners[0].addrs[0].text, "127.0.0.1:2525");
	assert_int_equal(c->listeners[0].role, CONF_ROLE_MX);
	assert_string_equal(c->listeners[1].addrs[0].text, "127.0.0.1:5870");
	assert_int_equal(c->listeners[1].role, CONF_ROLE_SUBMISSION);
	assert_int_equal(c->listeners[1].tls, CONF_TLS_STARTTLS);
	assert_string_equal(c->listeners[2].addrs[0].text, "127.0.0.1:4650");
	assert_int_equal(c->listeners[2].tls, CONF_TLS_IMPLICIT);
	assert_int_equal(c->ndomains, 1);
	assert_string_equal(c->domains[0].name, "example.test");
	assert_int_equal(c->domains[0].ndkim, 1);
	assert_string_equal(c->domains[0].dkim[0].selector, "s1");
	keypath = xasprintf("%s/dkim/example.test.s1.key", dir);
	assert_string_equal(c->domains[0].dkim[0].key, keypath);
	assert_int_equal(stat(keypath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(c->certs[0].key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(c->data_dir[0], '/');
	assert_int_equal(stat(c->data_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	conf_free(c);

	/* check-config accepts it (cert and key match). */
	assert_int_equal(run_cli(cli_check_config, conf_path, "check-config",
	    (char *)NULL), 0);
	assert_int_equal(run_cli(cli_check_config, conf_path, "check-config",
	    "extra", (char *)NULL), 2);
	/* A second init into the same folder is refused. */
	assert_int_equal(run_cli(cli_init, NULL, "init", "-d", dir, "--dev",
	    (char *)NULL), 1);
	free(keypath);
	free(conf_path);
	free(dir);
}

static void
test_init_real(void **state)
{
	char err[512], *dir = xasprintf("%s/real", tmpdir), *conf_path;
	char *dev_key = xasprintf("%s/dev/sub/tls/ecdsa.key", tmpdir), *bad;
	struct conf *c;
	FILE *fp;

	(void)state;
	assert_int_equal(run_cli(cli_init, NULL, "init", "-d", dir,
	    "--hostname", "mx.mail.example.net", (char *)NULL), 0);
	conf_path = xasprintf("%s/sealmail.conf", dir);
	assert_int_equal(conf_load(conf_path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->hostname, "mx.mail.example.net");
	assert_string_equal(c->user, "sealmail");
	assert_int_equal(c->nlisteners, 4);
	assert_string_equal(c->listeners[0].addrs[0].text, "0.0.0.0:25");
	assert_string_equal(c->listeners[0].addrs[1].text, "[::]:25");
	assert_string_equal(c->listeners[2].addrs[1].text, "[::]:465");
	assert_int_equal(c->listeners[2].tls, CONF_TLS_IMPLICIT);
	assert_string_equal(c->listeners[3].addrs[0].text, "0.0.0.0:2525");
	assert_string_equal(c->domains[0].name, "mail.example.net");

	/* check-config catches a key that does not match its cert. */
	bad = xasprintf("%s/bad.conf", tmpdir);
	fp = fopen(bad, "w");
	fprintf(fp, "[tls]\ncert = %s\nkey = %s\n[listen \"mx\"]\n"
	    "address = 127.0.0.1:25\n[delivery]\ndane = no\n",
	    c->certs[0].cert, dev_key);
	fclose(fp);
	assert_int_equal(run_cli(cli_check_config, bad, "check-config",
	    (char *)NULL), 1);
	conf_free(c);

	/* --domain, and usage errors. */
	free(dir);
	dir = xasprintf("%s/real2", tmpdir);
	assert_int_equal(run_cli(cli_init, NULL, "init", "--dir", dir,
	    "--hostname=host.example.com", "--domain=Other.Example",
	    (char *)NULL), 0);
	assert_int_equal(run_cli(cli_init, NULL, "init", (char *)NULL), 2);
	assert_int_equal(run_cli(cli_init, NULL, "init", "-d", dir, "--what",
	    (char *)NULL), 2);
	assert_int_equal(run_cli(cli_init, NULL, "init", "-d", dir,
	    "--hostname", "bad_name", (char *)NULL), 1);
	free(bad);
	free(dev_key);
	free(conf_path);
	free(dir);
}

static int
teardown_all(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int r;

	(void)state;
	r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

/* [milter "NAME"]: keys, defaults, which listeners, and the errors. */
static void
test_milter(void **state)
{
	char err[512];
	struct conf *c;
	static const char *const bad[][2] = {
		{ "address = tcp:1.2.3.4:5\nroles = mx\n", "unix:PATH" },
		{ "address = unix:rel.sock\nroles = mx\n", "absolute" },
		{ "address = inet:localhost\nroles = mx\n", "inet:" },
		{ "address = unix:/x.sock\n", "applies to nothing" },
		{ "roles = mx\n", "address: missing" },
		{ "address = unix:/x.sock\nroles = relay\n", "mx and/or" },
		{ "address = unix:/x.sock\nlisteners = nope\n",
		    "no [listen \"nope\"]" },
		{ "address = unix:/x.sock\nroles = mx\non_error = drop\n",
		    "tempfail or accept" },
	};

	(void)state;
	c = load_text("[listen \"mx\"]\naddress = 127.0.0.1:25\ntls = none\n"
	    "[listen \"alt\"]\naddress = 127.0.0.1:26\ntls = none\n"
	    "role = submission\n"
	    "[milter \"rspamd\"]\naddress = inet:127.0.0.1:11332\n"
	    "roles = mx\non_error = accept\ncontent_timeout = 2m\n"
	    "[milter \"dkim\"]\naddress = unix:/run/odkim.sock\n"
	    "listeners = alt\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->nmilters, 2);
	assert_string_equal(c->milters[0].name, "rspamd");
	assert_false(c->milters[0].is_unix);
	assert_string_equal(c->milters[0].inet.text, "127.0.0.1:11332");
	assert_int_equal(c->milters[0].on_error, CONF_MILTER_ACCEPT);
	assert_int_equal(c->milters[0].connect_timeout, 30);
	assert_int_equal(c->milters[0].command_timeout, 30);
	assert_int_equal(c->milters[0].content_timeout, 120);
	assert_true(c->milters[1].is_unix);
	assert_string_equal(c->milters[1].path, "/run/odkim.sock");
	assert_int_equal(c->milters[1].on_error, CONF_MILTER_TEMPFAIL);
	assert_int_equal(c->milters[1].content_timeout, 300);
	assert_true(conf_milter_applies(&c->milters[0], &c->listeners[0]));
	assert_false(conf_milter_applies(&c->milters[0], &c->listeners[1]));
	assert_false(conf_milter_applies(&c->milters[1], &c->listeners[0]));
	assert_true(conf_milter_applies(&c->milters[1], &c->listeners[1]));
	conf_free(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];

		snprintf(text, sizeof(text), "%s[milter \"m\"]\n%s", minimal,
		    bad[i][0]);
		c = load_text(text, err, sizeof(err));
		assert_null(c);
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("case %zu: %s", i, err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_roundtrip),
		cmocka_unit_test(test_default_reports_from_canonical),
		cmocka_unit_test(test_long_list_roundtrip),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_open_error),
		cmocka_unit_test(test_ipv6_listeners),
		cmocka_unit_test(test_trusted_networks),
		cmocka_unit_test(test_proxy_from),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_policy_for),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_dkim_pairs),
		cmocka_unit_test(test_init_dev),
		cmocka_unit_test(test_init_real),
		cmocka_unit_test(test_milter),
	};

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
