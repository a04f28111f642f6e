/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for queue/suspects (the queue runner's list of suspect
 * messages, read back from data_dir/run at start). Invariants checked:
 *  - a refused input leaves the set empty;
 *  - an accepted one holds only valid queue ids, and saying them again in
 *    the file's form parses to the same set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "queue/suspects.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qidset s, again;
	char *text;
	size_t len;

	qidset_init(&s);
	qidset_init(&again);
	if (suspects_parse((const char *)data, size, &s) == -1) {
		CHECK(s.live == 0 && s.n == 0);
		return 0;
	}
	len = sizeof(SUSPECTS_MAGIC) + s.n * (IDS_QID_LEN + 1);
	text = malloc(len + 1);
	CHECK(text != NULL);
	len = (size_t)snprintf(text, len + 1, "%s\n", SUSPECTS_MAGIC);
	for (size_t i = 0; i < s.n; i++) {
		CHECK(!s.v[i].gone && ids_qid_valid(s.v[i].id));
		len += (size_t)sprintf(text + len, "%s\n", s.v[i].id);
	}
	CHECK(suspects_parse(text, len, &again) == 0);
	CHECK(again.live == s.live);
	for (size_t i = 0; i < s.n; i++)
		CHECK(qidset_has(&again, s.v[i].id));
	free(text);
	qidset_clear(&s);
	qidset_clear(&again);
	return 0;
}
