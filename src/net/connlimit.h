/* SPDX-License-Identifier: ISC */
/*
 * Connection counts and AUTH failure counts shared by all SMTP workers, in
 * a MAP_SHARED mapping the master creates before forking. Client addresses
 * hash into buckets (a collision over-counts, which errs on the safe side).
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

#endif
