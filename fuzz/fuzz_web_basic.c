/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for web/web_basic: the client's Authorization header.
 * Invariants: accepted credentials have a non-empty user without control
 * characters or ':', both parts NUL-terminated within their bounds, and
 * "Basic " + base64(user ":" pass) parses back to the same; refused ones
 * leave no password behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "web/web_basic.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct web_basic b, again;
	char raw[sizeof(b.user) + sizeof(b.pass)], hdr[1024] = "Basic ";
	size_t ul, pl;

	if (web_basic_parse((const char *)data, size, &b) == -1) {
		CHECK(b.pass[0] == '\0');
		return 0;
	}
	ul = strnlen(b.user, sizeof(b.user));
	pl = strnlen(b.pass, sizeof(b.pass));
	CHECK(ul > 0 && ul <= WEB_USERS_NAME_MAX);
	CHECK(pl <= WEB_BASIC_PASS_MAX);
	for (size_t i = 0; i < ul; i++)
		CHECK((unsigned char)b.user[i] >= ' ' && b.user[i] != 0x7f &&
		    b.user[i] != ':');
	memcpy(raw, b.user, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, b.pass, pl);
	CHECK(base64_encode((const uint8_t *)raw, ul + 1 + pl, hdr + 6,
	    sizeof(hdr) - 6) > 0);
	CHECK(web_basic_parse(hdr, strlen(hdr), &again) == 0);
	CHECK(strcmp(again.user, b.user) == 0);
	CHECK(strcmp(again.pass, b.pass) == 0);
	web_basic_clear(&b);
	web_basic_clear(&again);
	return 0;
}
