/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for sts/sts_record. The input is the text of _mta-sts TXT
 * records, split into an RRset at NUL-free '\n' boundaries. Invariants: a
 * parsed id is 1-32 alphanumerics; parse agrees with is_sts; selecting a
 * set of one record gives the same result as parsing it; a set with two
 * copies of an STS record never yields a record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts/sts_record.h"
#include "fuzz_check.h"

#define SET_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(const char *t, size_t n)
{
	struct sts_record r, r2;
	enum sts_record_result res, res2;
	const char *set[2] = { t, t };
	size_t lens[2] = { n, n }, i, idl;
	char why[128];

	memset(&r, 0, sizeof(r));
	res = sts_record_parse(t, n, &r, why, sizeof(why));
	CHECK((res != STS_RECORD_NONE) == sts_record_is_sts(t, n));
	CHECK(res != STS_RECORD_MULTIPLE);
	if (res == STS_RECORD_OK) {
		idl = strnlen(r.id, sizeof(r.id));
		CHECK(idl >= 1 && idl <= STS_ID_MAX);
		for (i = 0; i < idl; i++)
			CHECK((r.id[i] >= '0' && r.id[i] <= '9') ||
			    (r.id[i] >= 'a' && r.id[i] <= 'z') ||
			    (r.id[i] >= 'A' && r.id[i] <= 'Z'));
		CHECK(memmem(t, n, r.id, idl) != NULL);
	} else if (res == STS_RECORD_INVALID)
		CHECK(strnlen(why, sizeof(why)) > 0);
	res2 = sts_record_select(set, lens, 1, &r2, NULL, 0);
	CHECK(res2 == res);
	if (res == STS_RECORD_OK)
		CHECK(strcmp(r.id, r2.id) == 0);
	res2 = sts_record_select(set, lens, 2, &r2, NULL, 0);
	CHECK(res2 == (res == STS_RECORD_NONE ? STS_RECORD_NONE :
	    STS_RECORD_MULTIPLE));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *set[SET_MAX];
	size_t lens[SET_MAX], n = 0, pos = 0;
	struct sts_record r;

	if (size > 4096)
		return 0;
	check_one((const char *)data, size);
	while (pos <= size && n < SET_MAX) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;

		set[n] = (const char *)data + pos;
		lens[n++] = end - pos;
		pos = end + 1;
	}
	(void)sts_record_select(set, lens, n, &r, NULL, 0);
	return 0;
}
