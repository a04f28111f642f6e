/* SPDX-License-Identifier: ISC */
/*
 * A set of queue ids: a sorted array searched by bisection, filled in bulk
 * once and then mostly shrinking (removals only mark an entry). The queue
 * runner keeps the messages an earlier runner may have delivered from in
 * one (daemon/runner_internal.h); it is empty, and costs nothing, in the usual case.
 */
#ifndef SEALMAIL_QUEUE_QIDSET_H
#define SEALMAIL_QUEUE_QIDSET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ids.h"

struct qidset_ent {
	char	id[IDS_QID_LEN + 1];
	bool	gone;		/* removed; kept for the order */
};

struct qidset {
	struct qidset_ent	*v;
	size_t			 n, cap;
	size_t			 live;	/* entries not gone */
};

void qidset_init(struct qidset *s);
/* Forget everything and free the array. */
void qidset_clear(struct qidset *s);
/* Replace the contents with ids[0..n) (duplicates allowed): one sort. */
void qidset_fill(struct qidset *s, const char (*ids)[IDS_QID_LEN + 1],
    size_t n);
/* Add one id (O(n): for the rare additions after the fill). */
void qidset_add(struct qidset *s, const char *qid);
bool qidset_has(const struct qidset *s, const char *qid);
/* Remove qid if present; the array is freed once nothing is left. */
void qidset_del(struct qidset *s, const char *qid);

#endif
