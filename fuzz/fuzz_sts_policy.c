/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for sts/sts_policy. The input is a policy body.
 * Invariants: a parsed policy has a known mode, max_age within the RFC
 * bound, 1..STS_POLICY_MX_MAX lower-case patterns (0 allowed only for mode
 * none) that each match a host built from them; a duplicate matches the
 * same hosts; a failure leaves a zeroed policy and a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts/sts_policy.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy p, d;
	char why[128], host[300];
	size_t i, j;

	why[0] = '\0';
	if (sts_policy_parse((const char *)data, size, &p, why,
	    sizeof(why)) == -1) {
		CHECK(p.nmx == 0 && p.mx == NULL);
		CHECK(why[0] != '\0');
		return 0;
	}
	CHECK(size <= STS_POLICY_BODY_MAX);
	CHECK(p.mode == STS_MODE_NONE || p.mode == STS_MODE_TESTING ||
	    p.mode == STS_MODE_ENFORCE);
	CHECK(p.max_age <= STS_MAX_AGE_MAX);
	CHECK(p.nmx <= STS_POLICY_MX_MAX);
	CHECK(p.nmx > 0 || p.mode == STS_MODE_NONE);
	sts_policy_dup(&d, &p);
	for (i = 0; i < p.nmx; i++) {
		const char *m = p.mx[i];

		for (j = 0; m[j] != '\0'; j++)
			CHECK(!(m[j] >= 'A' && m[j] <= 'Z'));
		if (m[0] == '*')
			snprintf(host, sizeof(host), "x%s.", m + 1);
		else
			snprintf(host, sizeof(host), "%s", m);
		CHECK(sts_policy_match_mx(&p, host));
		CHECK(sts_policy_match_mx(&d, host));
		if (m[0] == '*')
			CHECK(!sts_mx_pattern_match(m, m + 2));
	}
	sts_policy_clear(&d);
	sts_policy_clear(&p);
	CHECK(p.nmx == 0 && p.mx == NULL);
	return 0;
}
