/* SPDX-License-Identifier: ISC */
/* Character classes of the RFC 8461 ABNF (RFC 5234 core rules), shared by
 * the TXT record and policy parsers; ASCII only, locale-independent. */
#ifndef SEALMAIL_STS_STS_CHARS_H
#define SEALMAIL_STS_STS_CHARS_H

#include <stdbool.h>

/* ALPHA / DIGIT */
static inline bool
sts_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* WSP = SP / HTAB */
static inline bool
sts_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

#endif
