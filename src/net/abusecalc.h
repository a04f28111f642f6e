/* SPDX-License-Identifier: ISC */
/*
 * The arithmetic of the abuse limits (pure; the shared tables that use it
 * are in connlimit.c): hourly counters packed into one 64-bit word each,
 * so workers update them with a compare-and-swap and no lock a killed
 * process could leave held, and the AUTH failure schedule per (account,
 * client address).
 */
#ifndef SEALMAIL_NET_ABUSECALC_H
#define SEALMAIL_NET_ABUSECALC_H

#include <stdint.h>

/*
 * An hour window word: [hour index (24 bits)][previous hour's count (20)]
 * [this hour's count (20)]. The count of "the last hour" is estimated as
 * a sliding window: this hour's count plus the previous hour's, weighted
 * by the part of the previous hour still inside the last 3600 s (the
 * estimate Cloudflare and nginx use). Counts saturate at HOURWIN_MAX.
 */
#define HOURWIN_MAX	((1u << 20) - 1)

/* The word after adding n at time now (seconds since the epoch). */
uint64_t hourwin_add(uint64_t word, long long now, unsigned n);
/* The sliding count of the last hour at time now. */
unsigned hourwin_count(uint64_t word, long long now);
/* The word after taking back n that hourwin_add counted at time at: from
 * that hour's count, wherever the word has moved it (this hour's or the
 * previous one's); nothing once it is older. Never below 0. */
uint64_t hourwin_sub(uint64_t word, long long now, long long at, unsigned n);
/* True if nothing counted in word can matter any more at time now. */
int hourwin_stale(uint64_t word, long long now);

/*
 * AUTH failures per (account, client address). Each failure takes the
 * next free "slot" on the pair's schedule: it is answered at
 * max(next, now) + step(failures), and that becomes next. Parallel
 * connections thus queue behind each other instead of each guessing at
 * the per-address pace. A success is answered no earlier than next (else
 * an early 235 would tell a guesser which guess was right before the
 * failures' delays are served). With no recent failure next is in the
 * past: no delay. Failures are forgotten AUTHPAIR_DECAY seconds after
 * the last one. When the queue is more than AUTHPAIR_QUEUE_MAX seconds
 * long, attempts of that pair are refused with 454 unchecked (only from
 * that address: nobody elsewhere can lock the owner out).
 */
#define AUTHPAIR_DECAY		3600
#define AUTHPAIR_STEP_MAX	60
#define AUTHPAIR_QUEUE_MAX	300

/* Seconds a pair's n-th recent failure adds to its queue: 1, 2, 4, ...
 * capped at AUTHPAIR_STEP_MAX. */
unsigned authpair_step(unsigned n);
/* The new next for a failure at now (returned), given the old one. */
long long authpair_reserve(long long next, long long now, unsigned n);

#endif
