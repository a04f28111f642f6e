/* SPDX-License-Identifier: ISC */
/* Unit tests for the PROXY protocol parser (proxy_proto.h): the spec's
 * examples and worst cases, every header fed whole and a byte at a time
 * with session bytes behind it, and malformed headers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "net/proxy_proto.h"

/* What follows the header on the wire: it must never be taken. */
static const char trailer[] = "\x16\x03\x01EHLO x\r\n";

/* Feed hdr (n bytes) followed by the trailer, whole and then a byte at
 * a time; both must give r, and with DONE take exactly n bytes. */
static void
feed_both(struct proxy_proto *p, const uint8_t *hdr, size_t n,
    enum proxy_proto_result want)
{
	uint8_t in[1024];
	size_t used, total = 0;
	enum proxy_proto_result r = PROXY_PROTO_MORE;

	assert_true(n + sizeof(trailer) <= sizeof(in));
	memcpy(in, hdr, n);
	memcpy(in + n, trailer, sizeof(trailer) - 1);

	proxy_proto_init(p);
	r = proxy_proto_feed(p, in, n + sizeof(trailer) - 1, &used);
	assert_int_equal(r, want);
	if (want == PROXY_PROTO_DONE)
		assert_int_equal(used, n);

	proxy_proto_init(p);
	for (size_t i = 0; i < n + sizeof(trailer) - 1; i++) {
		if (want == PROXY_PROTO_DONE || r == PROXY_PROTO_MORE)
			assert_true(proxy_proto_want(p) >= 1);
		r = proxy_proto_feed(p, in + i, 1, &used);
		total += used;
		if (r != PROXY_PROTO_MORE)
			break;
		assert_int_equal(used, 1);
	}
	assert_int_equal(r, want);
	if (want == PROXY_PROTO_DONE)
		assert_int_equal(total, n);
}

static void
feed_text(struct proxy_proto *p, const char *s, enum proxy_proto_result want)
{
	feed_both(p, (const uint8_t *)s, strlen(s), want);
}

