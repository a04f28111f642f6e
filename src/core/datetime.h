/* SPDX-License-Identifier: ISC */
/* Dates in the RFC 5322 §3.3 form for the header fields we write. Pure. */
#ifndef SEALMAIL_CORE_DATETIME_H
#define SEALMAIL_CORE_DATETIME_H

#include <stddef.h>
#include <time.h>

/* "Fri, 27 Nov 2026 21:25:48 +0000" (UTC, fixed English names) into out
 * (32 bytes are enough). */
void datetime_rfc5322(time_t when, char *out, size_t outlen);

#endif
