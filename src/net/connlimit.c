/* SPDX-License-Identifier: ISC */
/* Shared per-client counters (see connlimit.h). Lock-free: relaxed atomics
 * suffice for the connection limits, approximate by a connection or two
 * under races; the per-account limits check and count in one
 * compare-and-swap, exact. */
#include "net/connlimit.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "net/abusecalc.h"

#define CONNLIMIT_BUCKETS	4096
/* Pregreet passes: a day of distinct clients of a busy mx (128 KiB). */
#define CONNLIMIT_GREET_SLOTS	16384
#define CONNLIMIT_AUTH_DECAY	(15 * 60)

struct connlimit_auth {
	atomic_uint	 count;
	atomic_llong	 last;
};

/*
 * Tables keyed by an account name (with a client address for AUTH): 64-bit
 * keyed hashes as tags, CONNLIMIT_WAYS entries per set. Two keys share an
 * entry only if their 64-bit tags collide, so nobody is limited for
 * someone else's count; when a set is full the least recently active
 * entry is taken over (its counts are forgotten: an under-count, only
 * under more active accounts than the table holds).
 */
#define CONNLIMIT_SETS		4096
#define CONNLIMIT_WAYS		4

/* An entry of either table. Accounts: a, b = hour windows of messages
 * and recipients (abusecalc.h). AUTH pairs: a = the last failure (40
 * bits) << 24 | recent failures (24 bits), b = next (abusecalc.h). */
struct connlimit_entry {
	_Atomic uint64_t tag;		/* 0: free */
	_Atomic uint64_t a;
	_Atomic uint64_t b;
};

struct connlimit {
	unsigned		 slots;
	size_t			 size;
	uint64_t		 key[2];	/* of the tags, random per start */
	atomic_uint		*total;		/* [slots] */
	atomic_uint		*conns;		/* [slots][BUCKETS] */
	struct connlimit_auth	*auth;		/* [BUCKETS] */
	_Atomic uint64_t	*greeted;	/* [GREET_SLOTS]: a client's
						 * tag (high 32 bits) and
						 * until when it passed */
	struct connlimit_entry	*acct;		/* [SETS][WAYS] */
	struct connlimit_entry	*pair;		/* [SETS][WAYS] */
};

