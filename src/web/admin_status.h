/* SPDX-License-Identifier: ISC */
/*
 * The status page (GET / on the admin listener): one HTML document with
 * inline CSS and SVG charts, no script. Pure: rendered from a metrics
 * snapshot and the DMARC rows read from the store; every string that came
 * from mail or DNS is HTML-escaped here.
 */
#ifndef SEALMAIL_WEB_ADMIN_STATUS_H
#define SEALMAIL_WEB_ADMIN_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct db_dmarc_rate;
struct metrics_snapshot;

struct admin_status {
	const char			*hostname;
	const struct metrics_snapshot	*snap;
	const struct db_dmarc_rate	*rates;	/* DMARC per domain, 24 h */
	size_t				 nrates;
	bool				 rates_failed;	/* store unreadable */
};

/* Append the page to out; -1 if out's bound is reached. */
int admin_status_render(const struct admin_status *st, struct buf *out);

/* Append s with & < > " ' escaped; -1 past out's bound. */
int admin_status_escape(struct buf *out, const char *s);

#endif
