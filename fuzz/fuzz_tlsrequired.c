/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/tlsrequired (the TLS-Required header field of
 * RFC 8689, read from an untrusted message). Invariants checked:
 *  - the REQUIRETLS MAIL parameter always wins: no override with it, and
 *    without it an override exactly when the field is a valid "No";
 *  - a valid "No" with a second TLS-Required field put in front of it is
 *    never "No" (duplicates keep the protection);
 *  - the input's first line used as the value of a lone field gives "No"
 *    exactly when that line is "No" in any case between blanks (a simple
 *    independent oracle for the value check).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/tlsrequired.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char dup[] = "TLS-Required: No\r\n";

/* "No" in any case with only SP/HTAB around it. */
static bool
oracle_is_no(const uint8_t *p, size_t n)
{
	size_t i = 0, j = n;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	while (j > i && (p[j - 1] == ' ' || p[j - 1] == '\t'))
		j--;
	return j - i == 2 && (p[i] | 0x20) == 'n' && (p[i + 1] | 0x20) == 'o';
}

static void
check_value(const uint8_t *data, size_t size)
{
	char m[128];
	size_t n = 0;

	while (n < size && n < 64 && data[n] != '\r' && data[n] != '\n')
		n++;
	memcpy(m, "TLS-Required:", 13);
	memcpy(m + 13, data, n);
	memcpy(m + 13 + n, "\r\n\r\n", 4);
	CHECK((tlsrequired_parse(m, 13 + n + 4) == TLSREQUIRED_NO) ==
	    oracle_is_no(data, n));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tlsrequired_result r = tlsrequired_parse(data, size);

	CHECK(r == TLSREQUIRED_ABSENT || r == TLSREQUIRED_NO ||
	    r == TLSREQUIRED_INVALID);
	CHECK(!tlsrequired_overrides_policy(true, data, size));
	CHECK(tlsrequired_overrides_policy(false, data, size) ==
	    (r == TLSREQUIRED_NO));
	/* Input starting with WSP would continue the field put in front. */
	if (r == TLSREQUIRED_NO && data[0] != ' ' && data[0] != '\t') {
		uint8_t *m = malloc(sizeof(dup) - 1 + size);

		CHECK(m != NULL);
		memcpy(m, dup, sizeof(dup) - 1);
		memcpy(m + sizeof(dup) - 1, data, size);
		CHECK(tlsrequired_parse(m, sizeof(dup) - 1 + size) ==
		    TLSREQUIRED_INVALID);
		free(m);
	}
	check_value(data, size);
	return 0;
}
