/* SPDX-License-Identifier: ISC */
/*
 * End-to-end tests of MTA-STS discovery: sts_fetch() and mtasts_get()
 * against real servers on loopback. The suite starts NSD with a zone
 * written here (tests/dns/dnsserver.py), a test CA (tests/integration/
 * testca.py) and the HTTPS policy server (tests/outbound/stsserver.py) on
 * 127.0.0.2:443, whose answers it steers through a JSON file. It moves
 * itself into a new network namespace first when it can (root), so port
 * 443 is its own; otherwise it uses a free high port. Skipped with a
 * message when nsd, ldnsutils, /usr/bin/python3 or python3-cryptography
 * is missing. Run from the repository root (or set SEALMAIL_SRCDIR).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "deliver/mtasts.h"
#include "core/workpool.h"
#include "dns/dns.h"
#include "store/db.h"
#include "sts/sts_fetch.h"
#include "sts/sts_policy.h"
#include "testdns.h"

#define PY	"/usr/bin/python3"
#define ADDR	"127.0.0.2"

#define POLICY_ENFORCE "version: STSv1\r\nmode: enforce\r\n" \
	"mx: mx1.good.sts.test\r\nmx: *.mx.sts.test\r\nmax_age: 604800\r\n"
#define POLICY_TESTING "version: STSv1\nmode: testing\nmx: mx.sts.test\n" \
	"max_age: 86400\n"

/* The same, escaped for JSON. */
#define PE "version: STSv1\\r\\nmode: enforce\\r\\n" \
	"mx: mx1.good.sts.test\\r\\nmx: *.mx.sts.test\\r\\n" \
	"max_age: 604800\\r\\n"
#define PT "version: STSv1\\nmode: testing\\nmx: mx.sts.test\\n" \
	"max_age: 86400\\n"

/* Hosts the CA-signed certificate names (not wrongname). */
static const char *const signed_hosts[] = {
	"good", "bad", "missing", "redirect", "huge", "huge2", "ctype",
	"slow", "notxt", "multi", "split", "cname", "idchange", "refresh",
	"coalesce", "refail", "gone",
};

static struct {
	bool			 skip;
	char			 dir[64];
	unsigned		 port;
	pid_t			 https;
	struct testdns		 ns;
	struct event_base	*base;
	struct dns_resolver	*dns;
	struct db		*db;
	char			 ca[160];
	/* with_store_thread: the store used on a thread of its own (as on
	 * PostgreSQL), through a connection of its own. */
	struct workpool		*store;
	struct db		*store_db;
} T;

static bool in_get;

/* --- servers --- */

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Zone sts.test; phase 2 is the world after the owner changed it. */
static void
write_zone(const char *path, int phase)
{
	char z[8192];
	size_t n = 0, i;

	n += (size_t)snprintf(z + n, sizeof(z) - n,
	    ";! servfail _mta-sts.tempfail.sts.test\n"
	    "$ORIGIN sts.test.\n$TTL 1\n"
	    "@ IN SOA ns.sts.test. hostmaster.sts.test. 1 3600 600 86400 1\n"
	    "@ NS ns\nns A 127.0.0.1\n");
	for (i = 0; i < sizeof(signed_hosts) / sizeof(signed_hosts[0]); i++) {
		const char *h = signed_hosts[i];

		if (phase == 2 && strcmp(h, "gone") == 0)
			continue;
		n += (size_t)snprintf(z + n, sizeof(z) - n,
		    "mta-sts.%s A " ADDR "\n", h);
		if (strcmp(h, "notxt") == 0 || strcmp(h, "multi") == 0 ||
		    strcmp(h, "split") == 0 || strcmp(h, "cname") == 0 ||
		    (phase == 2 && strcmp(h, "gone") == 0))
			continue;
		n += (size_t)snprintf(z + n, sizeof(z) - n,
		    "_mta-sts.%s TXT \"v=STSv1; id=%s\"\n", h,
		    phase == 2 && (strcmp(h, "idchange") == 0 ||
		    strcmp(h, "refail") == 0) ? "2" : "1");
	}
	n += (size_t)snprintf(z + n, sizeof(z) - n,
	    "_mta-sts.multi TXT \"v=STSv1; id=1\"\n"
	    "_mta-sts.multi TXT \"v=STSv1; id=2\"\n"
	    "_mta-sts.multi TXT \"v=spf1 -all\"\n"
	    "_mta-sts.split TXT \"v=STSv1;\" \" id=split1\"\n"
	    "_mta-sts.cname CNAME _mta-sts.good\n"
	    "_mta-sts.notxt TXT \"v=spf1 -all\"\n"
	    "_mta-sts.wrongname TXT \"v=STSv1; id=1\"\n"
	    "mta-sts.wrongname A " ADDR "\n"
	    "_mta-sts.untrusted TXT \"v=STSv1; id=1\"\n"
	    "mta-sts.untrusted A " ADDR "\n"
	    "_mta-sts.expired TXT \"v=STSv1; id=1\"\n"
	    "mta-sts.expired A " ADDR "\n"
	    "_mta-sts.noaddr TXT \"v=STSv1; id=1\"\n"
	    "_mta-sts.doc TXT \"v=STSv1; id=1\"\n"
	    "mta-sts.doc A 192.0.2.7\n"
	    "mta-sts.doc AAAA 2001:db8::7\n");
	write_file(path, z);
}

