/* SPDX-License-Identifier: ISC */
/* The queue runner's per-message decisions (see sched.h). Pure. */
#include "sched/sched.h"

#include <limits.h>
#include <stdlib.h>

#include "core/xmalloc.h"
#include "msg/addr.h"
#include "sched/retry.h"

void
sched_due(const struct conf *conf, const struct envelope *env, bool force,
    time_t now, size_t *local, size_t *nl, size_t *remote, size_t *nr)
{
	*nl = *nr = 0;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct envelope_rcpt *rc = &env->rcpts[i];
		const char *domain = addr_text_domain(rc->address);

		if (rc->state != ENVELOPE_RCPT_PENDING ||
		    (!force && rc->next_attempt > now))
			continue;
		/* An address without a domain can only be local; the
		 * local method refuses it if it is no mailbox. */
		if (*domain == '\0' ||
		    conf_is_local_domain(conf, domain))
			local[(*nl)++] = i;
		else
			remote[(*nr)++] = i;
	}
}

bool
sched_expired(const struct conf *conf, const struct envelope *env,
    time_t now)
{
	return conf->queue_lifetime > 0 &&
	    now - env->created >= (time_t)conf->queue_lifetime;
}

time_t
sched_next_attempt(const struct conf *c, const struct envelope *env,
    unsigned attempts, time_t now)
{
	time_t t = retry_next_attempt(env->created, attempts,
	    c->retry_schedule, c->nretry_schedule);

	if (t <= now)
		t = now + retry_interval(attempts, c->retry_schedule,
		    c->nretry_schedule);
	if (c->queue_lifetime > 0 &&
	    t > env->created + (time_t)c->queue_lifetime)
		t = env->created + (time_t)c->queue_lifetime;
	return t > now ? t : now + 1;
}

enum sched_outcome
sched_record(const struct conf *conf, const struct envelope *env,
    struct envelope_rcpt *rc, const struct delivery_result *res, time_t now)
{
	if (rc->attempts < UINT_MAX)
		rc->attempts++;
	free(rc->last_reply);
	rc->last_reply = xstrdup(res->reply);
	rc->next_attempt = 0;
	if (res->status == DELIVERY_OK) {
		rc->state = ENVELOPE_RCPT_DELIVERED;
		return SCHED_DELIVERED;
	}
	if (res->status == DELIVERY_PERMFAIL) {
		rc->state = ENVELOPE_RCPT_FAILED;
		return SCHED_FAILED;
	}
	if (sched_expired(conf, env, now)) {
		rc->state = ENVELOPE_RCPT_FAILED;
		free(rc->last_reply);
		rc->last_reply = xasprintf("expired after %u attempts; last "
		    "reply: %s", rc->attempts, res->reply);
		return SCHED_FAILED;
	}
	rc->next_attempt = sched_next_attempt(conf, env, rc->attempts, now);
	return SCHED_DEFERRED;
}

size_t
sched_pending(const struct envelope *env, size_t *delivered, size_t *failed)
{
	size_t pending = 0, ok = 0, bad = 0;

	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state == ENVELOPE_RCPT_PENDING)
			pending++;
		else if (env->rcpts[i].state == ENVELOPE_RCPT_DELIVERED)
			ok++;
		else
			bad++;
	}
	if (delivered != NULL)
		*delivered = ok;
	if (failed != NULL)
		*failed = bad;
	return pending;
}