struct connlimit *
connlimit_new(unsigned slots)
{
	size_t hdr = sizeof(struct connlimit);
	size_t size = hdr + slots * sizeof(atomic_uint) +
	    (size_t)slots * CONNLIMIT_BUCKETS * sizeof(atomic_uint) +
	    CONNLIMIT_BUCKETS * sizeof(struct connlimit_auth) +
	    CONNLIMIT_GREET_SLOTS * sizeof(uint64_t) +
	    2 * CONNLIMIT_SETS * CONNLIMIT_WAYS *
	    sizeof(struct connlimit_entry) + 4 * 64;
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
	p += CONNLIMIT_BUCKETS * sizeof(struct connlimit_auth);
	p = (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
	cl->greeted = (_Atomic uint64_t *)p;
	p += CONNLIMIT_GREET_SLOTS * sizeof(uint64_t);
	p = (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
	cl->acct = (struct connlimit_entry *)p;
	p += CONNLIMIT_SETS * CONNLIMIT_WAYS * sizeof(struct connlimit_entry);
	cl->pair = (struct connlimit_entry *)p;
	if (getrandom(cl->key, sizeof(cl->key), 0) != sizeof(cl->key))
		fatal("getrandom failed");
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

/* The address bytes that identify a client: IPv6 clients are grouped by
 * /64, since one host usually owns a whole /64. */
static size_t
connlimit_addr_bytes(const struct sockaddr *sa, const uint8_t **p)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		*p = s6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? 16 : 8;
	}
	*p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr;
	return 4;
}

static uint64_t connlimit_tag(const struct connlimit *cl, const char *name,
    const struct sockaddr *sa);

/* Keyed (random per start): an unkeyed hash let an attacker pick an
 * address of his that shares a victim's bucket, and so use up its
 * connection limit or raise its AUTH delays. */
static unsigned
connlimit_bucket(const struct connlimit *cl, const struct sockaddr *sa)
{
	return (unsigned)(connlimit_tag(cl, "", sa) % CONNLIMIT_BUCKETS);
}

enum connlimit_result
connlimit_acquire(struct connlimit *cl, unsigned slot,
    const struct sockaddr *sa, unsigned per_ip, unsigned total)
{
	unsigned b = connlimit_bucket(cl, sa), ip = 0, all = 0;

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
	unsigned b = connlimit_bucket(cl, sa);

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
	struct connlimit_auth *a = &cl->auth[connlimit_bucket(cl, sa)];

	if (time(NULL) - atomic_load(&a->last) > CONNLIMIT_AUTH_DECAY)
		return 0;
	return atomic_load(&a->count);
}

void
connlimit_auth_failed(struct connlimit *cl, const struct sockaddr *sa)
{
	struct connlimit_auth *a = &cl->auth[connlimit_bucket(cl, sa)];
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

/* ---- keyed tables ------------------------------------------------------ */

static uint64_t
connlimit_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* A keyed 64-bit tag of a name (lower-cased) and, for AUTH pairs, the
 * client address (IPv6 by /64, as connlimit_bucket). Never 0. */
static uint64_t
connlimit_tag(const struct connlimit *cl, const char *name,
    const struct sockaddr *sa)
{
	uint64_t h = cl->key[0];

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ (uint64_t)tolower(*p)) * 0x100000001b3ULL;
	h = connlimit_mix(h ^ cl->key[1]);
	if (sa != NULL) {
		const uint8_t *p;
		size_t n = connlimit_addr_bytes(sa, &p);

		h ^= 0x9e3779b97f4a7c15ULL;
		for (size_t i = 0; i < n; i++)
			h = (h ^ p[i]) * 0x100000001b3ULL;
		h = connlimit_mix(h ^ cl->key[0]);
	}
	return h ? h : 1;
}

/* ---- pregreet: clients that waited for the greeting ------------------- */

/* The slot of sa's pass and the word that says it passed until `until`.
 * The slot (low bits) and the tag (high 32) come from one keyed hash: a
 * bucket shared by chance (a day of clients outnumbers any bucket count)
 * or chosen by an attacker must not be a pass. */
static _Atomic uint64_t *
connlimit_greet_slot(struct connlimit *cl, const struct sockaddr *sa,
    uint64_t until, uint64_t *word)
{
	uint64_t tag = connlimit_tag(cl, "", sa);

	*word = (tag & 0xffffffff00000000ULL) | (until & 0xffffffffULL);
	return &cl->greeted[tag % CONNLIMIT_GREET_SLOTS];
}

bool
connlimit_pregreet_passed(struct connlimit *cl, const struct sockaddr *sa)
{
	uint64_t want, now = (uint64_t)time(NULL);
	uint64_t w = atomic_load_explicit(connlimit_greet_slot(cl, sa, 0,
	    &want), memory_order_relaxed);

	return (w >> 32) == (want >> 32) && (w & 0xffffffffULL) >
	    (now & 0xffffffffULL);
}

void
connlimit_pregreet_pass(struct connlimit *cl, const struct sockaddr *sa)
{
	uint64_t word;
	_Atomic uint64_t *slot = connlimit_greet_slot(cl, sa,
	    (uint64_t)time(NULL) + CONNLIMIT_PREGREET_TTL, &word);

	atomic_store_explicit(slot, word, memory_order_relaxed);
}

#define PAIR_COUNT(st)	((unsigned)((st) & 0xffffff))
#define PAIR_LAST(st)	((long long)((st) >> 24))

/* When the entry was last active (comparable within one table), and
 * whether nothing in it matters any more. */
static long long
connlimit_entry_age(struct connlimit_entry *e, bool pair)
{
	uint64_t a = atomic_load(&e->a);

	return pair ? PAIR_LAST(a) : (long long)(a >> 40);
}

static bool
connlimit_entry_stale(struct connlimit_entry *e, bool pair, long long now)
{
	uint64_t a = atomic_load(&e->a), b = atomic_load(&e->b);

	if (pair)
		return now - PAIR_LAST(a) > AUTHPAIR_DECAY &&
		    (long long)b <= now;
	return hourwin_stale(a, now) && hourwin_stale(b, now);
}

/* The entry of tag in table (acct or pair); NULL if it has none and
 * create is false, or if another process took the way it chose. */
static struct connlimit_entry *
connlimit_find(struct connlimit_entry *table, bool pair, uint64_t tag,
    bool create)
{
	struct connlimit_entry *set =
	    &table[(tag >> 32) % CONNLIMIT_SETS * CONNLIMIT_WAYS];
	long long now = time(NULL);

	for (unsigned w = 0; w < CONNLIMIT_WAYS; w++)
		if (atomic_load(&set[w].tag) == tag)
			return &set[w];
	if (!create)
		return NULL;
	/* Take a free or stale way, else the one active longest ago. */
	struct connlimit_entry *victim = &set[0];
	for (unsigned w = 0; w < CONNLIMIT_WAYS; w++) {
		if (atomic_load(&set[w].tag) == 0 ||
		    connlimit_entry_stale(&set[w], pair, now)) {
			victim = &set[w];
			break;
		}
		if (connlimit_entry_age(&set[w], pair) <
		    connlimit_entry_age(victim, pair))
			victim = &set[w];
	}
	uint64_t old = atomic_load(&victim->tag);
	uint64_t a = atomic_load(&victim->a), b = atomic_load(&victim->b);
	if (!atomic_compare_exchange_strong(&victim->tag, &old, tag))
		return old == tag ? victim : NULL;	/* lost a race */
	/* Cleared only if unchanged since read: another process that found
	 * the new tag may already have counted (a plain store would lose
	 * that); a word it changed keeps the old count too, an over-count
	 * (a stale word counts as 0 anyway). */
	atomic_compare_exchange_strong(&victim->a, &a, 0);
	atomic_compare_exchange_strong(&victim->b, &b, 0);
	return victim;
}

static struct connlimit_entry *
connlimit_acct_find(struct connlimit *cl, const char *account, bool create)
{
	return connlimit_find(cl->acct, false,
	    connlimit_tag(cl, account, NULL), create);
}

static struct connlimit_entry *
connlimit_pair_find(struct connlimit *cl, const char *user,
    const struct sockaddr *sa, bool create)
{
	return connlimit_find(cl->pair, true, connlimit_tag(cl, user, sa),
	    create);
}

/* The hour window of the account's kind; NULL if the table cannot give
 * the account an entry (other accounts keep taking the way it chose). */
static _Atomic uint64_t *
connlimit_acct_word(struct connlimit *cl, const char *account,
    enum connlimit_acct_kind kind, bool create)
{
	struct connlimit_entry *e = NULL;

	for (unsigned i = 0; e == NULL && i < 2 * CONNLIMIT_WAYS; i++) {
		e = connlimit_acct_find(cl, account, create);
		if (!create)
			break;
	}
	if (e == NULL)
		return NULL;
	return kind == CONNLIMIT_ACCT_MESSAGES ? &e->a : &e->b;
}

bool
connlimit_acct_take(struct connlimit *cl, const char *account,
    enum connlimit_acct_kind kind, unsigned n, unsigned max, long long *at,
    unsigned *count)
{
	_Atomic uint64_t *w = connlimit_acct_word(cl, account, kind, true);
	long long now = time(NULL);
	uint64_t old, new;
	unsigned c;

	*at = now;
	*count = 0;
	if (w == NULL)
		return max == 0;	/* uncountable: refuse while limited */
	old = atomic_load(w);
	do {
		c = hourwin_count(old, now);
		if (max != 0 && (unsigned long long)c + n > max) {
			*count = c;
			return false;
		}
		new = hourwin_add(old, now, n);
	} while (!atomic_compare_exchange_weak(w, &old, new));
	return true;
}

void
connlimit_acct_give_back(struct connlimit *cl, const char *account,
    enum connlimit_acct_kind kind, unsigned n, long long at)
{
	_Atomic uint64_t *w = connlimit_acct_word(cl, account, kind, false);
	long long now = time(NULL);
	uint64_t old;

	if (w == NULL)
		return;		/* the entry was taken over: nothing left */
	old = atomic_load(w);
	while (!atomic_compare_exchange_weak(w, &old,
	    hourwin_sub(old, now, at, n)))
		;
}

/* ---- AUTH failures per (account, address) ------------------------------ */

unsigned
connlimit_auth_pair_wait(struct connlimit *cl, const char *user,
    const struct sockaddr *sa)
{
	struct connlimit_entry *e = connlimit_pair_find(cl, user, sa, false);
	long long now = time(NULL), next;

	if (e == NULL || (next = (long long)atomic_load(&e->b)) <= now)
		return 0;
	return (unsigned)(next - now);
}

unsigned
connlimit_auth_pair_failed(struct connlimit *cl, const char *user,
    const struct sockaddr *sa, unsigned *failures)
{
	struct connlimit_entry *e = connlimit_pair_find(cl, user, sa, true);
	long long now = time(NULL);
	uint64_t st, nst, next, want;
	unsigned n;

	*failures = 0;
	if (e == NULL)
		return 0;
	st = atomic_load(&e->a);
	do {
		n = now - PAIR_LAST(st) > AUTHPAIR_DECAY ? 0 : PAIR_COUNT(st);
		if (n < 0xffffff)
			n++;
		nst = (uint64_t)now << 24 | n;
	} while (!atomic_compare_exchange_weak(&e->a, &st, nst));
	next = atomic_load(&e->b);
	do
		want = (uint64_t)authpair_reserve((long long)next, now, n);
	while (!atomic_compare_exchange_weak(&e->b, &next, want));
	*failures = n;
	return (unsigned)((long long)want - now);
}

void
connlimit_auth_pair_ok(struct connlimit *cl, const char *user,
    const struct sockaddr *sa)
{
	struct connlimit_entry *e = connlimit_pair_find(cl, user, sa, false);

	/* The count starts again; the queue (next) stays, so the answers
	 * of failures still waiting keep their times. */
	if (e != NULL)
		atomic_store(&e->a, 0);
}
