/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of ARC sealing: the §5.1 decision table, the fields written
 * for canonical inputs, and seals checked by the project's own verifier
 * (arc.c, offline, key answers from a table), RSA and Ed25519, over one
 * and two hops; the steps of signing asynchronously, DKIM's too. dkimpy
 * checks the same seals in tests/auth/test_arc_sign.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/arc.h"
#include "auth/arc_sign.h"
#include "auth/dkim_sign.h"
#include "core/base64.h"
#include "core/buf.h"
#include "dns/dns_rr.h"
#include "testdns.h"

#define NOW	1700000000
#define DOM	"fwd.example"

static const char HDR[] =
    "Received: from a by b\r\n"
    "From: Alice <alice@origin.example>\r\n"
    "To: list@fwd.example\r\n"
    "Subject: Hello   there\r\n"
    "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "Message-ID: <1@origin.example>\r\n";
static const char BODY[] = "Hi Bob,\r\nlunch?\r\n\r\n\r\n";
static const char AR[] =
    "Authentication-Results: mx.fwd.example; spf=pass\r\n"
    "\tsmtp.mailfrom=alice@origin.example; dkim=none; arc=none\r\n"
    "BIMI-Location: v=BIMI1;\r\n";

struct tkey {
	const char		*sel;
	bool			 ed;
	struct dkim_sign_key	*k;
	char			 rec[2048];
};

static struct tkey keys[2] = {
	{ "rsa", false, NULL, "" },
	{ "ed", true, NULL, "" },
};

static void
make_key(struct tkey *t)
{
	EVP_PKEY *pk = t->ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	uint8_t der[1024], *dp = der;
	char enc[1536], err[128], *pem;
	size_t n = sizeof(der);
	BIO *bio = BIO_new(BIO_s_mem());
	long plen;

	assert_non_null(pk);
	if (t->ed)
		assert_int_equal(EVP_PKEY_get_raw_public_key(pk, der, &n), 1);
	else
		n = (size_t)i2d_PUBKEY(pk, &dp);
	assert_true(base64_encode(der, n, enc, sizeof(enc)) >= 0);
	snprintf(t->rec, sizeof(t->rec), "v=DKIM1; k=%s; p=%s",
	    t->ed ? "ed25519" : "rsa", enc);
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	plen = BIO_get_mem_data(bio, &pem);
	t->k = dkim_sign_key_from_pem(DOM, t->sel, pem, (size_t)plen, err,
	    sizeof(err));
	assert_non_null(t->k);
	BIO_free(bio);
	EVP_PKEY_free(pk);
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
	dkim_sign_key_free(keys[0].k);
	dkim_sign_key_free(keys[1].k);
	return 0;
}

/* arc.c's verdict on hdr + body, keys from the table. */
static struct arc_verify *
verify(const char *hdr, const char *body)
{
	struct arc_verify *v = arc_verify_new(hdr, strlen(hdr), NOW + 10);
	const char *name;

	arc_verify_body(v, body, strlen(body));
	arc_verify_body_end(v);
	for (size_t k = 0; k < ARC_KEYS_MAX; k++) {
		const char *rec = NULL;
		if (!arc_verify_needs_key(v, k, &name))
			continue;
		for (size_t j = 0; j < 2; j++)
			if (strncmp(name, keys[j].sel, strlen(keys[j].sel)) ==
			    0 && strcmp(name + strlen(keys[j].sel),
			    "._domainkey." DOM) == 0)
				rec = keys[j].rec;
		struct dns_answer *a = testdns_txt(rec ? DNS_RCODE_NOERROR :
		    DNS_RCODE_NXDOMAIN, rec);
		arc_verify_apply_key(v, k, a);
		dns_answer_free(a);
	}
	return v;
}

/* Seal hdr/body for chain c with key t into a new header section (the set
 * prepended); returns what arc_sign_seal returned. */
