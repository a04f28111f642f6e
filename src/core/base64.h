/* SPDX-License-Identifier: ISC */
/* Base64 (RFC 4648 §4) encoding and strict decoding. Pure. */
#ifndef SEALMAIL_CORE_BASE64_H
#define SEALMAIL_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decode len chars into out (capacity outcap). Whitespace is not allowed;
 * padding is required. Returns decoded length or -1 on bad input or if
 * outcap is too small. */
long base64_decode(const char *in, size_t len, uint8_t *out, size_t outcap);
/* Encode n bytes into out (capacity outcap, needs 4*ceil(n/3)+1); returns
 * the length or -1. NUL-terminates. */
long base64_encode(const uint8_t *in, size_t n, char *out, size_t outcap);

#endif
