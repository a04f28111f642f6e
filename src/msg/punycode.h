/* SPDX-License-Identifier: ISC */
/*
 * Punycode (RFC 3492): the encoding that turns the code points of one
 * U-label into the ASCII tail of its A-label ("münchen" -> "mnchen-3ya",
 * written "xn--mnchen-3ya"). Pure and bounded; the caller has decoded and
 * validated the UTF-8. No IDNA2008 mapping or validation happens here.
 */
#ifndef SEALMAIL_MSG_PUNYCODE_H
#define SEALMAIL_MSG_PUNYCODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Encode the n code points in[] (each at most 0x10FFFF) into out (size
 * outlen), NUL-terminated, without the "xn--" prefix. Returns the length
 * written, or -1 if it does not fit or the arithmetic would overflow.
 */
int punycode_encode(const uint32_t *in, size_t n, char *out, size_t outlen);

/*
 * Decode the len bytes in (untrusted; without the "xn--" prefix) into at
 * most max code points in out. Returns their number, or -1 when the input
 * is not valid Punycode, holds more than max code points, overflows, or
 * decodes to a surrogate, a value past 0x10FFFF or a basic code point in
 * the encoded part (RFC 3492 §6.2; such a label is not a valid A-label).
 */
int punycode_decode(const char *in, size_t len, uint32_t *out, size_t max);

#endif