static int
seal(const struct tkey *t, const struct arc_sign_chain *c, const char *hdr,
    const char *body, struct buf *out)
{
	struct arc_sign *a = arc_sign_new(NOW);
	char err[256];
	int r;

	/* Streamed in two pieces, as DATA arrives. */
	arc_sign_body(a, body, 5);
	arc_sign_body(a, body + 5, strlen(body) - 5);
	r = arc_sign_seal(a, t->k, c, hdr, strlen(hdr), AR, strlen(AR), out,
	    err, sizeof(err));
	if (r == -1)
		print_message("%s\n", err);
	arc_sign_free(a);
	if (r == ARC_SIGN_SEALED)
		buf_append_str(out, hdr);
	return r;
}

static struct arc_sign_chain
chain_of(const char *hdr, const char *body)
{
	struct arc_verify *v = verify(hdr, body);
	struct arc_sign_chain c = { arc_verify_count(v), arc_verify_result(v),
	    arc_verify_reason(v) };

	arc_verify_free(v);
	return c;
}

static void
test_plan(void **state)
{
	static const struct {
		struct arc_sign_chain	c;
		int			r;
		unsigned		inst;
		enum arc_cv		cv;
	} t[] = {
		{ { 0, ARC_NONE, ARC_REASON_NONE }, 0, 1, ARC_CV_NONE },
		{ { 1, ARC_PASS, ARC_REASON_NONE }, 0, 2, ARC_CV_PASS },
		{ { 49, ARC_PASS, ARC_REASON_NONE }, 0, 50, ARC_CV_PASS },
		{ { 50, ARC_PASS, ARC_REASON_NONE }, -1, 0, 0 },
		{ { 3, ARC_FAIL, ARC_REASON_AMS }, 0, 4, ARC_CV_FAIL },
		{ { 2, ARC_FAIL, ARC_REASON_STRUCTURE }, 0, 3, ARC_CV_FAIL },
		{ { 0, ARC_FAIL, ARC_REASON_STRUCTURE }, 0, 1, ARC_CV_FAIL },
		{ { 9, ARC_FAIL, ARC_REASON_TOO_LONG }, 0, 10, ARC_CV_FAIL },
		{ { 2, ARC_FAIL, ARC_REASON_DNS }, 0, 3, ARC_CV_FAIL },
		{ { 2, ARC_FAIL, ARC_REASON_CV_FAIL }, -1, 0, 0 },
		{ { 50, ARC_FAIL, ARC_REASON_TOO_MANY }, -1, 0, 0 },
		{ { 50, ARC_FAIL, ARC_REASON_SEAL }, -1, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned inst = 0;
		enum arc_cv cv = ARC_CV_NONE;
		assert_int_equal(arc_sign_plan(&t[i].c, &inst, &cv), t[i].r);
		if (t[i].r == 0) {
			assert_int_equal(inst, t[i].inst);
			assert_int_equal(cv, t[i].cv);
		}
	}
}

static void
unfold(struct buf *b)
{
	size_t j = 0;

	for (size_t i = 0; i < b->len; i++)
		if (i + 2 < b->len && memcmp(b->data + i, "\r\n\t", 3) == 0) {
			b->data[j++] = ' ';
			i += 2;
		} else
			b->data[j++] = b->data[i];
	buf_truncate(b, j);
}

/* The fields for a canonical message: order, tags, the AMS h= list. */
static void
test_fields(void **state)
{
	struct arc_sign_chain none = { 0, ARC_NONE, ARC_REASON_NONE };
	struct buf out, hdr;
	const char *s, *ams, *aar, *h;

	(void)state;
	buf_init(&out, SIZE_MAX);
	buf_init(&hdr, SIZE_MAX);
	buf_printf(&hdr, "Delivered-To: x@fwd.example\r\n"
	    "DKIM-Signature: v=1; d=origin.example; b=\r\n%s", HDR);
	assert_int_equal(seal(&keys[0], &none, buf_cstr(&hdr), BODY, &out),
	    ARC_SIGN_SEALED);
	/* Unfolded (the folding is checked by the verifiers). */
	unfold(&out);
	s = buf_cstr(&out);
	static const char as[] = "ARC-Seal: i=1; cv=none; a=rsa-sha256; "
	    "d=fwd.example; s=rsa; t=1700000000; b=";
	assert_memory_equal(s, as, sizeof(as) - 1);
	ams = strstr(s, "\r\nARC-Message-Signature: i=1; a=rsa-sha256; "
	    "c=relaxed/relaxed; d=fwd.example; s=rsa;");
	assert_non_null(ams);
	/* The seal has no h= nor bh= (§4.1.3). */
	for (const char *q = s; q < ams; q++)
		assert_false(q[0] == 'h' && q[1] == '=' &&
		    (q[-1] == ' ' || q[-1] == '\t'));
	h = strstr(ams, "h=");
	assert_non_null(h);
	static const char hl[] = "h=from:from:to:to:subject:subject:date:";
	assert_memory_equal(h, hl, sizeof(hl) - 1);
	/* Oversigned (twice, folding may come between). */
	assert_non_null(h = strstr(ams, "message-id:"));
	assert_non_null(strstr(h + 11, "message-id:"));
	assert_non_null(strstr(ams, ":dkim-signature;"));
	assert_non_null(strstr(ams, "bh=f+2MVzrO5jbt5OVNSA2SKsd5HzU8TPUrSRq"
	    "OCCf3abE=;"));
	aar = strstr(s, "\r\nARC-Authentication-Results: i=1; mx.fwd.example;"
	    " spf=pass smtp.mailfrom=alice@origin.example; dkim=none; "
	    "arc=none\r\nDelivered-To: x@fwd.example\r\n");
	assert_non_null(aar);
	assert_true(ams < aar);
	/* Only the first field of our results; no trace field signed. */
	assert_null(strstr(s, "BIMI"));
	assert_null(strstr(s, "received"));
	assert_null(strstr(s, "delivered-to"));
	buf_clear(&hdr);
	buf_clear(&out);
}

/* One seal, then a second on top: arc.c says pass, i=1 then i=2; with
 * either key type; a changed body or header breaks them. */
static void
roundtrip(const struct tkey *t1, const struct tkey *t2)
{
	struct buf one, two;
	struct arc_sign_chain c;
	struct arc_verify *v;

	buf_init(&one, SIZE_MAX);
	buf_init(&two, SIZE_MAX);
	c = chain_of(HDR, BODY);
	assert_int_equal(c.res, ARC_NONE);
	assert_int_equal(seal(t1, &c, HDR, BODY, &one), ARC_SIGN_SEALED);
	c = chain_of(buf_cstr(&one), BODY);
	assert_int_equal(c.res, ARC_PASS);
	assert_int_equal(c.n, 1);
	/* The next hop adds its trace fields, then seals. */
	struct buf hop;
	buf_init(&hop, SIZE_MAX);
	buf_printf(&hop, "Received: from fwd by next\r\n%s", buf_cstr(&one));
	assert_int_equal(seal(t2, &c, buf_cstr(&hop), BODY, &two),
	    ARC_SIGN_SEALED);
	assert_non_null(strstr(buf_cstr(&two), "ARC-Seal: i=2; cv=pass;"));
	v = verify(buf_cstr(&two), BODY);
	assert_string_equal(arc_result_name(arc_verify_result(v)), "pass");
	assert_int_equal(arc_verify_count(v), 2);
	assert_int_equal(arc_verify_oldest_pass(v), 0);
	arc_verify_free(v);
	/* A body changed after the newest seal fails its AMS. */
	v = verify(buf_cstr(&two), "Hi Bob,\r\ndinner?\r\n");
	assert_int_equal(arc_verify_result(v), ARC_FAIL);
	assert_int_equal(arc_verify_reason(v), ARC_REASON_AMS);
	arc_verify_free(v);
	buf_clear(&hop);
	buf_clear(&one);
	buf_clear(&two);
}

static void
test_roundtrip_rsa(void **state)
{
	(void)state;
	roundtrip(&keys[0], &keys[0]);
}

static void
test_roundtrip_ed25519(void **state)
{
	(void)state;
	roundtrip(&keys[1], &keys[1]);
	roundtrip(&keys[1], &keys[0]);
}

/* §5.1 step 2 and §5.1.2 on real chains. */
static void
test_failed_chains(void **state)
{
	struct arc_sign_chain c, none = { 0, ARC_NONE, ARC_REASON_NONE };
	struct buf one, two, three;
	struct arc_verify *v;

	(void)state;
	buf_init(&one, SIZE_MAX);
	buf_init(&two, SIZE_MAX);
	buf_init(&three, SIZE_MAX);
	assert_int_equal(seal(&keys[0], &none, HDR, BODY, &one),
	    ARC_SIGN_SEALED);
	/* Body changed after the first seal: the chain fails; the next
	 * set says cv=fail and its seal covers itself alone. */
	c = chain_of(buf_cstr(&one), "changed\r\n");
	assert_int_equal(c.res, ARC_FAIL);
	assert_int_equal(seal(&keys[1], &c, buf_cstr(&one), "changed\r\n",
	    &two), ARC_SIGN_SEALED);
	assert_non_null(strstr(buf_cstr(&two), "ARC-Seal: i=2; cv=fail;"));
	v = verify(buf_cstr(&two), "changed\r\n");
	assert_int_equal(arc_verify_reason(v), ARC_REASON_CV_FAIL);
	arc_verify_free(v);
	/* Nothing is added after a cv=fail seal. */
	c = chain_of(buf_cstr(&two), "changed\r\n");
	assert_int_equal(c.reason, ARC_REASON_CV_FAIL);
	assert_int_equal(seal(&keys[0], &c, buf_cstr(&two), "changed\r\n",
	    &three), ARC_SIGN_SKIPPED);
	assert_int_equal(three.len, 0);
	/* A chain said to pass whose sets are not there is an error. */
	c = (struct arc_sign_chain){ 1, ARC_PASS, ARC_REASON_NONE };
	assert_int_equal(seal(&keys[0], &c, HDR, BODY, &three), -1);
	assert_int_equal(three.len, 0);
	buf_clear(&one);
	buf_clear(&two);
	buf_clear(&three);
}

static void
test_bad_authres(void **state)
{
	struct arc_sign_chain none = { 0, ARC_NONE, ARC_REASON_NONE };
	struct arc_sign *a = arc_sign_new(NOW);
	struct buf out;
	char err[256];

	(void)state;
	buf_init(&out, SIZE_MAX);
	buf_append_str(&out, "kept");
	assert_int_equal(arc_sign_seal(a, keys[0].k, &none, HDR, strlen(HDR),
	    "X-Other: a; b\r\n", 15, &out, err, sizeof(err)), -1);
	assert_int_equal(arc_sign_seal(a, keys[0].k, &none, HDR, strlen(HDR),
	    "Authentication-Results:  \r\n", 27, &out, err, sizeof(err)), -1);
	assert_string_equal(buf_cstr(&out), "kept");
	/* The body hash is kept for the next seal. */
	assert_int_equal(arc_sign_seal(a, keys[0].k, &none, HDR, strlen(HDR),
	    AR, strlen(AR), &out, err, sizeof(err)), ARC_SIGN_SEALED);
	arc_sign_free(a);
	buf_clear(&out);
}

/* A sealer whose AMS is signed and whose seal waits for its signature. */
static struct arc_sign *
seal_waiting(struct buf *out)
{
	struct arc_sign_chain none = { 0, ARC_NONE, ARC_REASON_NONE };
	struct arc_sign *a = arc_sign_new(NOW);
	char err[256];

	assert_int_equal(arc_sign_start(a, keys[0].k, &none, HDR, strlen(HDR),
	    AR, strlen(AR), err, sizeof(err)), ARC_SIGN_PENDING);
	assert_int_equal(dkim_sign_field_sign(arc_sign_pending(a)), 0);
	assert_int_equal(arc_sign_next(a, HDR, strlen(HDR), out, err,
	    sizeof(err)), ARC_SIGN_PENDING);
	return a;
}

/*
 * The steps a caller that signs asynchronously takes (smtpd_sign.c):
 * signatures put in any order give what the one-call paths give; a
 * missing one fails the end, out unchanged; one given up midway frees
 * all (LeakSanitizer).
 */
static void
test_steps(void **state)
{
	struct arc_sign_chain none = { 0, ARC_NONE, ARC_REASON_NONE };
	struct dkim_sign_key *both[2] = { keys[0].k, keys[1].k };
	struct dkim_sign_pending *p;
	struct dkim_sign *d;
	struct arc_sign *a;
	struct buf want, got;
	char err[256];

	(void)state;
	buf_init(&want, SIZE_MAX);
	buf_init(&got, SIZE_MAX);
	/* DKIM: two keys, signed last first. */
	d = dkim_sign_new(both, 2, NOW);
	dkim_sign_body(d, BODY, strlen(BODY));
	assert_int_equal(dkim_sign_finish(d, HDR, strlen(HDR), &want, err,
	    sizeof(err)), 0);
	dkim_sign_free(d);
	d = dkim_sign_new(both, 2, NOW);
	dkim_sign_body(d, BODY, strlen(BODY));
	assert_int_equal(dkim_sign_start(d, HDR, strlen(HDR), err,
	    sizeof(err)), 2);
	assert_null(dkim_sign_pending(d, 2));
	assert_int_equal(dkim_sign_field_put(dkim_sign_pending(d, 0), NULL,
	    0), -1);
	assert_int_equal(dkim_sign_field_sign(dkim_sign_pending(d, 1)), 0);
	assert_int_equal(dkim_sign_field_sign(dkim_sign_pending(d, 0)), 0);
	assert_int_equal(dkim_sign_end(d, &got, err, sizeof(err)), 0);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	dkim_sign_free(d);
	/* A signature missing: nothing appended. */
	buf_reset(&got);
	d = dkim_sign_new(both, 2, NOW);
	dkim_sign_body(d, BODY, strlen(BODY));
	assert_int_equal(dkim_sign_start(d, HDR, strlen(HDR), err,
	    sizeof(err)), 2);
	assert_int_equal(dkim_sign_field_sign(dkim_sign_pending(d, 0)), 0);
	assert_int_equal(dkim_sign_end(d, &got, err, sizeof(err)), -1);
	assert_int_equal(got.len, 0);
	dkim_sign_free(d);
	/* Given up with both fields made and unsigned. */
	d = dkim_sign_new(both, 2, NOW);
	assert_int_equal(dkim_sign_start(d, HDR, strlen(HDR), err,
	    sizeof(err)), 2);
	dkim_sign_free(d);

	/* ARC: the AMS, then the seal over it. */
	buf_reset(&want);
	buf_reset(&got);
	a = arc_sign_new(NOW);
	arc_sign_body(a, BODY, strlen(BODY));
	assert_int_equal(arc_sign_seal(a, keys[1].k, &none, HDR, strlen(HDR),
	    AR, strlen(AR), &want, err, sizeof(err)), ARC_SIGN_SEALED);
	arc_sign_free(a);
	a = arc_sign_new(NOW);
	arc_sign_body(a, BODY, strlen(BODY));
	assert_null(arc_sign_pending(a));
	assert_int_equal(arc_sign_start(a, keys[1].k, &none, HDR, strlen(HDR),
	    AR, strlen(AR), err, sizeof(err)), ARC_SIGN_PENDING);
	assert_non_null(p = arc_sign_pending(a));
	assert_int_equal(dkim_sign_field_sign(p), 0);
	assert_int_equal(arc_sign_next(a, HDR, strlen(HDR), &got, err,
	    sizeof(err)), ARC_SIGN_PENDING);
	assert_int_equal(got.len, 0);
	assert_non_null(p = arc_sign_pending(a));
	assert_int_equal(dkim_sign_field_sign(p), 0);
	assert_int_equal(arc_sign_next(a, HDR, strlen(HDR), &got, err,
	    sizeof(err)), ARC_SIGN_SEALED);
	assert_null(arc_sign_pending(a));
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	arc_sign_free(a);
	/* The seal's signature missing: -1, out unchanged. */
	buf_reset(&got);
	buf_append_str(&got, "kept");
	a = seal_waiting(&got);
	assert_int_equal(arc_sign_next(a, HDR, strlen(HDR), &got, err,
	    sizeof(err)), -1);
	assert_string_equal(buf_cstr(&got), "kept");
	arc_sign_free(a);
	/* Given up while the seal waits. */
	arc_sign_free(seal_waiting(&got));
	buf_clear(&want);
	buf_clear(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_roundtrip_rsa),
		cmocka_unit_test(test_roundtrip_ed25519),
		cmocka_unit_test(test_failed_chains),
		cmocka_unit_test(test_bad_authres),
		cmocka_unit_test(test_steps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
