/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for report_mailto_addr (report/report_dest.c): rua and
 * ruf URIs come from DNS. Invariants: an accepted URI gives one address
 * with exactly one '@', no byte that could end a header field or an SMTP
 * path, a lower-case domain, and parsing "mailto:" + it gives it again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], out[400], again[400], uri[420];
	const char *at;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (report_mailto_addr(in, out, sizeof(out)) == -1)
		return 0;
	CHECK((at = strchr(out, '@')) != NULL && strchr(at + 1, '@') == NULL);
	CHECK(at != out && at[1] != '\0');
	for (const char *p = out; *p; p++) {
		CHECK((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f);
		CHECK(strchr("<>\",", *p) == NULL);
	}
	for (const char *p = at + 1; *p; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z'));
	snprintf(uri, sizeof(uri), "mailto:%s", out);
	CHECK(report_mailto_addr(uri, again, sizeof(again)) == 0);
	CHECK(strcmp(out, again) == 0);
	return 0;
}
