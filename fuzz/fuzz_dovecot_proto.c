/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for account/dovecot_proto: one line from Dovecot's auth
 * server. Invariants: a parse never reads past the line; BAD leaves every
 * other field zero; an OK/FAIL user is empty or 1..LIMIT_SASL_FIELD bytes
 * without control characters; escaping any input and unescaping it gives
 * the input back, and the escaped form holds no TAB, LF or CR.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/dovecot_proto.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const char *line, size_t len)
{
	static struct dovecot_proto_reply r, zero;
	size_t n;

	switch (dovecot_proto_parse(line, len, &r)) {
	case DOVECOT_PROTO_BAD:
		zero.kind = DOVECOT_PROTO_BAD;
		CHECK(memcmp(&r, &zero, sizeof(r)) == 0);
		break;
	case DOVECOT_PROTO_OK:
	case DOVECOT_PROTO_FAIL:
		n = strnlen(r.user, sizeof(r.user));
		CHECK(n <= LIMIT_SASL_FIELD);
		for (size_t i = 0; i < n; i++)
			CHECK((unsigned char)r.user[i] >= 0x20 &&
			    r.user[i] != 0x7f);
		break;
	default:
		CHECK(r.user[0] == '\0');
		break;
	}
}

static void
check_escape(const char *s, size_t len)
{
	struct buf b;
	char *copy;
	size_t n;

	buf_init(&b, 2 * len + 1);
	CHECK(dovecot_proto_escape(&b, s, len) == 0);
	CHECK(b.len >= len && b.len <= 2 * len);
	CHECK(b.len == 0 || (memchr(b.data, '\t', b.len) == NULL &&
	    memchr(b.data, '\n', b.len) == NULL &&
	    memchr(b.data, '\r', b.len) == NULL));
	copy = malloc(b.len + 1);
	CHECK(copy != NULL);
	if (b.len > 0)
		memcpy(copy, b.data, b.len);
	n = dovecot_proto_unescape(copy, b.len);
	CHECK(n == len && (len == 0 || memcmp(copy, s, len) == 0));
	free(copy);
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;

	if (size > DOVECOT_PROTO_LINE_MAX + 16)
		return 0;
	/* An exact-size copy, so ASan sees any read past the end. */
	line = malloc(size ? size : 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	check_reply(line, size);
	check_escape(line, size);
	free(line);
	return 0;
}
