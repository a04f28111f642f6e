/* SPDX-License-Identifier: ISC */
/*
 * Decoding of DNS responses (RFC 1035 §4.1) into typed records; see
 * dns_rr.h. The packet is untrusted: every read is bounds-checked against
 * the packet length, compression pointers must point strictly backwards
 * (so they cannot loop) and names are capped at 255 wire octets.
 */
#include "dns/dns_rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

#define DNS_HDR_LEN	12
#define DNS_CLASS_IN	1

/* A record of the answer section, located but not yet decoded. */
struct dns_raw {
	size_t		owner;		/* offset of the owner name */
	uint16_t	type;
	uint16_t	cls;
	uint32_t	ttl;
	size_t		rdoff;
	size_t		rdlen;
};

struct dns_wname {
	uint8_t	b[DNS_NAME_WIRE_MAX];
	size_t	len;
};

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Expand the name at pkt[off] into out (uncompressed wire form). *next is
 * set to the offset just past the name where it sits (after the first
 * pointer, if any). A pointer must point before the octet where it was
 * read, so each jump moves strictly backwards and the walk ends.
 */
static enum dns_rr_result
dns_name_read(const uint8_t *pkt, size_t len, size_t off,
    struct dns_wname *out, size_t *next)
{
	size_t pos = off, limit = off;
	bool jumped = false;

	out->len = 0;
	for (;;) {
		if (pos >= len)
			return DNS_RR_ERR_TRUNCATED;
		uint8_t l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return DNS_RR_ERR_TRUNCATED;
			size_t ptr = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			/* Strictly backwards from the start of this name
			 * segment: blocks pointer loops. */
			if (ptr >= limit)
				return DNS_RR_ERR_FORMAT;
			pos = limit = ptr;
			continue;
		}
		if ((l & 0xc0) != 0)
			return DNS_RR_ERR_FORMAT;	/* RFC 6891 §5 */
		if (out->len + 1 + l > DNS_NAME_WIRE_MAX)
			return DNS_RR_ERR_FORMAT;
		if (pos + 1 + l > len)
			return DNS_RR_ERR_TRUNCATED;
		memcpy(out->b + out->len, pkt + pos, 1 + (size_t)l);
		out->len += 1 + (size_t)l;
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*next = pos;
	return DNS_RR_OK;
}

