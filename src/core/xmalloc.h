/* SPDX-License-Identifier: ISC */
/*
 * Allocation that ends the process on out-of-memory. Safe only because no
 * size that comes from the network reaches these without a check against
 * core/limits.h first.
 */
#ifndef SEALMAIL_CORE_XMALLOC_H
#define SEALMAIL_CORE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a heap string the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
