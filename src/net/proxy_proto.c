/* SPDX-License-Identifier: ISC */
/* PROXY protocol v1/v2 header parser (see proxy_proto.h). No I/O. */
#include "net/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

enum {
	PP_SNIFF,	/* nothing yet: the first byte tells the version */
	PP_V1,		/* reading the text line */
	PP_V2_FIXED,	/* the 16 fixed bytes */
	PP_V2_ADDR,	/* the address block we keep */
	PP_V2_TLV,	/* TLVs: checked, skipped */
	PP_V2_SKIP,	/* LOCAL: the rest is discarded unread */
	PP_DONE,
};

static const uint8_t pp_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};
static const char pp_v1_sig[] = "PROXY ";

/* v2 address families and transports (the high and low nibble). */
#define PP_AF_UNSPEC	0x0
#define PP_AF_INET	0x1
#define PP_AF_INET6	0x2
#define PP_AF_UNIX	0x3
#define PP_TP_UNSPEC	0x0
#define PP_TP_STREAM	0x1
#define PP_TP_DGRAM	0x2

void
proxy_proto_init(struct proxy_proto *p)
{
	memset(p, 0, sizeof(*p));
	p->state = PP_SNIFF;
}

size_t
proxy_proto_want(const struct proxy_proto *p)
{
	switch (p->state) {
	case PP_SNIFF:
		/* "PROXY UNKNOWN\r\n" is 15 bytes: never more than that is
		 * sure to be ours before the version is known. */
		return 15;
	case PP_V1:
		return PROXY_PROTO_V1_MAX - p->have;
	case PP_V2_FIXED:
		return PROXY_PROTO_V2_FIXED - p->have;
	case PP_V2_ADDR:
		return p->addr_len - p->addr_have + p->rest;
	case PP_V2_TLV:
	case PP_V2_SKIP:
		return p->rest;
	default:
		return 0;
	}
}

/* A v1 port: decimal, 0..65535, no leading zero (spec §2.1). */
static bool
pp_v1_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* A v1 address of family af into ss (port set apart). */
static bool
pp_v1_addr(int af, const char *s, size_t n, struct sockaddr_storage *ss)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp) ||
	    strspn(s, "0123456789abcdefABCDEF:.") < n)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, tmp, &sin->sin_addr) == 1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1;
}

static void
pp_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * The whole v1 line (CRLF excluded, len bytes): "PROXY UNKNOWN[ ...]" or
 * "PROXY TCP4|TCP6 SRC DST SPORT DPORT", fields split by one space each.
 */
