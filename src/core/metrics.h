/* SPDX-License-Identifier: ISC */
/*
 * Counters shared by the master, the SMTP workers and the queue runner, in
 * one MAP_SHARED anonymous mapping the master creates once before its first
 * fork. It is kept across SIGHUP reloads and child restarts, so counters
 * only ever grow for the life of the daemon (what Prometheus expects).
 * Updates are relaxed atomic adds, no locks; readers copy a snapshot.
 *
 * The mapping is process-global, like the log: events are counted where
 * they happen (deep in SMTP, delivery or DNS code) without threading a
 * handle through every call. Before metrics_init (CLI commands, most unit
 * tests) every update is a no-op.
 *
 * Besides totals it keeps the last 24 h in 10-minute buckets (the status
 * page's charts) and the last delivery failures with their reasons.
 */
#ifndef SEALMAIL_CORE_METRICS_H
#define SEALMAIL_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Label sets; the names are in metrics_*_names[] (same order). */
enum metrics_tls {
	METRICS_TLS_NONE,
	METRICS_TLS_12,
	METRICS_TLS_13,
	METRICS_TLS_OTHER,
	METRICS_TLS_N
};

enum metrics_reject {
	METRICS_REJECT_SPF,
	METRICS_REJECT_DMARC,
	METRICS_REJECT_DNSBL,
	METRICS_REJECT_RECIPIENT,
	METRICS_REJECT_SIZE,
	METRICS_REJECT_AUTH,
	METRICS_REJECT_POLICY,
	METRICS_REJECT_OTHER,
	METRICS_REJECT_N
};

enum metrics_method {
	METRICS_METHOD_SPF,
	METRICS_METHOD_DKIM,
	METRICS_METHOD_DMARC,
	METRICS_METHOD_N
};

/* The union of the SPF, DKIM and DMARC result names (RFC 8601 §2.7). */
enum metrics_verdict {
	METRICS_VERDICT_PASS,
	METRICS_VERDICT_FAIL,
	METRICS_VERDICT_SOFTFAIL,
	METRICS_VERDICT_NEUTRAL,
	METRICS_VERDICT_NONE,
	METRICS_VERDICT_POLICY,
	METRICS_VERDICT_TEMPERROR,
	METRICS_VERDICT_PERMERROR,
	METRICS_VERDICT_N
};

enum metrics_result {
	METRICS_DELIVERED,
	METRICS_DEFERRED,
	METRICS_BOUNCED,
	METRICS_RESULT_N
};

/* The outbound TLS policy names the logs use, and local delivery. */
enum metrics_policy {
	METRICS_POLICY_DANE,
	METRICS_POLICY_MTASTS,
	METRICS_POLICY_VERIFY,
	METRICS_POLICY_ENCRYPT,
	METRICS_POLICY_MAY,
	METRICS_POLICY_NONE,
	METRICS_POLICY_LOCAL,
	METRICS_POLICY_N
};

extern const char *const metrics_tls_names[METRICS_TLS_N];
extern const char *const metrics_reject_names[METRICS_REJECT_N];
extern const char *const metrics_method_names[METRICS_METHOD_N];
extern const char *const metrics_verdict_names[METRICS_VERDICT_N];
extern const char *const metrics_result_names[METRICS_RESULT_N];
extern const char *const metrics_policy_names[METRICS_POLICY_N];

/* DNS resolution time histogram: upper bounds in milliseconds; one more
 * bucket (+Inf) follows. */
#define METRICS_DNS_BUCKETS	11
extern const unsigned metrics_dns_bounds_ms[METRICS_DNS_BUCKETS];

/* History: 144 buckets of 10 minutes = 24 h. */
#define METRICS_HIST_STEP	600
#define METRICS_HIST_N		144

enum metrics_hist {
	METRICS_H_ACCEPTED,
	METRICS_H_REJECTED,
	METRICS_H_IN_TLS,	/* inbound sessions with TLS */
	METRICS_H_IN_PLAIN,
	METRICS_H_IN_DMARC_PASS, /* accepted messages that passed DMARC */
	METRICS_H_OUT_AUTH,	/* remote deliveries: dane, mta-sts, verify */
	METRICS_H_OUT_ENC,	/* encrypt, may */
	METRICS_H_OUT_PLAIN,	/* none */
	METRICS_H_OUT_FAILED,	/* deferred or bounced (remote) */
	METRICS_H_N
};

/* Recent delivery failures kept (the newest replace the oldest). */
#define METRICS_FAIL_N		16
#define METRICS_FAIL_TEXT	200

