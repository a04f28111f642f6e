/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for keys/keys_proto: arbitrary bytes as a stream of
 * frames from a peer or the master. Invariants: a decode never reads past
 * the body; a refused body leaves the message zeroed; every accepted
 * message is within its bounds and encodes back to the very same frame.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "keys/keys_proto.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_msg(const uint8_t *frame, size_t flen, const struct keys_msg *m)
{
	static uint8_t out[KEYS_PROTO_CTRL_MAX + 16];
	long n;

	CHECK(m->type >= KEYS_MSG_SIGN && m->type <= KEYS_MSG_TYPE_MAX);
	switch (m->type) {
	case KEYS_MSG_SIGN:
		CHECK(m->datalen >= 1 && m->datalen <= KEYOP_TBS_MAX);
		CHECK(strnlen(m->md, sizeof(m->md)) < sizeof(m->md));
		break;
	case KEYS_MSG_SIG:
		CHECK(m->datalen <= KEYOP_SIG_MAX);
		break;
	case KEYS_MSG_PASSWD:
		CHECK(m->userlen >= 1 && m->userlen <= LIMIT_SASL_FIELD);
		CHECK(m->passlen <= LIMIT_SASL_FIELD);
		break;
	case KEYS_MSG_LOAD:
		CHECK(m->datalen >= 1 && m->datalen <= KEYS_PROTO_PEM_MAX);
		break;
	default:
		break;
	}
	n = keys_proto_encode_raw(out, sizeof(out), m);
	CHECK(n > 0 && (size_t)n == flen && memcmp(out, frame, flen) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_msg m;
	size_t off = 0, body;
	uint8_t *copy;
	int r;

	while ((r = keys_proto_frame(data + off, size - off,
	    KEYS_PROTO_CTRL_MAX, &body)) == 1) {
		/* An exact-size copy, so ASan sees any read past the end. */
		copy = malloc(body);
		CHECK(copy != NULL);
		memcpy(copy, data + off + KEYS_PROTO_HDR, body);
		if (keys_proto_decode(copy, body, &m) == 0)
			check_msg(data + off, KEYS_PROTO_HDR + body, &m);
		else
			CHECK(m.type == 0 && m.data == NULL && m.user == NULL);
		free(copy);
		off += KEYS_PROTO_HDR + body;
	}
	CHECK(off <= size);
	return 0;
}
