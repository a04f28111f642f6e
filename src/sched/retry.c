/* SPDX-License-Identifier: ISC */
/* Retry schedule arithmetic (see retry.h). Pure. */
#include "sched/retry.h"

#include <stdint.h>

/* time_t is signed; its maximum without relying on TIME_MAX. */
#define RETRY_TIME_MAX	((time_t)(sizeof(time_t) == 8 ? INT64_MAX : \
	INT32_MAX))

unsigned
retry_interval(unsigned attempts, const unsigned *schedule, size_t n)
{
	if (attempts == 0)
		return 0;
	if (n == 0)
		return RETRY_DEFAULT_INTERVAL;
	return attempts <= n ? schedule[attempts - 1] : schedule[n - 1];
}

time_t
retry_next_attempt(time_t created, unsigned attempts,
    const unsigned *schedule, size_t n)
{
	uint64_t sum = 0, tail;
	unsigned last = n ? schedule[n - 1] : RETRY_DEFAULT_INTERVAL;
	size_t head = n < attempts ? n : attempts;

	/* The explicit entries, then the last one repeated: closed form,
	 * so a huge attempt count costs nothing. */
	for (size_t i = 0; i < head; i++)
		sum += schedule[i];
	if (__builtin_mul_overflow((uint64_t)(attempts - head), last, &tail) ||
	    __builtin_add_overflow(sum, tail, &sum))
		return RETRY_TIME_MAX;
	if (created < 0)
		created = 0;
	if (sum > (uint64_t)(RETRY_TIME_MAX - created))
		return RETRY_TIME_MAX;
	return created + (time_t)sum;
}
