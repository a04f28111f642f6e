/* SPDX-License-Identifier: ISC */
/* A set of queue ids (see qidset.h). */
#include "queue/qidset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

void
qidset_init(struct qidset *s)
{
	memset(s, 0, sizeof(*s));
}

void
qidset_clear(struct qidset *s)
{
	free(s->v);
	qidset_init(s);
}

static int
qidset_cmp(const void *a, const void *b)
{
	const struct qidset_ent *x = a, *y = b;

	return strcmp(x->id, y->id);
}

/* The position of qid, or where it would be inserted; *found says which. */
static size_t
qidset_find(const struct qidset *s, const char *qid, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].id, qid);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

void
qidset_fill(struct qidset *s, const char (*ids)[IDS_QID_LEN + 1], size_t n)
{
	size_t o = 0;

	qidset_clear(s);
	if (n == 0)
		return;
	s->v = xreallocarray(NULL, n, sizeof(*s->v));
	s->cap = n;
	for (size_t i = 0; i < n; i++) {
		memcpy(s->v[i].id, ids[i], IDS_QID_LEN);
		s->v[i].id[IDS_QID_LEN] = '\0';
		s->v[i].gone = false;
	}
	qsort(s->v, n, sizeof(*s->v), qidset_cmp);
	for (size_t i = 0; i < n; i++)
		if (o == 0 || strcmp(s->v[o - 1].id, s->v[i].id) != 0)
			s->v[o++] = s->v[i];
	s->n = s->live = o;
}

void
qidset_add(struct qidset *s, const char *qid)
{
	bool found;
	size_t at = qidset_find(s, qid, &found);

	if (found) {
		if (s->v[at].gone) {
			s->v[at].gone = false;
			s->live++;
		}
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(*s->v));
	snprintf(s->v[at].id, sizeof(s->v[at].id), "%s", qid);
	s->v[at].gone = false;
	s->n++;
	s->live++;
}

bool
qidset_has(const struct qidset *s, const char *qid)
{
	bool found;
	size_t at;

	if (s->live == 0)
		return false;
	at = qidset_find(s, qid, &found);
	return found && !s->v[at].gone;
}

void
qidset_del(struct qidset *s, const char *qid)
{
	bool found;
	size_t at;

	if (s->live == 0)
		return;
	at = qidset_find(s, qid, &found);
	if (!found || s->v[at].gone)
		return;
	s->v[at].gone = true;
	if (--s->live == 0)
		qidset_clear(s);
}
