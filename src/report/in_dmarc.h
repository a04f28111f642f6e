/* SPDX-License-Identifier: ISC */
/*
 * Reader of DMARC aggregate reports: RFC 9990's XML (namespace
 * urn:ietf:params:xml:ns:dmarc-2.0) and RFC 7489 Appendix C's (no
 * namespace). Streamed through libxml2's xmlTextReader with XML_PARSE_NONET
 * and never NOENT/DTDLOAD/DTDVALID; a document with a DOCTYPE or any
 * entity declaration is refused before libxml2 sees it (billion laughs,
 * external entities), and so is one deeper than LIMIT_REPORT_XML_DEPTH or
 * with more than LIMIT_REPORT_RECORDS records. Pure (no I/O, no
 * global state left behind).
 */
#ifndef SEALMAIL_REPORT_IN_DMARC_H
#define SEALMAIL_REPORT_IN_DMARC_H

#include <stddef.h>

#include "report/inreport.h"

/*
 * Parse data (len bytes) into *out (zeroed first; in_dmarc_clear frees it,
 * also after a failure). 0, or -1 with one line in err. A report needs
 * org_name, report_id, a date range and the policy domain; records without
 * a source_ip are refused.
 */
int in_dmarc_parse(const void *data, size_t len, struct in_dmarc *out,
    char *err, size_t errlen);

#endif
