/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for auth/authres. The input is parsed as an
 * Authentication-Results value and as a header section. Invariants: a
 * parsed field, formatted again by authres_format, parses back to the same
 * authserv-id, methods, results and (printable) values; every line we
 * format fits in 78 columns unless one unbreakable unit is longer; the
 * ranges of authres_find_ours lie inside the input, in order, and name
 * an Authentication-Results field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static void
roundtrip(const struct authres *ar)
{
	struct authres_result res[AUTHRES_RESULTS_MAX];
	struct authres *back;
	struct buf b;
	const char *v;
	size_t i, k;

	memset(res, 0, sizeof(res));
	for (i = 0; i < ar->nresults; i++) {
		const struct authres_parsed_result *p = &ar->results[i];
		res[i].method = p->method;
		res[i].result = p->result;
		res[i].reason = p->reason;
		res[i].nprops = p->nprops;
		for (k = 0; k < p->nprops; k++) {
			res[i].props[k].ptype = p->props[k].ptype;
			res[i].props[k].property = p->props[k].property;
			res[i].props[k].value = p->props[k].value;
		}
	}
	buf_init(&b, 1 << 20);
	CHECK(authres_format(&b, ar->authserv_id, res, ar->nresults) == 0);
	v = strchr(buf_cstr(&b), ':') + 1;
	CHECK(authres_parse(v, strlen(v) - 2, &back) == AUTHRES_OK);
	if (printable(ar->authserv_id))
		CHECK(strcmp(back->authserv_id, ar->authserv_id) == 0);
	CHECK(back->nresults == ar->nresults);
	for (i = 0; i < ar->nresults; i++) {
		CHECK(strcmp(back->results[i].method, res[i].method) == 0);
		CHECK(strcmp(back->results[i].result, res[i].result) == 0);
		CHECK(back->results[i].nprops == res[i].nprops);
		for (k = 0; k < res[i].nprops; k++)
			if (printable(res[i].props[k].value))
				CHECK(strcmp(back->results[i].props[k].value,
				    res[i].props[k].value) == 0);
	}
	authres_free(back);
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct authres *ar;
	struct authres_field f[8];
	size_t i, n;

	if (size > AUTHRES_FIELD_MAX)
		return 0;
	if (authres_parse(s, size, &ar) == AUTHRES_OK) {
		CHECK(ar->authserv_id != NULL && ar->nresults <=
		    AUTHRES_RESULTS_MAX);
		CHECK(ar->none == (ar->nresults == 0));
		roundtrip(ar);
		authres_free(ar);
	} else
		CHECK(ar == NULL);
	n = authres_find_ours(s, size, "mx.example.org", f, 8);
	for (i = 0; i < n && i < 8; i++) {
		CHECK(f[i].off + f[i].len <= size);
		CHECK(strncasecmp(s + f[i].off, "Authentication-Results", 22)
		    == 0);
		if (i > 0)
			CHECK(f[i].off >= f[i - 1].off + f[i - 1].len);
	}
	return 0;
}
