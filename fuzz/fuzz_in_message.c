/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for a whole received report message: the MIME walker
 * (report/in_mime), gzip/zip unpacking (report/in_unpack) and the readers
 * behind them (report/inreport). Invariants: every callback gets exactly
 * one of a report or an error, reports of a known kind, the count returned
 * equals the callbacks made and stays within the payload bounds (a zip
 * may hold LIMIT_REPORT_ZIP_ENTRIES files, plus one refusal per part and
 * one for the MIME limits).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "report/inreport.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cb(const struct inreport *r, const char *err, void *arg)
{
	size_t *n = arg;

	CHECK((r == NULL) != (err == NULL));
	if (r != NULL) {
		CHECK(r->kind == INREPORT_DMARC || r->kind == INREPORT_TLS ||
		    r->kind == INREPORT_ARF);
		CHECK(r->msg_id != NULL && r->msg_from_domain != NULL);
	} else {
		CHECK(err[0] != '\0');
	}
	(*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	size_t got = inreport_from_message((const char *)data, size, false, 0,
	    cb, &n);

	CHECK(got == n);
	CHECK(n <= LIMIT_REPORT_PAYLOADS * (LIMIT_REPORT_ZIP_ENTRIES + 1) + 1);
	return 0;
}
