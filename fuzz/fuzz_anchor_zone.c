/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for dns_anchor_zone (dns/dns_probe.c), which reads the
 * zone of a trust anchor file. Invariants: on success the owner is a
 * non-empty token of the input (no blank, ';' or newline), NUL-terminated
 * within out, and a line of the input starts with it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[64];
	const char *s = (const char *)data;
	size_t n;

	if (size > 65536)
		return 0;
	memset(out, 'x', sizeof(out));
	if (dns_anchor_zone(s, size, out, sizeof(out)) != 0)
		return 0;
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	n = strlen(out);
	CHECK(n > 0);
	CHECK(strpbrk(out, " \t\r\n;") == NULL);
	bool found = false;
	for (size_t i = 0; i + n <= size && !found; i++)
		if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, out, n) == 0)
			found = true;
	CHECK(found);
	return 0;
}
