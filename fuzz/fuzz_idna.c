/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for msg/idna (domains from addresses, From: fields,
 * DKIM d= and the CLI, untrusted). Input: a domain name.
 * Invariants checked:
 *  - an accepted name's A-label form is lower-case LDH ASCII ("_" kept),
 *    at most 255 octets, and converting it again gives itself;
 *  - its U-label form converts back to the same A-label form;
 *  - a refused name always comes with a reason;
 *  - the display form is NUL-terminated within its buffer.
 */
#include <stdint.h>
#include <string.h>

#include "msg/idna.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[256], a2[256], u[IDNA_DISPLAY_MAX], disp[IDNA_DISPLAY_MAX];
	const char *why = NULL;
	const char *s = (const char *)data;
	int rc;

	rc = idna_to_alabels(s, size, a, sizeof(a), &why);
	if (rc != 0) {
		CHECK(rc == -1 || rc == -2);
		CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	CHECK(strlen(a) <= 255);
	for (const char *p = a; *p != '\0'; p++)
		CHECK((unsigned char)*p < 0x80 && !(*p >= 'A' && *p <= 'Z'));
	CHECK(idna_to_alabels(a, strlen(a), a2, sizeof(a2), NULL) == 0);
	CHECK(strcmp(a, a2) == 0);
	if (idna_to_ulabels(a, u, sizeof(u), &why) == 0) {
		CHECK(idna_to_alabels(u, strlen(u), a2, sizeof(a2), NULL) == 0);
		CHECK(strcmp(a, a2) == 0);
	}
	idna_display(a, disp, sizeof(disp));
	CHECK(memchr(disp, '\0', sizeof(disp)) != NULL);
	return 0;
}
