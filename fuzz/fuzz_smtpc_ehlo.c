/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for EHLO reply -> capabilities: the input is a server's
 * EHLO reply. Checks that capabilities only come from a complete 2xx reply,
 * that the AUTH bits stay within the known set, that a SIZE value implies
 * SIZE, and that every flag set has its keyword somewhere in the text.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpc/smtpc_reply.h"

#define FUZZ_AUTH_ALL	(SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN | \
    SMTPC_AUTH_CRAM_MD5 | SMTPC_AUTH_SCRAM_SHA_1 | SMTPC_AUTH_SCRAM_SHA_256 | \
    SMTPC_AUTH_XOAUTH2 | SMTPC_AUTH_OTHER)

static void
fuzz_keyword(bool flag, const char *text, const char *kw)
{
	if (flag)
		assert(strcasestr(text, kw) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_reply r;
	struct smtpc_caps c;
	size_t used;
	const char *t;
	int rc;

	smtpc_reply_init(&r);
	(void)smtpc_reply_parse(&r, (const char *)data, size, &used);
	rc = smtpc_caps_from_reply(&r, &c);
	if (!r.done || r.code / 100 != 2) {
		assert(rc == -1);
		assert(!c.pipelining && !c.starttls && c.auth == 0);
	} else {
		assert(rc == 0);
		/* The text may hold NULs; search a copy without them. */
		char *copy = malloc(r.text.len + 1);
		assert(copy != NULL);
		memcpy(copy, buf_cstr(&r.text), r.text.len + 1);
		for (size_t i = 0; i < r.text.len; i++)
			if (copy[i] == '\0')
				copy[i] = ' ';
		t = copy;
		assert((c.auth & ~(unsigned)FUZZ_AUTH_ALL) == 0);
		assert(c.size_max == 0 || c.size);
		fuzz_keyword(c.pipelining, t, "PIPELINING");
		fuzz_keyword(c.starttls, t, "STARTTLS");
		fuzz_keyword(c.smtputf8, t, "SMTPUTF8");
		fuzz_keyword(c.eightbitmime, t, "8BITMIME");
		fuzz_keyword(c.dsn, t, "DSN");
		fuzz_keyword(c.requiretls, t, "REQUIRETLS");
		fuzz_keyword(c.chunking, t, "CHUNKING");
		fuzz_keyword(c.auth != 0, t, "AUTH");
		/* The greeting line alone yields no capability. */
		if (strchr(t, '\n') == NULL)
			assert(!c.pipelining && !c.size && !c.starttls &&
			    c.auth == 0 && !c.dsn);
		free(copy);
	}
	smtpc_reply_clear(&r);
	return 0;
}
