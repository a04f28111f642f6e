/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of DKIM verification without DNS: key answers are built by
 * hand and given through dkim_verify_apply_key(). RFC 8463 Appendix A's
 * signed message (Ed25519 and RSA) must verify; alterations must fail with
 * the right reason; sign -> verify round trips with fresh keys. The async
 * path against a real DNS server is covered by tests/auth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim_sign.h"
#include "auth/dkim_verify.h"
#include "core/base64.h"
#include "core/buf.h"
#include "dns/dns_rr.h"
#include "testdns.h"

#define RFC8463_ED_KEY \
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8463_RSA_KEY \
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR" \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

/* RFC 8463 Appendix A.3, continuation lines start with one space. */
static const char rfc8463_hdr[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n";
static const char rfc8463_body[] =
    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
#define RFC8463_NOW	1528637909

/* Run v over body and apply key record txt (or rcode) to signature i. */
static void
finish_with(struct dkim_verify *v, const char *body, size_t i,
    enum dns_rcode rcode, const char *txt)
{
	struct dns_answer *a = testdns_txt(rcode, txt);

	dkim_verify_body(v, body, strlen(body));
	dkim_verify_body_end(v);
	dkim_verify_apply_key(v, i, a);
	dns_answer_free(a);
}

static struct dkim_verify *
rfc8463(const char *hdr, const char *body, time_t now)
{
	struct dkim_verify *v = dkim_verify_new(hdr, strlen(hdr), now);
	struct dns_answer *ed = testdns_txt(DNS_RCODE_NOERROR, RFC8463_ED_KEY);
	struct dns_answer *rsa = testdns_txt(DNS_RCODE_NOERROR,
	    RFC8463_RSA_KEY);
	const char *name;

	dkim_verify_body(v, body, strlen(body));
	dkim_verify_body_end(v);
	if (dkim_verify_needs_key(v, 0, &name)) {
		assert_string_equal(name, "brisbane._domainkey."
		    "football.example.com");
		dkim_verify_apply_key(v, 0, ed);
	}
	if (dkim_verify_needs_key(v, 1, &name)) {
		assert_string_equal(name, "test._domainkey.football.example.com");
		dkim_verify_apply_key(v, 1, rsa);
	}
	dns_answer_free(ed);
	dns_answer_free(rsa);
	return v;
}

static void
test_rfc8463_pass(void **state)
{
	struct dkim_verify *v = rfc8463(rfc8463_hdr, rfc8463_body,
	    RFC8463_NOW + 10);
	const struct dkim_result *r;

	(void)state;
	assert_int_equal(dkim_verify_count(v), 2);
	r = dkim_verify_result(v, 0);
	assert_int_equal(r->res, DKIM_RES_PASS);
	assert_int_equal(r->alg, DKIM_ALG_ED25519_SHA256);
	assert_string_equal(r->d, "football.example.com");
	assert_string_equal(r->s, "brisbane");
	assert_string_equal(r->b, "/gCrinpc");
	r = dkim_verify_result(v, 1);
	assert_int_equal(r->res, DKIM_RES_PASS);
	assert_int_equal(r->alg, DKIM_ALG_RSA_SHA256);
	assert_string_equal(r->b, "F45dVWDf");
	dkim_verify_free(v);
}

static void
test_rfc8463_altered(void **state)
{
	char *hdr = strdup(rfc8463_hdr);
	struct dkim_verify *v;

	(void)state;
	/* Body changed: both fail on the body hash, no lookup needed. */
	v = rfc8463(rfc8463_hdr, "Hi.\r\n\r\nWe won the game.\r\n",
	    RFC8463_NOW);
	assert_int_equal(dkim_verify_result(v, 0)->res, DKIM_RES_FAIL);
	assert_int_equal(dkim_verify_result(v, 0)->reason,
	    DKIM_REASON_BODY_HASH);
	assert_int_equal(dkim_verify_result(v, 1)->reason,
	    DKIM_REASON_BODY_HASH);
	dkim_verify_free(v);
	/* A signed header changed. */
	memcpy(strstr(hdr, "Is dinner"), "Is lunch ", 9);
	v = rfc8463(hdr, rfc8463_body, RFC8463_NOW);
	assert_int_equal(dkim_verify_result(v, 0)->res, DKIM_RES_FAIL);
	assert_int_equal(dkim_verify_result(v, 0)->reason,
	    DKIM_REASON_SIGNATURE);
	assert_int_equal(dkim_verify_result(v, 1)->reason,
	    DKIM_REASON_SIGNATURE);
	dkim_verify_free(v);
	free(hdr);
	/* Relaxed: extra whitespace and case in signed headers is fine. */
	hdr = strdup(rfc8463_hdr);
	memcpy(strstr(hdr, "Subject: Is"), "SUBJECT: Is", 11);
	v = rfc8463(hdr, "Hi.  \r\n\r\nWe lost  the game.\t Are you hungry "
	    "yet?\r\n\r\nJoe.\r\n\r\n\r\n", RFC8463_NOW);
	assert_int_equal(dkim_verify_result(v, 0)->res, DKIM_RES_PASS);
	assert_int_equal(dkim_verify_result(v, 1)->res, DKIM_RES_PASS);
	dkim_verify_free(v);
	free(hdr);
}

static void
test_key_outcomes(void **state)
{
	static const struct {
		enum dns_rcode	 rcode;
		const char	*txt;
		enum dkim_res	 res;
		enum dkim_reason reason;
	} cases[] = {
		{ DNS_RCODE_NXDOMAIN, NULL, DKIM_RES_PERMERROR,
		    DKIM_REASON_NO_KEY },
		{ DNS_RCODE_NOERROR, NULL, DKIM_RES_PERMERROR,
		    DKIM_REASON_NO_KEY },
		{ DNS_RCODE_SERVFAIL, NULL, DKIM_RES_TEMPERROR,
		    DKIM_REASON_DNS },
		{ DNS_RCODE_TIMEOUT, NULL, DKIM_RES_TEMPERROR,
		    DKIM_REASON_DNS },
		{ DNS_RCODE_NOERROR, "v=DKIM1; k=ed25519; p=", DKIM_RES_FAIL,
		    DKIM_REASON_KEY_REVOKED },
		{ DNS_RCODE_NOERROR, "v=DKIM1; k=rsa; p=MIGfMA0G",
		    DKIM_RES_PERMERROR,
		    DKIM_REASON_KEY_MISMATCH },
		{ DNS_RCODE_NOERROR, "v=DKIM1; k=ed25519; h=sha1; "
		    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		    DKIM_RES_PERMERROR, DKIM_REASON_KEY_MISMATCH },
		{ DNS_RCODE_NOERROR, "k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQ"
		    "HOg7hcvPapiMlrwIaaPcHURo=", DKIM_RES_PERMERROR,
		    DKIM_REASON_KEY_SYNTAX },
		{ DNS_RCODE_NOERROR, "v=DKIM1; k=ed25519; p=AAAA",
		    DKIM_RES_PERMERROR, DKIM_REASON_KEY_SYNTAX },
		{ DNS_RCODE_NOERROR, "v=DKIM1; k=ed25519; t=y:s; p="
		    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		    DKIM_RES_PASS, DKIM_REASON_NONE },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct dkim_verify *v = dkim_verify_new(rfc8463_hdr,
		    strlen(rfc8463_hdr), RFC8463_NOW);
		finish_with(v, rfc8463_body, 0, cases[k].rcode, cases[k].txt);
		assert_int_equal(dkim_verify_result(v, 0)->res, cases[k].res);
		assert_int_equal(dkim_verify_result(v, 0)->reason,
		    cases[k].reason);
		dkim_verify_free(v);
	}
}

static void
test_syntax_and_policy(void **state)
{
	static const struct {
		const char	*sig;
		enum dkim_res	 res;
		enum dkim_reason reason;
	} cases[] = {
		{ "v=1; a=rsa-sha1; d=a.example; s=s; h=from; bh=AAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAA=; b=AAAA", DKIM_RES_POLICY,
		    DKIM_REASON_SHA1 },
		{ "v=1; a=rsa-sha256; d=a.example; s=s; h=to; bh=2jUSOH9NhtVGC"
		    "QWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
		    DKIM_RES_PERMERROR, DKIM_REASON_SYNTAX },
		{ "v=1; a=rsa-sha256; d=a.example; s=s; h=from; x=100; bh=2jU"
		    "SOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
		    DKIM_RES_FAIL, DKIM_REASON_EXPIRED },
		{ "v=1; a=rsa-sha256; d=a.example; s=s; h=from; t=9999999999;"
		    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
		    DKIM_RES_FAIL, DKIM_REASON_FUTURE },
	};
	char hdr[1024];

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct dkim_verify *v;
		const struct dkim_result *r;
		const char *name;

		snprintf(hdr, sizeof(hdr), "DKIM-Signature: %s\r\nFrom: a@b"
		    "\r\n\r\n", cases[k].sig);
		v = dkim_verify_new(hdr, strlen(hdr), RFC8463_NOW);
		dkim_verify_body_end(v);
		assert_false(dkim_verify_needs_key(v, 0, &name));
		r = dkim_verify_result(v, 0);
		assert_int_equal(r->res, cases[k].res);
		assert_int_equal(r->reason, cases[k].reason);
		dkim_verify_free(v);
	}
}