/* What the HTTPS server serves; phase 2 as for the zone. */
static void
write_policies(int phase)
{
	char path[128], j[8192];
	size_t n = 0;

	n += (size_t)snprintf(j + n, sizeof(j) - n, "{"
	    "\"mta-sts.bad.sts.test\": {\"policy\": \"version: STSv1\\n"
	    "mode: enforce\\nmx: a..b\\nmax_age: 5\\n\"},"
	    "\"mta-sts.redirect.sts.test\": {\"location\": "
	    "\"https://mta-sts.good.sts.test/.well-known/mta-sts.txt\"},"
	    "\"mta-sts.huge.sts.test\": {\"policy\": \"%s\", "
	    "\"size\": 70000},"
	    "\"mta-sts.huge2.sts.test\": {\"policy\": \"%s\", "
	    "\"size\": 70000, \"no_length\": true},"
	    "\"mta-sts.ctype.sts.test\": {\"policy\": \"%s\", "
	    "\"content_type\": \"text/html\"},"
	    "\"mta-sts.slow.sts.test\": {\"policy\": \"%s\", \"delay\": 4},"
	    "\"mta-sts.wrongname.sts.test\": {\"policy\": \"%s\"},"
	    "\"mta-sts.untrusted.sts.test\": {\"policy\": \"%s\"},"
	    "\"mta-sts.expired.sts.test\": {\"policy\": \"%s\"},"
	    "\"mta-sts.coalesce.sts.test\": {\"policy\": \"%s\", "
	    "\"delay\": 0.3},"
	    "\"mta-sts.refresh.sts.test\": {\"policy\": \"%s\"},"
	    "\"mta-sts.notxt.sts.test\": {\"policy\": \"%s\"},"
	    "\"mta-sts.split.sts.test\": {\"policy\": \"%s\", "
	    "\"content_type\": \"TEXT/Plain; charset=utf-8\"},"
	    "\"mta-sts.cname.sts.test\": {\"policy\": \"%s\"},",
	    PT, PT, PT, PT,
	    PT, PT, PT, PT,
	    PT, PT, PT, PT);
	if (phase == 1)
		n += (size_t)snprintf(j + n, sizeof(j) - n,
		    "\"mta-sts.good.sts.test\": {\"policy\": \"%s\"},"
		    "\"mta-sts.gone.sts.test\": {\"policy\": \"%s\"},"
		    "\"mta-sts.refail.sts.test\": {\"policy\": \"%s\"},"
		    "\"mta-sts.idchange.sts.test\": {\"policy\": \"%s\"}}",
		    PE, PE, PE,
		    PE);
	else
		n += (size_t)snprintf(j + n, sizeof(j) - n,
		    "\"mta-sts.refail.sts.test\": {\"status\": 500},"
		    "\"mta-sts.idchange.sts.test\": {\"policy\": \"%s\"}}",
		    PT);
	snprintf(path, sizeof(path), "%s/policies.json", T.dir);
	write_file(path, j);
}

/* Requests the HTTPS server saw for host (from its hits file). */
static int
hits(const char *host)
{
	char path[128], buf[4096], key[128];
	const char *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/hits.json", T.dir);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	snprintf(key, sizeof(key), "\"%s\": ", host);
	p = strstr(buf, key);
	return p != NULL ? atoi(p + strlen(key)) : 0;
}

static int
dns_start(int phase)
{
	char zdir[128], zone[320];

	snprintf(zdir, sizeof(zdir), "%s/zones%d", T.dir, phase);
	if (run("mkdir -p %s", zdir) == -1)
		return -1;
	snprintf(zone, sizeof(zone), "%s/bogus.test.zone", zdir);
	/* Signed; the policy host's address is forged (DNSSEC-bogus). */
	write_file(zone, ";! sign\n;! corrupt mta-sts.bogus.test. A\n"
	    "$ORIGIN bogus.test.\n$TTL 1\n"
	    "@ IN SOA ns.bogus.test. hostmaster.bogus.test. 1 3600 600 "
	    "86400 1\n@ NS ns\nns A 127.0.0.1\n"
	    "_mta-sts TXT \"v=STSv1; id=1\"\nmta-sts A " ADDR "\n");
	snprintf(zone, sizeof(zone), "%s/sts.test.zone", zdir);
	write_zone(zone, phase);
	snprintf(zone, sizeof(zone), "%s/sts.test.zone %s/bogus.test.zone",
	    zdir, zdir);
	return testdns_start_zones(&T.ns, "mtasts_test", zone);
}

