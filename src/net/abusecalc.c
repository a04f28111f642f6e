/* SPDX-License-Identifier: ISC */
/* Hour windows and the per-pair AUTH schedule (see abusecalc.h). */
#include "net/abusecalc.h"

#define HW_HOUR_BITS	24
#define HW_HOUR_MASK	((1u << HW_HOUR_BITS) - 1)

static unsigned
hw_hour(uint64_t w)
{
	return (unsigned)(w >> 40) & HW_HOUR_MASK;
}

static unsigned
hw_prev(uint64_t w)
{
	return (unsigned)(w >> 20) & HOURWIN_MAX;
}

static unsigned
hw_cur(uint64_t w)
{
	return (unsigned)w & HOURWIN_MAX;
}

static uint64_t
hw_make(unsigned hour, unsigned prev, unsigned cur)
{
	return (uint64_t)(hour & HW_HOUR_MASK) << 40 |
	    (uint64_t)prev << 20 | cur;
}

/* The hour index, truncated as stored (wraps after 1900 years). */
static unsigned
hw_now(long long now)
{
	return (unsigned)(now / 3600) & HW_HOUR_MASK;
}

/* True if the word's hour is after h: another process rolled it over
 * while this one still read the clock of the hour before. */
static int
hw_ahead(uint64_t w, unsigned h)
{
	unsigned d = (hw_hour(w) - h) & HW_HOUR_MASK;

	return d != 0 && d < (1u << (HW_HOUR_BITS - 1));
}

/* The word seen from hour h: rolled forward, never backward. */
static uint64_t
hw_roll(uint64_t w, unsigned h)
{
	unsigned wh = hw_hour(w);

	if (wh == h || hw_ahead(w, h))
		return w;
	if (((wh + 1) & HW_HOUR_MASK) == h)
		return hw_make(h, hw_cur(w), 0);
	return hw_make(h, 0, 0);
}

uint64_t
hourwin_add(uint64_t word, long long now, unsigned n)
{
	uint64_t w = hw_roll(word, hw_now(now));
	unsigned cur = hw_cur(w);

	cur = n > HOURWIN_MAX - cur ? HOURWIN_MAX : cur + n;
	return hw_make(hw_hour(w), hw_prev(w), cur);
}

static unsigned
hw_minus(unsigned v, unsigned n)
{
	return n > v ? 0 : v - n;
}

uint64_t
hourwin_sub(uint64_t word, long long now, long long at, unsigned n)
{
	uint64_t w = hw_roll(word, hw_now(now));
	unsigned h = hw_hour(w), ah = hw_now(at);

	if (ah == h)
		return hw_make(h, hw_prev(w), hw_minus(hw_cur(w), n));
	if (((ah + 1) & HW_HOUR_MASK) == h)
		return hw_make(h, hw_minus(hw_prev(w), n), hw_cur(w));
	return w;
}

unsigned
hourwin_count(uint64_t word, long long now)
{
	uint64_t w = hw_roll(word, hw_now(now));
	unsigned long long into = (unsigned long long)(now % 3600);

	if (hw_ahead(word, hw_now(now)))
		into = 0;	/* the newer hour has just begun */
	/* Round the previous hour's share up: over-count, never under. */
	unsigned long long prev = ((unsigned long long)hw_prev(w) *
	    (3600 - into) + 3599) / 3600;

	return (unsigned)(prev + hw_cur(w));
}

int
hourwin_stale(uint64_t word, long long now)
{
	uint64_t w = hw_roll(word, hw_now(now));

	return hw_prev(w) == 0 && hw_cur(w) == 0;
}

unsigned
authpair_step(unsigned n)
{
	if (n == 0)
		return 0;
	if (n > 6)
		return AUTHPAIR_STEP_MAX;
	unsigned s = 1u << (n - 1);
	return s > AUTHPAIR_STEP_MAX ? AUTHPAIR_STEP_MAX : s;
}

long long
authpair_reserve(long long next, long long now, unsigned n)
{
	return (next > now ? next : now) + authpair_step(n);
}
