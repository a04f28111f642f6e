/* SPDX-License-Identifier: ISC */
/* gzip compression with zlib (see gzip.h). */
#include "core/gzip.h"

#include <zlib.h>

#include <stdint.h>
#include <string.h>

int
gzip_compress(const void *in, size_t len, struct buf *out)
{
	z_stream z;
	uint8_t chunk[16384];
	size_t start = out->len;
	int rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	do {
		/* avail_in is 32 bits: feed large inputs in slices. */
		size_t left = len - (size_t)((const uint8_t *)z.next_in -
		    (const uint8_t *)in);
		z.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, z.avail_in == left ? Z_FINISH : Z_NO_FLUSH);
		if ((rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) ||
		    buf_append(out, chunk, sizeof(chunk) - z.avail_out) == -1) {
			deflateEnd(&z);
			buf_truncate(out, start);
			return -1;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}
