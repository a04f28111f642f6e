/* SPDX-License-Identifier: ISC */
/* Helpers of report_mail.c that the report kinds share (report.h has the
 * contract; these are small pieces of it). */
#ifndef SEALMAIL_REPORT_REPORT_MAIL_H
#define SEALMAIL_REPORT_REPORT_MAIL_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Printable ASCII and tab only: safe in a header field value. */
bool report_mail_valid_text(const char *s);

/* Append "Name: value\r\n", folded at spaces before column 78. -1 if b
 * is full. */
int report_mail_field(struct buf *b, const char *name, const char *value);

/* Write len bytes to DIR/name (created 0644 or replaced, symlinks not
 * followed): the dry run of report_mail_send and report_https_post. 0,
 * or -1 with one line in err. */
int report_mail_write_file(const char *dir, const char *name,
    const void *data, size_t len, char *err, size_t errlen);

#endif
