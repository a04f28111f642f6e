/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for report/in_arf (RFC 5965 feedback-report fields).
 * Invariants: on success the three required fields are non-empty, every
 * field is NUL-terminated within LIMIT_REPORT_FIELD and has no control
 * characters but '\n', incidents >= 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "report/in_arf.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s)
{
	size_t n = strlen(s);

	CHECK(n <= LIMIT_REPORT_FIELD);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 || s[i] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in_arf r;
	char err[256] = "";

	if (in_arf_parse(data, size, &r, err, sizeof(err)) == 0) {
		CHECK(r.feedback_type[0] != '\0' && r.user_agent[0] != '\0' &&
		    r.version[0] != '\0');
		check_str(r.feedback_type);
		check_str(r.original_mail_from);
		check_str(r.authentication_results);
		check_str(r.source_ip);
		CHECK(r.incidents >= 1);
	} else {
		CHECK(err[0] != '\0');
	}
	in_arf_clear(&r);
	return 0;
}
