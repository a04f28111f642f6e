/* SPDX-License-Identifier: ISC */
/*
 * When to retry a temporarily failed delivery: a pure function of the
 * message's arrival time, the number of attempts made and [delivery]
 * retry_schedule (a list of intervals in seconds whose last entry repeats).
 * No clock, no I/O: the caller passes every input.
 */
#ifndef SEALMAIL_SCHED_RETRY_H
#define SEALMAIL_SCHED_RETRY_H

#include <stddef.h>
#include <time.h>

/* Used when the schedule is empty (conf always gives one; tests may not). */
#define RETRY_DEFAULT_INTERVAL	300

/*
 * The interval that follows attempt number `attempts` (1-based: the wait
 * after the first attempt is schedule[0]); the last entry repeats.
 * attempts == 0 gives 0 (the first attempt is immediate).
 */
unsigned retry_interval(unsigned attempts, const unsigned *schedule,
    size_t n);

/*
 * The time of the next attempt after `attempts` attempts of a message that
 * arrived at `created`: created + the sum of the first `attempts`
 * intervals. So the schedule is anchored at arrival and a slow attempt
 * does not shift later ones. Saturates instead of overflowing.
 */
time_t retry_next_attempt(time_t created, unsigned attempts,
    const unsigned *schedule, size_t n);

#endif
