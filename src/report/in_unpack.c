/* SPDX-License-Identifier: ISC */
/*
 * gzip and zip for received reports (see in_unpack.h). zip is read here
 * rather than with libarchive: a report zip holds one XML file, stored or
 * deflated, and libarchive would add ~30 shared objects (liblzma, libzstd,
 * libbz2, nettle, libacl, ...) to every sealmail process, plus the attack
 * surface of every format it knows, for that.
 */
#include "report/in_unpack.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/limits.h"
#include "core/xmalloc.h"

static bool
in_unpack_too_big(size_t out, size_t in)
{
	if (out > LIMIT_REPORT_DECOMPRESSED)
		return true;
	return out > LIMIT_REPORT_RATIO_FLOOR &&
	    out / (in > 0 ? in : 1) > LIMIT_REPORT_RATIO;
}

int
in_unpack_inflate(const uint8_t *in, size_t inlen, int windowbits,
    uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	z_stream z;
	size_t cap = 64 * 1024, n = 0;
	uint8_t *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, windowbits) != Z_OK) {
		snprintf(err, errlen, "zlib cannot start");
		return -1;
	}
	buf = xmalloc(cap + 1);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = inlen > UINT32_MAX ? UINT32_MAX : (uInt)inlen;
	for (;;) {
		if (n == cap) {
			cap *= 2;
			if (cap > LIMIT_REPORT_DECOMPRESSED + 1)
				cap = LIMIT_REPORT_DECOMPRESSED + 1;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		z.next_out = buf + n;
		z.avail_out = (uInt)(cap - n);
		rc = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		/* Checked before growing again: a bomb stops at the limit.
		 * The input consumed so far, not total_in, which each gzip
		 * member resets. */
		if (in_unpack_too_big(n, inlen - z.avail_in)) {
			snprintf(err, errlen, "decompresses past the limit "
			    "(%zu bytes from %zu, max %d, ratio %d)", n,
			    inlen - (size_t)z.avail_in,
			    LIMIT_REPORT_DECOMPRESSED, LIMIT_REPORT_RATIO);
			goto fail;
		}
		if (rc == Z_STREAM_END) {
			/* gzip may hold several members (RFC 1952 §2.2). */
			if (windowbits > 15 && z.avail_in > 0 &&
			    inflateReset(&z) == Z_OK)
				continue;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			snprintf(err, errlen, "corrupt compressed data (%s)",
			    z.msg != NULL ? z.msg : "zlib error");
			goto fail;
		}
		if (z.avail_out == 0)
			continue;	/* more room, then go on */
		if (z.avail_in == 0) {
			snprintf(err, errlen, "truncated compressed data");
			goto fail;
		}
		if (rc == Z_BUF_ERROR) {
			snprintf(err, errlen, "corrupt compressed data");
			goto fail;
		}
	}
	inflateEnd(&z);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
fail:
	inflateEnd(&z);
	free(buf);
	return -1;
}

static uint16_t
in_unpack_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
in_unpack_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* One central directory entry at cd (at least 46 bytes checked). */
struct in_zip_entry {
	uint16_t	 flags, method;
	uint32_t	 crc, csize, usize, local;
	char		 name[256];
};

/* One entry's data: its local header, then the stored or deflated bytes,
 * checked against the central directory's size and CRC. *total counts
 * the bytes of the entries before: entries may share their data (the
 * central directory lies), so the limit is on the whole zip. */
static int
in_unpack_zip_entry(const uint8_t *d, size_t len, const struct in_zip_entry *e,
    size_t *total, in_unpack_cb *cb, void *arg, char *err, size_t errlen)
{
	const uint8_t *lh = d + e->local;
	uint8_t *out = NULL;
	size_t outlen = 0, off;
	int rc;

	if ((size_t)e->local + 30 > len || in_unpack_le32(lh) != 0x04034b50) {
		snprintf(err, errlen, "zip: bad local header");
		return -1;
	}
	off = (size_t)e->local + 30 + in_unpack_le16(lh + 26) +
	    in_unpack_le16(lh + 28);
	if (off > len || e->csize > len - off) {
		snprintf(err, errlen, "zip: entry past the end (truncated)");
		return -1;
	}
	if (e->flags & 0x1) {
		snprintf(err, errlen, "zip: encrypted entry");
		return -1;
	}
	if (e->usize > LIMIT_REPORT_DECOMPRESSED - *total) {
		snprintf(err, errlen, "zip: entry of %lu bytes (after %zu) is "
		    "past the limit %d", (unsigned long)e->usize, *total,
		    LIMIT_REPORT_DECOMPRESSED);
		return -1;
	}
	if (e->method == 0) {
		out = xmalloc((size_t)e->csize + 1);
		memcpy(out, d + off, e->csize);
		out[e->csize] = '\0';
		outlen = e->csize;
	} else if (e->method == 8) {
		if (in_unpack_inflate(d + off, e->csize, -15, &out, &outlen,
		    err, errlen) == -1)
			return -1;
	} else {
		snprintf(err, errlen, "zip: compression method %u",
		    (unsigned)e->method);
		return -1;
	}
	if (outlen != e->usize ||
	    crc32(0, out, (uInt)outlen) != e->crc) {
		snprintf(err, errlen, "zip: size or CRC mismatch");
		free(out);
		return -1;
	}
	*total += outlen;
	rc = cb(e->name, out, outlen, arg);
	free(out);
	return rc == -1 ? 0 : 1;
}

