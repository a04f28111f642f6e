/* SPDX-License-Identifier: ISC */
/*
 * Unpacking a received report payload: gzip (RFC 1952, through zlib),
 * zip (PKWARE APPNOTE: stored or deflated entries, read from the central
 * directory by our own bounded reader over zlib), or plain. Output is
 * bounded by LIMIT_REPORT_DECOMPRESSED per entry and by the ratio
 * LIMIT_REPORT_RATIO, checked while inflating, so a bomb is refused after
 * at most that much work. Pure.
 */
#ifndef SEALMAIL_REPORT_IN_UNPACK_H
#define SEALMAIL_REPORT_IN_UNPACK_H

#include <stddef.h>
#include <stdint.h>

/* Called per unpacked file (name "" for gzip without one and plain
 * data); data is borrowed for the call. Return 0 to go on, -1 to stop. */
typedef int in_unpack_cb(const char *name, const uint8_t *data, size_t len,
    void *arg);

/*
 * Unpack data (len bytes) by its magic number and call cb per file.
 * 0, or -1 with one line in err (truncated or corrupt input, a limit
 * passed, an unsupported zip feature) after the files before it were
 * handed on.
 */
int in_unpack(const uint8_t *data, size_t len, in_unpack_cb *cb, void *arg,
    char *err, size_t errlen);

/*
 * Inflate one stream (windowbits as for zlib's inflateInit2: 16 + 15 for
 * gzip, -15 for raw deflate) into *out (heap, caller frees; NUL added
 * after *outlen bytes), stopping at the limits. 0, or -1 with err.
 */
int in_unpack_inflate(const uint8_t *in, size_t inlen, int windowbits,
    uint8_t **out, size_t *outlen, char *err, size_t errlen);

#endif
