/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for bounce_status(): the last_reply it reads holds text
 * from a remote SMTP/LMTP server (and the runner's own prefixes), so it is
 * untrusted. Invariants: the status is always "C.S.D" with class 4 or 5 and
 * one to three digits per subject and detail (a failed recipient never gets
 * 2.x.x), it fits the 12-byte buffer bounce.h asks for, and a
 * "host NAME said: " prefix (bounce.h) does not change it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/bounce.h"
#include "fuzz_check.h"

#define HOST_PREFIX	"host mx.example[192.0.2.1] said: "

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Digits at p, 1 to 3 of them; returns how many, 0 if not. */
static size_t
digits(const char *p)
{
	size_t n = 0;

	while (n < 4 && p[n] >= '0' && p[n] <= '9')
		n++;
	return n <= 3 ? n : 0;
}

static void
check_status(const char *st)
{
	size_t i = 2, n;

	CHECK(strlen(st) < 12);
	CHECK(st[0] == '4' || st[0] == '5');
	CHECK(st[1] == '.');
	CHECK((n = digits(st + i)) > 0);
	i += n;
	CHECK(st[i++] == '.');
	CHECK((n = digits(st + i)) > 0);
	CHECK(st[i + n] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t plen = sizeof(HOST_PREFIX) - 1;
	char *s = malloc(plen + size + 1), st[12], st2[12];

	if (s == NULL)
		return 0;
	memcpy(s, HOST_PREFIX, plen);
	memcpy(s + plen, data, size);
	s[plen + size] = '\0';

	bounce_status(s + plen, st, sizeof(st));
	check_status(st);
	/* The remote-host prefix is stripped once, before the reply is
	 * read: it changes nothing unless the input starts with a prefix. */
	if (strncmp(s + plen, "host ", 5) != 0 &&
	    strncmp(s + plen, "expired after ", 14) != 0) {
		bounce_status(s, st2, sizeof(st2));
		CHECK(strcmp(st, st2) == 0);
	}
	bounce_status(NULL, st2, sizeof(st2));
	CHECK(strcmp(st2, "5.0.0") == 0);
	free(s);
	return 0;
}
