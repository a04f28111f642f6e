/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the BIMI parsers: the input is parsed as an
 * Assertion Record, as a BIMI-Selector value, as a local-part (for lps=)
 * and as a header section to strip. Invariants: l= and a= are empty or
 * https URIs within bounds; lps prefixes are 1..63 LDH characters; a
 * selector is lower-case LDH with dots; a local-part selector has no
 * leading, trailing or doubled dash (an lps= prefix may start with one);
 * strip ranges lie inside the input and start with a BIMI field name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/bimi.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uri(const char *u)
{
	size_t l = strnlen(u, BIMI_URI_MAX + 1);

	CHECK(l <= BIMI_URI_MAX);
	CHECK(l == 0 || strncasecmp(u, "https://", 8) == 0);
	CHECK(strchr(u, ',') == NULL && strchr(u, ' ') == NULL);
}

static void
check_ldh(const char *s, bool dots, bool lead_dash)
{
	CHECK(*s != '\0' && (lead_dash || *s != '-'));
	for (; *s; s++)
		CHECK((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || (dots && *s == '.') ||
		    (!dots && *s >= 'A' && *s <= 'Z'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct bimi_record r;
	struct authres_field f[8];
	char sel[BIMI_SELECTOR_MAX + 1], *copy;
	size_t i, n;

	if (size > 8192)
		return 0;
	if (bimi_record_parse(s, size, &r) == BIMI_RECORD_OK) {
		check_uri(r.l);
		check_uri(r.a);
		CHECK(r.nlps <= BIMI_LPS_MAX);
		for (i = 0; i < r.nlps; i++) {
			CHECK(strlen(r.lps[i]) <= BIMI_LPS_LEN);
			check_ldh(r.lps[i], false, true);
		}
		CHECK(r.has_lps || r.nlps == 0);
	}
	if (bimi_selector_parse(s, size, sel, sizeof(sel)) == 0)
		check_ldh(sel, true, false);
	copy = strndup(s, size);
	if (copy != NULL && bimi_lps_selector(copy, sel, sizeof(sel)) == 0) {
		check_ldh(sel, false, false);
		CHECK(sel[strlen(sel) - 1] != '-' && strstr(sel, "--") == NULL);
		CHECK(strlen(sel) <= BIMI_LPS_LEN);
		for (i = 0; sel[i]; i++)
			CHECK(!(sel[i] >= 'A' && sel[i] <= 'Z'));
	}
	free(copy);
	n = bimi_strip_ranges(s, size, f, 8);
	for (i = 0; i < n && i < 8; i++) {
		CHECK(f[i].off + f[i].len <= size && f[i].len > 0);
		CHECK(strncasecmp(s + f[i].off, "BIMI-", 5) == 0);
		if (i > 0)
			CHECK(f[i].off >= f[i - 1].off + f[i - 1].len);
	}
	return 0;
}
