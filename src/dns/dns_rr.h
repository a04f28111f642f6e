/* SPDX-License-Identifier: ISC */
/*
 * Typed DNS answers: pure decoding of a wire-format response (RFC 1035 §4)
 * into the records of one question type, following the CNAME chain from the
 * question name (RFC 1034 §3.6.2) for at most DNS_CNAME_MAX hops.
 *
 * The packet is untrusted (it comes from the network through libunbound):
 * every length and compression pointer is checked, the number of answer
 * records is bounded by DNS_RR_MAX and the packet size by DNS_PACKET_MAX.
 * Nothing here does I/O or touches libunbound, so it is unit-tested on
 * hand-built packets and fuzzed (fuzz/fuzz_dns_rr.c).
 *
 * Domain names are returned in presentation form without the final dot
 * ("mx1.example.org"; the root is "."), with the case they had on the wire.
 * Bytes that are not printable ASCII, and '.', '\\', '"', ';', '(' and ')'
 * inside a label are written as \DDD (RFC 1035 §5.1), so a name is always a
 * printable C string that libunbound parses back to the same wire name.
 */
#ifndef SEALMAIL_DNS_DNS_RR_H
#define SEALMAIL_DNS_DNS_RR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 1035 §4.2.1 / §4.2.2: a DNS message is at most 65535 octets. */
#define DNS_PACKET_MAX		65535
/* Records of the answer section we look at; a larger answer is refused
 * rather than silently cut (a cut TXT set could hide a second SPF record). */
#define DNS_RR_MAX		256
/* CNAME hops followed from the question name (issue 3 scope). */
#define DNS_CNAME_MAX		8
/* RFC 1035 §2.3.4: a wire name is at most 255 octets; its text form at
 * most 4 characters per octet (\DDD), plus the NUL. */
#define DNS_NAME_WIRE_MAX	255
#define DNS_NAME_TEXT_MAX	(4 * DNS_NAME_WIRE_MAX + 1)

/* RR types we decode (IANA DNS parameters). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

/* Outcome of a lookup as the caller sees it. */
enum dns_rcode {
	DNS_RCODE_NOERROR,	/* records may still be empty (NODATA) */
	DNS_RCODE_NXDOMAIN,	/* the (final CNAME target) name does not exist */
	DNS_RCODE_SERVFAIL,	/* server failure, REFUSED, malformed answer */
	DNS_RCODE_TIMEOUT,	/* our deadline passed: a temperror */
};

/* DNSSEC status, with libunbound's numbering (sec 0/1/2). Bogus data is
 * delivered with NOERROR: code that needs authenticated data (DANE) must
 * check sec == DNS_SEC_SECURE, never the rcode alone. */
enum dns_sec {
	DNS_SEC_INSECURE = 0,	/* provably insecure, or no anchor covers it */
	DNS_SEC_BOGUS = 1,
	DNS_SEC_SECURE = 2,
};

struct dns_rr {
	uint16_t	type;
	uint32_t	ttl;
	union {
		uint8_t	a[4];			/* DNS_T_A, network order */
		uint8_t	aaaa[16];		/* DNS_T_AAAA */
		struct {
			uint16_t	 pref;
			char		*host;	/* "." for a null MX (RFC 7505) */
		} mx;
		char	*name;			/* DNS_T_PTR, DNS_T_CNAME, DNS_T_NS */
		struct {
			/* All character-strings concatenated with nothing in
			 * between (RFC 7208 §3.3, RFC 6376 §3.6.2.2); may hold
			 * NUL bytes, so use len. text[len] is a NUL. */
			char	*text;
			size_t	 len;
			unsigned nstrings;
		} txt;
		struct {
			uint8_t	 usage, selector, mtype;
			uint8_t	*data;		/* certificate association */
			size_t	 len;
		} tlsa;
	} u;
};

struct dns_answer {
	enum dns_rcode	 rcode;
	enum dns_sec	 sec;
	uint16_t	 qtype;
	char		*qname;		/* question name; NULL if none decoded */
	char		*canon;		/* name after CNAMEs (== qname if none) */
	unsigned	 ncname;	/* CNAME hops followed, <= DNS_CNAME_MAX */
	struct dns_rr	*rr;		/* records of qtype owned by canon */
	size_t		 nrr;		/* <= DNS_RR_MAX */
	char		*why;		/* why bogus / why failed, or NULL */
};

/* Result of decoding; everything but DNS_RR_OK leaves ans without records. */
enum dns_rr_result {
	DNS_RR_OK,
	DNS_RR_ERR_TRUNCATED,	/* a length runs past the packet */
	DNS_RR_ERR_FORMAT,	/* bad header, name, pointer or RDATA */
	DNS_RR_ERR_TOO_BIG,	/* packet > DNS_PACKET_MAX */
	DNS_RR_ERR_TOO_MANY,	/* answer section > DNS_RR_MAX records */
	DNS_RR_ERR_QUESTION,	/* not one question, or not of qtype */
	DNS_RR_ERR_CNAME,	/* CNAME chain longer than DNS_CNAME_MAX */
};

/* A zeroed answer (NOERROR, insecure, no records); free with
 * dns_answer_free(), which accepts NULL. */
struct dns_answer *dns_answer_new(void);
void dns_answer_free(struct dns_answer *ans);

/*
 * Decode the response pkt (len octets) to a query of type qtype into ans,
 * which must be fresh from dns_answer_new(). Sets qname, canon, ncname,
 * rcode (from the header: 0 NOERROR, 3 NXDOMAIN, anything else SERVFAIL)
 * and the records of type qtype owned by the end of the CNAME chain, in
 * packet order. Records of other types or classes are skipped; a record of
 * type qtype with malformed RDATA fails the whole answer. Leaves sec and
 * why alone. On failure ans has no records (qname may be set).
 */
enum dns_rr_result dns_rr_decode(const uint8_t *pkt, size_t len,
    uint16_t qtype, struct dns_answer *ans);

/* Static names for logs: "TXT", "NXDOMAIN", "secure", "format error". A
 * type we do not know is "TYPE?"; never NULL. */
const char *dns_rr_type_name(uint16_t type);
const char *dns_rcode_name(enum dns_rcode rcode);
const char *dns_sec_name(enum dns_sec sec);
const char *dns_rr_result_name(enum dns_rr_result r);

#endif
