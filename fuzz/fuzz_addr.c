/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/addr. The first byte holds flags (bit 0: UTF-8
 * allowed, bit 1: null path allowed); the rest is parsed as a path, as a
 * bare mailbox and as an RFC 5322 address-list. Invariants: results are
 * NUL-terminated and within limits, *end lies inside the input and after
 * a '>', and the text form of every parsed address parses back to the
 * same address (as a mailbox for SMTP paths, as a one-element list for
 * header addresses). The form is canonical: a quoted local part is one
 * that a Dot-string could not write, the domain is ASCII (A-labels) with
 * no upper-case letter, and addr_mailbox_dirs either refuses the address
 * or yields names without '/', a leading '.' or control bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/addr.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void
check_fields(const struct addr *a, bool utf8)
{
	CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	CHECK(a->local[0] != '\0' && a->domain[0] != '\0');
	if (!utf8)
		CHECK(!has_8bit(a->local) && !has_8bit(a->domain));
	for (const char *p = a->local; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* A folder name from addr_mailbox_dirs is one safe path component. */
static void
check_dir(const char *d)
{
	CHECK(d[0] != '\0' && d[0] != '.');
	for (const char *p = d; *p; p++)
		CHECK(*p != '/' && (unsigned char)*p >= 0x20 && *p != 0x7f &&
		    !(*p >= 'A' && *p <= 'Z'));
}

/* The canonical form of addr.h, and the path check. */
static void
check_canonical(const struct addr *a)
{
	char text[LIMIT_PATH + 8], d[LIMIT_DOMAIN + 1];
	char l[sizeof(a->local)];
	struct addr b;

	for (const char *p = a->domain; *p; p++)
		CHECK((unsigned char)*p < 0x80 && !(*p >= 'A' && *p <= 'Z' &&
		    a->domain[0] != '['));
	if (a->local[0] == '"') {
		/* Unquoted, it would be a Dot-string if it could be one: then
		 * parsing the bare content must fail. */
		size_t n = strlen(a->local);
		CHECK(n >= 2 && a->local[n - 1] == '"');
		if (memchr(a->local + 1, '\\', n - 2) == NULL &&
		    memchr(a->local + 1, '"', n - 2) == NULL) {
			snprintf(text, sizeof(text), "%.*s@x", (int)(n - 2),
			    a->local + 1);
			CHECK(addr_parse_mailbox(text, strlen(text), true, &b) !=
			    ADDR_OK || strcmp(b.local, a->local) == 0);
		}
	}
	if (addr_mailbox_dirs(a, d, sizeof(d), l, sizeof(l)) == 0) {
		check_dir(d);
		check_dir(l);
	}
}

/* SMTP address: re-parse its text as a mailbox. */
static void
check_smtp(const struct addr *a, bool utf8)
{
	char text[LIMIT_PATH + 8];
	struct addr b;

	check_fields(a, utf8);
	check_canonical(a);
	CHECK(addr_to_text(a, text, sizeof(text)) == 0);
	CHECK(addr_parse_mailbox(text, strlen(text), utf8, &b) == ADDR_OK);
	CHECK(strcmp(a->local, b.local) == 0);
	CHECK(strcmp(a->domain, b.domain) == 0);
	CHECK(addr_text_equal(text, text));
}

/* Header address: re-parse its text as a one-address list. */
static void
check_header(const struct addr *a)
{
	char text[sizeof(a->local) + sizeof(a->domain) + 2];
	struct addr b[2];

	check_fields(a, true);
	check_canonical(a);
	CHECK(addr_to_text(a, text, sizeof(text)) == 0);
	CHECK(addr_parse_header_list(text, strlen(text), b, 2) == 1);
	CHECK(strcmp(a->local, b[0].local) == 0);
	CHECK(strcmp(a->domain, b[0].domain) == 0);
	CHECK(addr_text_equal(text, text));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a, list[8];
	bool is_null;
	size_t end = 0;

	if (size < 1 || size > 8192)
		return 0;
	bool utf8 = data[0] & 1, allow_null = data[0] & 2;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;

	if (addr_parse_path(s, len, allow_null, utf8, &a, &is_null, &end) ==
	    ADDR_OK) {
		CHECK(end >= 2 && end <= len && end <= LIMIT_PATH);
		CHECK(s[0] == '<' && s[end - 1] == '>');
		if (is_null) {
			CHECK(allow_null && end == 2);
			CHECK(a.local[0] == '\0' && a.domain[0] == '\0');
		} else
			check_smtp(&a, utf8);
	} else
		CHECK(a.local[0] == '\0' && a.domain[0] == '\0');
	if (addr_parse_mailbox(s, len, utf8, &a) == ADDR_OK)
		check_smtp(&a, utf8);
	int n = addr_parse_header_list(s, len, list, 8);
	CHECK(n >= -1 && (size_t)(n + 1) <= len + 1);
	for (int i = 0; i < n && i < 8; i++)
		check_header(&list[i]);
	return 0;
}
