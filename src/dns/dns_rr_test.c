/* SPDX-License-Identifier: ISC */
/* Unit tests for DNS answer decoding, on hand-built wire packets: typed
 * records, TXT joining, CNAME chains and their bound, compression, and the
 * rejection of malformed packets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_rr.h"

/* A packet under construction. */
struct rrt_pkt {
	uint8_t	b[8192];
	size_t	n;
	size_t	rdlen_at;	/* offset of the open record's RDLENGTH */
};

static void
rrt_u8(struct rrt_pkt *p, uint8_t v)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = v;
}

static void
rrt_u16(struct rrt_pkt *p, uint16_t v)
{
	rrt_u8(p, (uint8_t)(v >> 8));
	rrt_u8(p, (uint8_t)v);
}

static void
rrt_bytes(struct rrt_pkt *p, const void *s, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

/* A dotted name, uncompressed; "" is the root. */
static void
rrt_name(struct rrt_pkt *p, const char *name)
{
	while (*name != '\0') {
		size_t l = strcspn(name, ".");
		rrt_u8(p, (uint8_t)l);
		rrt_bytes(p, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	rrt_u8(p, 0);
}

static void
rrt_ptr(struct rrt_pkt *p, uint16_t off)
{
	rrt_u16(p, (uint16_t)(0xc000 | off));
}

/* Header (QR set, rcode) and the question. */
static void
rrt_start(struct rrt_pkt *p, unsigned rcode, uint16_t ancount,
    const char *qname, uint16_t qtype)
{
	memset(p, 0, sizeof(*p));
	rrt_u16(p, 0x1234);
	rrt_u16(p, (uint16_t)(0x8180 | rcode));
	rrt_u16(p, 1);
	rrt_u16(p, ancount);
	rrt_u16(p, 0);
	rrt_u16(p, 0);
	rrt_name(p, qname);
	rrt_u16(p, qtype);
	rrt_u16(p, 1);
}

/* Record header with owner already written; RDLENGTH fixed by rrt_end. */
static void
rrt_rr(struct rrt_pkt *p, uint16_t type, uint16_t cls)
{
	rrt_u16(p, type);
	rrt_u16(p, cls);
	rrt_u16(p, 0);
	rrt_u16(p, 3600);
	p->rdlen_at = p->n;
	rrt_u16(p, 0);
}

static void
rrt_end(struct rrt_pkt *p)
{
	size_t l = p->n - p->rdlen_at - 2;

	p->b[p->rdlen_at] = (uint8_t)(l >> 8);
	p->b[p->rdlen_at + 1] = (uint8_t)l;
}

static enum dns_rr_result
rrt_decode(struct rrt_pkt *p, uint16_t qtype, struct dns_answer **out)
{
	*out = dns_answer_new();
	return dns_rr_decode(p->b, p->n, qtype, *out);
}

static void
test_txt_join(void **state)
{
	struct dns_answer *a;
	struct rrt_pkt p;

	(void)state;
	rrt_start(&p, 0, 2, "example.org", DNS_T_TXT);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_TXT, 1);
	rrt_bytes(&p, "\003v=s\000\004pf1 ", 10);
	rrt_end(&p);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_TXT, 1);
	rrt_bytes(&p, "\003a\000b", 4);	/* a NUL inside the text */
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_TXT, &a), DNS_RR_OK);
	assert_int_equal(a->rcode, DNS_RCODE_NOERROR);
	assert_int_equal(a->nrr, 2);
	assert_string_equal(a->qname, "example.org");
	assert_string_equal(a->canon, "example.org");
	assert_int_equal(a->rr[0].ttl, 3600);
	assert_int_equal(a->rr[0].u.txt.nstrings, 3);
	assert_int_equal(a->rr[0].u.txt.len, 7);
	assert_string_equal(a->rr[0].u.txt.text, "v=spf1 ");
	assert_int_equal(a->rr[1].u.txt.len, 3);
	assert_memory_equal(a->rr[1].u.txt.text, "a\0b", 4);
	dns_answer_free(a);
	/* A string running past its RDATA. */
	rrt_start(&p, 0, 1, "example.org", DNS_T_TXT);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_TXT, 1);
	rrt_bytes(&p, "\005abc", 4);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_TXT, &a), DNS_RR_ERR_FORMAT);
	assert_int_equal(a->nrr, 0);
	assert_null(a->rr);
	dns_answer_free(a);
}

