/* SPDX-License-Identifier: ISC */
/* NSD on loopback for C unit tests (see testdns.h). */
#include "testdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value of KEY=value in the server.env file path, or "". */
static void
testdns_env(const char *path, const char *key, char *out, size_t outlen)
{
	char line[512];
	size_t kl = strlen(key);
	FILE *fp = fopen(path, "r");

	out[0] = '\0';
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "%s", line + kl + 1);
		}
	fclose(fp);
}

int
testdns_start(struct testdns *t, const char *who)
{
	return testdns_start_zones(t, who, "tests/dns/zones/*.zone");
}

int
testdns_start_zones(struct testdns *t, const char *who, const char *zones)
{
	char cmd[1024], env[128];
	const char *src = getenv("SEALMAIL_SRCDIR");

	memset(t, 0, sizeof(*t));
	if (src != NULL && chdir(src) == -1)
		return -1;
	if (system("command -v nsd >/dev/null 2>&1 || test -x /usr/sbin/nsd"
	    " && command -v ldns-signzone >/dev/null 2>&1") != 0 ||
	    access("/usr/bin/python3", X_OK) != 0 ||
	    access("tests/dns/dnsserver.py", R_OK) != 0) {
		fprintf(stderr, "%s: SKIPPED: needs nsd, ldnsutils, "
		    "/usr/bin/python3 and the repository root as cwd "
		    "(or SEALMAIL_SRCDIR)\n", who);
		t->skip = true;
		return 0;
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-%s.XXXXXX", who);
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/dns/dnsserver.py "
	    "start %s/srv %s >/dev/null", t->dir, zones);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s: dnsserver.py start failed\n", who);
		return -1;
	}
	snprintf(env, sizeof(env), "%s/srv/server.env", t->dir);
	testdns_env(env, "DNS_RESOLVER", t->resolver, sizeof(t->resolver));
	testdns_env(env, "DNS_UNBOUND_CONFIG", t->ubconf, sizeof(t->ubconf));
	testdns_env(env, "DNS_TRUST_ANCHOR_FILE", t->anchors,
	    sizeof(t->anchors));
	return t->resolver[0] != '\0' ? 0 : -1;
}

int
testdns_stop(struct testdns *t)
{
	char cmd[512];

	if (t->skip || t->dir[0] == '\0')
		return 0;
	/* SIGTERM to NSD's main pid, then a wait (~1.6 s). */
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/dns/dnsserver.py "
	    "stop %s/srv && rm -rf %s", t->dir, t->dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct dns_answer *
testdns_txt(enum dns_rcode rcode, const char *txt)
{
	struct dns_answer *a = dns_answer_new();

	a->rcode = rcode;
	a->qtype = DNS_T_TXT;
	if (txt != NULL) {
		a->rr = calloc(1, sizeof(*a->rr));
		a->rr[0].type = DNS_T_TXT;
		a->rr[0].u.txt.text = strdup(txt);
		a->rr[0].u.txt.len = strlen(txt);
		a->rr[0].u.txt.nstrings = 1;
		a->nrr = 1;
	}
	return a;
}
