/* SPDX-License-Identifier: ISC */
/* Queue and session identifiers. Randomness from getrandom(2). */
#include "core/ids.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"

static uint64_t
ids_random64(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		fatal("getrandom failed");
	return r;
}

void
ids_qid_new(char *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t us = (uint64_t)ts.tv_sec * 1000000u +
	    (uint64_t)ts.tv_nsec / 1000u;
	snprintf(out, IDS_QID_LEN + 1, "%013llx%07llx",
	    (unsigned long long)(us & 0xfffffffffffffULL),
	    (unsigned long long)(ids_random64() & 0xfffffffULL));
}

void
ids_sid_new(char *out)
{
	snprintf(out, IDS_SID_LEN + 1, "%016llx",
	    (unsigned long long)ids_random64());
}

bool
ids_qid_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != IDS_QID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
