/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for dmarc_failure_redact and dmarc_failure_ar_value
 * (report/dmarc_failure_redact.c): the header section of a failed
 * message is hostile. Invariants: the redacted text fits the bound, is
 * made of CRLF-terminated lines without NUL or bare CR/LF, has no empty
 * line (the body never follows), and redacting it again does not make it
 * longer: every local part left is already at least "redacted" (a shorter
 * one, which a second pass would grow, is one the first pass missed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/dmarc_failure.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max = size > 0 ? data[0] * 16u : 0;
	char *out, *again, *ar;
	size_t n;

	out = dmarc_failure_redact((const char *)data, size, max);
	n = strlen(out);
	CHECK(n <= max);
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\r')
			CHECK(i + 1 < n && out[i + 1] == '\n');
		if (out[i] == '\n') {
			CHECK(i > 0 && out[i - 1] == '\r');
			CHECK(!(i >= 3 && out[i - 2] == '\n'));
		}
	}
	CHECK(n == 0 || (n >= 2 && out[n - 1] == '\n'));
	again = dmarc_failure_redact(out, n, max);
	CHECK(strlen(again) <= n);
	free(again);
	free(out);
	ar = dmarc_failure_ar_value((const char *)data, size);
	CHECK(strchr(ar, '\n') == NULL);
	free(ar);
	return 0;
}
