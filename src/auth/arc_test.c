/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of ARC chain validation without DNS. Chains are sealed here
 * by a small independent sealer (OpenSSL, RSA and Ed25519 keys made per
 * run, its own relaxed canonicalisation of the single-line fields and
 * plain bodies it builds), and key answers come from a fake key table
 * through arc_verify_apply_key(). The async path against a real DNS server
 * and the cross-check with dkimpy are in tests/auth/test_arc_crosscheck.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/arc.h"
#include "auth/authres.h"
#include "core/base64.h"
#include "core/buf.h"
#include "dns/dns_rr.h"
#include "testdns.h"

#define NOW	1700000000
#define DOM	"relay.example"

struct tkey {
	EVP_PKEY	*pk;
	const char	*sel;
	bool		 ed;
	char		 rec[2048];
};

static struct tkey keys[2] = {
	{ NULL, "rsa", false, "" },
	{ NULL, "ed", true, "" },
};

/* A message being sealed: its header section (newest field first) and
 * body, and the ARC sets added so far (for the seal hash). */
struct tmsg {
	char	 hdr[65536];
	char	 body[4096];
	char	 sets[ARC_VERIFY_MAX + 2][3][2048];	/* [i][aar, ams, as] */
	unsigned n;
};

static void
b64(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	assert_true(base64_encode(p, n, out, outlen) >= 0);
}

static void
make_key(struct tkey *k)
{
	uint8_t der[1024], *dp = der;
	char enc[1536];
	size_t n = sizeof(der);
	int len;

	k->pk = k->ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k->pk);
	if (k->ed) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(k->pk, der, &n),
		    1);
	} else {
		len = i2d_PUBKEY(k->pk, &dp);
		assert_true(len > 0);
		n = (size_t)len;
	}
	b64(der, n, enc, sizeof(enc));
	snprintf(k->rec, sizeof(k->rec), "v=DKIM1; k=%s; p=%s",
	    k->ed ? "ed25519" : "rsa", enc);
}

/* Relaxed form (RFC 6376 §3.4.2) of a one-line "Name: value" field. */
static void
relax(const char *field, struct buf *out)
{
	const char *colon = strchr(field, ':'), *p;
	bool sp = false, any = false;

	for (p = field; p < colon; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
		assert_int_equal(buf_append(out, &c, 1), 0);
	}
	buf_append(out, ":", 1);
	for (p = colon + 1; *p != '\0' && *p != '\r'; p++) {
		if (*p == ' ' || *p == '\t') {
			sp = true;
			continue;
		}
		if (sp && any)
			buf_append(out, " ", 1);
		sp = false;
		any = true;
		buf_append(out, p, 1);
	}
}

/* Sign the SHA-256 of data with k (RFC 8463 §3: Ed25519 over the digest). */
static void
sign_b64(struct tkey *k, const struct buf *data, char *out, size_t outlen)
{
	uint8_t dg[32], sig[512];
	size_t slen = sizeof(sig);
	unsigned dl;

	EVP_Digest(data->data, data->len, dg, &dl, EVP_sha256(), NULL);
	if (k->ed) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL,
		    k->pk), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &slen, dg, 32), 1);
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pk, NULL);
		assert_int_equal(EVP_PKEY_sign_init(c), 1);
		EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
		EVP_PKEY_CTX_set_signature_md(c, EVP_sha256());
		assert_int_equal(EVP_PKEY_sign(c, sig, &slen, dg, 32), 1);
		EVP_PKEY_CTX_free(c);
	}
	b64(sig, slen, out, outlen);
}

/* Find "\r\nName:" (or at the start) in hdr; the field's first line. */
static const char *
find_field(const char *hdr, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = hdr; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			return p;
		if (strstr(p, "\r\n") == NULL)
			break;
	}
	return NULL;
}

