/* SPDX-License-Identifier: ISC */
/* gzip of a report in memory (report_gzip.h). */
#include "report/report_gzip.h"

#include <string.h>
#include <zlib.h>

#include "core/buf.h"

int
report_gzip(const void *data, size_t len, struct buf *out)
{
	unsigned char chunk[16384];
	z_stream z;
	int rc, ret = 0;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper instead of zlib's. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)data;
	do {
		size_t step = len > (1u << 30) ? (1u << 30) : len;

		z.avail_in = (uInt)step;
		len -= step;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			rc = deflate(&z, len == 0 ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR || buf_append(out, chunk,
			    sizeof(chunk) - z.avail_out) == -1) {
				ret = -1;
				goto out;
			}
		} while (z.avail_out == 0);
	} while (len > 0);
	if (rc != Z_STREAM_END)
		ret = -1;
out:
	deflateEnd(&z);
	return ret;
}
