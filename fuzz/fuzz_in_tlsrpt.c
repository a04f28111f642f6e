/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for report/in_tlsrpt (RFC 8460 JSON reports).
 * Invariants: on success organization-name and report-id are non-empty,
 * begin <= end, policies and failure details within their limits, counts
 * non-negative, strings NUL-terminated within LIMIT_REPORT_FIELD; on
 * failure the error is non-empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "report/in_tlsrpt.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in_tls r;
	char err[256] = "";

	if (in_tlsrpt_parse(data, size, &r, err, sizeof(err)) == 0) {
		CHECK(r.org_name[0] != '\0' && r.report_id[0] != '\0');
		CHECK(strlen(r.contact_info) <= LIMIT_REPORT_FIELD);
		CHECK(r.begin <= r.end);
		CHECK(r.npol <= LIMIT_REPORT_TLS_POLICIES);
		for (size_t i = 0; i < r.npol; i++) {
			const struct in_tls_policy *p = &r.pol[i];
			CHECK(p->successful >= 0 && p->failed >= 0);
			CHECK(strlen(p->policy_string) <= LIMIT_REPORT_FIELD);
			CHECK(strlen(p->mx_host) <= LIMIT_REPORT_FIELD);
			CHECK(p->nfail <= LIMIT_REPORT_TLS_FAILURES);
			for (size_t j = 0; j < p->nfail; j++) {
				CHECK(p->fail[j].result_type[0] != '\0');
				CHECK(p->fail[j].failed_session_count >= 0);
			}
		}
	} else {
		CHECK(err[0] != '\0');
	}
	in_tls_clear(&r);
	/* The date-time parser alone, on a NUL-terminated copy. */
	char dt[64];
	size_t n = size < sizeof(dt) - 1 ? size : sizeof(dt) - 1;
	long long t;
	memcpy(dt, data, n);
	dt[n] = '\0';
	(void)in_tlsrpt_datetime(dt, &t);
	return 0;
}