/* The end of central directory record: searched backwards over the
 * 64 KiB comment it may be followed by. */
static const uint8_t *
in_unpack_zip_eocd(const uint8_t *d, size_t len)
{
	size_t stop = len > 22 + 65535 ? len - 22 - 65535 : 0;

	if (len < 22)
		return NULL;
	for (size_t i = len - 22 + 1; i-- > stop;)
		if (in_unpack_le32(d + i) == 0x06054b50)
			return d + i;
	return NULL;
}

static int
in_unpack_zip(const uint8_t *d, size_t len, in_unpack_cb *cb, void *arg,
    char *err, size_t errlen)
{
	const uint8_t *eocd = in_unpack_zip_eocd(d, len);
	size_t n, cdoff, cdsize, at, total = 0;

	if (eocd == NULL) {
		snprintf(err, errlen, "zip: no end of central directory "
		    "(truncated)");
		return -1;
	}
	n = in_unpack_le16(eocd + 10);
	cdsize = in_unpack_le32(eocd + 12);
	cdoff = in_unpack_le32(eocd + 16);
	if (n > LIMIT_REPORT_ZIP_ENTRIES) {
		snprintf(err, errlen, "zip: %zu entries, max %d", n,
		    LIMIT_REPORT_ZIP_ENTRIES);
		return -1;
	}
	if (cdoff > len || cdsize > len - cdoff) {
		snprintf(err, errlen, "zip: central directory past the end");
		return -1;
	}
	at = cdoff;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *c = d + at;
		struct in_zip_entry e;
		size_t nl, el, cl;

		if (at + 46 > cdoff + cdsize || in_unpack_le32(c) !=
		    0x02014b50) {
			snprintf(err, errlen, "zip: bad central directory");
			return -1;
		}
		e.flags = in_unpack_le16(c + 8);
		e.method = in_unpack_le16(c + 10);
		e.crc = in_unpack_le32(c + 16);
		e.csize = in_unpack_le32(c + 20);
		e.usize = in_unpack_le32(c + 24);
		nl = in_unpack_le16(c + 28);
		el = in_unpack_le16(c + 30);
		cl = in_unpack_le16(c + 32);
		e.local = in_unpack_le32(c + 42);
		if (at + 46 + nl + el + cl > cdoff + cdsize) {
			snprintf(err, errlen, "zip: bad central directory");
			return -1;
		}
		memcpy(e.name, c + 46, nl < sizeof(e.name) ? nl :
		    sizeof(e.name) - 1);
		e.name[nl < sizeof(e.name) ? nl : sizeof(e.name) - 1] = '\0';
		at += 46 + nl + el + cl;
		/* ZIP64 marks sizes as 0xffffffff: never for a report. */
		if (e.csize == UINT32_MAX || e.usize == UINT32_MAX ||
		    e.local == UINT32_MAX) {
			snprintf(err, errlen, "zip: ZIP64 entry");
			return -1;
		}
		if (nl > 0 && c[46 + nl - 1] == '/')
			continue;	/* a folder */
		int rc = in_unpack_zip_entry(d, len, &e, &total, cb, arg, err,
		    errlen);
		if (rc <= 0)
			return rc;
	}
	return 0;
}

int
in_unpack(const uint8_t *data, size_t len, in_unpack_cb *cb, void *arg,
    char *err, size_t errlen)
{
	uint8_t *out;
	size_t outlen;

	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		if (in_unpack_inflate(data, len, 16 + 15, &out, &outlen, err,
		    errlen) == -1)
			return -1;
		cb("", out, outlen, arg);
		free(out);
		return 0;
	}
	if (len >= 4 && in_unpack_le32(data) == 0x04034b50)
		return in_unpack_zip(data, len, cb, arg, err, errlen);
	if (len > LIMIT_REPORT_DECOMPRESSED) {
		snprintf(err, errlen, "report of %zu bytes is past the limit",
		    len);
		return -1;
	}
	cb("", data, len, arg);
	return 0;
}
