/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for DKIM verification of a whole message (auth/
 * dkim_verify): header section parsing and field selection (h=), header
 * and body canonicalisation and hashing, and the key answer's handling,
 * with a canned DNS answer instead of a lookup. Input: byte 0 picks the
 * key answer (the RFC 8463 Ed25519 or RSA key, NXDOMAIN, SERVFAIL, or a
 * TXT record taken from the input after its first NUL byte) and the
 * verification time; the rest is the message (header section up to the
 * first empty line, then the body). Invariants:
 *  - the body's chunking does not matter: the message verified with its
 *    body in one piece and in small pieces gives the same results;
 *  - at most DKIM_SIGS_MAX signatures are evaluated, each with a result
 *    of the enum and a reason text; strings are NUL-terminated in their
 *    arrays; a key name, when one is needed, fits DKIM_KEY_NAME_MAX;
 *  - a signature that passes had its key applied, and once a key answer
 *    is applied no signature waits for one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_verify.h"
#include "dns/dns_rr.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ED_KEY	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RSA_KEY	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR" \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
/* RFC 8463 Appendix A's signing time: its example verifies then. */
#define RFC8463_NOW	1528637909

static struct dns_answer *
answer(enum dns_rcode rcode, const char *txt, size_t len)
{
	struct dns_answer *a = dns_answer_new();

	a->rcode = rcode;
	a->qtype = DNS_T_TXT;
	if (txt != NULL) {
		a->rr = calloc(1, sizeof(*a->rr));
		CHECK(a->rr != NULL);
		a->rr[0].type = DNS_T_TXT;
		a->rr[0].u.txt.text = malloc(len + 1);
		CHECK(a->rr[0].u.txt.text != NULL);
		memcpy(a->rr[0].u.txt.text, txt, len);
		a->rr[0].u.txt.text[len] = '\0';
		a->rr[0].u.txt.len = len;
		a->rr[0].u.txt.nstrings = 1;
		a->nrr = 1;
	}
	return a;
}

static void
check_str(const char *s, size_t cap)
{
	CHECK(memchr(s, '\0', cap) != NULL);
}

/* Verify msg[0..len) with its body pushed in pieces of at most chunk
 * octets (0: whole), applying ans to every signature that needs a key. */
static struct dkim_verify *
run(const char *msg, size_t len, size_t chunk, time_t now,
    const struct dns_answer *ans)
{
	const char *end = memmem(msg, len, "\r\n\r\n", 4);
	size_t hlen = len >= 2 && memcmp(msg, "\r\n", 2) == 0 ? 0 :
	    end != NULL ? (size_t)(end - msg) + 2 : len;
	size_t body = hlen + 2 <= len ? hlen + 2 : len;
	struct dkim_verify *v = dkim_verify_new(msg, hlen, now);
	const char *name;

	for (size_t off = body; off < len;) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		dkim_verify_body(v, msg + off, n);
		off += n;
	}
	dkim_verify_body_end(v);
	CHECK(dkim_verify_count(v) <= DKIM_SIGS_MAX);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		if (!dkim_verify_needs_key(v, i, &name))
			continue;
		CHECK(strlen(name) < DKIM_KEY_NAME_MAX);
		CHECK(strstr(name, "._domainkey.") != NULL);
		dkim_verify_apply_key(v, i, ans);
		CHECK(!dkim_verify_needs_key(v, i, &name));
	}
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t times[] = {
		RFC8463_NOW + 10, RFC8463_NOW - 2 * 86400, 4102444800, 0,
	};
	struct dns_answer *ans;
	struct dkim_verify *a, *b;
	const char *msg, *nul;
	size_t len, chunk;
	time_t now;

	if (size < 1)
		return 0;
	msg = (const char *)data + 1;
	len = size - 1;
	now = times[(data[0] >> 3) & 3];
	chunk = 1 + ((data[0] >> 5) & 7);
	switch (data[0] & 7) {
	case 0:
	case 1:
		ans = answer(DNS_RCODE_NOERROR, ED_KEY, strlen(ED_KEY));
		break;
	case 2:
	case 3:
		ans = answer(DNS_RCODE_NOERROR, RSA_KEY, strlen(RSA_KEY));
		break;
	case 4:
		ans = answer(DNS_RCODE_NXDOMAIN, NULL, 0);
		break;
	case 5:
		ans = answer(DNS_RCODE_SERVFAIL, NULL, 0);
		break;
	default:
		/* The key record follows the message, after a NUL. */
		nul = memchr(msg, '\0', len);
		ans = nul == NULL ? answer(DNS_RCODE_NOERROR, NULL, 0) :
		    answer(DNS_RCODE_NOERROR, nul + 1,
		    len - (size_t)(nul + 1 - msg));
		if (nul != NULL)
			len = (size_t)(nul - msg);
		break;
	}
	a = run(msg, len, 0, now, ans);
	b = run(msg, len, chunk, now, ans);
	CHECK(dkim_verify_count(a) == dkim_verify_count(b));
	CHECK(dkim_verify_skipped(a) == dkim_verify_skipped(b));
	for (size_t i = 0; i < dkim_verify_count(a); i++) {
		const struct dkim_result *ra = dkim_verify_result(a, i);
		const struct dkim_result *rb = dkim_verify_result(b, i);

		CHECK(ra != NULL && rb != NULL);
		CHECK(ra->res <= DKIM_RES_PERMERROR);
		CHECK(ra->detail != NULL && ra->detail[0] != '\0');
		check_str(ra->d, sizeof(ra->d));
		check_str(ra->s, sizeof(ra->s));
		check_str(ra->i, sizeof(ra->i));
		check_str(ra->b, sizeof(ra->b));
		CHECK(ra->res == rb->res && ra->reason == rb->reason);
		CHECK(ra->body_len == rb->body_len);
		CHECK(strcmp(ra->d, rb->d) == 0 && strcmp(ra->s, rb->s) == 0);
		CHECK(ra->res != DKIM_RES_PASS || (ans->nrr == 1 &&
		    ra->reason == DKIM_REASON_NONE && ra->d[0] != '\0'));
	}
	CHECK(dkim_verify_result(a, dkim_verify_count(a)) == NULL);
	dkim_verify_free(a);
	dkim_verify_free(b);
	dns_answer_free(ans);
	return 0;
}
