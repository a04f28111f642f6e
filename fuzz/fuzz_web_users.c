/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for web/web_users: an admin listener's password_file.
 * Invariants: a parsed file has at most WEB_USERS_MAX users; every user
 * of an accepted file is found again by name with a hash that occurs in
 * the input after "name:" and holds no space or control character; a
 * refused file says which line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_users.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[256];
	struct web_users *u = web_users_parse(text, size, err, sizeof(err));

	if (u == NULL) {
		CHECK(size > WEB_USERS_FILE_MAX || strncmp(err, "line ", 5) == 0);
		return 0;
	}
	CHECK(web_users_count(u) <= WEB_USERS_MAX);
	/* Walk the lines again: each non-comment line's user maps to its
	 * hash. */
	for (size_t off = 0; off < size;) {
		const char *p = text + off;
		const char *nl = memchr(p, '\n', size - off);
		size_t l = nl ? (size_t)(nl - p) : size - off;

		off += l + (nl != NULL);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0 || p[0] == '#')
			continue;
		const char *colon = memchr(p, ':', l);
		CHECK(colon != NULL);
		const char *h = web_users_hash(u, p, (size_t)(colon - p));
		CHECK(h != NULL);
		CHECK(strlen(h) == l - (size_t)(colon - p) - 1);
		CHECK(memcmp(h, colon + 1, strlen(h)) == 0);
		for (const char *q = h; *q; q++)
			CHECK((unsigned char)*q > ' ' && *q != 0x7f);
	}
	web_users_free(u);
	return 0;
}
