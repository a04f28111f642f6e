/* SPDX-License-Identifier: ISC */
/*
 * Connection counts and AUTH failure counts shared by all SMTP workers, in
 * a MAP_SHARED mapping the master creates before forking. Client addresses
 * hash into buckets with a key chosen at start, so nobody can pick an
 * address that shares another's (a chance collision over-counts, which
 * errs on the safe side).
 * Each worker slot has its own connection counters, so the master can zero
 * the slot of a crashed worker before starting its replacement.
 */
#ifndef SEALMAIL_NET_CONNLIMIT_H
#define SEALMAIL_NET_CONNLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct connlimit;

/* Map the shared table for `slots` workers; fatal on failure. */
struct connlimit *connlimit_new(unsigned slots);
void connlimit_free(struct connlimit *cl);
/* Forget the connections counted by a worker slot (it died). */
void connlimit_reset_slot(struct connlimit *cl, unsigned slot);

enum connlimit_result {
	CONNLIMIT_OK = 0,
	CONNLIMIT_PER_IP,	/* the client has per_ip connections */
	CONNLIMIT_TOTAL,	/* everyone together has total */
};

/* Count a new connection from sa in `slot` if that keeps the client under
 * per_ip and everyone under total; otherwise count nothing and say which
 * limit refused it. */
enum connlimit_result connlimit_acquire(struct connlimit *cl, unsigned slot,
    const struct sockaddr *sa, unsigned per_ip, unsigned total);
/* Connections counted in all slots (the pressure on max_connections). */
unsigned connlimit_total(struct connlimit *cl);
void connlimit_release(struct connlimit *cl, unsigned slot,
    const struct sockaddr *sa);

/* AUTH failures from sa within the last 15 minutes (they decay). */
unsigned connlimit_auth_failures(struct connlimit *cl,
    const struct sockaddr *sa);
void connlimit_auth_failed(struct connlimit *cl, const struct sockaddr *sa);
/*
 * Count a failed password from sa (SMTP AUTH or the admin pages' basic
 * auth) and return how long to wait before answering: 1, 2, 4, ... s,
 * doubling with the recent failures, at most CONNLIMIT_AUTH_MAX_DELAY.
 * *failures (if not NULL) gets the count, for the log line.
 */
#define CONNLIMIT_AUTH_MAX_DELAY	30
unsigned connlimit_auth_fail_delay(struct connlimit *cl,
    const struct sockaddr *sa, unsigned *failures);

/*
 * Pregreet ([server] pregreet_wait): a client that waited for the whole
 * greeting is not made to wait again for CONNLIMIT_PREGREET_TTL (as
 * postscreen's greet TTL). Remembered in a direct-mapped table of keyed
 * tags: a client that passed is forgotten when another takes its slot
 * (it waits once more), but never lets another client skip the wait.
 */
#define CONNLIMIT_PREGREET_TTL	86400
bool connlimit_pregreet_passed(struct connlimit *cl,
    const struct sockaddr *sa);
void connlimit_pregreet_pass(struct connlimit *cl, const struct sockaddr *sa);

/*
 * Per-account submission limits ([limits]): messages and recipients over
 * a sliding hour, by all workers. take: count n more of the account's
 * kind if the hour's count stays within max (0: no limit, always
 * counted), checked and counted in one compare-and-swap, so sessions in
 * any workers never pass the limit together; false (nothing counted,
 * *count = the hour's count) if not. *at gets the time give_back needs:
 * it takes them back (a message slot taken at MAIL whose transaction
 * ends without its 250). Exact while the table holds the accounts active
 * in the last two hours (CONNLIMIT_SETS sets of CONNLIMIT_WAYS); a worker
 * that dies keeps the slots it held counted (an over-count for the hour).
 */
enum connlimit_acct_kind {
	CONNLIMIT_ACCT_MESSAGES,
	CONNLIMIT_ACCT_RCPTS,
};
bool connlimit_acct_take(struct connlimit *cl, const char *account,
    enum connlimit_acct_kind kind, unsigned n, unsigned max, long long *at,
    unsigned *count);
void connlimit_acct_give_back(struct connlimit *cl, const char *account,
    enum connlimit_acct_kind kind, unsigned n, long long at);

/*
 * AUTH failures per (account name as the client gave it, address): the
 * schedule of abusecalc.h. Names are keyed whether or not the account
 * exists, so the delays say nothing about which exist.
 * wait: seconds until the pair's queue is served (0: none; a success is
 * answered after it, and an attempt is refused unchecked when it exceeds
 * AUTHPAIR_QUEUE_MAX). failed: count a failure, return its delay and the
 * pair's recent failures in *failures. ok: a success resets the count.
 */
unsigned connlimit_auth_pair_wait(struct connlimit *cl, const char *user,
    const struct sockaddr *sa);
unsigned connlimit_auth_pair_failed(struct connlimit *cl, const char *user,
    const struct sockaddr *sa, unsigned *failures);
void connlimit_auth_pair_ok(struct connlimit *cl, const char *user,
    const struct sockaddr *sa);

#endif
