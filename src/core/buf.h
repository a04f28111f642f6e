/* SPDX-License-Identifier: ISC */
/*
 * Growable byte buffer with a hard maximum: the one place where the bound on
 * data from the network is enforced. A buf owns its bytes; data is kept
 * NUL-terminated (one byte past len) so text can be handed to C APIs.
 */
#ifndef SEALMAIL_CORE_BUF_H
#define SEALMAIL_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;	/* NULL until the first append */
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* appends that would make len > max fail */
};

/* Embedded lifecycle: buf_init sets the bound, buf_clear frees the bytes. */
void buf_init(struct buf *b, size_t max);
void buf_clear(struct buf *b);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);
/* Keep only the first len bytes (len <= b->len), e.g. to undo a half-done
 * series of appends; the allocation is kept. */
void buf_truncate(struct buf *b, size_t len);

/* Append; 0 on success, -1 (buffer unchanged) if it would pass max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Remove the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* Give the bytes to the caller (who frees them); the buf is left empty. */
char *buf_take(struct buf *b);

/* NUL-terminated view ("" when empty); borrowed until the next change. */
const char *buf_cstr(const struct buf *b);

#endif
