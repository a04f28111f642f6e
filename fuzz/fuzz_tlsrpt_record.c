/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for check/tlsrpt_record: the input is a TXT record.
 * The invariants: OK only for a record tlsrpt_record_is_tlsrpt() accepts;
 * on OK at least one URI, at most TLSRPT_URIS_MAX kept, each a
 * NUL-terminated mailto: or https: URI that occurs in the input; on
 * failure the output is zeroed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check/tlsrpt_record.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct tlsrpt_record r;

	enum tlsrpt_record_result res = tlsrpt_record_parse(in, size, &r);
	if (res != TLSRPT_RECORD_OK) {
		CHECK(r.nrua == 0 && r.nrua_total == 0);
		return 0;
	}
	CHECK(tlsrpt_record_is_tlsrpt(in, size));
	CHECK(r.nrua_total >= 1 && r.nrua <= TLSRPT_URIS_MAX);
	CHECK(r.nrua <= r.nrua_total);
	for (size_t i = 0; i < r.nrua; i++) {
		size_t len = strnlen(r.rua[i], TLSRPT_URI_MAX + 1);
		CHECK(len <= TLSRPT_URI_MAX);
		CHECK(strncasecmp(r.rua[i], "mailto:", 7) == 0 ||
		    strncasecmp(r.rua[i], "https://", 8) == 0);
		CHECK(memmem(in, size, r.rua[i], len) != NULL);
	}
	return 0;
}