static void
test_mx_compressed(void **state)
{
	struct dns_answer *a;
	struct rrt_pkt p;
	size_t mx1;

	(void)state;
	rrt_start(&p, 0, 3, "Example.ORG", DNS_T_MX);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_MX, 1);
	rrt_u16(&p, 10);
	mx1 = p.n;
	rrt_u8(&p, 3);
	rrt_bytes(&p, "mx1", 3);
	rrt_ptr(&p, 12);
	rrt_end(&p);
	/* Owner spelled out in another case; host = pointer to mx1. */
	rrt_name(&p, "example.org");
	rrt_rr(&p, DNS_T_MX, 1);
	rrt_u16(&p, 20);
	rrt_ptr(&p, (uint16_t)mx1);
	rrt_end(&p);
	/* Class CH: skipped. */
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_MX, 3);
	rrt_u16(&p, 5);
	rrt_u8(&p, 0);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_MX, &a), DNS_RR_OK);
	assert_int_equal(a->nrr, 2);
	assert_int_equal(a->rr[0].u.mx.pref, 10);
	assert_string_equal(a->rr[0].u.mx.host, "mx1.Example.ORG");
	assert_int_equal(a->rr[1].u.mx.pref, 20);
	assert_string_equal(a->rr[1].u.mx.host, "mx1.Example.ORG");
	dns_answer_free(a);
	/* Null MX (RFC 7505). */
	rrt_start(&p, 0, 1, "example.org", DNS_T_MX);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_MX, 1);
	rrt_u16(&p, 0);
	rrt_u8(&p, 0);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_MX, &a), DNS_RR_OK);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.mx.host, ".");
	dns_answer_free(a);
	/* A host that does not fill the RDATA. */
	rrt_start(&p, 0, 1, "example.org", DNS_T_MX);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_MX, 1);
	rrt_u16(&p, 0);
	rrt_bytes(&p, "\000\000", 2);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_MX, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
}

/* qname c0.t with hops CNAMEs c0 -> c1 -> ... -> c<hops>, then an A. */
static void
rrt_chain(struct rrt_pkt *p, unsigned hops, bool loop)
{
	char name[16], target[16];

	rrt_start(p, 0, (uint16_t)(hops + 1), "c0.t", DNS_T_A);
	for (unsigned i = 0; i < hops; i++) {
		snprintf(name, sizeof(name), "c%u.t", i);
		snprintf(target, sizeof(target), "c%u.t",
		    loop && i == hops - 1 ? 0 : i + 1);
		rrt_name(p, name);
		rrt_rr(p, DNS_T_CNAME, 1);
		rrt_name(p, target);
		rrt_end(p);
	}
	snprintf(name, sizeof(name), "c%u.t", hops);
	rrt_name(p, name);
	rrt_rr(p, DNS_T_A, 1);
	rrt_bytes(p, "\300\000\002\001", 4);
	rrt_end(p);
}

static void
test_cname_chain(void **state)
{
	struct dns_answer *a;
	struct rrt_pkt p;

	(void)state;
	rrt_chain(&p, 2, false);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_OK);
	assert_int_equal(a->ncname, 2);
	assert_string_equal(a->qname, "c0.t");
	assert_string_equal(a->canon, "c2.t");
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.a[0], 192);
	dns_answer_free(a);
	rrt_chain(&p, DNS_CNAME_MAX, false);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_OK);
	assert_int_equal(a->ncname, DNS_CNAME_MAX);
	assert_int_equal(a->nrr, 1);
	dns_answer_free(a);
	rrt_chain(&p, DNS_CNAME_MAX + 1, false);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_CNAME);
	assert_int_equal(a->nrr, 0);
	assert_null(a->canon);
	dns_answer_free(a);
	/* c0 -> c1 -> c2 -> c0: bounded, not endless. */
	rrt_chain(&p, 3, true);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_CNAME);
	dns_answer_free(a);
	/* Asking for the CNAME itself does not follow it. */
	rrt_start(&p, 0, 1, "c0.t", DNS_T_CNAME);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_CNAME, 1);
	rrt_name(&p, "c1.t");
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_CNAME, &a), DNS_RR_OK);
	assert_int_equal(a->ncname, 0);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.name, "c1.t");
	dns_answer_free(a);
}

static void
test_rcodes(void **state)
{
	static const struct {
		unsigned	wire;
		enum dns_rcode	want;
	} cases[] = {
		{ 0, DNS_RCODE_NOERROR }, { 3, DNS_RCODE_NXDOMAIN },
		{ 2, DNS_RCODE_SERVFAIL }, { 5, DNS_RCODE_SERVFAIL },
		{ 1, DNS_RCODE_SERVFAIL },
	};
	struct dns_answer *a;
	struct rrt_pkt p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rrt_start(&p, cases[i].wire, 0, "nope.example", DNS_T_A);
		assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_OK);
		assert_int_equal(a->rcode, cases[i].want);
		assert_int_equal(a->nrr, 0);
		dns_answer_free(a);
	}
}

