/* SPDX-License-Identifier: ISC */
/*
 * The credentials of an HTTP "Authorization: Basic" header (RFC 7617):
 * base64 of "user:password". Pure; the header value is the client's.
 */
#ifndef SEALMAIL_WEB_WEB_BASIC_H
#define SEALMAIL_WEB_WEB_BASIC_H

#include <stddef.h>

#include "web/web_users.h"

/* Longest password we take; longer ones are refused unread. */
#define WEB_BASIC_PASS_MAX	255

struct web_basic {
	char	user[WEB_USERS_NAME_MAX + 1];
	char	pass[WEB_BASIC_PASS_MAX + 1];
};

/*
 * Decode the value of an Authorization header (len bytes, not
 * NUL-terminated): the scheme "Basic" in any case, one or more spaces,
 * then base64 (RFC 4648 §4, padded) of user ":" password. The user may
 * not be empty nor hold control characters; neither part may hold NUL.
 * 0 and out filled, or -1 (out then holds no password).
 */
int web_basic_parse(const char *value, size_t len, struct web_basic *out);

/* Wipe the password. */
void web_basic_clear(struct web_basic *b);

#endif
