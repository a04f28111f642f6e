/* SPDX-License-Identifier: ISC */
/*
 * gzip (RFC 1952) compression of a byte string with zlib, for the report
 * files that are sent compressed (TLS-RPT .json.gz). Pure; writing only.
 */
#ifndef SEALMAIL_CORE_GZIP_H
#define SEALMAIL_CORE_GZIP_H

#include <stddef.h>

#include "core/buf.h"

/* Append the gzip member of in[0..len) to out (bounded by out->max); 0, or
 * -1 when zlib fails or out would pass its bound (out unchanged then). */
int gzip_compress(const void *in, size_t len, struct buf *out);

#endif
