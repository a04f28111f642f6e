/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for TLSA record handling (smtpc_dane.h): the first byte
 * picks the DNSSEC status and the rcode, the rest is a DNS response packet
 * decoded as a TLSA answer, classified, printed and handed to OpenSSL's
 * DANE verifier. Invariants: the usable count stays within the bound,
 * every kept record has a usage/selector/matching type/length RFC 7672
 * allows, the text form is terminated, and OpenSSL accepts every record
 * we call usable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "dns/dns_rr.h"
#include "smtpc/smtpc_dane.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static SSL_CTX *fuzz_ctx;

static void
check_record(const struct smtpc_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		abort();
	if (t->selector > 1 || t->mtype > 2 || t->len == 0 ||
	    t->len > SMTPC_DANE_DATA_MAX)
		abort();
	if ((t->mtype == 1 && t->len != 32) || (t->mtype == 2 && t->len != 64))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_tlsa out[SMTPC_DANE_MAX];
	struct dns_answer *ans;
	char text[256];
	size_t n = 0;
	enum smtpc_dane_state st;

	if (size < 1)
		return 0;
	if (fuzz_ctx == NULL) {
		fuzz_ctx = SSL_CTX_new(TLS_client_method());
		if (fuzz_ctx == NULL || SSL_CTX_dane_enable(fuzz_ctx) <= 0)
			abort();
	}
	ans = dns_answer_new();
	if (dns_rr_decode(data + 1, size - 1, DNS_T_TLSA, ans) != DNS_RR_OK) {
		dns_answer_free(ans);
		return 0;
	}
	ans->sec = (enum dns_sec)(data[0] % 3);
	if (data[0] & 0x10)
		ans->rcode = (enum dns_rcode)((data[0] >> 5) % 4);
	st = smtpc_dane_classify(ans, out, SMTPC_DANE_MAX, &n);
	if (n > SMTPC_DANE_MAX || (st != SMTPC_DANE_USABLE && n != 0) ||
	    (st == SMTPC_DANE_USABLE && n == 0))
		abort();
	for (size_t i = 0; i < n; i++) {
		check_record(&out[i]);
		smtpc_dane_text(&out[i], text, sizeof(text));
		if (memchr(text, '\0', sizeof(text)) == NULL)
			abort();
	}
	if (n > 0) {
		SSL *ssl = SSL_new(fuzz_ctx);

		if (ssl == NULL || smtpc_dane_apply(ssl, out, n,
		    "mx.example.org", "example.org") != 0)
			abort();
		SSL_free(ssl);
	}
	smtpc_dane_clear(out, n);
	dns_answer_free(ans);
	return 0;
}
