/* SPDX-License-Identifier: ISC */
/* Shared per-client counters (see connlimit.h). Lock-free: relaxed atomics
 * suffice, the limits are approximate by a connection or two under races. */
#include "net/connlimit.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/log.h"

#define CONNLIMIT_BUCKETS	4096
#define CONNLIMIT_AUTH_DECAY	(15 * 60)

struct connlimit_auth {
	atomic_uint	 count;
	atomic_llong	 last;
};

struct connlimit {
	unsigned		 slots;
	size_t			 size;
	atomic_uint		*total;		/* [slots] */
	atomic_uint		*conns;		/* [slots][BUCKETS] */
	struct connlimit_auth	*auth;		/* [BUCKETS] */
};

struct connlimit *
connlimit_new(unsigned slots)
{
	size_t hdr = sizeof(struct connlimit);
	size_t size = hdr + slots * sizeof(atomic_uint) +
	    (size_t)slots * CONNLIMIT_BUCKETS * sizeof(atomic_uint) +
	    CONNLIMIT_BUCKETS * sizeof(struct connlimit_auth) + 64;
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("cannot map the connection table");
	struct connlimit *cl = (struct connlimit *)p;
	cl->slots = slots;
	cl->size = size;
	p += hdr;
	cl->total = (atomic_uint *)p;
	p += slots * sizeof(atomic_uint);
	cl->conns = (atomic_uint *)p;
	p += (size_t)slots * CONNLIMIT_BUCKETS * sizeof(atomic_uint);
	p = (uint8_t *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
	cl->auth = (struct connlimit_auth *)p;
	return cl;
}

void
connlimit_free(struct connlimit *cl)
{
	if (cl != NULL)
		munmap(cl, cl->size);
}

void
connlimit_reset_slot(struct connlimit *cl, unsigned slot)
{
	if (slot >= cl->slots)
		return;
	atomic_store(&cl->total[slot], 0);
	for (unsigned b = 0; b < CONNLIMIT_BUCKETS; b++)
		atomic_store(&cl->conns[(size_t)slot * CONNLIMIT_BUCKETS + b],
		    0);
}

/* FNV-1a over the address bytes; IPv6 clients are grouped by /64, since
 * one host usually owns a whole /64. */
static unsigned
connlimit_bucket(const struct sockaddr *sa)
{
	const uint8_t *p;
	size_t n;
	uint32_t h = 2166136261u;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		p = s6->sin6_addr.s6_addr;
		n = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? 16 : 8;
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		p = (const uint8_t *)&s4->sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % CONNLIMIT_BUCKETS;
}

enum connlimit_result
connlimit_acquire(struct connlimit *cl, unsigned slot,
    const struct sockaddr *sa, unsigned per_ip, unsigned total)
{
	unsigned b = connlimit_bucket(sa), ip = 0, all = 0;

	if (slot >= cl->slots)
		return CONNLIMIT_TOTAL;
	for (unsigned s = 0; s < cl->slots; s++) {
		ip += atomic_load_explicit(
		    &cl->conns[(size_t)s * CONNLIMIT_BUCKETS + b],
		    memory_order_relaxed);
		all += atomic_load_explicit(&cl->total[s],
		    memory_order_relaxed);
	}
	if (per_ip && ip >= per_ip)
		return CONNLIMIT_PER_IP;
	if (total && all >= total)
		return CONNLIMIT_TOTAL;
	atomic_fetch_add(&cl->conns[(size_t)slot * CONNLIMIT_BUCKETS + b], 1);
	atomic_fetch_add(&cl->total[slot], 1);
	return CONNLIMIT_OK;
}

unsigned
connlimit_total(struct connlimit *cl)
{
	unsigned all = 0;

	for (unsigned s = 0; s < cl->slots; s++)
		all += atomic_load_explicit(&cl->total[s],
		    memory_order_relaxed);
	return all;
}

void
connlimit_release(struct connlimit *cl, unsigned slot,
    const struct sockaddr *sa)
{
	unsigned b = connlimit_bucket(sa);

	if (slot >= cl->slots)
		return;
	atomic_uint *c = &cl->conns[(size_t)slot * CONNLIMIT_BUCKETS + b];
	if (atomic_load(c) > 0)
		atomic_fetch_sub(c, 1);
	if (atomic_load(&cl->total[slot]) > 0)
		atomic_fetch_sub(&cl->total[slot], 1);
}

unsigned
connlimit_auth_failures(struct connlimit *cl, const struct sockaddr *sa)
{
	struct connlimit_auth *a = &cl->auth[connlimit_bucket(sa)];

	if (time(NULL) - atomic_load(&a->last) > CONNLIMIT_AUTH_DECAY)
		return 0;
	return atomic_load(&a->count);
}

void
connlimit_auth_failed(struct connlimit *cl, const struct sockaddr *sa)
{
	struct connlimit_auth *a = &cl->auth[connlimit_bucket(sa)];
	long long now = time(NULL);

	if (now - atomic_load(&a->last) > CONNLIMIT_AUTH_DECAY)
		atomic_store(&a->count, 0);
	atomic_fetch_add(&a->count, 1);
	atomic_store(&a->last, now);
}

unsigned
connlimit_auth_fail_delay(struct connlimit *cl, const struct sockaddr *sa,
    unsigned *failures)
{
	unsigned n;

	connlimit_auth_failed(cl, sa);
	n = connlimit_auth_failures(cl, sa);
	if (failures != NULL)
		*failures = n;
	return n >= 6 ? CONNLIMIT_AUTH_MAX_DELAY : 1u << (n ? n - 1 : 0);
}
