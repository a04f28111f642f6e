/* SPDX-License-Identifier: ISC */
/*
 * Rate limiting of one kind of log line (say, connection refusals): at
 * most one line a second, the next one carrying how many were held back,
 * so a flood shows in the log without filling it. Pure; the caller gives
 * the time.
 */
#ifndef SEALMAIL_CORE_RATELOG_H
#define SEALMAIL_CORE_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

struct ratelog {
	int64_t		 last;		/* second of the last line written */
	bool		 any;		/* a line was written */
	unsigned	 suppressed;	/* events held back since */
};

/* An event at second `now` (monotonic): true if its line may be written,
 * with *suppressed set to the events held back before it (then reset);
 * false if it is held back (counted). A zeroed struct is ready. */
bool ratelog_allow(struct ratelog *r, int64_t now, unsigned *suppressed);

#endif