static void
ams_for(struct tmsg *m, struct tkey *k, unsigned i, char *out, size_t outlen)
{
	static const char *h[] = { "From", "To", "Subject" };
	struct buf data;
	uint8_t bh[32];
	char bh64[64], sig[1024], val[1024];
	unsigned dl;

	EVP_Digest(m->body, strlen(m->body), bh, &dl, EVP_sha256(), NULL);
	b64(bh, 32, bh64, sizeof(bh64));
	snprintf(val, sizeof(val), "ARC-Message-Signature: i=%u; a=%s; "
	    "c=relaxed/relaxed; d=" DOM "; s=%s; t=%d; h=from:to:subject; "
	    "bh=%s; b=", i, k->ed ? "ed25519-sha256" : "rsa-sha256", k->sel,
	    NOW, bh64);
	buf_init(&data, 1 << 20);
	for (size_t j = 0; j < 3; j++) {
		const char *f = find_field(m->hdr, h[j]);
		assert_non_null(f);
		relax(f, &data);
		buf_append(&data, "\r\n", 2);
	}
	relax(val, &data);
	sign_b64(k, &data, sig, sizeof(sig));
	buf_clear(&data);
	assert_true(snprintf(out, outlen, "%s%s\r\n", val, sig) < (int)outlen);
}

static void
as_for(struct tmsg *m, struct tkey *k, unsigned i, const char *cv,
    const char *extra, char *out, size_t outlen)
{
	struct buf data;
	char sig[1024], val[1024];

	snprintf(val, sizeof(val), "ARC-Seal: i=%u; cv=%s; a=%s; d=" DOM
	    "; s=%s; t=%d;%s b=", i, cv, k->ed ? "ed25519-sha256" :
	    "rsa-sha256", k->sel, NOW, extra);
	buf_init(&data, 1 << 20);
	for (unsigned j = 1; j <= i; j++)
		for (int f = 0; f < 3; f++) {
			if (j == i && f == 2)
				break;
			relax(m->sets[j][f], &data);
			buf_append(&data, "\r\n", 2);
		}
	relax(val, &data);
	sign_b64(k, &data, sig, sizeof(sig));
	buf_clear(&data);
	assert_true(snprintf(out, outlen, "%s%s\r\n", val, sig) < (int)outlen);
}

static void
prepend(struct tmsg *m, const char *field)
{
	size_t fl = strlen(field), hl = strlen(m->hdr);

	assert_true(fl + hl < sizeof(m->hdr));
	memmove(m->hdr + fl, m->hdr, hl + 1);
	memcpy(m->hdr, field, fl);
}

/* Add set n+1 sealed with k and cv (extra: more AS tags, e.g. " h=x;"). */
static void
seal_x(struct tmsg *m, struct tkey *k, const char *cv, const char *extra)
{
	unsigned i = ++m->n;

	snprintf(m->sets[i][0], sizeof(m->sets[i][0]),
	    "ARC-Authentication-Results: i=%u; mx%u." DOM "; spf=pass "
	    "smtp.mailfrom=alice@origin.example\r\n", i, i);
	prepend(m, m->sets[i][0]);
	ams_for(m, k, i, m->sets[i][1], sizeof(m->sets[i][1]));
	prepend(m, m->sets[i][1]);
	as_for(m, k, i, cv, extra, m->sets[i][2], sizeof(m->sets[i][2]));
	prepend(m, m->sets[i][2]);
}

static void
seal(struct tmsg *m, struct tkey *k)
{
	seal_x(m, k, m->n == 0 ? "none" : "pass", "");
}

