/* SPDX-License-Identifier: ISC */
/*
 * DANE record classification and OpenSSL DANE setup (see smtpc_dane.h).
 * TLSA data comes from DNS and is untrusted: lengths are checked here
 * before anything is copied or handed to OpenSSL.
 */
#include "smtpc/smtpc_dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/xmalloc.h"
#include "net/tlsname.h"

/* Matching type 0 carries the whole certificate or SubjectPublicKeyInfo:
 * one that does not parse is unusable (OpenSSL would refuse it too). */
static bool
smtpc_dane_full_ok(const struct dns_rr *rr)
{
	const unsigned char *p = rr->u.tlsa.data;
	long len = (long)rr->u.tlsa.len;
	bool ok;

	if (rr->u.tlsa.selector == 0) {
		X509 *x = d2i_X509(NULL, &p, len);

		ok = x != NULL && p == rr->u.tlsa.data + rr->u.tlsa.len;
		X509_free(x);
	} else {
		EVP_PKEY *k = d2i_PUBKEY(NULL, &p, len);

		ok = k != NULL && p == rr->u.tlsa.data + rr->u.tlsa.len;
		EVP_PKEY_free(k);
	}
	return ok;
}

/* RFC 6698 §2.1.3 and RFC 7671 §5: what each matching type must hold. */
static bool
smtpc_dane_usable(const struct dns_rr *rr)
{
	if (rr->type != DNS_T_TLSA || rr->u.tlsa.len == 0 ||
	    rr->u.tlsa.len > SMTPC_DANE_DATA_MAX)
		return false;
	if (rr->u.tlsa.usage != 2 && rr->u.tlsa.usage != 3)
		return false;
	if (rr->u.tlsa.selector > 1)
		return false;
	switch (rr->u.tlsa.mtype) {
	case 0:
		return smtpc_dane_full_ok(rr);
	case 1:
		return rr->u.tlsa.len == 32;
	case 2:
		return rr->u.tlsa.len == 64;
	default:
		return false;
	}
}

enum smtpc_dane_state
smtpc_dane_classify(const struct dns_answer *ans, struct smtpc_tlsa *out,
    size_t max, size_t *n)
{
	*n = 0;
	if (ans == NULL || ans->sec == DNS_SEC_BOGUS ||
	    ans->rcode == DNS_RCODE_SERVFAIL ||
	    ans->rcode == DNS_RCODE_TIMEOUT)
		return SMTPC_DANE_FAILED;
	/* An insecure answer, or a secure denial: no DANE (§2.2). */
	if (ans->sec != DNS_SEC_SECURE || ans->rcode != DNS_RCODE_NOERROR ||
	    ans->nrr == 0)
		return SMTPC_DANE_NONE;
	for (size_t i = 0; i < ans->nrr && *n < max; i++) {
		const struct dns_rr *rr = &ans->rr[i];

		if (!smtpc_dane_usable(rr))
			continue;
		out[*n].usage = rr->u.tlsa.usage;
		out[*n].selector = rr->u.tlsa.selector;
		out[*n].mtype = rr->u.tlsa.mtype;
		out[*n].len = rr->u.tlsa.len;
		out[*n].data = xmalloc(rr->u.tlsa.len);
		memcpy(out[*n].data, rr->u.tlsa.data, rr->u.tlsa.len);
		(*n)++;
	}
	return *n > 0 ? SMTPC_DANE_USABLE : SMTPC_DANE_UNUSABLE;
}

void
smtpc_dane_clear(struct smtpc_tlsa *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].data);
		t[i].data = NULL;
		t[i].len = 0;
	}
}

void
smtpc_dane_copy(struct smtpc_tlsa *out, const struct smtpc_tlsa *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = in[i];
		out[i].data = xmalloc(in[i].len);
		memcpy(out[i].data, in[i].data, in[i].len);
	}
}

void
smtpc_dane_text(const struct smtpc_tlsa *t, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	int w;
	size_t o;

	if (outlen == 0)
		return;
	w = snprintf(out, outlen, "%u %u %u ", t->usage, t->selector,
	    t->mtype);
	o = w < 0 ? 0 : (size_t)w;
	for (size_t i = 0; i < t->len && o + 2 < outlen; i++) {
		out[o++] = hex[t->data[i] >> 4];
		out[o++] = hex[t->data[i] & 0xf];
	}
	if (o < outlen)
		out[o] = '\0';
	else
		out[outlen - 1] = '\0';
}

int
smtpc_dane_apply(SSL *ssl, const struct smtpc_tlsa *t, size_t n,
    const char *base, const char *nexthop)
{
	size_t added = 0;

	if (SSL_dane_enable(ssl, base) <= 0)
		return -1;
	/* RFC 7672 §3.1.1: DANE-EE binds the key; names and dates do not
	 * matter. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if (nexthop != NULL && strcasecmp(nexthop, base) != 0 &&
	    SSL_add1_host(ssl, nexthop) != 1)
		return -1;
	/* §3.2.3: DANE-TA names match like RFC 6125 (now RFC 9525)
	 * reference identifiers. */
	SSL_set_hostflags(ssl, TLSNAME_FLAGS);
	for (size_t i = 0; i < n; i++)
		if (SSL_dane_tlsa_add(ssl, t[i].usage, t[i].selector,
		    t[i].mtype, t[i].data, t[i].len) > 0)
			added++;
	return added > 0 ? 0 : -1;
}
