/* SPDX-License-Identifier: ISC */
/*
 * /metrics: a metrics snapshot in the Prometheus text exposition format
 * (version 0.0.4). Pure: no I/O, the output depends only on the snapshot.
 */
#ifndef SEALMAIL_WEB_ADMIN_PROM_H
#define SEALMAIL_WEB_ADMIN_PROM_H

#include <stddef.h>

struct buf;
struct metrics_snapshot;

#define ADMIN_PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Append the exposition of s to out; -1 if out's bound is reached. */
int admin_prom_render(const struct metrics_snapshot *s, struct buf *out);

/* Append a label value escaped as the format wants (backslash, double
 * quote and line feed as \\, \" and \n); -1 past out's bound. */
int admin_prom_escape(struct buf *out, const char *value);

#endif
