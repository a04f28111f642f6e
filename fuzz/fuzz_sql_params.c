/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for store/sql_pg_text (the PostgreSQL driver's ?N to
 * $N rewriting, and its parsers of the server's integers and bytea).
 * Invariants checked:
 *  - a rewrite keeps the length and changes only '?' into '$', each one
 *    followed by a digit 1..9; nparams is within 0..SQL_PG_PARAMS_MAX and
 *    some $N names it;
 *  - rewriting the result again changes nothing and finds no parameter
 *    (the '$' it wrote never opens a dollar quote);
 *  - a parsed integer prints back to the same text; a decoded bytea has
 *    (len - 2) / 2 bytes.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql_pg_text.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_rewrite(const char *in, size_t size)
{
	char *out = malloc(size + 1), *again = malloc(size + 1);
	int n, n2;

	CHECK(out != NULL && again != NULL);
	if (sql_pg_params_rewrite(in, size, out, size + 1, &n) == 0) {
		CHECK(out[size] == '\0');
		CHECK(n >= 0 && n <= SQL_PG_PARAMS_MAX);
		for (size_t i = 0; i < size; i++) {
			if (in[i] == out[i])
				continue;
			CHECK(in[i] == '?' && out[i] == '$');
			CHECK(i + 1 < size && out[i + 1] >= '1' &&
			    out[i + 1] <= '9');
		}
		if (n > 0) {
			char name[16];

			snprintf(name, sizeof(name), "$%d", n);
			CHECK(memmem(out, size, name, strlen(name)) != NULL);
		}
		CHECK(sql_pg_params_rewrite(out, size, again, size + 1,
		    &n2) == 0);
		CHECK(n2 == 0 && memcmp(out, again, size) == 0);
		/* One byte short is refused. */
		CHECK(sql_pg_params_rewrite(in, size, again, size, &n2) == -1);
	}
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char back[32];
	uint8_t *bin;
	size_t n;
	int64_t v;

	fuzz_rewrite(in, size);
	if (sql_pg_int64_parse(in, size, &v) == 0) {
		CHECK((size_t)snprintf(back, sizeof(back), "%" PRId64, v) ==
		    size);
		CHECK(memcmp(back, in, size) == 0);
	}
	bin = malloc(size / 2 + 1);
	CHECK(bin != NULL);
	if (sql_pg_bytea_decode(in, size, bin, size / 2 + 1, &n) == 0)
		CHECK(size >= 2 && n == (size - 2) / 2);
	free(bin);
	return 0;
}
