/* SPDX-License-Identifier: ISC */
/* Applying an attempt's results to a queued message: sched_record's
 * decision logged and counted, the envelope saved, DSNs queued, and the
 * message removed once no recipient is pending. */
#include "daemon/runner_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "daemon/runner_correspondents.h"
#include "queue/bounce.h"
#include "queue/spool.h"
#include "sched/sched.h"

static void
runner_log_attempt(const struct envelope *env, const struct envelope_rcpt *rc,
    const char *method, const struct delivery_attempt *at, const char *result,
    const char *reply, time_t now)
{
	char addr[300], text[600], relay[300] = "";

	if (at != NULL) {
		char esc[sizeof(at->relay) * 4];

		snprintf(relay, sizeof(relay), " relay=%s tls=%s verified=%s "
		    "policy=%s authenticated=%s%s",
		    log_escape(at->relay, strlen(at->relay), esc, sizeof(esc)),
		    at->tls, at->verified ? "yes" : "no",
		    at->policy ? at->policy : "none",
		    at->authenticated ? "yes" : "no",
		    at->overridden ? " overridden=tls-required-no" : "");
	}
	log_info("qid=%s delivery rcpt=%s method=%s%s result=%s "
	    "reply=%s delay=%llds", env->id,
	    log_quote(rc->address, strlen(rc->address), addr, sizeof(addr)),
	    method, relay, result, log_quote(reply, strlen(reply), text,
	    sizeof(text)), (long long)(now - env->created));
}

/* Count an attempt's outcome; failures keep their reply for the status
 * page. */
static void
runner_count(const struct envelope_rcpt *rc, const struct delivery_attempt *at,
    const char *result)
{
	enum metrics_result mr = result[0] == 'd' && result[2] == 'l' ?
	    METRICS_DELIVERED : result[0] == 'f' ? METRICS_BOUNCED :
	    METRICS_DEFERRED;

	metrics_delivery(mr, at ? (at->policy ? at->policy : "none") : NULL,
	    at && strcmp(at->tls, "none") != 0 && at->tls[0] != '\0',
	    at && at->authenticated);
	if (mr != METRICS_DELIVERED)
		metrics_delivery_failure(mr, rc->address, rc->last_reply);
}

/* Apply one attempt's outcome to recipient rc (sched_record) and log it
 * (res->attempt: remote details, or NULL). Returns true if rc has just
 * become FAILED. */
bool
runner_record(struct runner *r, struct envelope *env,
    struct envelope_rcpt *rc, const char *method,
    const struct delivery_result *res, time_t now)
{
	const struct delivery_attempt *at = res->attempt;
	static const char *const result[] = {
		[SCHED_DELIVERED] = "delivered",
		[SCHED_DEFERRED] = "deferred",
		[SCHED_FAILED] = "failed",
	};
	enum sched_outcome o = sched_record(r->conf, env, rc, res, now);

	if (o == SCHED_DELIVERED && at != NULL)
		runner_correspondents_note(r->corr, env, rc->address);
	runner_log_attempt(env, rc, method, at, result[o], rc->last_reply,
	    now);
	runner_count(rc, at, result[o]);
	return o == SCHED_FAILED;
}

/* Save env after a result. When no recipient is pending any more the
 * message is about to be removed (after its bounces are queued): the save
 * (two fsyncs) is skipped, since a crash before the removal repeats the
 * attempts either way (never a loss; local Maildir copies are then found
 * again, see runner.suspect). 1 saved, 0 skipped, -1 failed. */
int
runner_save(struct runner *r, struct envelope *env)
{
	if (sched_pending(env, NULL, NULL) == 0)
		return 0;
	if (spool_env_save(r->conf->data_dir, env) == -1) {
		log_warn("qid=%s queue envelope save failed: %s", env->id,
		    strerror(errno));
		return -1;
	}
	/* `queue delete` removes the message file (the commit marker)
	 * first, then the state: one that ran between the caller's check
	 * that the message exists and this save would leave the envelope
	 * just written behind, an orphan in the queue. Seen in CI
	 * (test_queue_show_and_delete after a flush). */
	if (!spool_msg_exists(r->conf->data_dir, env->id)) {
		spool_remove_state(r->conf->data_dir, env->id);
		return 0;
	}
	return 1;
}

/* Send the DSN for the recipients that have just failed. The sender gets
 * it unless it is the null path (bounce_enqueue checks that, and NOTIFY).
 * A crash between the save of FAILED and this call loses the DSN, never
 * a message. */
void
runner_bounce(struct runner *r, const struct envelope *env,
    const size_t *failed, size_t nfailed)
{
	char err[256], esc[300];

	if (nfailed == 0)
		return;
	if (bounce_enqueue(r->conf, env, failed, nfailed, err,
	    sizeof(err)) == -1)
		log_warn("qid=%s bounce failed: %s", env->id,
		    log_escape(err, strnlen(err, sizeof(err)), esc,
		    sizeof(esc)));
}

/* Remove the message if no recipient is pending any more. *fd, the
 * caller's descriptor of the message, is closed first: once recycled the
 * file may belong to another process (spool_recycle). */
void
runner_maybe_finish(struct runner *r, const struct envelope *env, int *fd)
{
	size_t delivered, failed;

	if (sched_pending(env, &delivered, &failed) > 0)
		return;
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
	if (spool_recycle(r->conf->data_dir, env) == -1) {
		if (errno != ENOENT) {
			log_warn("qid=%s queue remove failed: %s", env->id,
			    strerror(errno));
			qidset_add(&r->suspect, env->id);
		}
		return;
	}
	qidset_del(&r->suspect, env->id);
	log_info("qid=%s queue removed delivered=%zu failed=%zu", env->id,
	    delivered, failed);
}
