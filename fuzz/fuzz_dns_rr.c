/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for DNS answer decoding (dns_rr_decode): the packet
 * comes from the network through libunbound. The first input byte picks
 * the query type, the rest is the packet. Invariants checked:
 *  - a failure leaves no records and no canonical name;
 *  - on success the counts are within DNS_RR_MAX, the answer count of the
 *    header and DNS_CNAME_MAX, every record has the query type;
 *  - every name is a NUL-terminated printable string of bounded length,
 *    TXT text is NUL-terminated at len, lengths fit in the input;
 *  - decoding is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_rr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t fuzz_types[] = {
	DNS_T_A, DNS_T_NS, DNS_T_CNAME, DNS_T_PTR, DNS_T_MX, DNS_T_TXT,
	DNS_T_AAAA, DNS_T_TLSA,
};

static void
check_name(const char *s)
{
	size_t n;

	if (s == NULL)
		abort();
	n = strlen(s);
	if (n == 0 || n >= DNS_NAME_TEXT_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			abort();
}

static void
check_rr(const struct dns_rr *rr, uint16_t qtype, size_t size)
{
	if (rr->type != qtype)
		abort();
	switch (rr->type) {
	case DNS_T_MX:
		check_name(rr->u.mx.host);
		break;
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		check_name(rr->u.name);
		break;
	case DNS_T_TXT:
		if (rr->u.txt.text == NULL || rr->u.txt.len >= size ||
		    rr->u.txt.text[rr->u.txt.len] != '\0' ||
		    rr->u.txt.nstrings == 0)
			abort();
		break;
	case DNS_T_TLSA:
		if (rr->u.tlsa.data == NULL || rr->u.tlsa.len >= size)
			abort();
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer *a, *b;
	enum dns_rr_result r1, r2;
	uint16_t qtype;

	if (size < 1)
		return 0;
	qtype = fuzz_types[data[0] % (sizeof(fuzz_types) /
	    sizeof(fuzz_types[0]))];
	data++;
	size--;
	a = dns_answer_new();
	b = dns_answer_new();
	r1 = dns_rr_decode(data, size, qtype, a);
	r2 = dns_rr_decode(data, size, qtype, b);
	if (r1 != r2 || a->nrr != b->nrr || a->rcode != b->rcode)
		abort();
	if (r1 != DNS_RR_OK) {
		if (a->nrr != 0 || a->rr != NULL || a->canon != NULL ||
		    a->ncname != 0)
			abort();
		goto out;
	}
	check_name(a->qname);
	check_name(a->canon);
	if (size < 12 || a->nrr > DNS_RR_MAX ||
	    a->nrr > (size_t)(data[6] << 8 | data[7]) ||
	    a->ncname > DNS_CNAME_MAX || a->qtype != qtype ||
	    a->rcode > DNS_RCODE_SERVFAIL || a->sec != DNS_SEC_INSECURE)
		abort();
	if (a->ncname == 0 && strcmp(a->qname, a->canon) != 0)
		abort();
	for (size_t i = 0; i < a->nrr; i++)
		check_rr(&a->rr[i], qtype, size);
out:
	dns_answer_free(a);
	dns_answer_free(b);
	return 0;
}
