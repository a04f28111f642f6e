/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/srs (SRS addresses read from RCPT TO, untrusted).
 * The input is tried as an address to reverse and as a sender to forward.
 * Invariants checked:
 *  - reversing never writes past the output, and a success is a valid
 *    address (it parses back to itself);
 *  - whatever srs_forward writes reverses with the same key, at once, to
 *    the sender (SRS0) or to an SRS0 address (SRS1), and fails with
 *    another key; its local part is at most 64 octets;
 *  - an address that is not SRS reverses to SRS_NOT_SRS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "msg/addr.h"
#include "msg/srs.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[SRS_SECRET_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
static const uint8_t other[SRS_SECRET_LEN] = "other-key-other-key-other-key-0";
static const long long now = 20427LL * 86400;

static void
check_address(const char *s)
{
	struct addr a;
	char t[LIMIT_PATH + 1];

	CHECK(addr_parse_mailbox(s, strlen(s), true, &a) == ADDR_OK);
	CHECK(addr_to_text(&a, t, sizeof(t)) == 0);
	CHECK(strcmp(t, s) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char out[LIMIT_PATH + 1 + 8], back[LIMIT_PATH + 1];
	enum srs_result r;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	memset(out + LIMIT_PATH + 1, 0x5a, 8);
	r = srs_reverse(key, sizeof(key), s, now, 21, out, LIMIT_PATH + 1);
	for (size_t i = 0; i < 8; i++)
		CHECK((unsigned char)out[LIMIT_PATH + 1 + i] == 0x5a);
	if (r == SRS_OK)
		check_address(out);
	if (!srs_is_srs(s))
		CHECK(r == SRS_NOT_SRS || r == SRS_ERR_SYNTAX);

	r = srs_forward(key, sizeof(key), s, "fwd.example", now, out,
	    LIMIT_PATH + 1);
	if (r == SRS_OK) {
		check_address(out);
		CHECK(strchr(out, '@') - out <= LIMIT_LOCAL_PART);
		CHECK(srs_is_srs(out));
		CHECK(srs_reverse(other, sizeof(other), out, now, 21, back,
		    sizeof(back)) == SRS_ERR_HASH);
		CHECK(srs_reverse(key, sizeof(key), out, now, 0, back,
		    sizeof(back)) == SRS_OK);
		if (strncmp(out, "SRS0=", 5) == 0) {
			/* The sender comes back in canonical form. */
			struct addr a;
			char t[LIMIT_PATH + 1];
			CHECK(addr_parse_mailbox(s, strlen(s), true, &a) ==
			    ADDR_OK);
			CHECK(addr_to_text(&a, t, sizeof(t)) == 0);
			CHECK(strcmp(back, t) == 0);
		} else
			CHECK(strncasecmp(back, "SRS0", 4) == 0);
	}
	free(s);
	return 0;
}