static void
assert_v4(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char t[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	inet_ntop(AF_INET, &sin->sin_addr, t, sizeof(t));
	assert_string_equal(t, addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void
assert_v6(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char t[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	inet_ntop(AF_INET6, &sin6->sin6_addr, t, sizeof(t));
	assert_string_equal(t, addr);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

/* The spec's examples (§2.1) and its worst cases. */
static void
test_v1_spec_examples(void **state)
{
	struct proxy_proto p;

	(void)state;
	feed_text(&p, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	    PROXY_PROTO_DONE);
	assert_int_equal(p.version, 1);
	assert_true(p.has_addr);
	assert_v4(&p.src, "192.168.0.1", 56324);
	assert_v4(&p.dst, "192.168.0.11", 443);

	feed_text(&p, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 "
	    "65535\r\n", PROXY_PROTO_DONE);
	assert_v4(&p.src, "255.255.255.255", 65535);

	feed_text(&p, "PROXY TCP6 ffff:f:f:f:f:f:f:ffff 2001:db8::1 0 25\r\n",
	    PROXY_PROTO_DONE);
	assert_v6(&p.src, "ffff:f:f:f:f:f:f:ffff", 0);
	assert_v6(&p.dst, "2001:db8::1", 25);

	feed_text(&p, "PROXY UNKNOWN\r\n", PROXY_PROTO_DONE);
	assert_int_equal(p.version, 1);
	assert_false(p.has_addr);
}

/* The longest header the spec allows is exactly 107 bytes. */
static void
test_v1_worst_case(void **state)
{
	struct proxy_proto p;
	const char *ff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
	char line[256];

	(void)state;
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    ff, ff);
	assert_int_equal(strlen(line), PROXY_PROTO_V1_MAX);
	feed_text(&p, line, PROXY_PROTO_DONE);
	assert_false(p.has_addr);

	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n", ff,
	    ff);
	assert_int_equal(strlen(line), 104);
	feed_text(&p, line, PROXY_PROTO_DONE);
	assert_v6(&p.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

	/* One byte more: refused at byte 107, before any CRLF. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 655355\r\n",
	    ff, ff);
	feed_text(&p, line, PROXY_PROTO_ERR_TOO_LONG);
}

static void
test_v1_malformed(void **state)
{
	static const char *bad[] = {
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n",
		"PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 0443 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
		"PROXY TCP4 192.168.0.256 192.168.0.11 1 443\r\n",
		"PROXY TCP4 ::1 192.168.0.11 1 443\r\n",
		"PROXY TCP6 192.168.0.1 ::1 1 443\r\n",
		"PROXY TCP5 192.168.0.1 192.168.0.11 1 443\r\n",
		"PROXY tcp4 192.168.0.1 192.168.0.11 1 443\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXY TCP4 192.168.0.1\x00 192.168.0.11 1 443\r\n",
		"PROXY TCP4 192.168.0.\xc3\xa9 192.168.0.11 1 443\r\n",
	};
	struct proxy_proto p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		/* The one with a NUL byte is longer than strlen says. */
		if (i == 15)
			n = sizeof("PROXY TCP4 192.168.0.1\x00 192.168.0.11 "
			    "1 443\r\n") - 1;
		print_message("case %zu\n", i);
		feed_both(&p, (const uint8_t *)bad[i], n,
		    PROXY_PROTO_ERR_SYNTAX);
	}
	/* Not a header at all: refused at its first byte (a client that
	 * speaks SMTP or TLS to a PROXY listener). */
	feed_text(&p, "EHLO client\r\n", PROXY_PROTO_ERR_SIGNATURE);
	feed_text(&p, "\x16\x03\x01\x02", PROXY_PROTO_ERR_SIGNATURE);
	feed_text(&p, "PROXX TCP4\r\n", PROXY_PROTO_ERR_SIGNATURE);
	feed_text(&p, "proxy TCP4\r\n", PROXY_PROTO_ERR_SIGNATURE);
}

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* A v2 header: signature, ver_cmd, fam, then body (len bytes). */
static size_t
v2(uint8_t *out, uint8_t vc, uint8_t fam, const uint8_t *body, size_t len)
{
	memcpy(out, sig, 12);
	out[12] = vc;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (len > 0)
		memcpy(out + 16, body, len);
	return 16 + len;
}

static void
test_v2_inet(void **state)
{
	static const uint8_t body[] = {
		192, 0, 2, 7,  198, 51, 100, 1,  0xd4, 0x31,  0x00, 0x19,
	};
	struct proxy_proto p;
	uint8_t h[64];
	size_t n;

	(void)state;
	n = v2(h, 0x21, 0x11, body, sizeof(body));
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_int_equal(p.version, 2);
	assert_true(p.has_addr);
	assert_false(p.local);
	assert_v4(&p.src, "192.0.2.7", 54321);
	assert_v4(&p.dst, "198.51.100.1", 25);
}

static void
test_v2_inet6_with_tlvs(void **state)
{
	uint8_t body[128], h[256];
	size_t len = 0, n;
	struct proxy_proto p;

	(void)state;
	memset(body, 0, 36);
	body[0] = 0x20;		/* 2001:db8::7 */
	body[1] = 0x01;
	body[2] = 0x0d;
	body[3] = 0xb8;
	body[15] = 7;
	body[31] = 1;		/* ::1 */
	body[32] = 0x01;	/* port 256 */
	body[33] = 0x00;
	body[34] = 0x01;	/* port 465 */
	body[35] = 0xd1;
	len = 36;
	/* PP2_TYPE_ALPN "smtp", PP2_TYPE_NOOP of 0 bytes, an unknown
	 * type: all skipped. */
	memcpy(body + len, "\x01\x00\x04smtp", 7);
	len += 7;
	memcpy(body + len, "\x04\x00\x00", 3);
	len += 3;
	memcpy(body + len, "\xe0\x00\x02zz", 5);
	len += 5;
	n = v2(h, 0x21, 0x21, body, len);
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_v6(&p.src, "2001:db8::7", 256);
	assert_v6(&p.dst, "::1", 465);

	/* The last TLV runs past the header's length. */
	n = v2(h, 0x21, 0x21, body, len - 1);
	feed_both(&p, h, n, PROXY_PROTO_ERR_TLV);
	/* A TLV head cut short. */
	n = v2(h, 0x21, 0x21, body, 36 + 2);
	feed_both(&p, h, n, PROXY_PROTO_ERR_TLV);
}

/* LOCAL (a health check): valid whatever its family and block, and it
 * names no client. */
static void
test_v2_local(void **state)
{
	static const uint8_t junk[] = { 1, 2, 3, 4, 5 };
	struct proxy_proto p;
	uint8_t h[64];
	size_t n;

	(void)state;
	n = v2(h, 0x20, 0x00, NULL, 0);
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_true(p.local);
	assert_false(p.has_addr);
	n = v2(h, 0x20, 0xff, junk, sizeof(junk));
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_true(p.local);
	assert_false(p.has_addr);
}

/* PROXY over UNSPEC or UNIX: valid, but no address we can use. */
static void
test_v2_unspec_unix(void **state)
{
	uint8_t body[220], h[256];
	struct proxy_proto p;
	size_t n;

	(void)state;
	n = v2(h, 0x21, 0x00, NULL, 0);
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_false(p.has_addr);
	assert_false(p.local);
	memset(body, 'u', sizeof(body));
	n = v2(h, 0x21, 0x31, body, 216);
	feed_both(&p, h, n, PROXY_PROTO_DONE);
	assert_false(p.has_addr);
	n = v2(h, 0x21, 0x31, body, 215);
	feed_both(&p, h, n, PROXY_PROTO_ERR_LENGTH);
}

static void
test_v2_malformed(void **state)
{
	static const uint8_t body[12] = { 0 };
	struct proxy_proto p;
	uint8_t h[64];
	size_t n;

	(void)state;
	n = v2(h, 0x11, 0x11, body, 12);	/* version 1 */
	feed_both(&p, h, n, PROXY_PROTO_ERR_VERSION);
	n = v2(h, 0x22, 0x11, body, 12);	/* command 2 */
	feed_both(&p, h, n, PROXY_PROTO_ERR_VERSION);
	n = v2(h, 0x21, 0x41, body, 12);	/* family 4 */
	feed_both(&p, h, n, PROXY_PROTO_ERR_FAMILY);
	n = v2(h, 0x21, 0x13, body, 12);	/* transport 3 */
	feed_both(&p, h, n, PROXY_PROTO_ERR_FAMILY);
	n = v2(h, 0x21, 0x12, body, 12);	/* INET over DGRAM */
	feed_both(&p, h, n, PROXY_PROTO_ERR_FAMILY);
	n = v2(h, 0x21, 0x11, body, 11);	/* too short for INET */
	feed_both(&p, h, n, PROXY_PROTO_ERR_LENGTH);
	n = v2(h, 0x21, 0x21, body, 12);	/* too short for INET6 */
	feed_both(&p, h, n, PROXY_PROTO_ERR_LENGTH);
	n = v2(h, 0x21, 0x11, body, 12);
	h[11] = 0x0b;				/* signature's last byte */
	feed_both(&p, h, n, PROXY_PROTO_ERR_SIGNATURE);
}

/* A long v2 header is consumed in pieces no larger than want, and not a
 * byte past it. */
static void
test_v2_long_tlv_want(void **state)
{
	static uint8_t h[16 + 12 + 3 + 65000 + 8];
	uint8_t body[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
	struct proxy_proto p;
	size_t len = 12 + 3 + 65000, off = 0, used;
	enum proxy_proto_result r = PROXY_PROTO_MORE;

	(void)state;
	memcpy(h, sig, 12);
	h[12] = 0x21;
	h[13] = 0x11;
	h[14] = (uint8_t)(len >> 8);
	h[15] = (uint8_t)len;
	memcpy(h + 16, body, 12);
	h[28] = 0xee;
	h[29] = (uint8_t)(65000 >> 8);
	h[30] = (uint8_t)(65000 & 0xff);
	memset(h + 31, 'x', 65000);
	memcpy(h + 16 + len, "EHLO x\r\n", 8);
	proxy_proto_init(&p);
	while (r == PROXY_PROTO_MORE) {
		size_t w = proxy_proto_want(&p), k = w < 4096 ? w : 4096;
		assert_true(w >= 1);
		assert_true(off + w <= 16 + len || off < 16);
		r = proxy_proto_feed(&p, h + off, k, &used);
		off += used;
	}
	assert_int_equal(r, PROXY_PROTO_DONE);
	assert_int_equal(off, 16 + len);
	assert_v4(&p.src, "10.0.0.1", 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_spec_examples),
		cmocka_unit_test(test_v1_worst_case),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v2_inet),
		cmocka_unit_test(test_v2_inet6_with_tlvs),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_unspec_unix),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v2_long_tlv_want),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
