/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for net/proxy_proto (the PROXY header a load balancer,
 * or anyone allowed to connect, sends first). Invariants checked:
 *  - the input fed whole and fed a byte at a time give the same result,
 *    the same header length and the same addresses;
 *  - a header never takes more bytes than it was given, a v1 header at
 *    most 107, and never a byte more than proxy_proto_want allowed;
 *  - a header with an address has an IPv4 or IPv6 source and destination.
 */
#include <stdint.h>
#include <string.h>

#include "net/proxy_proto.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_proto whole, step;
	enum proxy_proto_result r1, r2 = PROXY_PROTO_MORE;
	size_t used1, used, total = 0;

	proxy_proto_init(&whole);
	r1 = proxy_proto_feed(&whole, data, size, &used1);
	CHECK(used1 <= size);
	if (r1 == PROXY_PROTO_MORE)
		CHECK(used1 == size);

	proxy_proto_init(&step);
	for (size_t i = 0; i < size && r2 == PROXY_PROTO_MORE; i++) {
		CHECK(proxy_proto_want(&step) >= 1);
		r2 = proxy_proto_feed(&step, data + i, 1, &used);
		CHECK(used <= 1);
		total += used;
	}
	CHECK(r1 == r2);
	if (r1 != PROXY_PROTO_DONE)
		return 0;
	CHECK(used1 == total);
	CHECK(whole.version == 1 || whole.version == 2);
	CHECK(whole.version != 1 || used1 <= PROXY_PROTO_V1_MAX);
	CHECK(whole.has_addr == step.has_addr && whole.local == step.local);
	if (whole.has_addr) {
		int af = whole.src.ss_family;
		CHECK(af == AF_INET || af == AF_INET6);
		CHECK(whole.dst.ss_family == af);
		CHECK(memcmp(&whole.src, &step.src, sizeof(whole.src)) == 0);
		CHECK(memcmp(&whole.dst, &step.dst, sizeof(whole.dst)) == 0);
	}
	return 0;
}