static void
test_signature_cap(void **state)
{
	struct buf b;
	struct dkim_verify *v;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < DKIM_SIGS_MAX + 3; i++)
		buf_append_str(&b, "DKIM-Signature: v=1\r\n");
	buf_append_str(&b, "From: a@b.example\r\n\r\n");
	v = dkim_verify_new((const char *)b.data, b.len, 0);
	assert_int_equal(dkim_verify_count(v), DKIM_SIGS_MAX);
	assert_int_equal(dkim_verify_skipped(v), 3);
	dkim_verify_free(v);
	buf_clear(&b);
}

/* The public key record of a private key, as keygen prints it. */
static void
key_record(EVP_PKEY *pk, char *out, size_t outlen)
{
	unsigned char der[2048], *p = der;
	char b64[3072];
	size_t n = sizeof(der);
	int len;

	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		EVP_PKEY_get_raw_public_key(pk, der, &n);
		base64_encode(der, n, b64, sizeof(b64));
		snprintf(out, outlen, "v=DKIM1; k=ed25519; p=%s", b64);
		return;
	}
	len = i2d_PUBKEY(pk, &p);
	base64_encode(der, (size_t)len, b64, sizeof(b64));
	snprintf(out, outlen, "v=DKIM1; k=rsa; p=%s", b64);
}

