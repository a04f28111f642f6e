/* SPDX-License-Identifier: ISC */
/* One log line a second per kind, with a count of those held back (see
 * ratelog.h). */
#include "core/ratelog.h"

bool
ratelog_allow(struct ratelog *r, int64_t now, unsigned *suppressed)
{
	/* A clock that went back (now < last) writes rather than staying
	 * silent until it catches up. */
	if (r->any && now == r->last) {
		if (r->suppressed < UINT32_MAX)
			r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->last = now;
	r->any = true;
	return true;
}
