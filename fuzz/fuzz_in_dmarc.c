/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for report/in_dmarc (RFC 9990 / RFC 7489 aggregate
 * report XML). Invariants: on success the required fields are non-empty,
 * every string is NUL-terminated within LIMIT_REPORT_FIELD, records are
 * within LIMIT_REPORT_RECORDS and each has a source_ip, begin <= end; on
 * failure the error is one non-empty line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "report/in_dmarc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s)
{
	CHECK(s != NULL);
	CHECK(strlen(s) <= LIMIT_REPORT_FIELD);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in_dmarc r;
	char err[256] = "";

	if (in_dmarc_parse(data, size, &r, err, sizeof(err)) == 0) {
		check_str(r.org_name);
		check_str(r.report_id);
		check_str(r.email);
		check_str(r.policy);
		CHECK(r.org_name[0] != '\0' && r.report_id[0] != '\0');
		CHECK(r.policy_domain[0] != '\0');
		CHECK(r.begin <= r.end);
		CHECK(r.nrec <= LIMIT_REPORT_RECORDS);
		for (size_t i = 0; i < r.nrec; i++) {
			check_str(r.rec[i].source_ip);
			check_str(r.rec[i].disposition);
			check_str(r.rec[i].dkim_result);
			check_str(r.rec[i].spf_domain);
			CHECK(r.rec[i].count >= 0);
		}
	} else {
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	}
	in_dmarc_clear(&r);
	return 0;
}
