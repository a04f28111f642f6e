/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/received and msg/rfc5322_headers. The input is
 * split as a header section; every field is parsed as a Received value,
 * and the whole input is parsed as one value too. Invariants: fields lie
 * inside the input in order, with a valid name and the value inside the
 * raw field; unfolded values hold no line end or NUL; every hop string is
 * NUL-terminated and free of control bytes; the TLS answer agrees with its
 * evidence; a kept TLS version is in normal form; a kept client address
 * parses as an IP address; a valid date parses again to the same time.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "msg/received.h"
#include "msg/rfc5322_headers.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void
check_tls(const struct received_hop *h)
{
	char norm[16];
	unsigned ev = h->evidence;

	if (h->tls == RECEIVED_TLS_YES)
		CHECK(ev & (RECEIVED_EV_PROTOCOL | RECEIVED_EV_TLS_CLAUSE |
		    RECEIVED_EV_COMMENT));
	if (h->tls == RECEIVED_TLS_UNKNOWN)
		CHECK(!(ev & (RECEIVED_EV_PROTOCOL | RECEIVED_EV_COMMENT |
		    RECEIVED_EV_TLS_CLAUSE)));
	if (ev & RECEIVED_EV_CONFLICT)
		CHECK(h->tls == RECEIVED_TLS_NO && h->tls_version[0] == '\0' &&
		    h->tls_cipher[0] == '\0' && h->tls_bits == 0);
	if (h->tls_version[0] != '\0') {
		CHECK(received_tls_version_normalize(h->tls_version,
		    strlen(h->tls_version), norm, sizeof(norm)));
		CHECK(strcmp(norm, h->tls_version) == 0);
	}
	CHECK(h->tls_bits >= 0 && h->tls_bits < 100000);
}

static void
check_hop(const struct received_hop *h)
{
	unsigned char bin[16];
	time_t t;

	check_str(h->from, sizeof(h->from));
	check_str(h->from_rdns, sizeof(h->from_rdns));
	check_str(h->from_ip, sizeof(h->from_ip));
	check_str(h->by, sizeof(h->by));
	check_str(h->via, sizeof(h->via));
	check_str(h->with, sizeof(h->with));
	check_str(h->id, sizeof(h->id));
	check_str(h->for_addr, sizeof(h->for_addr));
	check_str(h->date, sizeof(h->date));
	check_str(h->tls_cipher, sizeof(h->tls_cipher));
	check_str(h->tls_group, sizeof(h->tls_group));
	CHECK(h->ncomments <= RECEIVED_MAX_COMMENTS);
	for (size_t i = 0; i < h->ncomments; i++) {
		check_str(h->comments[i].text, sizeof(h->comments[i].text));
		CHECK(h->comments[i].clause <= RECEIVED_CLAUSE_DATE);
	}
	if (h->from_ip[0] != '\0')
		CHECK(inet_pton(AF_INET, h->from_ip, bin) == 1 ||
		    inet_pton(AF_INET6, h->from_ip, bin) == 1);
	if (h->when_valid) {
		CHECK(received_date_parse(h->date, strlen(h->date), &t));
		CHECK(t == h->when);
	}
	if (h->from[0] == '\0' && h->by[0] != '\0')
		CHECK(h->local);
	check_tls(h);
}

static void
check_field(const uint8_t *data, size_t size, const struct rfc5322_field *f,
    size_t *last)
{
	struct buf b;

	CHECK(f->raw == (const char *)data + f->offset);
	CHECK(f->offset >= *last && f->offset + f->raw_len <= size);
	*last = f->offset + f->raw_len;
	CHECK(f->name == f->raw && f->name_len > 0);
	for (size_t i = 0; i < f->name_len; i++)
		CHECK(f->name[i] > 32 && f->name[i] < 127 && f->name[i] != ':');
	CHECK(f->value > f->name && f->value + f->value_len ==
	    f->raw + f->raw_len);
	buf_init(&b, 1 << 20);
	CHECK(rfc5322_field_unfold(f, &b) == 0);
	CHECK(memchr(b.data != NULL ? (const char *)b.data : "", '\n',
	    b.len) == NULL);
	CHECK(strlen(buf_cstr(&b)) == b.len);
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct received_hop hop;
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;
	size_t last = 0, n = 0;

	if (size > 65536)
		return 0;
	rfc5322_headers_init(&h, data, size);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		check_field(data, size, &f, &last);
		(void)received_parse(f.value, f.value_len, &hop);
		check_hop(&hop);
		n++;
	}
	CHECK(n <= RFC5322_HEADERS_MAX_FIELDS);
	CHECK(rfc5322_headers_next(&h, &f) == r);
	if (r == RFC5322_HEADERS_END)
		CHECK(rfc5322_headers_body_offset(&h) >= last &&
		    rfc5322_headers_body_offset(&h) <= size);
	(void)received_parse((const char *)data, size, &hop);
	check_hop(&hop);
	return 0;
}