static void
dns_stop(void)
{
	testdns_stop(&T.ns);
}

static struct dns_resolver *
resolver_new(void)
{
	struct dns_resolver *res;
	struct conf c;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.dns_resolver = T.ns.resolver;
	c.dns_unbound_config = T.ns.ubconf;
	c.dns_trust_anchor = T.ns.anchors;
	res = dns_resolver_new(T.base, &c, err, sizeof(err));
	if (res == NULL)
		fail_msg("dns_resolver_new: %s", err);
	return res;
}

/* A free TCP port on ADDR when we cannot have 443. */
static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR, &sin.sin_addr);
	if (fd != -1 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd != -1)
		close(fd);
	return port;
}

static int
https_start(void)
{
	char ready[128], listen_[64], hosts[2048];
	size_t n = 0, i;
	int tries;

	snprintf(ready, sizeof(ready), "%s/https.ready", T.dir);
	for (i = 0; i < sizeof(signed_hosts) / sizeof(signed_hosts[0]); i++)
		n += (size_t)snprintf(hosts + n, sizeof(hosts) - n,
		    "%smta-sts.%s.sts.test", i ? "," : "", signed_hosts[i]);
	if (run(PY " tests/integration/testca.py ca %s >/dev/null && "
	    PY " tests/integration/testca.py issue %s sts %s >/dev/null && "
	    PY " tests/integration/testca.py issue %s expired "
	    "mta-sts.expired.sts.test --expired >/dev/null && "
	    "mkdir -p %s/other && "
	    PY " tests/integration/testca.py ca %s/other >/dev/null && "
	    PY " tests/integration/testca.py issue %s/other untrusted "
	    "mta-sts.untrusted.sts.test >/dev/null",
	    T.dir, T.dir, hosts, T.dir, T.dir, T.dir, T.dir) == -1)
		return -1;
	snprintf(T.ca, sizeof(T.ca), "%s/ca.pem", T.dir);
	write_policies(1);
	snprintf(listen_, sizeof(listen_), ADDR ":%u", T.port);
	T.https = fork();
	if (T.https == -1)
		return -1;
	if (T.https == 0) {
		char cert[160], key[160], sni[400], sni2[400], cfg[160];
		char hitsf[160];

		snprintf(cert, sizeof(cert), "%s/sts.pem", T.dir);
		snprintf(key, sizeof(key), "%s/sts.key", T.dir);
		snprintf(sni, sizeof(sni), "mta-sts.untrusted.sts.test="
		    "%s/other/untrusted.pem:%s/other/untrusted.key",
		    T.dir, T.dir);
		snprintf(sni2, sizeof(sni2), "mta-sts.expired.sts.test="
		    "%s/expired.pem:%s/expired.key", T.dir, T.dir);
		snprintf(cfg, sizeof(cfg), "%s/policies.json", T.dir);
		snprintf(hitsf, sizeof(hitsf), "%s/hits.json", T.dir);
		execl(PY, PY, "tests/outbound/stsserver.py", "--listen",
		    listen_, "--cert", cert, "--key", key, "--sni", sni,
		    "--sni", sni2, "--config", cfg, "--hits", hitsf,
		    "--ready", ready,
		    (char *)NULL);
		_exit(127);
	}
	for (tries = 0; tries < 100; tries++) {
		if (access(ready, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

static int
group_setup(void **state)
{
	const char *src = getenv("SEALMAIL_SRCDIR");
	char err[256], path[160];

	(void)state;
	memset(&T, 0, sizeof(T));
	/* As in the runner: a peer that closes first must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (src != NULL && chdir(src) == -1)
		return -1;
	if (run("command -v nsd >/dev/null 2>&1 || test -x /usr/sbin/nsd") ||
	    run("command -v ldns-signzone >/dev/null 2>&1") ||
	    access(PY, X_OK) != 0 ||
	    run(PY " -c 'import cryptography' 2>/dev/null") ||
	    access("tests/outbound/stsserver.py", R_OK) != 0) {
		fprintf(stderr, "mtasts_test: SKIPPED: needs nsd, ldnsutils, "
		    PY ", python3-cryptography and the repository root as "
		    "cwd (or SEALMAIL_SRCDIR)\n");
		T.skip = true;
		return 0;
	}
	/* Our own network namespace: port 443 on loopback is then ours
	 * and nothing else on the machine sees these servers. */
	if (unshare(CLONE_NEWNET) == 0) {
		if (run("ip link set lo up") == -1)
			return -1;
		T.port = 443;
	} else
		T.port = free_port();
	snprintf(T.dir, sizeof(T.dir), "/tmp/sealmail-mtasts.XXXXXX");
	if (mkdtemp(T.dir) == NULL || dns_start(1) == -1 ||
	    https_start() == -1) {
		fprintf(stderr, "mtasts_test: cannot start the servers\n");
		return -1;
	}
	T.base = event_base_new();
	T.dns = resolver_new();
	snprintf(path, sizeof(path), "%s/sealmail.db", T.dir);
	T.db = db_open(path, true, NULL, err, sizeof(err));
	if (T.db == NULL)
		fail_msg("db_open: %s", err);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (T.skip)
		return 0;
	db_close(T.db);
	dns_resolver_free(T.dns);
	if (T.base != NULL)
		event_base_free(T.base);
	if (T.https > 0) {
		kill(T.https, SIGTERM);
		waitpid(T.https, NULL, 0);
	}
	dns_stop();
	run("rm -rf %s", T.dir);
	return 0;
}

/* --- sts_fetch --- */

static enum sts_fetch_result
fetch(const char *domain, const char *addr, bool allow_private,
    const char *ca, unsigned timeout_ms, struct sts_fetch_out *out)
{
	struct sts_fetch_params p = { ca, allow_private, T.port, 2000,
	    timeout_ms };
	const char *addrs[1] = { addr };

	return sts_fetch(domain, addrs, 1, &p, out);
}

static void
test_fetch_valid(void **state)
{
	struct sts_fetch_out out;

	(void)state;
	if (T.skip)
		skip();
	/* A proxy in the environment is ignored. */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	assert_int_equal(fetch("good.sts.test", ADDR, true, T.ca, 5000, &out),
	    STS_FETCH_OK);
	unsetenv("https_proxy");
	unsetenv("ALL_PROXY");
	assert_string_equal(out.detail, "");
	assert_int_equal(out.policy.mode, STS_MODE_ENFORCE);
	assert_int_equal(out.policy.max_age, 604800);
	assert_true(sts_policy_match_mx(&out.policy, "mx1.good.sts.test"));
	assert_string_equal(out.body, POLICY_ENFORCE);
	assert_null(sts_fetch_result_type(out.result));
	sts_fetch_out_clear(&out);
	/* Parameters in the media type are ignored (RFC 8461 §3.2). */
	assert_int_equal(fetch("split.sts.test", ADDR, true, T.ca, 5000, &out),
	    STS_FETCH_OK);
	sts_fetch_out_clear(&out);
}

static void
test_fetch_errors(void **state)
{
	static const struct {
		const char		*domain;
		enum sts_fetch_result	 want;
		const char		*detail;
	} cases[] = {
		{ "bad.sts.test", STS_FETCH_INVALID, "invalid mx pattern" },
		{ "missing.sts.test", STS_FETCH_ERROR, "HTTP status 404" },
		{ "redirect.sts.test", STS_FETCH_ERROR, "HTTP status 301" },
		{ "huge.sts.test", STS_FETCH_ERROR, "larger than 65536" },
		{ "huge2.sts.test", STS_FETCH_ERROR, "larger than 65536" },
		{ "ctype.sts.test", STS_FETCH_ERROR, "text/html" },
		{ "untrusted.sts.test", STS_FETCH_WEBPKI, "issuer" },
		{ "wrongname.sts.test", STS_FETCH_WEBPKI, "subject name" },
		{ "expired.sts.test", STS_FETCH_WEBPKI, "expired" },
	};
	struct sts_fetch_out out;
	size_t i;

	(void)state;
	if (T.skip)
		skip();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sts_fetch_result r = fetch(cases[i].domain, ADDR, true,
		    T.ca, 5000, &out);

		if (r != cases[i].want || strstr(out.detail,
		    cases[i].detail) == NULL)
			fail_msg("%s: result %d (%s), want %d with \"%s\"",
			    cases[i].domain, r, out.detail, cases[i].want,
			    cases[i].detail);
		sts_fetch_out_clear(&out);
	}
	assert_string_equal(sts_fetch_result_type(STS_FETCH_WEBPKI),
	    "sts-webpki-invalid");
	/* The test CA is trusted only through the extra CA file. */
	assert_int_equal(fetch("good.sts.test", ADDR, true, NULL, 5000, &out),
	    STS_FETCH_WEBPKI);
	sts_fetch_out_clear(&out);
	/* Nobody listens there. */
	assert_int_equal(fetch("good.sts.test", "127.0.0.9", true, T.ca, 5000,
	    &out), STS_FETCH_ERROR);
	sts_fetch_out_clear(&out);
	assert_int_equal(fetch("good.sts.test", "not-an-ip", true, T.ca, 5000,
	    &out), STS_FETCH_ERROR);
	sts_fetch_out_clear(&out);
}

static void
test_fetch_timeout(void **state)
{
	struct sts_fetch_out out;
	time_t t0 = time(NULL);

	(void)state;
	if (T.skip)
		skip();
	assert_int_equal(fetch("slow.sts.test", ADDR, true, T.ca, 1500, &out),
	    STS_FETCH_ERROR);
	assert_true(time(NULL) - t0 <= 3);
	assert_non_null(strstr(out.detail, "imed out"));
	sts_fetch_out_clear(&out);
}

static void
test_fetch_private_refused(void **state)
{
	struct sts_fetch_out out;
	int before;

	(void)state;
	if (T.skip)
		skip();
	before = hits("mta-sts.good.sts.test");
	assert_int_equal(fetch("good.sts.test", ADDR, false, T.ca, 5000, &out),
	    STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "loopback"));
	sts_fetch_out_clear(&out);
	assert_int_equal(fetch("good.sts.test", "::ffff:127.0.0.2", false,
	    T.ca, 5000, &out), STS_FETCH_ERROR);
	sts_fetch_out_clear(&out);
	assert_int_equal(fetch("good.sts.test", "10.1.2.3", false, T.ca, 5000,
	    &out), STS_FETCH_ERROR);
	assert_non_null(strstr(out.detail, "private"));
	sts_fetch_out_clear(&out);
	/* No connection was made. */
	assert_int_equal(hits("mta-sts.good.sts.test"), before);
}

/* --- mtasts_get --- */

struct got {
	int	 calls;
	bool	 have, from_cache;
	char	 failure[64];
	char	 detail[512];
	int	 mode;
	char	 text[1024];
};

static void
got_cb(const struct mtasts_result *r, void *arg)
{
	struct got *g = arg;

	assert_false(in_get);
	g->calls++;
	g->have = r->have_policy;
	g->from_cache = r->from_cache;
	snprintf(g->failure, sizeof(g->failure), "%s",
	    r->failure != NULL ? r->failure : "");
	assert_non_null(r->detail);
	snprintf(g->detail, sizeof(g->detail), "%s", r->detail);
	g->mode = -1;
	g->text[0] = '\0';
	if (r->have_policy) {
		assert_non_null(r->policy);
		assert_non_null(r->policy_text);
		g->mode = (int)r->policy->mode;
		snprintf(g->text, sizeof(g->text), "%s", r->policy_text);
	} else
		assert_null(r->policy);
}

static struct mtasts_req *
start_get(struct mtasts *m, const char *domain, struct got *g)
{
	struct mtasts_req *r;

	memset(g, 0, sizeof(*g));
	in_get = true;
	r = mtasts_get(m, domain, got_cb, g);
	in_get = false;
	assert_non_null(r);
	assert_int_equal(g->calls, 0);
	return r;
}

static void
wait_for(const int *calls, int n)
{
	time_t t0 = time(NULL);

	while (*calls < n) {
		assert_true(time(NULL) - t0 < 20);
		event_base_loop(T.base, EVLOOP_ONCE);
	}
}

static void
get(struct mtasts *m, const char *domain, struct got *g)
{
	start_get(m, domain, g);
	wait_for(&g->calls, 1);
	assert_int_equal(g->calls, 1);
}

static struct mtasts *
source_new(struct dns_resolver *dns, struct db *db, bool allow_private)
{
	struct mtasts_params p = { T.ca, allow_private, T.port, 5000, 3000,
	    T.store };
	struct mtasts *m;
	char err[256];

	if (T.store != NULL && db != NULL)
		db = T.store_db;

	m = mtasts_new(T.base, dns, db, &p, err, sizeof(err));
	if (m == NULL)
		fail_msg("mtasts_new: %s", err);
	return m;
}

static void
test_get_valid_and_cached(void **state)
{
	struct mtasts *m;
	struct got g;
	int h;

	(void)state;
	if (T.skip)
		skip();
	m = source_new(T.dns, T.db, true);
	h = hits("mta-sts.good.sts.test");
	get(m, "Good.STS.test.", &g);
	assert_true(g.have);
	assert_false(g.from_cache);
	assert_string_equal(g.failure, "");
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	assert_string_equal(g.text, POLICY_ENFORCE);
	assert_int_equal(hits("mta-sts.good.sts.test"), h + 1);
	/* Same id: the cached policy, no fetch. */
	get(m, "good.sts.test", &g);
	assert_true(g.have);
	assert_false(g.from_cache);
	assert_int_equal(hits("mta-sts.good.sts.test"), h + 1);
	/* The TXT record may be a CNAME (§3.1, §8.2); strings of one record
	 * are concatenated. */
	get(m, "cname.sts.test", &g);
	assert_true(g.have);
	get(m, "split.sts.test", &g);
	assert_true(g.have);
	assert_int_equal(g.mode, STS_MODE_TESTING);
	mtasts_free(m);
}

static void
test_get_failures(void **state)
{
	static const struct {
		const char	*domain;
		const char	*failure;
		const char	*detail;
	} cases[] = {
		{ "bad.sts.test", "sts-policy-invalid", "invalid mx" },
		{ "missing.sts.test", "sts-policy-fetch-error", "404" },
		{ "redirect.sts.test", "sts-policy-fetch-error", "301" },
		{ "huge.sts.test", "sts-policy-fetch-error", "larger" },
		{ "untrusted.sts.test", "sts-webpki-invalid", "" },
		{ "noaddr.sts.test", "sts-policy-fetch-error", "mta-sts." },
		/* Forged addresses are not used (dns.h: check sec). */
		{ "bogus.test", "sts-policy-fetch-error", "bogus DNSSEC" },
		{ "notxt.sts.test", "", "no MTA-STS record" },
		{ "multi.sts.test", "", "2 v=STSv1 records" },
		{ "nxdomain.sts.test", "", "no MTA-STS record" },
		{ "tempfail.sts.test", "", "temporary failure" },
		{ "not a domain", "", "invalid policy domain" },
	};
	struct mtasts *m;
	struct got g;
	size_t i;

	(void)state;
	if (T.skip)
		skip();
	m = source_new(T.dns, T.db, true);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		get(m, cases[i].domain, &g);
		if (g.have || strcmp(g.failure, cases[i].failure) != 0 ||
		    strstr(g.detail, cases[i].detail) == NULL)
			fail_msg("%s: have=%d failure=%s detail=%s",
			    cases[i].domain, g.have, g.failure, g.detail);
	}
	/* RFC 8461 §3.3: a failed fetch is not retried for 5 minutes. */
	i = (size_t)hits("mta-sts.missing.sts.test");
	get(m, "missing.sts.test", &g);
	assert_string_equal(g.failure, "sts-policy-fetch-error");
	assert_non_null(strstr(g.detail, "not retried"));
	assert_int_equal(hits("mta-sts.missing.sts.test"), (int)i);
	mtasts_free(m);
}

static void
test_get_private_refused(void **state)
{
	struct mtasts *m;
	struct got g;
	int h;

	(void)state;
	if (T.skip)
		skip();
	/* No store: good.sts.test is not cached for this source. */
	m = source_new(T.dns, NULL, false);
	h = hits("mta-sts.good.sts.test");
	get(m, "good.sts.test", &g);
	assert_false(g.have);
	assert_string_equal(g.failure, "sts-policy-fetch-error");
	assert_non_null(strstr(g.detail, "loopback"));
	/* Documentation addresses (A and AAAA) are not public either. */
	get(m, "doc.sts.test", &g);
	assert_false(g.have);
	assert_non_null(strstr(g.detail, "documentation"));
	assert_int_equal(hits("mta-sts.good.sts.test"), h);
	mtasts_free(m);
}

static void
test_get_coalesce_cancel(void **state)
{
	struct mtasts *m;
	struct got a, b, c;
	struct mtasts_req *rc;

	(void)state;
	if (T.skip)
		skip();
	m = source_new(T.dns, NULL, true);
	start_get(m, "coalesce.sts.test", &a);
	start_get(m, "coalesce.sts.test", &b);
	rc = start_get(m, "coalesce.sts.test", &c);
	mtasts_cancel(rc);
	wait_for(&a.calls, 1);
	wait_for(&b.calls, 1);
	assert_true(a.have && b.have);
	assert_int_equal(c.calls, 0);
	assert_int_equal(hits("mta-sts.coalesce.sts.test"), 1);
	/* Freed with requests pending: their callbacks never run. */
	start_get(m, "gone.sts.test", &c);
	start_get(m, "invalid..domain", &b);
	mtasts_free(m);
	event_base_loop(T.base, EVLOOP_NONBLOCK);
	assert_int_equal(c.calls, 0);
	assert_int_equal(b.calls, 0);
}

static struct mtasts *free_me;

static void
free_cb(const struct mtasts_result *r, void *arg)
{
	got_cb(r, arg);
	mtasts_free(free_me);
	free_me = NULL;
}

/* A callback may free the source: the other waiters are dropped. */
static void
test_get_free_in_callback(void **state)
{
	struct got a, b;

	(void)state;
	if (T.skip)
		skip();
	free_me = source_new(T.dns, NULL, true);
	memset(&a, 0, sizeof(a));
	assert_non_null(mtasts_get(free_me, "coalesce.sts.test", free_cb, &a));
	start_get(free_me, "coalesce.sts.test", &b);
	wait_for(&a.calls, 1);
	assert_null(free_me);
	event_base_loop(T.base, EVLOOP_NONBLOCK);
	assert_int_equal(a.calls + b.calls, 1);
}

/* RFC 8461 §10.2: a stored policy due for a refresh is fetched again by
 * the background sweep, though no mail asks for its domain. */
static void
test_sweep_refreshes_idle_policies(void **state)
{
	struct db_sts_row row = { (char *)"refresh.sts.test", (char *)"1",
	    (char *)POLICY_ENFORCE, 0, 0 };
	struct mtasts *m;
	time_t now = time(NULL), t0;
	int h;

	(void)state;
	if (T.skip)
		skip();
	row.fetched = now - 2 * 86400;
	row.expires = now + 10 * 86400;
	assert_int_equal(db_sts_put(T.db, &row), DB_OK);
	m = source_new(T.dns, T.db, true);
	h = hits("mta-sts.refresh.sts.test");
	mtasts_sweep(m);
	for (t0 = time(NULL); hits("mta-sts.refresh.sts.test") == h; ) {
		assert_true(time(NULL) - t0 < 10);
		event_base_loop(T.base, EVLOOP_NONBLOCK);
		usleep(20000);
	}
	/* The refreshed policy (the server's is mode testing) is stored. */
	for (t0 = time(NULL); time(NULL) - t0 < 10; ) {
		struct db_sts_row got;

		event_base_loop(T.base, EVLOOP_NONBLOCK);
		assert_int_equal(db_sts_get(T.db, "refresh.sts.test", &got),
		    DB_OK);
		if (got.fetched >= now) {
			db_sts_row_clear(&got);
			break;
		}
		db_sts_row_clear(&got);
		usleep(20000);
	}
	assert_true(time(NULL) - t0 < 10);
	mtasts_free(m);
}

static void
test_get_store_rows(void **state)
{
	struct db_sts_row row = { (char *)"refresh.sts.test", (char *)"1",
	    (char *)POLICY_ENFORCE, 0, 0 };
	struct mtasts *m;
	struct got g;
	time_t now = time(NULL), t0;
	int h;

	(void)state;
	if (T.skip)
		skip();
	/* Two days old, expiring in ten: used at once, refreshed behind. */
	row.fetched = now - 2 * 86400;
	row.expires = now + 10 * 86400;
	assert_int_equal(db_sts_put(T.db, &row), DB_OK);
	/* No TXT record any more, but unexpired: still applies. */
	row.domain = (char *)"notxt.sts.test";
	assert_int_equal(db_sts_put(T.db, &row), DB_OK);
	/* No TXT record and expired: gone. */
	row.domain = (char *)"nxdomain.sts.test";
	row.expires = now - 1;
	assert_int_equal(db_sts_put(T.db, &row), DB_OK);
	m = source_new(T.dns, T.db, true);
	h = hits("mta-sts.refresh.sts.test");
	get(m, "refresh.sts.test", &g);
	assert_true(g.have);
	assert_false(g.from_cache);
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	t0 = time(NULL);
	while (hits("mta-sts.refresh.sts.test") == h) {
		assert_true(time(NULL) - t0 < 10);
		event_base_loop(T.base, EVLOOP_NONBLOCK);
		usleep(20000);
	}
	/* Let the refresh's completion run on the loop. */
	for (t0 = time(NULL); time(NULL) - t0 < 10; ) {
		get(m, "refresh.sts.test", &g);
		if (g.mode == STS_MODE_TESTING)
			break;
		usleep(50000);
	}
	assert_int_equal(g.mode, STS_MODE_TESTING);
	assert_false(g.from_cache);
	h = hits("mta-sts.notxt.sts.test");
	get(m, "notxt.sts.test", &g);
	assert_true(g.have);
	assert_true(g.from_cache);
	assert_string_equal(g.failure, "");
	/* RFC 8461 §10.2: the two-day-old policy is refreshed whatever the
	 * TXT record says, or an attacker who hides it gets the policy to
	 * expire unrefreshed. */
	t0 = time(NULL);
	while (hits("mta-sts.notxt.sts.test") == h) {
		assert_true(time(NULL) - t0 < 10);
		event_base_loop(T.base, EVLOOP_NONBLOCK);
		usleep(20000);
	}
	get(m, "nxdomain.sts.test", &g);
	assert_false(g.have);
	mtasts_free(m);
}

/* A policy with a max_age of a day (common: 86400) is not fetched again
 * on every use (RFC 8461 §3.3, §5.1: refresh about once a day). */
static void
test_get_short_max_age(void **state)
{
	struct mtasts *m;
	struct got g;
	time_t t0;
	int h;

	(void)state;
	if (T.skip)
		skip();
	m = source_new(T.dns, NULL, true);
	h = hits("mta-sts.split.sts.test");
	get(m, "split.sts.test", &g);
	assert_true(g.have);
	assert_int_equal(hits("mta-sts.split.sts.test"), h + 1);
	/* A second later it has less than a day to live. */
	sleep(2);
	get(m, "split.sts.test", &g);
	assert_true(g.have);
	assert_false(g.from_cache);
	for (t0 = time(NULL); time(NULL) - t0 < 2; ) {
		event_base_loop(T.base, EVLOOP_NONBLOCK);
		usleep(20000);
	}
	assert_int_equal(hits("mta-sts.split.sts.test"), h + 1);
	mtasts_free(m);
}

/* The owner removes the TXT record and the policy host, and changes
 * policies: a new DNS server, a new source on the same store. */
static void
test_get_after_changes(void **state)
{
	struct mtasts *m;
	struct dns_resolver *dns;
	struct got g;
	int h;

	(void)state;
	if (T.skip)
		skip();
	m = source_new(T.dns, T.db, true);
	get(m, "gone.sts.test", &g);
	assert_true(g.have);
	get(m, "idchange.sts.test", &g);
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	get(m, "refail.sts.test", &g);
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	mtasts_free(m);

	dns_resolver_free(T.dns);
	T.dns = NULL;
	dns_stop();
	assert_int_equal(dns_start(2), 0);
	write_policies(2);
	dns = resolver_new();
	T.dns = dns;
	m = source_new(dns, T.db, true);
	/* TXT and server gone: the cached policy still applies. */
	h = hits("mta-sts.gone.sts.test");
	get(m, "gone.sts.test", &g);
	assert_true(g.have);
	assert_true(g.from_cache);
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	assert_int_equal(hits("mta-sts.gone.sts.test"), h);
	/* New id: fetched again, the new policy replaces the old. */
	h = hits("mta-sts.idchange.sts.test");
	get(m, "idchange.sts.test", &g);
	assert_true(g.have);
	assert_false(g.from_cache);
	assert_int_equal(g.mode, STS_MODE_TESTING);
	assert_int_equal(hits("mta-sts.idchange.sts.test"), h + 1);
	/* New id but the fetch fails: the cached policy, and the failure. */
	get(m, "refail.sts.test", &g);
	assert_true(g.have);
	assert_true(g.from_cache);
	assert_int_equal(g.mode, STS_MODE_ENFORCE);
	assert_string_equal(g.failure, "sts-policy-fetch-error");
	assert_non_null(strstr(g.detail, "500"));
	mtasts_free(m);
}

/* Run test with the store on a thread of its own (mtasts_params.store),
 * as the runner has it on a PostgreSQL store: the cache's reads, writes
 * and the sweep's list never on the loop, with the same results. */
static void
with_store_thread(void (*test)(void **), void **state)
{
	char path[128], err[256];

	if (T.skip)
		skip();
	snprintf(path, sizeof(path), "%s/sealmail.db", T.dir);
	if ((T.store_db = db_open(path, false, NULL, err, sizeof(err))) ==
	    NULL)
		fail_msg("db_open: %s", err);
	T.store = workpool_new(T.base, 1, "test store");
	test(state);
	workpool_free(T.store);
	T.store = NULL;
	db_close(T.store_db);
	T.store_db = NULL;
}

static void
test_store_rows_on_thread(void **state)
{
	with_store_thread(test_get_store_rows, state);
}

static void
test_sweep_on_thread(void **state)
{
	with_store_thread(test_sweep_refreshes_idle_policies, state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_valid),
		cmocka_unit_test(test_fetch_errors),
		cmocka_unit_test(test_fetch_timeout),
		cmocka_unit_test(test_fetch_private_refused),
		cmocka_unit_test(test_get_valid_and_cached),
		cmocka_unit_test(test_get_failures),
		cmocka_unit_test(test_get_private_refused),
		cmocka_unit_test(test_get_coalesce_cancel),
		cmocka_unit_test(test_get_free_in_callback),
		cmocka_unit_test(test_get_store_rows),
		cmocka_unit_test(test_sweep_refreshes_idle_policies),
		cmocka_unit_test(test_store_rows_on_thread),
		cmocka_unit_test(test_sweep_on_thread),
		cmocka_unit_test(test_get_short_max_age),
		cmocka_unit_test(test_get_after_changes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