/* RFC 4343: names compare case-insensitively in ASCII only. */
static bool
dns_name_eq(const struct dns_wname *a, const struct dns_wname *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		uint8_t x = a->b[i], y = b->b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* Presentation form (RFC 1035 §5.1) as a new heap string, no final dot. */
static char *
dns_name_text(const struct dns_wname *n)
{
	char out[DNS_NAME_TEXT_MAX];
	size_t o = 0, i = 0;

	while (i < n->len && n->b[i] != 0) {
		uint8_t l = n->b[i++];
		if (o > 0)
			out[o++] = '.';
		for (uint8_t k = 0; k < l; k++, i++) {
			uint8_t c = n->b[i];
			if (c > 0x20 && c < 0x7f && strchr(".\\\";()", c) ==
			    NULL) {
				out[o++] = (char)c;
				continue;
			}
			snprintf(out + o, 5, "\\%03u", c);
			o += 4;
		}
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return xstrdup(out);
}

/* Locate the qdcount == 1 question; checks its type and class. */
static enum dns_rr_result
dns_question(const uint8_t *pkt, size_t len, uint16_t qtype,
    struct dns_wname *qname, size_t *next)
{
	enum dns_rr_result r;
	size_t p;

	if (rd16(pkt + 4) != 1)
		return DNS_RR_ERR_QUESTION;
	if ((r = dns_name_read(pkt, len, DNS_HDR_LEN, qname, &p)) != DNS_RR_OK)
		return r;
	if (p + 4 > len)
		return DNS_RR_ERR_TRUNCATED;
	if (rd16(pkt + p) != qtype || rd16(pkt + p + 2) != DNS_CLASS_IN)
		return DNS_RR_ERR_QUESTION;
	*next = p + 4;
	return DNS_RR_OK;
}

/* Locate the n records of the answer section starting at off. */
static enum dns_rr_result
dns_answers(const uint8_t *pkt, size_t len, size_t off, struct dns_raw *raw,
    size_t n)
{
	struct dns_wname tmp;
	enum dns_rr_result r;

	for (size_t i = 0; i < n; i++) {
		raw[i].owner = off;
		if ((r = dns_name_read(pkt, len, off, &tmp, &off)) != DNS_RR_OK)
			return r;
		if (off + 10 > len)
			return DNS_RR_ERR_TRUNCATED;
		raw[i].type = rd16(pkt + off);
		raw[i].cls = rd16(pkt + off + 2);
		raw[i].ttl = rd32(pkt + off + 4);
		raw[i].rdlen = rd16(pkt + off + 8);
		raw[i].rdoff = off + 10;
		off = raw[i].rdoff + raw[i].rdlen;
		if (off > len)
			return DNS_RR_ERR_TRUNCATED;
	}
	return DNS_RR_OK;
}

/* True if raw record r is of class IN, of type, and owned by name. */
static bool
dns_raw_match(const uint8_t *pkt, size_t len, const struct dns_raw *r,
    uint16_t type, const struct dns_wname *name)
{
	struct dns_wname owner;
	size_t next;

	if (r->type != type || r->cls != DNS_CLASS_IN)
		return false;
	/* dns_answers() already read this name successfully. */
	if (dns_name_read(pkt, len, r->owner, &owner, &next) != DNS_RR_OK)
		return false;
	return dns_name_eq(&owner, name);
}

/* Read a name that must fill rdata exactly from rdoff to end. */
static enum dns_rr_result
dns_rdata_name(const uint8_t *pkt, size_t rdoff, size_t end, char **out)
{
	struct dns_wname n;
	enum dns_rr_result r;
	size_t next;

	/* Names in RDATA of well-known types may be compressed (RFC 3597
	 * §4); reading against the whole packet allows that, and the end
	 * check keeps the name inside its RDATA. */
	if ((r = dns_name_read(pkt, end, rdoff, &n, &next)) != DNS_RR_OK)
		return r;
	if (next != end)
		return DNS_RR_ERR_FORMAT;
	*out = dns_name_text(&n);
	return DNS_RR_OK;
}

/* RFC 1035 §3.3.14 character-strings, joined (RFC 7208 §3.3). */
static enum dns_rr_result
dns_rdata_txt(const uint8_t *p, size_t rdlen, struct dns_rr *rr)
{
	size_t i = 0, o = 0;
	char *text;

	if (rdlen == 0)
		return DNS_RR_ERR_FORMAT;
	text = xmalloc(rdlen + 1);
	rr->u.txt.nstrings = 0;
	while (i < rdlen) {
		size_t l = p[i++];
		if (i + l > rdlen) {
			free(text);
			return DNS_RR_ERR_FORMAT;
		}
		memcpy(text + o, p + i, l);
		o += l;
		i += l;
		rr->u.txt.nstrings++;
	}
	text[o] = '\0';
	rr->u.txt.text = text;
	rr->u.txt.len = o;
	return DNS_RR_OK;
}

/* Decode the RDATA of one record of a type we know. */
static enum dns_rr_result
dns_rdata(const uint8_t *pkt, const struct dns_raw *raw, struct dns_rr *rr)
{
	const uint8_t *p = pkt + raw->rdoff;
	size_t n = raw->rdlen, end = raw->rdoff + raw->rdlen;

	rr->type = raw->type;
	rr->ttl = raw->ttl;
	switch (raw->type) {
	case DNS_T_A:
		if (n != 4)
			return DNS_RR_ERR_FORMAT;
		memcpy(rr->u.a, p, 4);
		return DNS_RR_OK;
	case DNS_T_AAAA:
		if (n != 16)
			return DNS_RR_ERR_FORMAT;
		memcpy(rr->u.aaaa, p, 16);
		return DNS_RR_OK;
	case DNS_T_MX:
		if (n < 3)
			return DNS_RR_ERR_FORMAT;
		rr->u.mx.pref = rd16(p);
		return dns_rdata_name(pkt, raw->rdoff + 2, end,
		    &rr->u.mx.host);
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		return dns_rdata_name(pkt, raw->rdoff, end, &rr->u.name);
	case DNS_T_TXT:
		return dns_rdata_txt(p, n, rr);
	case DNS_T_TLSA:
		if (n < 3)
			return DNS_RR_ERR_FORMAT;
		rr->u.tlsa.usage = p[0];
		rr->u.tlsa.selector = p[1];
		rr->u.tlsa.mtype = p[2];
		rr->u.tlsa.len = n - 3;
		rr->u.tlsa.data = xmalloc(n - 3 + 1);
		memcpy(rr->u.tlsa.data, p + 3, n - 3);
		return DNS_RR_OK;
	default:
		return DNS_RR_ERR_QUESTION;	/* dns_rr_decode1() checked */
	}
}

static void
dns_rr_clear(struct dns_rr *rr)
{
	switch (rr->type) {
	case DNS_T_MX:
		free(rr->u.mx.host);
		break;
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		free(rr->u.name);
		break;
	case DNS_T_TXT:
		free(rr->u.txt.text);
		break;
	case DNS_T_TLSA:
		free(rr->u.tlsa.data);
		break;
	default:
		break;
	}
}

static void
dns_answer_drop_rrs(struct dns_answer *ans)
{
	for (size_t i = 0; i < ans->nrr; i++)
		dns_rr_clear(&ans->rr[i]);
	free(ans->rr);
	ans->rr = NULL;
	ans->nrr = 0;
}

struct dns_answer *
dns_answer_new(void)
{
	return xcalloc(1, sizeof(struct dns_answer));
}

void
dns_answer_free(struct dns_answer *ans)
{
	if (ans == NULL)
		return;
	dns_answer_drop_rrs(ans);
	free(ans->qname);
	free(ans->canon);
	free(ans->why);
	free(ans);
}

/*
 * Follow CNAMEs from *cur (RFC 1034 §3.6.2): while the name has no record
 * of qtype but has a CNAME, move to its target. Unbound puts the chain in
 * the answer section, so no further queries are needed here.
 */
static enum dns_rr_result
dns_follow(const uint8_t *pkt, size_t len, const struct dns_raw *raw,
    size_t n, uint16_t qtype, struct dns_wname *cur, unsigned *hops)
{
	*hops = 0;
	if (qtype == DNS_T_CNAME)
		return DNS_RR_OK;
	for (;;) {
		size_t i, cname = n;
		for (i = 0; i < n; i++) {
			if (dns_raw_match(pkt, len, &raw[i], qtype, cur))
				return DNS_RR_OK;
			if (cname == n && dns_raw_match(pkt, len, &raw[i],
			    DNS_T_CNAME, cur))
				cname = i;
		}
		if (cname == n)
			return DNS_RR_OK;
		if (*hops == DNS_CNAME_MAX)
			return DNS_RR_ERR_CNAME;
		size_t next, end = raw[cname].rdoff + raw[cname].rdlen;
		enum dns_rr_result r = dns_name_read(pkt, end,
		    raw[cname].rdoff, cur, &next);
		if (r != DNS_RR_OK)
			return r;
		if (next != end)
			return DNS_RR_ERR_FORMAT;
		(*hops)++;
	}
}

/* Decode every record of qtype owned by name into ans->rr. */
static enum dns_rr_result
dns_collect(const uint8_t *pkt, size_t len, const struct dns_raw *raw,
    size_t n, uint16_t qtype, const struct dns_wname *name,
    struct dns_answer *ans)
{
	enum dns_rr_result r;

	ans->rr = xcalloc(n > 0 ? n : 1, sizeof(struct dns_rr));
	for (size_t i = 0; i < n; i++) {
		if (!dns_raw_match(pkt, len, &raw[i], qtype, name))
			continue;
		struct dns_rr *rr = &ans->rr[ans->nrr];
		/* Counted even when it fails: dns_rr_clear() copes with a
		 * half-decoded record (its pointers are NULL). */
		r = dns_rdata(pkt, &raw[i], rr);
		ans->nrr++;
		if (r != DNS_RR_OK)
			return r;
	}
	return DNS_RR_OK;
}

static bool
dns_type_known(uint16_t t)
{
	return t == DNS_T_A || t == DNS_T_NS || t == DNS_T_CNAME ||
	    t == DNS_T_PTR || t == DNS_T_MX || t == DNS_T_TXT ||
	    t == DNS_T_AAAA || t == DNS_T_TLSA;
}

static enum dns_rr_result
dns_rr_decode1(const uint8_t *pkt, size_t len, uint16_t qtype,
    struct dns_answer *ans)
{
	struct dns_wname cur;
	struct dns_raw *raw;
	enum dns_rr_result r;
	size_t off, n;

	if (!dns_type_known(qtype))
		return DNS_RR_ERR_QUESTION;
	if (len > DNS_PACKET_MAX)
		return DNS_RR_ERR_TOO_BIG;
	if (len < DNS_HDR_LEN)
		return DNS_RR_ERR_TRUNCATED;
	if ((pkt[2] & 0x80) == 0)
		return DNS_RR_ERR_FORMAT;	/* not a response (QR) */
	if ((r = dns_question(pkt, len, qtype, &cur, &off)) != DNS_RR_OK)
		return r;
	ans->qtype = qtype;
	ans->qname = dns_name_text(&cur);
	switch (pkt[3] & 0x0f) {
	case 0:
		ans->rcode = DNS_RCODE_NOERROR;
		break;
	case 3:
		ans->rcode = DNS_RCODE_NXDOMAIN;
		break;
	default:
		ans->rcode = DNS_RCODE_SERVFAIL;
		break;
	}
	n = rd16(pkt + 6);
	if (n > DNS_RR_MAX)
		return DNS_RR_ERR_TOO_MANY;
	raw = xcalloc(n > 0 ? n : 1, sizeof(*raw));
	if ((r = dns_answers(pkt, len, off, raw, n)) == DNS_RR_OK &&
	    (r = dns_follow(pkt, len, raw, n, qtype, &cur, &ans->ncname)) ==
	    DNS_RR_OK) {
		ans->canon = dns_name_text(&cur);
		r = dns_collect(pkt, len, raw, n, qtype, &cur, ans);
	}
	free(raw);
	return r;
}

enum dns_rr_result
dns_rr_decode(const uint8_t *pkt, size_t len, uint16_t qtype,
    struct dns_answer *ans)
{
	enum dns_rr_result r;

	r = dns_rr_decode1(pkt, len, qtype, ans);
	if (r != DNS_RR_OK) {
		dns_answer_drop_rrs(ans);
		free(ans->canon);
		ans->canon = NULL;
		ans->ncname = 0;
	}
	return r;
}

const char *
dns_rr_type_name(uint16_t type)
{
	switch (type) {
	case DNS_T_A:		return "A";
	case DNS_T_NS:		return "NS";
	case DNS_T_CNAME:	return "CNAME";
	case DNS_T_PTR:		return "PTR";
	case DNS_T_MX:		return "MX";
	case DNS_T_TXT:		return "TXT";
	case DNS_T_AAAA:	return "AAAA";
	case DNS_T_TLSA:	return "TLSA";
	default:		return "TYPE?";
	}
}

const char *
dns_rcode_name(enum dns_rcode rcode)
{
	switch (rcode) {
	case DNS_RCODE_NOERROR:		return "NOERROR";
	case DNS_RCODE_NXDOMAIN:	return "NXDOMAIN";
	case DNS_RCODE_SERVFAIL:	return "SERVFAIL";
	case DNS_RCODE_TIMEOUT:		return "TIMEOUT";
	}
	return "RCODE?";
}

const char *
dns_sec_name(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SEC_INSECURE:	return "insecure";
	case DNS_SEC_BOGUS:	return "bogus";
	case DNS_SEC_SECURE:	return "secure";
	}
	return "sec?";
}

const char *
dns_rr_result_name(enum dns_rr_result r)
{
	switch (r) {
	case DNS_RR_OK:			return "ok";
	case DNS_RR_ERR_TRUNCATED:	return "truncated packet";
	case DNS_RR_ERR_FORMAT:		return "format error";
	case DNS_RR_ERR_TOO_BIG:	return "packet too big";
	case DNS_RR_ERR_TOO_MANY:	return "too many records";
	case DNS_RR_ERR_QUESTION:	return "question mismatch";
	case DNS_RR_ERR_CNAME:		return "CNAME chain too long";
	}
	return "result?";
}