static enum proxy_proto_result
pp_v1_line(struct proxy_proto *p, const char *line, size_t len)
{
	const char *f[6];
	size_t fl[6], nf = 0, start = 0;
	uint16_t sport, dport;
	int af;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (nf == 6)
			return PROXY_PROTO_ERR_SYNTAX;
		f[nf] = line + start;
		fl[nf++] = i - start;
		start = i + 1;
		/* UNKNOWN may carry anything after it (spec §2.1). */
		if (nf == 2 && fl[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
			p->version = 1;
			p->has_addr = false;
			return PROXY_PROTO_DONE;
		}
	}
	if (nf != 6)
		return PROXY_PROTO_ERR_SYNTAX;
	if (fl[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
		af = AF_INET;
	else if (fl[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return PROXY_PROTO_ERR_SYNTAX;
	if (!pp_v1_addr(af, f[2], fl[2], &p->src) ||
	    !pp_v1_addr(af, f[3], fl[3], &p->dst) ||
	    !pp_v1_port(f[4], fl[4], &sport) ||
	    !pp_v1_port(f[5], fl[5], &dport))
		return PROXY_PROTO_ERR_SYNTAX;
	pp_set_port(&p->src, sport);
	pp_set_port(&p->dst, dport);
	p->version = 1;
	p->has_addr = true;
	return PROXY_PROTO_DONE;
}

static enum proxy_proto_result
pp_v1_byte(struct proxy_proto *p, uint8_t c)
{
	if (p->have == PROXY_PROTO_V1_MAX)
		return PROXY_PROTO_ERR_TOO_LONG;
	p->buf[p->have++] = c;
	if (p->have <= sizeof(pp_v1_sig) - 1) {
		if (c != (uint8_t)pp_v1_sig[p->have - 1])
			return PROXY_PROTO_ERR_SIGNATURE;
		return PROXY_PROTO_MORE;
	}
	if (c == '\n') {
		if (p->buf[p->have - 2] != '\r')
			return PROXY_PROTO_ERR_SYNTAX;
		return pp_v1_line(p, (const char *)p->buf, p->have - 2);
	}
	/* A bare CR, a control byte or 8-bit text: not a header line. */
	if (p->have >= 2 && p->buf[p->have - 2] == '\r')
		return PROXY_PROTO_ERR_SYNTAX;
	if ((c < 0x20 && c != '\r') || c > 0x7e)
		return PROXY_PROTO_ERR_SYNTAX;
	if (p->have == PROXY_PROTO_V1_MAX)
		return PROXY_PROTO_ERR_TOO_LONG;
	return PROXY_PROTO_MORE;
}

/* The 16 fixed bytes are in: check them and size what follows. */
static enum proxy_proto_result
pp_v2_fixed(struct proxy_proto *p)
{
	uint8_t vc = p->buf[12], ft = p->buf[13];
	size_t len = (size_t)p->buf[14] << 8 | p->buf[15];
	unsigned fam = ft >> 4, tp = ft & 0xf;

	if ((vc >> 4) != 0x2 || (vc & 0xf) > 0x1)
		return PROXY_PROTO_ERR_VERSION;
	p->version = 2;
	if ((vc & 0xf) == 0x0) {
		/* LOCAL: the family and the block are to be ignored. */
		p->local = true;
		p->rest = len;
		p->state = PP_V2_SKIP;
		return PROXY_PROTO_MORE;
	}
	if (fam > PP_AF_UNIX || tp > PP_TP_DGRAM)
		return PROXY_PROTO_ERR_FAMILY;
	switch (fam) {
	case PP_AF_INET:
		p->addr_len = 12;
		break;
	case PP_AF_INET6:
		p->addr_len = 36;
		break;
	case PP_AF_UNIX:
		p->addr_len = 216;
		break;
	default:
		p->addr_len = 0;
	}
	/* A TCP listener cannot stand for a datagram flow. */
	if ((fam == PP_AF_INET || fam == PP_AF_INET6) && tp != PP_TP_STREAM)
		return PROXY_PROTO_ERR_FAMILY;
	if (len < p->addr_len)
		return PROXY_PROTO_ERR_LENGTH;
	p->has_addr = fam == PP_AF_INET || fam == PP_AF_INET6;
	p->rest = len - p->addr_len;
	p->state = p->addr_len > 0 ? PP_V2_ADDR : PP_V2_TLV;
	return PROXY_PROTO_MORE;
}

static void
pp_v2_addr_done(struct proxy_proto *p)
{
	const uint8_t *a = p->addr;

	if (!p->has_addr)
		return;
	memset(&p->src, 0, sizeof(p->src));
	memset(&p->dst, 0, sizeof(p->dst));
	if (p->addr_len == 12) {
		struct sockaddr_in *s = (struct sockaddr_in *)&p->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&p->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);	/* both in network order */
		memcpy(&d->sin_port, a + 10, 2);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&p->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&p->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
	}
}

/* TLV bytes: a 3-byte head (type, 16-bit length), then the value. Each
 * must end inside the header (spec §2.2.7): one that runs past it would
 * make us read the session's bytes as the proxy's. */
static void
pp_v2_tlv(struct proxy_proto *p, const uint8_t *d, size_t n)
{
	while (n > 0) {
		if (p->tlv_left > 0) {
			size_t k = n < p->tlv_left ? n : p->tlv_left;
			p->tlv_left -= k;
			d += k;
			n -= k;
			continue;
		}
		p->tlv[p->tlv_have++] = *d++;
		n--;
		if (p->tlv_have == 3) {
			p->tlv_left = (size_t)p->tlv[1] << 8 | p->tlv[2];
			p->tlv_have = 0;
		}
	}
}

enum proxy_proto_result
proxy_proto_feed(struct proxy_proto *p, const uint8_t *data, size_t len,
    size_t *used)
{
	enum proxy_proto_result r = PROXY_PROTO_MORE;
	size_t i = 0;

	while (i < len && r == PROXY_PROTO_MORE) {
		switch (p->state) {
		case PP_SNIFF:
			if (data[i] == 'P')
				p->state = PP_V1;
			else if (data[i] == pp_v2_sig[0])
				p->state = PP_V2_FIXED;
			else
				r = PROXY_PROTO_ERR_SIGNATURE;
			break;
		case PP_V1:
			r = pp_v1_byte(p, data[i++]);
			break;
		case PP_V2_FIXED:
			p->buf[p->have] = data[i++];
			if (p->have < sizeof(pp_v2_sig) &&
			    p->buf[p->have] != pp_v2_sig[p->have])
				r = PROXY_PROTO_ERR_SIGNATURE;
			else if (++p->have == PROXY_PROTO_V2_FIXED)
				r = pp_v2_fixed(p);
			break;
		case PP_V2_ADDR: {
			size_t k = p->addr_len - p->addr_have;
			if (k > len - i)
				k = len - i;
			memcpy(p->addr + p->addr_have, data + i, k);
			p->addr_have += k;
			i += k;
			if (p->addr_have == p->addr_len) {
				pp_v2_addr_done(p);
				p->state = PP_V2_TLV;
			}
			break;
		}
		case PP_V2_TLV:
		case PP_V2_SKIP: {
			size_t k = p->rest < len - i ? p->rest : len - i;
			if (p->state == PP_V2_TLV)
				pp_v2_tlv(p, data + i, k);
			p->rest -= k;
			i += k;
			break;
		}
		default:
			return PROXY_PROTO_ERR_SIGNATURE;
		}
		/* The end of a v2 header is known by count, and may come
		 * with the last byte fed (or with none: a LOCAL or UNSPEC
		 * header of length 0). */
		if (r == PROXY_PROTO_MORE && (p->state == PP_V2_TLV ||
		    p->state == PP_V2_SKIP) && p->rest == 0) {
			if (p->tlv_have != 0 || p->tlv_left != 0)
				r = PROXY_PROTO_ERR_TLV;
			else
				r = PROXY_PROTO_DONE;
		}
	}
	*used = i;
	p->state = r == PROXY_PROTO_MORE ? p->state : PP_DONE;
	return r;
}

const char *
proxy_proto_result_text(enum proxy_proto_result r)
{
	switch (r) {
	case PROXY_PROTO_MORE:
		return "incomplete";
	case PROXY_PROTO_DONE:
		return "ok";
	case PROXY_PROTO_ERR_SIGNATURE:
		return "no-proxy-header";
	case PROXY_PROTO_ERR_SYNTAX:
		return "v1-syntax";
	case PROXY_PROTO_ERR_TOO_LONG:
		return "v1-too-long";
	case PROXY_PROTO_ERR_VERSION:
		return "v2-version";
	case PROXY_PROTO_ERR_FAMILY:
		return "v2-family";
	case PROXY_PROTO_ERR_LENGTH:
		return "v2-length";
	case PROXY_PROTO_ERR_TLV:
		return "v2-tlv";
	}
	return "unknown";
}
