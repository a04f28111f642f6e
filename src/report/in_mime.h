/* SPDX-License-Identifier: ISC */
/*
 * A bounded MIME walker for received reports (RFC 2045, RFC 2046): finds
 * the parts of a message that can carry a report (see in_mime_is_report)
 * as the whole body or inside multiparts up to LIMIT_REPORT_MIME_DEPTH,
 * looking at most at LIMIT_REPORT_MIME_PARTS parts, and hands each one
 * decoded (base64, quoted-printable, or as is) to a callback. Pure; the
 * message is untrusted bytes plus a length.
 */
#ifndef SEALMAIL_REPORT_IN_MIME_H
#define SEALMAIL_REPORT_IN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest content type ("type/subtype", lower case) and file name kept. */
#define IN_MIME_TYPE_MAX	127
#define IN_MIME_NAME_MAX	255

struct in_mime_part {
	char		 type[IN_MIME_TYPE_MAX + 1];	/* lower case */
	char		 filename[IN_MIME_NAME_MAX + 1];	/* "" if none */
	const uint8_t	*data;		/* decoded; borrowed for the call */
	size_t		 len;
};

/* Called per report part; return 0 to go on, -1 to stop the walk. */
typedef int in_mime_cb(const struct in_mime_part *p, void *arg);

enum in_mime_result {
	IN_MIME_OK,		/* walked (maybe with no report part) */
	IN_MIME_LIMIT,		/* depth or part count passed: stopped */
	IN_MIME_STOPPED,	/* the callback asked to stop */
};

/*
 * Walk msg (len bytes: header section and body). At most
 * LIMIT_REPORT_PAYLOADS parts are handed to cb.
 */
enum in_mime_result in_mime_walk(const char *msg, size_t len, in_mime_cb *cb,
    void *arg);

/* Whether a part of this type (lower case) and file name may be a
 * report: the types of RFC 9990 §3.5.2, RFC 8460 §5.3 and RFC 5965, and
 * application/octet-stream named *.xml, *.gz, *.zip or *.json. */
bool in_mime_is_report(const char *type, const char *filename);

/*
 * The value of parameter name (case-insensitive) in a Content-Type or
 * Content-Disposition value (len bytes), unquoted, into out; false if
 * absent or longer than outlen - 1.
 */
bool in_mime_param(const char *value, size_t len, const char *name,
    char *out, size_t outlen);

#endif
