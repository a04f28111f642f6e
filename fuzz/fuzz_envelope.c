/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the envelope parser (spool/queue/ID.env is read
 * back by the queue runner and the CLI and must be treated as untrusted).
 * Invariants checked, not just "no crash":
 *  - a rejection comes with a non-empty one-line reason;
 *  - an accepted envelope serialises, the text parses again, and
 *    serialising that gives the same bytes (parse -> to_text is a fixed
 *    point after one round);
 *  - the canonical text has no raw byte outside printable ASCII but LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "queue/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reason(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n') != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope a, b;
	struct buf t1, t2;
	char err[256];

	envelope_init(&a);
	envelope_init(&b);
	buf_init(&t1, 2 * LIMIT_ENVELOPE_FILE);
	buf_init(&t2, 2 * LIMIT_ENVELOPE_FILE);
	if (envelope_from_text((const char *)data, size, &a, err,
	    sizeof(err)) == -1) {
		check_reason(err);
		goto out;
	}
	if (envelope_to_text(&a, &t1) == -1)
		abort();
	for (size_t i = 0; i < t1.len; i++)
		if (t1.data[i] != '\n' && (t1.data[i] < 0x20 ||
		    t1.data[i] > 0x7e))
			abort();
	/* Defaults written out explicitly can make the canonical form a
	 * little longer than a minimal input; past the file bound a
	 * rejection is the correct answer. */
	if (t1.len > LIMIT_ENVELOPE_FILE)
		goto out;
	if (envelope_from_text((const char *)t1.data, t1.len, &b, err,
	    sizeof(err)) == -1)
		abort();
	if (envelope_to_text(&b, &t2) == -1 || t1.len != t2.len ||
	    memcmp(t1.data, t2.data, t1.len) != 0)
		abort();
	if (a.nrcpts != b.nrcpts || a.nrcpts > LIMIT_RECIPIENTS_MAX ||
	    strcmp(a.id, b.id) != 0)
		abort();
out:
	buf_clear(&t1);
	buf_clear(&t2);
	envelope_clear(&a);
	envelope_clear(&b);
	return 0;
}