static void
test_types(void **state)
{
	struct dns_answer *a;
	struct rrt_pkt p;

	(void)state;
	rrt_start(&p, 0, 1, "h.example", DNS_T_AAAA);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_AAAA, 1);
	rrt_bytes(&p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_AAAA, &a), DNS_RR_OK);
	assert_int_equal(a->rr[0].u.aaaa[15], 1);
	dns_answer_free(a);
	rrt_start(&p, 0, 1, "_25._tcp.mx.example", DNS_T_TLSA);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_TLSA, 1);
	rrt_bytes(&p, "\003\001\001\xbe\xb3\x92", 6);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_TLSA, &a), DNS_RR_OK);
	assert_int_equal(a->rr[0].u.tlsa.usage, 3);
	assert_int_equal(a->rr[0].u.tlsa.selector, 1);
	assert_int_equal(a->rr[0].u.tlsa.mtype, 1);
	assert_int_equal(a->rr[0].u.tlsa.len, 3);
	assert_memory_equal(a->rr[0].u.tlsa.data, "\xbe\xb3\x92", 3);
	dns_answer_free(a);
	/* PTR target with bytes that need escaping. */
	rrt_start(&p, 0, 1, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_PTR, 1);
	rrt_bytes(&p, "\005a.b \377\007example\000", 15);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_PTR, &a), DNS_RR_OK);
	assert_string_equal(a->rr[0].u.name, "a\\046b\\032\\255.example");
	dns_answer_free(a);
	/* An A record that is not 4 octets. */
	rrt_start(&p, 0, 1, "h.example", DNS_T_A);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_A, 1);
	rrt_bytes(&p, "\001\002\003", 3);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
	/* A type we do not decode. */
	rrt_start(&p, 0, 0, "h.example", 6);
	assert_int_equal(rrt_decode(&p, 6, &a), DNS_RR_ERR_QUESTION);
	dns_answer_free(a);
}

static void
test_malformed(void **state)
{
	struct dns_answer *a;
	struct rrt_pkt p;
	size_t at;

	(void)state;
	/* Short header. */
	rrt_start(&p, 0, 0, "x", DNS_T_A);
	p.n = 11;
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_TRUNCATED);
	dns_answer_free(a);
	/* Not a response. */
	rrt_start(&p, 0, 0, "x", DNS_T_A);
	p.b[2] &= 0x7f;
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
	/* Question of another type; no question. */
	rrt_start(&p, 0, 0, "x", DNS_T_MX);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_QUESTION);
	dns_answer_free(a);
	rrt_start(&p, 0, 0, "x", DNS_T_A);
	p.b[5] = 0;
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_QUESTION);
	dns_answer_free(a);
	/* Pointer to itself, and a forward pointer. */
	rrt_start(&p, 0, 1, "x", DNS_T_A);
	at = p.n;
	rrt_ptr(&p, (uint16_t)at);
	rrt_rr(&p, DNS_T_A, 1);
	rrt_bytes(&p, "\001\002\003\004", 4);
	rrt_end(&p);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
	p.b[at + 1] = (uint8_t)(at + 2);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
	/* RDATA past the end. */
	rrt_start(&p, 0, 1, "x", DNS_T_A);
	rrt_ptr(&p, 12);
	rrt_rr(&p, DNS_T_A, 1);
	rrt_bytes(&p, "\001\002\003\004", 4);
	rrt_end(&p);
	p.n -= 1;
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_TRUNCATED);
	dns_answer_free(a);
	/* More answers announced than present. */
	rrt_start(&p, 0, 2, "x", DNS_T_A);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_TRUNCATED);
	dns_answer_free(a);
	/* Over DNS_RR_MAX. */
	rrt_start(&p, 0, DNS_RR_MAX + 1, "x", DNS_T_A);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_TOO_MANY);
	dns_answer_free(a);
	/* A question name over 255 octets (5 x 63-octet labels). */
	memset(&p, 0, sizeof(p));
	rrt_bytes(&p, "\x12\x34\x81\x80\0\1\0\0\0\0\0\0", 12);
	for (int i = 0; i < 5; i++) {
		rrt_u8(&p, 63);
		for (int k = 0; k < 63; k++)
			rrt_u8(&p, 'a');
	}
	rrt_u8(&p, 0);
	rrt_u16(&p, DNS_T_A);
	rrt_u16(&p, 1);
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
	/* EDNS extended label type (RFC 6891 §5). */
	rrt_start(&p, 0, 0, "x", DNS_T_A);
	p.b[12] = 0x41;
	assert_int_equal(rrt_decode(&p, DNS_T_A, &a), DNS_RR_ERR_FORMAT);
	dns_answer_free(a);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(dns_rr_type_name(DNS_T_TLSA), "TLSA");
	assert_string_equal(dns_rr_type_name(999), "TYPE?");
	assert_string_equal(dns_rcode_name(DNS_RCODE_TIMEOUT), "TIMEOUT");
	assert_string_equal(dns_sec_name(DNS_SEC_BOGUS), "bogus");
	assert_string_equal(dns_rr_result_name(DNS_RR_ERR_CNAME),
	    "CNAME chain too long");
	dns_answer_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_join),
		cmocka_unit_test(test_mx_compressed),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_rcodes),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