static struct tmsg *
message(void)
{
	struct tmsg *m = calloc(1, sizeof(*m));

	snprintf(m->hdr, sizeof(m->hdr), "Received: from a by b\r\n"
	    "From: Alice <alice@origin.example>\r\n"
	    "To: Bob <bob@dest.example>\r\n"
	    "Subject: Hello   there\r\n"
	    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	snprintf(m->body, sizeof(m->body), "Hi Bob,\r\nlunch?\r\n");
	return m;
}

/* Verify m; keys from the table, or every answer with rcode if != 0.
 * *lookups counts the key answers given. */
static struct arc_verify *
verify_rc(struct tmsg *m, enum dns_rcode rcode, unsigned *lookups)
{
	struct arc_verify *v = arc_verify_new(m->hdr, strlen(m->hdr), NOW);
	const char *name;

	arc_verify_body(v, m->body, strlen(m->body));
	arc_verify_body_end(v);
	*lookups = 0;
	for (size_t k = 0; k < ARC_KEYS_MAX; k++) {
		struct dns_answer *a = NULL;
		if (!arc_verify_needs_key(v, k, &name))
			continue;
		(*lookups)++;
		for (size_t j = 0; j < 2 && rcode == DNS_RCODE_NOERROR; j++)
			if (strncmp(name, keys[j].sel, strlen(keys[j].sel)) ==
			    0 && strcmp(name + strlen(keys[j].sel),
			    "._domainkey." DOM) == 0)
				a = testdns_txt(rcode, keys[j].rec);
		if (a == NULL)
			a = testdns_txt(rcode == DNS_RCODE_NOERROR ?
			    DNS_RCODE_NXDOMAIN : rcode, NULL);
		arc_verify_apply_key(v, k, a);
		dns_answer_free(a);
	}
	return v;
}

static struct arc_verify *
verify(struct tmsg *m)
{
	unsigned n;

	return verify_rc(m, DNS_RCODE_NOERROR, &n);
}

static void
expect(struct tmsg *m, enum arc_result res, enum arc_reason reason,
    unsigned count)
{
	struct arc_verify *v = verify(m);

	assert_string_equal(arc_result_name(arc_verify_result(v)),
	    arc_result_name(res));
	assert_string_equal(arc_reason_name(arc_verify_reason(v)),
	    arc_reason_name(reason));
	assert_int_equal(arc_verify_count(v), count);
	arc_verify_free(v);
}

static void
test_none(void **state)
{
	struct tmsg *m = message();

	(void)state;
	expect(m, ARC_NONE, ARC_REASON_NONE, 0);
	free(m);
}

static void
test_pass_one_and_two(void **state)
{
	struct tmsg *m = message();
	struct arc_verify *v;
	const struct arc_set *s;
	unsigned n;

	(void)state;
	seal(m, &keys[0]);
	v = verify_rc(m, DNS_RCODE_NOERROR, &n);
	assert_int_equal(arc_verify_result(v), ARC_PASS);
	assert_int_equal(arc_verify_oldest_pass(v), 0);
	assert_int_equal(n, 1);		/* AMS and AS share the key */
	s = arc_verify_set(v, 1);
	assert_string_equal(s->as_d, DOM);
	assert_string_equal(s->ams_s, "rsa");
	assert_int_equal(s->cv, ARC_CV_NONE);
	arc_verify_free(v);
	seal(m, &keys[1]);
	v = verify_rc(m, DNS_RCODE_NOERROR, &n);
	assert_int_equal(arc_verify_result(v), ARC_PASS);
	assert_int_equal(arc_verify_count(v), 2);
	assert_int_equal(arc_verify_oldest_pass(v), 0);
	assert_int_equal(n, 2);
	assert_int_equal(arc_verify_set(v, 2)->as.res, DKIM_RES_PASS);
	assert_int_equal(arc_verify_set(v, 2)->as.alg,
	    DKIM_ALG_ED25519_SHA256);
	arc_verify_free(v);
	free(m);
}

/* A hop changes the body, then seals: the chain passes, and oldest-pass
 * says from which instance on the AMS still validate (§5.2 step 5). */
static void
test_modified_between_hops(void **state)
{
	struct tmsg *m = message();
	struct arc_verify *v;

	(void)state;
	seal(m, &keys[0]);
	strcat(m->body, "--\r\nList footer\r\n");
	seal(m, &keys[1]);
	v = verify(m);
	assert_int_equal(arc_verify_result(v), ARC_PASS);
	assert_int_equal(arc_verify_oldest_pass(v), 2);
	assert_int_equal(arc_verify_set(v, 1)->ams.reason,
	    DKIM_REASON_BODY_HASH);
	arc_verify_free(v);
	free(m);
}

static void
test_tampered_body(void **state)
{
	struct tmsg *m = message();
	unsigned n;
	struct arc_verify *v;

	(void)state;
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	strcat(m->body, "P.S. sneaky\r\n");
	v = verify_rc(m, DNS_RCODE_NOERROR, &n);
	assert_int_equal(arc_verify_result(v), ARC_FAIL);
	assert_int_equal(arc_verify_reason(v), ARC_REASON_AMS);
	assert_int_equal(n, 0);		/* decided without a lookup */
	assert_int_equal(arc_verify_oldest_pass(v), -1);
	arc_verify_free(v);
	free(m);
}

static void
test_broken_seal(void **state)
{
	struct tmsg *m = message();
	char *p;

	(void)state;
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	/* AAR 1 is covered by the seals only, not by the AMS. */
	p = strstr(m->hdr, "spf=pass smtp.mailfrom=alice@origin.example\r\n"
	    "Received");
	assert_non_null(p);
	memcpy(p, "spf=fail", 8);
	expect(m, ARC_FAIL, ARC_REASON_SEAL, 2);
	free(m);
	/* A signed header changed: the newest AMS fails first (step 4). */
	m = message();
	seal(m, &keys[1]);
	memcpy(strstr(m->hdr, "Hello"), "HELLO", 5);
	expect(m, ARC_FAIL, ARC_REASON_AMS, 1);
	free(m);
}

static void
remove_field(struct tmsg *m, const char *prefix)
{
	char *p = strstr(m->hdr, prefix), *e;

	assert_non_null(p);
	e = strstr(p, "\r\n") + 2;
	memmove(p, e, strlen(e) + 1);
}

static void
test_structure(void **state)
{
	struct tmsg *m = message();

	(void)state;
	/* Missing AMS of instance 1. */
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	remove_field(m, "ARC-Message-Signature: i=1;");
	expect(m, ARC_FAIL, ARC_REASON_STRUCTURE, 2);
	free(m);
	/* Missing instance: sets 1 and 3. */
	m = message();
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	seal(m, &keys[0]);
	remove_field(m, "ARC-Seal: i=2;");
	remove_field(m, "ARC-Message-Signature: i=2;");
	remove_field(m, "ARC-Authentication-Results: i=2;");
	expect(m, ARC_FAIL, ARC_REASON_STRUCTURE, 3);
	free(m);
	/* A duplicate AAR. */
	m = message();
	seal(m, &keys[0]);
	prepend(m, "ARC-Authentication-Results: i=1; x.example; none\r\n");
	expect(m, ARC_FAIL, ARC_REASON_STRUCTURE, 1);
	/* A field without a readable instance. */
	free(m);
	m = message();
	seal(m, &keys[0]);
	prepend(m, "ARC-Authentication-Results: x.example; none\r\n");
	expect(m, ARC_FAIL, ARC_REASON_STRUCTURE, 1);
	free(m);
	/* i=51: more than 50 sets (step 1). */
	m = message();
	seal(m, &keys[0]);
	prepend(m, "ARC-Authentication-Results: i=51; x.example; none\r\n");
	expect(m, ARC_FAIL, ARC_REASON_TOO_MANY, 1);
	free(m);
}

static void
test_cv(void **state)
{
	struct tmsg *m = message();

	(void)state;
	/* cv=fail in the middle of the chain (step 3C). */
	seal(m, &keys[0]);
	seal_x(m, &keys[1], "fail", "");
	seal(m, &keys[0]);
	expect(m, ARC_FAIL, ARC_REASON_CV, 3);
	free(m);
	/* The newest seal says fail (step 2). */
	m = message();
	seal(m, &keys[0]);
	seal_x(m, &keys[1], "fail", "");
	expect(m, ARC_FAIL, ARC_REASON_CV_FAIL, 2);
	free(m);
	/* cv=pass at instance 1, cv=none above it. */
	m = message();
	seal_x(m, &keys[0], "pass", "");
	expect(m, ARC_FAIL, ARC_REASON_CV, 1);
	free(m);
	m = message();
	seal(m, &keys[0]);
	seal_x(m, &keys[0], "none", "");
	expect(m, ARC_FAIL, ARC_REASON_CV, 2);
	free(m);
	/* h= in a seal (§4.1.3), even when the signature covers it. */
	m = message();
	seal_x(m, &keys[1], "none", " h=from;");
	expect(m, ARC_FAIL, ARC_REASON_SYNTAX, 1);
	free(m);
}

static void
test_dns(void **state)
{
	struct tmsg *m = message();
	struct arc_verify *v;
	unsigned n;

	(void)state;
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	v = verify_rc(m, DNS_RCODE_SERVFAIL, &n);
	/* §5.2.1: DNS errors are permanent, the chain fails. */
	assert_int_equal(arc_verify_result(v), ARC_FAIL);
	assert_int_equal(arc_verify_reason(v), ARC_REASON_DNS);
	assert_int_equal(n, 1);		/* the first failure decides */
	arc_verify_free(v);
	v = verify_rc(m, DNS_RCODE_NXDOMAIN, &n);
	assert_int_equal(arc_verify_result(v), ARC_FAIL);
	assert_int_equal(arc_verify_reason(v), ARC_REASON_AMS);
	arc_verify_free(v);
	/* A key record of the wrong type for a=. */
	{
		char saved[2048];
		memcpy(saved, keys[1].rec, sizeof(saved));
		memcpy(keys[1].rec, keys[0].rec, sizeof(saved));
		expect(m, ARC_FAIL, ARC_REASON_AMS, 2);
		memcpy(keys[1].rec, saved, sizeof(saved));
	}
	free(m);
}

static void
test_too_long(void **state)
{
	struct tmsg *m = message();

	(void)state;
	for (unsigned i = 0; i < ARC_VERIFY_MAX; i++)
		seal(m, &keys[1]);
	expect(m, ARC_PASS, ARC_REASON_NONE, ARC_VERIFY_MAX);
	seal(m, &keys[1]);
	expect(m, ARC_FAIL, ARC_REASON_TOO_LONG, ARC_VERIFY_MAX + 1);
	free(m);
}

static void
test_authres(void **state)
{
	struct tmsg *m = message();
	struct authres_result r;
	struct arc_verify *v;
	struct buf out;

	(void)state;
	seal(m, &keys[0]);
	seal(m, &keys[1]);
	v = verify(m);
	arc_verify_authres(v, "192.0.2.1", &r);
	buf_init(&out, 4096);
	assert_int_equal(authres_format(&out, "mx.dest.example", &r, 1), 0);
	assert_non_null(strstr(buf_cstr(&out), "arc=pass (i=2)"));
	assert_non_null(strstr(buf_cstr(&out), "header.oldest-pass=0"));
	assert_non_null(strstr(buf_cstr(&out), "smtp.remote-ip=192.0.2.1"));
	arc_verify_free(v);
	buf_reset(&out);
	v = arc_verify_new("From: a@b.example\r\n", 19, NOW);
	arc_verify_authres(v, NULL, &r);
	assert_int_equal(authres_format(&out, "mx.dest.example", &r, 1), 0);
	assert_non_null(strstr(buf_cstr(&out), "arc=none"));
	arc_verify_free(v);
	buf_clear(&out);
	free(m);
}

static void
done_cb(struct arc_verify *v, void *arg)
{
	*(int *)arg = (int)arc_verify_result(v) + 1;
}

/* No lookup needed: the callback still comes from the loop. */
static void
test_async_no_lookup(void **state)
{
	struct event_base *base = event_base_new();
	struct tmsg *m = message();
	struct arc_verify *v;
	int got = 0;

	(void)state;
	seal(m, &keys[0]);
	v = arc_verify_new(m->hdr, strlen(m->hdr), NOW);
	arc_verify_body(v, "changed\r\n", 9);
	arc_verify_start(v, base, NULL, done_cb, &got);
	assert_int_equal(got, 0);
	event_base_dispatch(base);
	assert_int_equal(got, ARC_FAIL + 1);
	arc_verify_free(v);
	/* Freed before the loop runs: the callback never comes. */
	got = 0;
	v = arc_verify_new("", 0, NOW);
	arc_verify_start(v, base, NULL, done_cb, &got);
	arc_verify_free(v);
	event_base_dispatch(base);
	assert_int_equal(got, 0);
	event_base_free(base);
	free(m);
}

static int
setup(void **state)
{
	(void)state;
	make_key(&keys[0]);
	make_key(&keys[1]);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(keys[0].pk);
	EVP_PKEY_free(keys[1].pk);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_pass_one_and_two),
		cmocka_unit_test(test_modified_between_hops),
		cmocka_unit_test(test_tampered_body),
		cmocka_unit_test(test_broken_seal),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_cv),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_authres),
		cmocka_unit_test(test_async_no_lookup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
