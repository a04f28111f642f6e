/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the ARC set parser and chain checks (auth/arc).
 * The input is a message: header section, then the body after the first
 * empty line. Every key lookup is answered with one fixed Ed25519 key
 * record, so the whole offline path runs (structure, DKIM-style parsing,
 * digests, body hashes, key application). Invariants: no ARC field means
 * arc=none with count 0; a chain with fields is never none; the count is
 * at most ARC_INSTANCES_MAX; once every key is applied the verdict is
 * final (no key still needed, never "not finished"); the sets are there
 * exactly for instances 1..count when structure passed, with the
 * instance numbers in order; oldest-pass is -1 unless pass, else within
 * 0..count; the Authentication-Results field always formats.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "core/buf.h"
#include "dns/dns_rr.h"
#include "fuzz_check.h"

#define KEY "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does the header section contain a field named ARC-...? (approximate:
 * a line start followed by one of the three names and a colon). */
static bool
has_arc_field(const char *h, size_t len)
{
	static const char *names[] = { "ARC-Authentication-Results",
	    "ARC-Message-Signature", "ARC-Seal" };

	for (size_t i = 0; i < len; i++) {
		if (i > 0 && !(h[i - 1] == '\n' && i >= 2 && h[i - 2] == '\r'))
			continue;
		for (size_t k = 0; k < 3; k++) {
			size_t n = strlen(names[k]), j = i + n;
			if (j > len || strncasecmp(h + i, names[k], n) != 0)
				continue;
			while (j < len && (h[j] == ' ' || h[j] == '\t'))
				j++;
			if (j < len && h[j] == ':')
				return true;
		}
	}
	return false;
}

static void
apply_keys(struct arc_verify *v)
{
	struct dns_answer *a = dns_answer_new();
	const char *name;

	a->rcode = DNS_RCODE_NOERROR;
	a->qtype = DNS_T_TXT;
	a->rr = calloc(1, sizeof(*a->rr));
	a->rr[0].type = DNS_T_TXT;
	a->rr[0].u.txt.text = strdup(KEY);
	a->rr[0].u.txt.len = strlen(KEY);
	a->nrr = 1;
	for (size_t k = 0; k < ARC_KEYS_MAX; k++)
		if (arc_verify_needs_key(v, k, &name)) {
			CHECK(strstr(name, "._domainkey.") != NULL);
			arc_verify_apply_key(v, k, a);
		}
	for (size_t k = 0; k < ARC_KEYS_MAX; k++)
		CHECK(!arc_verify_needs_key(v, k, &name));
	dns_answer_free(a);
}

static void
check(const struct arc_verify *v, bool arc)
{
	enum arc_result r = arc_verify_result(v);
	unsigned n = arc_verify_count(v);
	int oldest = arc_verify_oldest_pass(v);
	struct authres_result ar;
	struct buf out;

	CHECK(arc_verify_reason(v) != ARC_REASON_CANCELLED);
	CHECK(n <= ARC_INSTANCES_MAX);
	if (!arc)
		CHECK(r == ARC_NONE && n == 0);
	else
		CHECK(r != ARC_NONE);
	CHECK((r == ARC_FAIL) == (arc_verify_reason(v) != ARC_REASON_NONE));
	if (arc_verify_set(v, 1) != NULL) {
		CHECK(n >= 1 && n <= ARC_VERIFY_MAX);
		for (unsigned i = 1; i <= n; i++)
			CHECK(arc_verify_set(v, i)->instance == i);
		CHECK(arc_verify_set(v, n + 1) == NULL);
	}
	CHECK(arc_verify_set(v, 0) == NULL);
	if (r == ARC_PASS)
		CHECK(oldest >= 0 && (unsigned)oldest <= n);
	else
		CHECK(oldest == -1);
	arc_verify_authres(v, "192.0.2.1", &ar);
	buf_init(&out, 4096);
	CHECK(authres_format(&out, "mx.example", &ar, 1) == 0);
	buf_clear(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *e = memmem(p, size, "\r\n\r\n", 4);
	size_t hl = e ? (size_t)(e - p) + 4 : size;
	struct arc_verify *v;

	if (size > LIMIT_HEADER_SECTION)
		return 0;
	if (size >= 2 && p[0] == '\r' && p[1] == '\n')
		hl = 2;		/* an empty header section */
	v = arc_verify_new(p, hl, 1700000000);
	/* The body in two chunks, to cross a push boundary. */
	arc_verify_body(v, p + hl, (size - hl) / 2);
	arc_verify_body(v, p + hl + (size - hl) / 2, size - hl -
	    (size - hl) / 2);
	arc_verify_body_end(v);
	apply_keys(v);
	check(v, has_arc_field(p, hl));
	arc_verify_free(v);
	return 0;
}
