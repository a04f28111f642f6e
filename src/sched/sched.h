/* SPDX-License-Identifier: ISC */
/*
 * The queue runner's decisions about one message, as pure functions of its
 * envelope, the configuration and a clock reading `now` passed in by the
 * caller: which recipients are due (and whether locally or remotely), what
 * an attempt's outcome does to a recipient (retry time, expiry, failure
 * that needs a DSN), and whether the message is done. No I/O, no clock.
 */
#ifndef SEALMAIL_SCHED_SCHED_H
#define SEALMAIL_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "deliver/delivery.h"
#include "queue/envelope.h"

/* What recording an attempt made of a recipient. */
enum sched_outcome {
	SCHED_DELIVERED,
	SCHED_DEFERRED,		/* pending, next_attempt set */
	SCHED_FAILED,		/* just became FAILED: a DSN is due */
};

/*
 * Split env's due pending recipients into local ones (a [domain] of conf,
 * or no domain at all) and remote ones: indices into env->rcpts, written
 * to local[0..*nl) and remote[0..*nr) (each array has room for
 * env->nrcpts). A recipient is due when its next_attempt is not after
 * now, or always when force (start, flush).
 */
void sched_due(const struct conf *conf, const struct envelope *env,
    bool force, time_t now, size_t *local, size_t *nl, size_t *remote,
    size_t *nr);

/* The message has outlived [delivery] queue_lifetime (0: never). */
bool sched_expired(const struct conf *conf, const struct envelope *env,
    time_t now);

/*
 * When to try again after `attempts` attempts: on the retry schedule
 * anchored at arrival, but never in the past (after downtime the schedule
 * is behind: back off from now instead of retrying in a burst), and no
 * later than expiry, so the last attempt happens when the lifetime ends.
 * Always after now.
 */
time_t sched_next_attempt(const struct conf *conf, const struct envelope *env,
    unsigned attempts, time_t now);

/*
 * Apply one attempt's result res to recipient rc of env: count the
 * attempt, keep the reply (rc->last_reply, owned by rc), and set the
 * state: delivered, failed (permanent failure, or a temporary one once
 * the message has expired: the reply then says so), or pending until
 * sched_next_attempt.
 */
enum sched_outcome sched_record(const struct conf *conf,
    const struct envelope *env, struct envelope_rcpt *rc,
    const struct delivery_result *res, time_t now);

/* The number of env's recipients still pending; the others are counted
 * into *delivered and *failed (either may be NULL). 0: the message is
 * done and may leave the queue. */
size_t sched_pending(const struct envelope *env, size_t *delivered,
    size_t *failed);

#endif
