/* SPDX-License-Identifier: ISC */
/*
 * Reader of the machine-readable part of an ARF feedback report (RFC 5965
 * §3: the message/feedback-report body, header-like fields; RFC 6591's
 * authentication failure fields). Pure; field count and size bounded by
 * msg/rfc5322_headers.h, each value cut at LIMIT_REPORT_FIELD.
 */
#ifndef SEALMAIL_REPORT_IN_ARF_H
#define SEALMAIL_REPORT_IN_ARF_H

#include <stddef.h>

#include "report/inreport.h"

/* Parse data (len bytes) into *out (zeroed first; in_arf_clear frees it,
 * also after a failure). 0, or -1 with one line in err: Feedback-Type,
 * User-Agent and Version are required (RFC 5965 §3.1). */
int in_arf_parse(const void *data, size_t len, struct in_arf *out,
    char *err, size_t errlen);

#endif