struct metrics_failure {
	long long		 time;
	enum metrics_result	 result;
	char			 rcpt[METRICS_FAIL_TEXT + 1];
	char			 reason[METRICS_FAIL_TEXT + 1];
};

/* A plain copy of everything, for renderers and tests. */
struct metrics_snapshot {
	long long	 now;		/* when taken */
	uint64_t	 connections;
	uint64_t	 sessions[METRICS_TLS_N];
	uint64_t	 accepted;
	uint64_t	 rejected[METRICS_REJECT_N];
	uint64_t	 auth_failures;	/* SMTP AUTH attempts refused */
	uint64_t	 verdicts[METRICS_METHOD_N][METRICS_VERDICT_N];
	uint64_t	 deliveries[METRICS_RESULT_N][METRICS_POLICY_N];
	uint64_t	 dns_buckets[METRICS_DNS_BUCKETS + 1]; /* per bucket */
	uint64_t	 dns_count;
	uint64_t	 dns_sum_us;
	/* Filled in by the caller (from the spool and metrics_rss): */
	bool		 queue_known;
	uint64_t	 queue_messages;
	long long	 queue_oldest;	/* arrival time, 0: queue empty */
	uint64_t	 rss_bytes;	/* master and children, 0: unknown */
	unsigned	 processes;
	/* hist[0] is the oldest bucket, hist[METRICS_HIST_N - 1] the
	 * current one, which began at hist_start + (N - 1) * STEP. */
	long long	 hist_start;
	uint32_t	 hist[METRICS_HIST_N][METRICS_H_N];
	size_t		 nfailures;	/* newest first */
	struct metrics_failure failures[METRICS_FAIL_N];
};

/* In the master, once, before any fork; fatal if the mapping fails. A
 * second call is a no-op. */
void metrics_init(void);
/* Unmap (tests; the daemon keeps it until it exits). */
void metrics_shutdown(void);
bool metrics_enabled(void);

void metrics_connection(void);
/* An inbound session ended; version is SSL_get_version()'s text or NULL
 * for a session without TLS. */
void metrics_session(const char *tls_version);
void metrics_accepted(void);
void metrics_rejected(enum metrics_reject reason);
void metrics_auth_failure(void);
/* An inbound authentication verdict; result is the method's result name
 * ("pass", "softfail", ...). An unknown name counts as permerror. */
void metrics_verdict(enum metrics_method m, const char *result);
/* A delivery attempt's outcome per recipient; policy is the log's TLS
 * policy name, NULL or "" for local delivery. For the status page, a
 * remote hop is authenticated (the policy required a verified peer and
 * got one), else encrypted (TLS) or plain. */
void metrics_delivery(enum metrics_result r, const char *policy,
    bool encrypted, bool authenticated);
/* ... and, for deferred and bounced, why (kept in the failure ring). */
void metrics_delivery_failure(enum metrics_result r, const char *rcpt,
    const char *reason);
void metrics_dns_latency(uint64_t usec);

/* The tls label for an SSL_get_version() text (NULL: none). */
enum metrics_tls metrics_tls_from_text(const char *version);
enum metrics_verdict metrics_verdict_from_text(const char *result);
enum metrics_policy metrics_policy_from_text(const char *policy);

/*
 * Copy the counters into *out at time now (without metrics_init: all
 * zero). Memory is not read here (see metrics_rss).
 */
void metrics_snapshot(struct metrics_snapshot *out, long long now);

/* The start of the oldest of the 24 h of buckets a snapshot at now
 * holds (hist_start). */
long long metrics_hist_start(long long now);

/*
 * In the master, after metrics_init and before the first fork: put a
 * snapshot's history and failures (as kept in the store, db_metrics_load,
 * whose window must end in the current bucket) back into the fresh
 * mapping. Totals are untouched: counters restart with the daemon.
 */
void metrics_restore(const struct metrics_snapshot *s);

/*
 * Resident memory. Each process of the daemon reads its own from
 * /proc/self/stat (metrics_self_rss; -1 if it cannot) and reports it into
 * the mapping every few seconds (update: the master each second, workers
 * on their tick, the runner on its scan, the keys process on a timer),
 * and the master forgets a child it reaps. No process reads another's
 * /proc (the children may not; the master may not see them under
 * systemd's ProtectProc=invisible). metrics_rss: the sum of the reports
 * (0 if none yet), *nproc the processes in it. At most METRICS_PROCS_MAX
 * processes are counted.
 */
#define METRICS_PROCS_MAX	256
int metrics_self_rss(uint64_t *bytes);
void metrics_rss_update(void);
void metrics_rss_forget(pid_t pid);
uint64_t metrics_rss(unsigned *nproc);

#endif
