/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for ARC sealing (auth/arc_sign) over hostile messages:
 * the input is a message (header section, then the body after the first
 * empty line); its chain is judged by the verifier (auth/arc, every key
 * answered with nothing: the chain is none or fails, or passes never) and
 * also claimed to pass, so the sealer walks the existing sets either way.
 * Invariants: arc_sign_plan and arc_sign_seal agree on sealing; a sealed
 * set is three fields, ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results, all of the planned instance as the verifier
 * reads them, with nothing after them; a skip or an error leaves the
 * output untouched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/arc.h"
#include "auth/arc_sign.h"
#include "auth/dkim_canon.h"
#include "auth/dkim_sign.h"
#include "core/buf.h"
#include "dns/dns_rr.h"
#include "fuzz_check.h"

#define AR "Authentication-Results: mx.fwd.example; spf=pass\r\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_sign_key *
fuzz_key(void)
{
	static struct dkim_sign_key *k;
	EVP_PKEY *pk;
	BIO *bio;
	char *pem, err[128];
	long n;

	if (k != NULL)
		return k;
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	bio = BIO_new(BIO_s_mem());
	CHECK(pk != NULL && bio != NULL);
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	k = dkim_sign_key_from_pem("fwd.example", "s1", pem, (size_t)n, err,
	    sizeof(err));
	CHECK(k != NULL);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return k;
}

static void
check_set(const struct buf *out, size_t start, unsigned inst)
{
	static const enum arc_field_kind order[3] = { ARC_FIELD_AS,
	    ARC_FIELD_AMS, ARC_FIELD_AAR };
	const char *p = (const char *)out->data + start;
	size_t len = out->len - start, pos = 0;
	struct dkim_field f;
	unsigned got;

	for (int i = 0; i < 3; i++) {
		CHECK(dkim_header_next(p, len, &pos, &f) == 1);
		CHECK(arc_field_kind(&f, &got) == order[i]);
		CHECK(got == inst);
	}
	CHECK(pos == len);
}

static void
seal_one(const char *hdr, size_t hlen, const uint8_t *body, size_t blen,
    const struct arc_sign_chain *c)
{
	struct arc_sign *a = arc_sign_new(1700000000);
	struct buf out;
	char err[256];
	unsigned inst = 0;
	enum arc_cv cv;
	int plan, r;

	buf_init(&out, 1024 * 1024);
	buf_append_str(&out, "kept\r\n");
	arc_sign_body(a, body, blen / 2);
	arc_sign_body(a, body + blen / 2, blen - blen / 2);
	plan = arc_sign_plan(c, &inst, &cv);
	r = arc_sign_seal(a, fuzz_key(), c, hdr, hlen, AR, strlen(AR), &out,
	    err, sizeof(err));
	if (r == ARC_SIGN_SEALED) {
		CHECK(plan == 0);
		check_set(&out, 6, inst);
	} else {
		CHECK(out.len == 6);
		CHECK(r == -1 || plan == -1);
	}
	arc_sign_free(a);
	buf_clear(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const uint8_t *end = memmem(data, size, "\r\n\r\n", 4);
	size_t hlen = end ? (size_t)(end - data) + 2 : size;
	const uint8_t *body = end ? end + 4 : data + size;
	size_t blen = (size_t)(data + size - body);
	struct arc_verify *v;
	struct arc_sign_chain c;
	const char *name;

	struct dns_answer *nx = dns_answer_new();

	nx->rcode = DNS_RCODE_NXDOMAIN;
	nx->qtype = DNS_T_TXT;
	v = arc_verify_new(p, hlen, 1700000000);
	arc_verify_body(v, body, blen);
	arc_verify_body_end(v);
	for (size_t k = 0; k < ARC_KEYS_MAX; k++)
		if (arc_verify_needs_key(v, k, &name))
			arc_verify_apply_key(v, k, nx);
	dns_answer_free(nx);
	c.n = arc_verify_count(v);
	c.res = arc_verify_result(v);
	c.reason = arc_verify_reason(v);
	arc_verify_free(v);
	seal_one(p, hlen, body, blen, &c);
	/* As if the chain had passed: the sets are looked up by instance. */
	c.res = ARC_PASS;
	c.reason = ARC_REASON_NONE;
	if (c.n > 0)
		seal_one(p, hlen, body, blen, &c);
	return 0;
}
