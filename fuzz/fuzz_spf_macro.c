/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for auth/spf_macro. The first byte picks the mode (bit
 * 0: explanation), the client family (bit 1: IPv6) and whether %{p} and
 * %{r} are known (bit 2); the rest is the macro string. Invariants:
 * expansion succeeds exactly when the syntax check does (or stops with
 * "too long"), the output stays within the buf's bound, is printable
 * ASCII, holds no space in domain mode unless the input wrote one with
 * "%_", and spf_macro_domain_fit() returns a suffix of at most 253
 * characters (or one with no dot left to cut at).
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf_macro.h"
#include "core/buf.h"
#include "fuzz_check.h"

#define OUT_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_fit(const char *s, size_t n)
{
	char *copy = strndup(s, n);
	const char *p;

	CHECK(copy != NULL);
	p = spf_macro_domain_fit(copy);
	CHECK(p >= copy && p <= copy + n);
	CHECK(strlen(p) <= SPF_DOMAIN_TEXT_MAX || strchr(p, '.') == NULL);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_ctx c;
	enum spf_macro_mode mode;
	enum spf_macro_result rc, re;
	struct buf b;
	const char *s;
	size_t n;

	if (size < 1)
		return 0;
	mode = data[0] & 1 ? SPF_MACRO_EXPLAIN : SPF_MACRO_DOMAIN;
	memset(&c, 0, sizeof(c));
	c.sender = "Strong-Bad+x@Email.Example.com";
	c.local = "Strong-Bad+x";
	c.sender_domain = "Email.Example.com";
	c.domain = "sub.email.example.com";
	c.helo = "mx.example.org";
	c.ptr = data[0] & 4 ? "mail.example.com" : NULL;
	c.receiver = data[0] & 4 ? "mx.receiver.test" : NULL;
	c.family = data[0] & 2 ? AF_INET6 : AF_INET;
	memcpy(c.ip, "\x20\x01\x0d\xb8\x00\x00\x00\x00"
	    "\x00\x00\x00\x00\x00\x00\xcb\x01", 16);
	c.now = 1700000000;
	s = (const char *)data + 1;
	n = size - 1;

	rc = spf_macro_check(s, n, mode, NULL);
	buf_init(&b, OUT_MAX);
	re = spf_macro_expand(s, n, mode, &c, &b);
	/* The output bound may be reached before expansion gets to the
	 * error the check found further on. */
	CHECK(re == rc || re == SPF_MACRO_ERR_TOO_LONG);
	CHECK(b.len <= OUT_MAX);
	if (re == SPF_MACRO_OK) {
		for (size_t i = 0; i < b.len; i++)
			CHECK(b.data[i] >= 0x20 && b.data[i] < 0x7f);
		if (mode == SPF_MACRO_DOMAIN && memmem(s, n, "%_", 2) == NULL)
			CHECK(b.len == 0 ||
			    memchr(b.data, ' ', b.len) == NULL);
		check_fit(buf_cstr(&b), b.len);
	}
	buf_clear(&b);
	return 0;
}
