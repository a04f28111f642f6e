/* SPDX-License-Identifier: ISC */
/*
 * For C unit tests that need a real DNS server: NSD on loopback with the
 * zones of tests/dns/zones, started and stopped through
 * tests/dns/dnsserver.py (see tests/dns/README.md). Linked into every
 * unit-test binary; never into sealmail.
 */
#ifndef SEALMAIL_TESTS_TESTDNS_H
#define SEALMAIL_TESTS_TESTDNS_H

#include <stdbool.h>

#include "dns/dns_rr.h"

struct testdns {
	bool	skip;		/* tools missing: the test skips */
	char	dir[64];	/* the server's folder under /tmp */
	char	resolver[64];	/* [dns] resolver = ADDR@PORT */
	char	ubconf[256];	/* [dns] unbound_config */
	char	anchors[256];	/* trust anchors of the signed zones */
};

/*
 * Start the server (cwd: the repository root, or SEALMAIL_SRCDIR). 0 when
 * it runs, or when nsd, ldnsutils or /usr/bin/python3 are missing: then
 * t->skip is set and `who` says so on stderr. -1 on failure.
 */
int testdns_start(struct testdns *t, const char *who);
/* The same with the zone files zones (shell words, globs allowed:
 * "DIR/a.test.zone DIR/b.test.zone") instead of tests/dns/zones. */
int testdns_start_zones(struct testdns *t, const char *who,
    const char *zones);
/* Stop the server and remove its folder; 0, or -1. No-op when skipped. */
int testdns_stop(struct testdns *t);

/* For offline lookups (the *_apply_key functions): an answer with rcode
 * and, when txt is not NULL, one TXT record of one string. The caller
 * dns_answer_free()s it. */
struct dns_answer *testdns_txt(enum dns_rcode rcode, const char *txt);

#endif