static struct dkim_sign_key *
make_key(const char *type, const char *sel, char *rec, size_t reclen)
{
	EVP_PKEY *pk = strcmp(type, "RSA") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	struct dkim_sign_key *k;
	char *pem, err[256];
	long n;

	assert_non_null(pk);
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	k = dkim_sign_key_from_pem("example.org", sel, pem, (size_t)n, err,
	    sizeof(err));
	assert_non_null(k);
	key_record(pk, rec, reclen);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return k;
}

static void
test_sign_roundtrip(void **state)
{
	static const char hdr[] = "From: Alice <alice@example.org>\r\n"
	    "To: bob@example.net,\r\n  carol@example.net\r\n"
	    "Subject:   a  folded\r\n\tsubject\r\n"
	    "Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\n"
	    "Received: from x by y\r\n\r\n";
	static const char body[] = "Hello \t world\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
	    "\r\n\r\n";
	char rec[2][4096], err[256];
	struct dkim_sign_key *keys[2];
	struct dkim_sign *s;
	struct dkim_verify *v;
	struct buf out, msg;

	(void)state;
	keys[0] = make_key("ED25519", "ed", rec[0], sizeof(rec[0]));
	keys[1] = make_key("RSA", "rsa", rec[1], sizeof(rec[1]));
	s = dkim_sign_new(keys, 2, 1780000000);
	dkim_sign_body(s, body, 7);
	dkim_sign_body(s, body + 7, strlen(body) - 7);
	buf_init(&out, 1 << 16);
	assert_int_equal(dkim_sign_finish(s, hdr, strlen(hdr), &out, err,
	    sizeof(err)), 0);
	dkim_sign_free(s);
	/* Every line of the fields is at most 78 columns. */
	for (const char *p = buf_cstr(&out), *nl; (nl = strstr(p, "\r\n"));
	    p = nl + 2)
		assert_true(nl - p <= DKIM_SIGN_COLUMNS);
	assert_non_null(strstr(buf_cstr(&out), "h=from:from:to:to:subject:"));
	buf_init(&msg, 1 << 16);
	buf_append(&msg, out.data, out.len);
	buf_append_str(&msg, hdr);
	v = dkim_verify_new((const char *)msg.data, msg.len, 1780000000);
	finish_with(v, body, 0, DNS_RCODE_NOERROR, rec[0]);
	{
		struct dns_answer *a = testdns_txt(DNS_RCODE_NOERROR, rec[1]);
		dkim_verify_apply_key(v, 1, a);
		dns_answer_free(a);
	}
	assert_int_equal(dkim_verify_count(v), 2);
	assert_int_equal(dkim_verify_result(v, 0)->res, DKIM_RES_PASS);
	assert_int_equal(dkim_verify_result(v, 1)->res, DKIM_RES_PASS);
	assert_int_equal(dkim_verify_result(v, 1)->alg, DKIM_ALG_RSA_SHA256);
	dkim_verify_free(v);
	buf_clear(&msg);
	buf_clear(&out);
	dkim_sign_key_free(keys[0]);
	dkim_sign_key_free(keys[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463_pass),
		cmocka_unit_test(test_rfc8463_altered),
		cmocka_unit_test(test_key_outcomes),
		cmocka_unit_test(test_syntax_and_policy),
		cmocka_unit_test(test_signature_cap),
		cmocka_unit_test(test_sign_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
