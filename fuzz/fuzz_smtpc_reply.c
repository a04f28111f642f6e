/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the client-side SMTP reply parser: the input is what
 * a hostile server could send. Replies are parsed one after the other; for
 * each complete one the structural invariants are checked (code range,
 * enhanced code agreeing with the class, bounded text and line count).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/limits.h"
#include "smtpc/smtpc_reply.h"

static void
fuzz_check(const struct smtpc_reply *r)
{
	size_t el = strnlen(r->enhanced, SMTPC_ENH_MAX);

	assert(r->done);
	assert(r->code >= 200 && r->code <= 559);
	assert(r->nlines >= 1 && r->nlines <= SMTPC_REPLY_MAX_LINES);
	assert(el < SMTPC_ENH_MAX);
	if (el > 0) {
		assert(r->enhanced[0] - '0' == r->code / 100);
		assert(r->enhanced[1] == '.');
	}
	/* Each line contributes at most LIMIT_REPLY_LINE octets plus '\n'. */
	assert(r->text.len <= r->nlines * LIMIT_REPLY_LINE);
	assert(strlen(buf_cstr(&r->text)) <= r->text.len);
	assert(smtpc_reply_class(r) == r->code / 100);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_reply r;
	enum smtpc_reply_result res;
	size_t off = 0, used;

	smtpc_reply_init(&r);
	while (off < size) {
		res = smtpc_reply_parse(&r, (const char *)data + off,
		    size - off, &used);
		assert(used <= size - off);
		if (res == SMTPC_REPLY_DONE)
			fuzz_check(&r);
		else if (res != SMTPC_REPLY_MORE)
			assert(smtpc_reply_result_text(res)[0] != '\0');
		if (res != SMTPC_REPLY_DONE || used == 0)
			break;
		off += used;
		smtpc_reply_reset(&r);
	}
	smtpc_reply_clear(&r);
	return 0;
}
