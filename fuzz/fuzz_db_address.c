/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for store/db db_address_normalize(), which sees
 * addresses from the network (RCPT TO, AUTH login names) before any store
 * lookup. The first byte picks catchall_ok, the rest is the address (cut
 * at its first NUL, as a C string would be). Invariants: an accepted
 * address comes out in the canonical form of msg/addr.h: it normalizes to
 * itself, its domain is lower-case ASCII (A-labels), it parses as a
 * mailbox, or is "@domain" only with catchall_ok; what is accepted without
 * catchall_ok is accepted with it too, with the same result; an output
 * buffer of exactly the result's length is refused.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/addr.h"
#include "store/db.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[2 * DB_ADDRESS_MAX], out[DB_ADDRESS_MAX + 1];
	char again[DB_ADDRESS_MAX + 1], other[DB_ADDRESS_MAX + 1];
	bool catchall;
	size_t len, llen;
	const char *dom;
	struct addr a;

	if (size == 0)
		return 0;
	catchall = data[0] & 1;
	len = size - 1 < sizeof(in) - 1 ? size - 1 : sizeof(in) - 1;
	memcpy(in, data + 1, len);
	in[len] = '\0';
	len = strlen(in);

	if (db_address_normalize(in, catchall, out, sizeof(out)) == -1) {
		/* Refused with catchall_ok: refused without it too. */
		if (catchall)
			CHECK(db_address_normalize(in, false, other,
			    sizeof(other)) == -1);
		return 0;
	}
	CHECK(len <= DB_ADDRESS_MAX && strlen(out) <= DB_ADDRESS_MAX);
	dom = addr_text_domain(out);
	CHECK(dom[0] != '\0' && dom > out);
	llen = (size_t)(dom - out) - 1;
	CHECK(llen > 0 || catchall);
	for (const char *p = dom; *p; p++)
		CHECK((unsigned char)*p < 0x80 && (dom[0] == '[' ||
		    !(*p >= 'A' && *p <= 'Z')));
	if (llen > 0)
		CHECK(addr_parse_mailbox(out, strlen(out), true, &a) ==
		    ADDR_OK);
	CHECK(db_address_normalize(out, catchall, again, sizeof(again)) == 0);
	CHECK(strcmp(again, out) == 0);
	if (!catchall) {
		CHECK(db_address_normalize(in, true, other, sizeof(other)) ==
		    0);
		CHECK(strcmp(other, out) == 0);
	}
	CHECK(db_address_normalize(in, catchall, other, strlen(out)) == -1);
	return 0;
}
