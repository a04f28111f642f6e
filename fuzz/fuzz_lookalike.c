/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/lookalike (From: domains and display names of
 * received mail, untrusted). Input: one flag byte (bit 0: DMARC passed),
 * then the From: domain, '\n', the From: field value whose display text
 * (lookalike_display_text) is checked, '\n', the real address.
 * Invariants checked:
 *  - a hit has a reason and names two non-empty names of printable ASCII
 *    without '"', '\\' or ';' (they go into a header field as written);
 *  - the same input gives the same answer twice;
 *  - a protected domain that passed DMARC is never flagged;
 *  - the display text is NUL-terminated within its buffer;
 *  - the Unicode form of the domain, when there is one, is NUL-terminated
 *    within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/idna.h"
#include "msg/lookalike.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lookalike_set *set;

static void
check_name(const char *s)
{
	CHECK(s[0] != '\0');
	for (; *s != '\0'; s++)
		CHECK(*s > ' ' && *s < 0x7f && *s != '"' && *s != '\\' &&
		    *s != ';');
}

/* Copy the next '\n'-terminated part of data into a new string. */
static char *
next_part(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	char *s = malloc(n + 1);

	CHECK(s != NULL);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const protect[] = { "example.org", "paypal.com",
	    "xn--bcher-kva.example", "gmail.com", "ietf.org" };
	const uint8_t *p = data + 1, *end = data + size;
	struct lookalike_hit h1, h2;
	char uni[LOOKALIKE_NAME_MAX * 4];
	bool r1, r2;

	if (set == NULL) {
		CHECK((set = lookalike_set_new()) != NULL);
		for (size_t i = 0; i < sizeof(protect) / sizeof(protect[0]);
		    i++)
			CHECK(lookalike_set_add(set, protect[i]) == 0);
	}
	if (size == 0)
		return 0;
	char *domain = next_part(&p, end);
	char *value = next_part(&p, end);
	char display[LOOKALIKE_DISPLAY_MAX + 1];
	char *address = next_part(&p, end);
	CHECK(lookalike_display_text(value, strlen(value), display,
	    sizeof(display)) == 0);
	CHECK(memchr(display, '\0', sizeof(display)) != NULL);
	struct lookalike_from f = { domain, address[0] ? address : NULL,
	    display[0] ? display : NULL, (data[0] & 1) != 0 };

	r1 = lookalike_check(set, &f, &h1);
	r2 = lookalike_check(set, &f, &h2);
	CHECK(r1 == r2);
	if (r1) {
		CHECK(h1.reason != LOOKALIKE_NONE);
		CHECK(strcmp(lookalike_reason_name(h1.reason), "none") != 0);
		check_name(h1.from);
		check_name(h1.resembles);
		CHECK(h1.reason == h2.reason);
		CHECK(strcmp(h1.resembles, h2.resembles) == 0);
	} else {
		CHECK(h1.reason == LOOKALIKE_NONE);
	}
	for (size_t i = 0; i < sizeof(protect) / sizeof(protect[0]); i++) {
		struct lookalike_from own = { protect[i], NULL, display, true };

		CHECK(!lookalike_check(set, &own, &h1));
	}
	if (idna_to_ulabels(domain, uni, sizeof(uni), NULL) == 0)
		CHECK(memchr(uni, '\0', sizeof(uni)) != NULL);
	free(domain);
	free(value);
	free(address);
	return 0;
}
