/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the DKIM tag-list iterator and DKIM-Signature
 * parser (auth/dkim_sig). Invariants: every tag and value span lies
 * inside the input; a parsed signature has NUL-terminated d/s/i within
 * their bounds, i= ending in d= at a label boundary, a bh= of the size its
 * algorithm needs, a b= span inside the input that starts after "b=", h=
 * names inside the owned copy and listing From; and blanking b= makes the
 * same field fail (b= is required and may not be empty).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_sig.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_tags(const char *text, size_t len)
{
	struct dkim_tag_iter it;
	struct dkim_tag t;
	unsigned n = 0;

	dkim_tag_init(&it, text, len);
	while (dkim_tag_next(&it, &t) == 1) {
		CHECK(t.namelen > 0 && t.name >= text &&
		    t.name + t.namelen <= text + len);
		CHECK(t.vstart <= t.vend && t.vend <= len);
		CHECK(t.val >= text + t.vstart &&
		    t.val + t.vallen <= text + t.vend);
		CHECK(++n <= len);
	}
}

static void
check_sig(const char *text, size_t len, const struct dkim_sig *s)
{
	size_t dl = strnlen(s->d, sizeof(s->d)), il = strnlen(s->i,
	    sizeof(s->i));
	bool from = false;

	CHECK(dl > 0 && dl < sizeof(s->d));
	CHECK(strnlen(s->s, sizeof(s->s)) < sizeof(s->s));
	CHECK(il > dl && il < sizeof(s->i));
	CHECK(dkim_name_eq(s->i + il - dl, dl, s->d, dl));
	CHECK(s->i[il - dl - 1] == '@' || s->i[il - dl - 1] == '.');
	CHECK(s->bhlen == (s->alg == DKIM_ALG_RSA_SHA1 ? 20u : 32u));
	CHECK(s->blen > 0 && s->blen <= DKIM_SIG_B_MAX);
	CHECK(strlen(s->b_prefix) <= 8);
	CHECK(s->b_start >= 2 && s->b_start <= s->b_end && s->b_end <= len);
	CHECK(text[s->b_start - 1] == '=');
	CHECK(s->nh > 0 && s->nh <= DKIM_SIG_H_MAX);
	for (size_t k = 0; k < s->nh; k++) {
		CHECK(s->h[k].len > 0 && s->h[k].len <= DKIM_FIELD_NAME_MAX);
		CHECK(s->h[k].p >= s->raw &&
		    s->h[k].p + s->h[k].len <= s->raw + s->rawlen);
		from |= dkim_name_eq(s->h[k].p, s->h[k].len, "from", 4);
	}
	CHECK(from);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct dkim_sig sig, again;
	char *blank;

	check_tags(text, size);
	if (dkim_sig_parse(text, size, &sig) != DKIM_SIG_OK) {
		dkim_sig_clear(&sig);
		return 0;
	}
	check_sig(text, size, &sig);
	/* What the verifier hashes: the field with b= emptied. */
	blank = malloc(size + 1);
	memcpy(blank, text, sig.b_start);
	memcpy(blank + sig.b_start, text + sig.b_end, size - sig.b_end);
	CHECK(dkim_sig_parse(blank, size - (sig.b_end - sig.b_start),
	    &again) != DKIM_SIG_OK);
	dkim_sig_clear(&again);
	free(blank);
	dkim_sig_clear(&sig);
	return 0;
}
