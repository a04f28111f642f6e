/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the LMTP client's reply reading (deliver/lmtp.c):
 * the input is what a hostile LMTP server could send. The reader is static
 * and socket-bound, so the file is included here and the input is placed in
 * the connection's receive buffer with a zero timeout: the reader then
 * never touches a socket, and running out of input ends like a timeout.
 * Replies are read one after the other, with the LHLO capability callback.
 * Invariants: a reply read has a code 200..599 in one class, its text starts
 * with that code and stays within LIMIT_REPLY_LINE octets; the read offset
 * never passes the data; a failure always says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/lmtp.c"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lmtp_conn c;
	struct lmtp_reply rep;
	char code[4];

	if (size > sizeof(c.in))
		size = sizeof(c.in);
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.timeout = 0;
	memcpy(c.in, data, size);
	c.inlen = size;
	while (lmtp_read_reply(&c, &rep, lmtp_lhlo_line) == 0) {
		CHECK(rep.code >= 200 && rep.code <= 599);
		snprintf(code, sizeof(code), "%d", rep.code);
		CHECK(strncmp(rep.text, code, 3) == 0);
		CHECK(strlen(rep.text) <= LIMIT_REPLY_LINE);
		CHECK(c.inoff <= c.inlen && c.inlen <= sizeof(c.in));
		CHECK(lmtp_status(rep.code) == (rep.code < 300 ?
		    DELIVERY_OK : rep.code >= 500 ? DELIVERY_PERMFAIL :
		    DELIVERY_TEMPFAIL));
	}
	CHECK(c.err[0] != '\0');
	CHECK(c.inoff <= c.inlen && c.inlen <= sizeof(c.in));
	return 0;
}
