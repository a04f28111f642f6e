/* SPDX-License-Identifier: ISC */
/* gzip (RFC 1952) of a report in memory, with zlib. Pure. */
#ifndef SEALMAIL_REPORT_REPORT_GZIP_H
#define SEALMAIL_REPORT_REPORT_GZIP_H

#include <stddef.h>

struct buf;

/* Append the gzip of data[0..len) to out (a gzip header with no name
 * and time 0, so the same report compresses to the same bytes). -1 when
 * out's bound is reached or zlib fails. */
int report_gzip(const void *data, size_t len, struct buf *out);

#endif
