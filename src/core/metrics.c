/* SPDX-License-Identifier: ISC */
/* Shared counters (see metrics.h): relaxed atomics in a MAP_SHARED mapping
 * inherited by every child of the master. */
#include "core/metrics.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

const char *const metrics_tls_names[METRICS_TLS_N] = {
	"none", "TLSv1.2", "TLSv1.3", "other",
};
const char *const metrics_reject_names[METRICS_REJECT_N] = {
	"spf", "dmarc", "dnsbl", "recipient", "size", "auth", "policy",
	"other",
};
const char *const metrics_method_names[METRICS_METHOD_N] = {
	"spf", "dkim", "dmarc",
};
const char *const metrics_verdict_names[METRICS_VERDICT_N] = {
	"pass", "fail", "softfail", "neutral", "none", "policy", "temperror",
	"permerror",
};
const char *const metrics_result_names[METRICS_RESULT_N] = {
	"delivered", "deferred", "bounced",
};
const char *const metrics_policy_names[METRICS_POLICY_N] = {
	"dane", "mta-sts", "verify", "encrypt", "may", "none", "local",
};
const unsigned metrics_dns_bounds_ms[METRICS_DNS_BUCKETS] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
};

#define A	memory_order_relaxed

struct metrics_bucket {
	atomic_llong	 epoch;		/* time / STEP this bucket counts */
	atomic_uint	 v[METRICS_H_N];
};

/* Written by one runner at a time; seq is odd while an entry changes. */
struct metrics_fail_slot {
	atomic_uint	 seq;
	long long	 time;
	int		 result;
	char		 rcpt[METRICS_FAIL_TEXT + 1];
	char		 reason[METRICS_FAIL_TEXT + 1];
};

/* A process's own report of its resident memory (metrics_rss_update). */
struct metrics_proc {
	atomic_int		 pid;		/* 0: free */
	atomic_ullong		 rss;
};

struct metrics_shm {
	atomic_ullong		 connections;
	atomic_ullong		 sessions[METRICS_TLS_N];
	atomic_ullong		 accepted;
	atomic_ullong		 rejected[METRICS_REJECT_N];
	atomic_ullong		 auth_failures;
	atomic_ullong		 verdicts[METRICS_METHOD_N][METRICS_VERDICT_N];
	atomic_ullong		 deliveries[METRICS_RESULT_N][METRICS_POLICY_N];
	atomic_ullong		 dns_buckets[METRICS_DNS_BUCKETS + 1];
	atomic_ullong		 dns_count;
	atomic_ullong		 dns_sum_us;
	struct metrics_bucket	 hist[METRICS_HIST_N];
	atomic_uint		 fail_next;
	struct metrics_fail_slot fail[METRICS_FAIL_N];
	struct metrics_proc	 procs[METRICS_PROCS_MAX];
};

static struct metrics_shm *metrics_shm;

