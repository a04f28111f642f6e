/* SPDX-License-Identifier: ISC */
/*
 * Reader of TLS-RPT reports (RFC 8460 §4: the JSON report), with json-c:
 * nesting bounded by LIMIT_REPORT_JSON_DEPTH, policies by
 * LIMIT_REPORT_TLS_POLICIES, failure details per policy by
 * LIMIT_REPORT_TLS_FAILURES. Pure.
 */
#ifndef SEALMAIL_REPORT_IN_TLSRPT_H
#define SEALMAIL_REPORT_IN_TLSRPT_H

#include <stddef.h>

#include "report/inreport.h"

/*
 * Parse data (len bytes of JSON) into *out (zeroed first; in_tls_clear
 * frees it, also after a failure). 0, or -1 with one line in err. A report
 * needs organization-name, report-id and the date range (RFC 3339
 * date-times).
 */
int in_tlsrpt_parse(const void *data, size_t len, struct in_tls *out,
    char *err, size_t errlen);

/* An RFC 3339 date-time ("2016-04-01T00:00:00Z", fraction and offset
 * allowed) to Unix seconds; -1 if it is not one. */
int in_tlsrpt_datetime(const char *s, long long *out);

#endif