void
metrics_init(void)
{
	void *p;

	if (metrics_shm != NULL)
		return;
	p = mmap(NULL, sizeof(struct metrics_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("cannot map the metrics");
	metrics_shm = p;	/* zero-filled by mmap */
}

void
metrics_shutdown(void)
{
	if (metrics_shm != NULL)
		munmap(metrics_shm, sizeof(*metrics_shm));
	metrics_shm = NULL;
}

bool
metrics_enabled(void)
{
	return metrics_shm != NULL;
}

static size_t
metrics_lookup(const char *const *names, size_t n, const char *text,
    size_t dflt)
{
	for (size_t i = 0; text != NULL && i < n; i++)
		if (strcmp(names[i], text) == 0)
			return i;
	return dflt;
}

enum metrics_tls
metrics_tls_from_text(const char *version)
{
	if (version == NULL)
		return METRICS_TLS_NONE;
	return metrics_lookup(metrics_tls_names + 1, 2, version, 2) + 1;
}

enum metrics_verdict
metrics_verdict_from_text(const char *result)
{
	return metrics_lookup(metrics_verdict_names, METRICS_VERDICT_N, result,
	    METRICS_VERDICT_PERMERROR);
}

enum metrics_policy
metrics_policy_from_text(const char *policy)
{
	if (policy == NULL || policy[0] == '\0')
		return METRICS_POLICY_LOCAL;
	/* dane-only is DANE too. */
	if (strncmp(policy, "dane", 4) == 0)
		return METRICS_POLICY_DANE;
	return metrics_lookup(metrics_policy_names, METRICS_POLICY_N, policy,
	    METRICS_POLICY_NONE);
}

/* The ring slot of period e. e is negative when the clock is within a
 * day of the epoch (a board without a real-time clock, before NTP), and
 * C's % then is too. */
static struct metrics_bucket *
metrics_bucket(const struct metrics_shm *m, long long e)
{
	long long i = e % METRICS_HIST_N;

	return (struct metrics_bucket *)&m->hist[i < 0 ? i + METRICS_HIST_N :
	    i];
}

/* Count in the current 10-minute bucket; the first event of a new period
 * empties the bucket it reuses. An event racing with that reset may be
 * lost: the chart is approximate, the totals are exact. */
static void
metrics_hist_add(enum metrics_hist h)
{
	long long e = (long long)time(NULL) / METRICS_HIST_STEP;
	struct metrics_bucket *b = metrics_bucket(metrics_shm, e);
	long long old = atomic_load_explicit(&b->epoch, A);

	if (old != e && atomic_compare_exchange_strong(&b->epoch, &old, e))
		for (int i = 0; i < METRICS_H_N; i++)
			atomic_store_explicit(&b->v[i], 0, A);
	atomic_fetch_add_explicit(&b->v[h], 1, A);
}

void
metrics_connection(void)
{
	if (metrics_shm != NULL)
		atomic_fetch_add_explicit(&metrics_shm->connections, 1, A);
}

void
metrics_session(const char *tls_version)
{
	if (metrics_shm == NULL)
		return;
	atomic_fetch_add_explicit(
	    &metrics_shm->sessions[metrics_tls_from_text(tls_version)], 1, A);
	metrics_hist_add(tls_version ? METRICS_H_IN_TLS : METRICS_H_IN_PLAIN);
}

void
metrics_accepted(void)
{
	if (metrics_shm == NULL)
		return;
	atomic_fetch_add_explicit(&metrics_shm->accepted, 1, A);
	metrics_hist_add(METRICS_H_ACCEPTED);
}

void
metrics_rejected(enum metrics_reject reason)
{
	if (metrics_shm == NULL)
		return;
	if ((unsigned)reason >= METRICS_REJECT_N)
		reason = METRICS_REJECT_OTHER;
	atomic_fetch_add_explicit(&metrics_shm->rejected[reason], 1, A);
	metrics_hist_add(METRICS_H_REJECTED);
}

void
metrics_auth_failure(void)
{
	if (metrics_shm != NULL)
		atomic_fetch_add_explicit(&metrics_shm->auth_failures, 1, A);
}

void
metrics_verdict(enum metrics_method m, const char *result)
{
	if (metrics_shm == NULL || (unsigned)m >= METRICS_METHOD_N)
		return;
	enum metrics_verdict v = metrics_verdict_from_text(result);
	atomic_fetch_add_explicit(&metrics_shm->verdicts[m][v], 1, A);
	if (m == METRICS_METHOD_DMARC && v == METRICS_VERDICT_PASS)
		metrics_hist_add(METRICS_H_IN_DMARC_PASS);
}

void
metrics_delivery(enum metrics_result r, const char *policy, bool encrypted,
    bool authenticated)
{
	if (metrics_shm == NULL || (unsigned)r >= METRICS_RESULT_N)
		return;
	enum metrics_policy p = metrics_policy_from_text(policy);
	atomic_fetch_add_explicit(&metrics_shm->deliveries[r][p], 1, A);
	if (p == METRICS_POLICY_LOCAL)
		return;
	if (r != METRICS_DELIVERED)
		metrics_hist_add(METRICS_H_OUT_FAILED);
	else if (authenticated)
		metrics_hist_add(METRICS_H_OUT_AUTH);
	else if (encrypted)
		metrics_hist_add(METRICS_H_OUT_ENC);
	else
		metrics_hist_add(METRICS_H_OUT_PLAIN);
}

/* Copy text, truncated, control characters replaced: the ring holds
 * bounded, printable text (the renderers escape it again for HTML). */
static void
metrics_copy_text(char *dst, const char *src)
{
	size_t i = 0;

	for (; src != NULL && src[i] != '\0' && i < METRICS_FAIL_TEXT; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
		    ' ' : src[i];
	dst[i] = '\0';
}

void
metrics_delivery_failure(enum metrics_result r, const char *rcpt,
    const char *reason)
{
	if (metrics_shm == NULL)
		return;
	unsigned i = atomic_fetch_add(&metrics_shm->fail_next, 1) %
	    METRICS_FAIL_N;
	struct metrics_fail_slot *f = &metrics_shm->fail[i];

	atomic_fetch_add(&f->seq, 1);
	atomic_thread_fence(memory_order_release);
	f->time = (long long)time(NULL);
	f->result = (int)r;
	metrics_copy_text(f->rcpt, rcpt);
	metrics_copy_text(f->reason, reason);
	atomic_fetch_add(&f->seq, 1);
}

void
metrics_dns_latency(uint64_t usec)
{
	size_t b = 0;

	if (metrics_shm == NULL)
		return;
	while (b < METRICS_DNS_BUCKETS &&
	    usec > (uint64_t)metrics_dns_bounds_ms[b] * 1000)
		b++;
	atomic_fetch_add_explicit(&metrics_shm->dns_buckets[b], 1, A);
	atomic_fetch_add_explicit(&metrics_shm->dns_count, 1, A);
	atomic_fetch_add_explicit(&metrics_shm->dns_sum_us, usec, A);
}

long long
metrics_hist_start(long long now)
{
	return (now / METRICS_HIST_STEP - (METRICS_HIST_N - 1)) *
	    METRICS_HIST_STEP;
}

void
metrics_restore(const struct metrics_snapshot *s)
{
	long long first = s->hist_start / METRICS_HIST_STEP;

	if (metrics_shm == NULL)
		return;
	for (int k = 0; k < METRICS_HIST_N; k++) {
		struct metrics_bucket *b = metrics_bucket(metrics_shm,
		    first + k);

		atomic_store_explicit(&b->epoch, first + k, A);
		for (int i = 0; i < METRICS_H_N; i++)
			atomic_store_explicit(&b->v[i], s->hist[k][i], A);
	}
	/* Oldest first, as they happened; the copy bounds the text again. */
	for (size_t j = s->nfailures < METRICS_FAIL_N ? s->nfailures :
	    METRICS_FAIL_N; j-- > 0;) {
		const struct metrics_failure *f = &s->failures[j];
		struct metrics_fail_slot *o = &metrics_shm->fail[
		    atomic_fetch_add(&metrics_shm->fail_next, 1) %
		    METRICS_FAIL_N];

		o->time = f->time;
		o->result = (int)f->result;
		metrics_copy_text(o->rcpt, f->rcpt);
		metrics_copy_text(o->reason, f->reason);
	}
}

static void
metrics_snapshot_failures(const struct metrics_shm *m,
    struct metrics_snapshot *out)
{
	unsigned next = atomic_load(&m->fail_next);
	unsigned n = next < METRICS_FAIL_N ? next : METRICS_FAIL_N;

	for (unsigned k = 1; k <= n; k++) {
		const struct metrics_fail_slot *f =
		    &m->fail[(next - k) % METRICS_FAIL_N];
		struct metrics_failure *o = &out->failures[out->nfailures];
		unsigned s1 = atomic_load(&f->seq);

		if (s1 & 1)
			continue;	/* being written */
		o->time = f->time;
		o->result = (enum metrics_result)f->result;
		memcpy(o->rcpt, f->rcpt, sizeof(o->rcpt));
		memcpy(o->reason, f->reason, sizeof(o->reason));
		o->rcpt[METRICS_FAIL_TEXT] = '\0';
		o->reason[METRICS_FAIL_TEXT] = '\0';
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load(&f->seq) != s1 ||
		    o->result >= METRICS_RESULT_N)
			continue;	/* torn: skip it */
		out->nfailures++;
	}
}

void
metrics_snapshot(struct metrics_snapshot *out, long long now)
{
	const struct metrics_shm *m = metrics_shm;
	long long cur = now / METRICS_HIST_STEP;

	memset(out, 0, sizeof(*out));
	out->now = now;
	out->hist_start = metrics_hist_start(now);
	if (m == NULL)
		return;
#define L(x)	atomic_load_explicit(&(x), A)
	out->connections = L(m->connections);
	for (int i = 0; i < METRICS_TLS_N; i++)
		out->sessions[i] = L(m->sessions[i]);
	out->accepted = L(m->accepted);
	for (int i = 0; i < METRICS_REJECT_N; i++)
		out->rejected[i] = L(m->rejected[i]);
	out->auth_failures = L(m->auth_failures);
	for (int i = 0; i < METRICS_METHOD_N; i++)
		for (int j = 0; j < METRICS_VERDICT_N; j++)
			out->verdicts[i][j] = L(m->verdicts[i][j]);
	for (int i = 0; i < METRICS_RESULT_N; i++)
		for (int j = 0; j < METRICS_POLICY_N; j++)
			out->deliveries[i][j] = L(m->deliveries[i][j]);
	for (int i = 0; i <= METRICS_DNS_BUCKETS; i++)
		out->dns_buckets[i] = L(m->dns_buckets[i]);
	out->dns_count = L(m->dns_count);
	out->dns_sum_us = L(m->dns_sum_us);
	for (int k = 0; k < METRICS_HIST_N; k++) {
		long long e = cur - (METRICS_HIST_N - 1) + k;
		const struct metrics_bucket *b = metrics_bucket(m, e);
		if (L(b->epoch) != e)
			continue;
		for (int i = 0; i < METRICS_H_N; i++)
			out->hist[k][i] = L(b->v[i]);
	}
#undef L
	metrics_snapshot_failures(m, out);
}

/* Fields of /proc/self/stat after the command name: [21] is the resident
 * set in pages. */
int
metrics_self_rss(uint64_t *bytes)
{
	char text[1024], *p, *end;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	if ((p = strrchr(text, ')')) == NULL)
		return -1;
	p++;
	for (int field = 0; field < 21; field++) {
		while (*p == ' ')
			p++;
		if ((end = strchr(p, ' ')) == NULL)
			return -1;
		p = end;
	}
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	*bytes = strtoull(p, NULL, 10) * (uint64_t)(page > 0 ? page : 4096);
	return 0;
}

void
metrics_rss_update(void)
{
	pid_t me = getpid();
	uint64_t bytes;

	if (metrics_shm == NULL || metrics_self_rss(&bytes) == -1)
		return;
	for (size_t i = 0; i < METRICS_PROCS_MAX; i++) {
		struct metrics_proc *e = &metrics_shm->procs[i];

		if (atomic_load_explicit(&e->pid, A) == (int)me) {
			atomic_store_explicit(&e->rss, bytes, A);
			return;
		}
	}
	/* Not there yet: the first free entry it wins (others may be
	 * taking entries at the same moment). */
	for (size_t i = 0; i < METRICS_PROCS_MAX; i++) {
		struct metrics_proc *e = &metrics_shm->procs[i];
		int zero = 0;

		if (atomic_compare_exchange_strong(&e->pid, &zero, (int)me)) {
			atomic_store_explicit(&e->rss, bytes, A);
			return;
		}
	}
}

void
metrics_rss_forget(pid_t pid)
{
	if (metrics_shm == NULL || pid <= 0)
		return;
	for (size_t i = 0; i < METRICS_PROCS_MAX; i++) {
		struct metrics_proc *e = &metrics_shm->procs[i];
		int want = (int)pid;

		if (atomic_load_explicit(&e->pid, A) != want)
			continue;
		atomic_store_explicit(&e->rss, 0, A);
		atomic_compare_exchange_strong(&e->pid, &want, 0);
	}
}

uint64_t
metrics_rss(unsigned *nproc)
{
	uint64_t total = 0;

	*nproc = 0;
	if (metrics_shm == NULL)
		return 0;
	for (size_t i = 0; i < METRICS_PROCS_MAX; i++) {
		const struct metrics_proc *e = &metrics_shm->procs[i];

		if (atomic_load_explicit(&e->pid, A) == 0)
			continue;
		total += atomic_load_explicit(&e->rss, A);
		(*nproc)++;
	}
	return total;
}
