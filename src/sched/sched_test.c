/* SPDX-License-Identifier: ISC */
/* Unit tests for the runner's per-message decisions: a queue entry driven
 * through time by a fake clock (the test's own `now`). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sched/sched.h"

#define T0	((time_t)1700000000)
#define DAY	86400

/* 5m, 10m, 30m, 1h, 4h; the last repeats (DESIGN.md's default). */
static unsigned st_schedule[] = { 300, 600, 1800, 3600, 14400 };
static struct conf_domain st_domains[] = { { .name = "example.org" } };

/* The clock the runner would read: tests move it forward only. */
struct fake_clock {
	time_t	now;
};

static void
clock_advance(struct fake_clock *c, time_t seconds)
{
	c->now += seconds;
}

static struct conf
st_conf(unsigned lifetime)
{
	return (struct conf){
		.domains = st_domains,
		.ndomains = 1,
		.retry_schedule = st_schedule,
		.nretry_schedule = 5,
		.queue_lifetime = lifetime,
	};
}

/* An envelope that arrived at T0 for the given addresses. */
static void
st_env(struct envelope *env, const char *const *rcpts, size_t n)
{
	envelope_init(env);
	snprintf(env->id, sizeof(env->id), "%s", "0123456789AB");
	env->created = T0;
	for (size_t i = 0; i < n; i++)
		envelope_add_rcpt(env, rcpts[i], rcpts[i], NULL, 0);
}

/* The three kinds of result a delivery method reports. */
static const struct delivery_result st_ok = { DELIVERY_OK, "250 2.0.0 ok",
    NULL };
static const struct delivery_result st_tf = { DELIVERY_TEMPFAIL,
    "451 4.3.0 busy", NULL };
static const struct delivery_result st_pf = { DELIVERY_PERMFAIL,
    "550 5.1.1 no such mailbox", NULL };

/* A local, a remote and another remote recipient. */
static const char *const st_mixed[] = {
	"alice@example.org", "bob@remote.test", "carol@other.test"
};

/* Due recipients at the clock's time: local and remote counts. */
static void
st_due(const struct conf *c, const struct envelope *env, bool force,
    const struct fake_clock *clk, size_t *local, size_t *nl, size_t *remote,
    size_t *nr)
{
	sched_due(c, env, force, clk->now, local, nl, remote, nr);
}

static void
test_first_attempt_due(void **state)
{
	static const char *const rcpts[] = {
		"alice@example.org", "bob@remote.test", "postmaster",
		"carol@EXAMPLE.ORG."
	};
	struct conf c = st_conf(5 * DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	size_t local[4], remote[4], nl, nr;

	(void)state;
	st_env(&env, rcpts, 4);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	/* A new message: every recipient at once; no domain is local, and
	 * local domains match without case or trailing dot. */
	assert_int_equal(nl, 3);
	assert_int_equal(local[0], 0);
	assert_int_equal(local[1], 2);
	assert_int_equal(local[2], 3);
	assert_int_equal(nr, 1);
	assert_int_equal(remote[0], 1);
	assert_int_equal(sched_pending(&env, NULL, NULL), 4);
	assert_false(sched_expired(&c, &env, clk.now));
	envelope_clear(&env);
}

static void
test_tempfail_follows_schedule(void **state)
{
	static const char *const rcpts[] = { "bob@remote.test" };
	struct conf c = st_conf(5 * DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	struct envelope_rcpt *rc;
	size_t local[1], remote[1], nl, nr;

	(void)state;
	st_env(&env, rcpts, 1);
	rc = &env.rcpts[0];
	assert_int_equal(sched_record(&c, &env, rc, &st_tf, clk.now),
	    SCHED_DEFERRED);
	assert_int_equal(rc->state, ENVELOPE_RCPT_PENDING);
	assert_int_equal(rc->attempts, 1);
	assert_string_equal(rc->last_reply, "451 4.3.0 busy");
	assert_int_equal(rc->next_attempt, T0 + 300);

	/* Not due a second early, due on time. */
	clock_advance(&clk, 299);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl + nr, 0);
	clock_advance(&clk, 1);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	assert_int_equal(nr, 1);

	/* The schedule is anchored at arrival: a slow attempt does not
	 * shift the next one. */
	clock_advance(&clk, 40);
	assert_int_equal(sched_record(&c, &env, rc, &st_tf, clk.now),
	    SCHED_DEFERRED);
	assert_int_equal(rc->next_attempt, T0 + 300 + 600);
	clk.now = rc->next_attempt;
	sched_record(&c, &env, rc, &st_tf, clk.now);
	assert_int_equal(rc->next_attempt, T0 + 300 + 600 + 1800);

	/* After downtime the schedule is behind: back off from now. */
	clk.now = T0 + DAY;
	sched_record(&c, &env, rc, &st_tf, clk.now);
	assert_int_equal(rc->attempts, 4);
	assert_int_equal(rc->next_attempt, T0 + DAY + 3600);
	envelope_clear(&env);
}

/* Temporary failures until the lifetime ends: the last attempt falls on
 * the expiry time, and its failure is final (a DSN is due). */
static void
test_expiry_bounces(void **state)
{
	static const char *const rcpts[] = { "bob@remote.test" };
	struct conf c = st_conf(DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	struct envelope_rcpt *rc;
	size_t local[1], remote[1], nl, nr, delivered, failed;
	enum sched_outcome o;
	unsigned attempts = 0;

	(void)state;
	st_env(&env, rcpts, 1);
	rc = &env.rcpts[0];
	do {
		st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
		assert_int_equal(nr, 1);
		o = sched_record(&c, &env, rc, &st_tf, clk.now);
		attempts++;
		if (o == SCHED_DEFERRED) {
			assert_true(rc->next_attempt > clk.now);
			assert_true(rc->next_attempt <= T0 + DAY);
			clk.now = rc->next_attempt;
		}
	} while (o == SCHED_DEFERRED && attempts < 100);
	assert_int_equal(o, SCHED_FAILED);
	/* Tries at 0, 5m, 15m, 45m, 1h45m, then every 4h (5h45m ..
	 * 21h45m: five), and the last at expiry, not 25h45m: 11. */
	assert_int_equal(clk.now, T0 + DAY);
	assert_int_equal(attempts, 11);
	assert_true(sched_expired(&c, &env, clk.now));
	assert_int_equal(rc->state, ENVELOPE_RCPT_FAILED);
	assert_int_equal(rc->next_attempt, 0);
	char want[128];
	snprintf(want, sizeof(want), "expired after %u attempts; last reply: "
	    "451 4.3.0 busy", attempts);
	assert_string_equal(rc->last_reply, want);
	assert_int_equal(sched_pending(&env, &delivered, &failed), 0);
	assert_int_equal(delivered, 0);
	assert_int_equal(failed, 1);
	/* Nothing is due any more, forced or not. */
	st_due(&c, &env, true, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl + nr, 0);
	envelope_clear(&env);
}

static void
test_no_lifetime_never_expires(void **state)
{
	static const char *const rcpts[] = { "bob@remote.test" };
	struct conf c = st_conf(0);
	struct envelope env;
	time_t later = T0 + 3650 * (time_t)DAY;

	(void)state;
	st_env(&env, rcpts, 1);
	assert_false(sched_expired(&c, &env, later));
	assert_int_equal(sched_record(&c, &env, &env.rcpts[0], &st_tf, later),
	    SCHED_DEFERRED);
	assert_int_equal(env.rcpts[0].next_attempt, later + 300);
	envelope_clear(&env);
}

static void
test_permfail_bounces_at_once(void **state)
{
	static const char *const rcpts[] = { "nobody@example.org" };
	struct conf c = st_conf(5 * DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	size_t failed;

	(void)state;
	st_env(&env, rcpts, 1);
	assert_int_equal(sched_record(&c, &env, &env.rcpts[0], &st_pf, clk.now),
	    SCHED_FAILED);
	assert_int_equal(env.rcpts[0].state, ENVELOPE_RCPT_FAILED);
	assert_int_equal(env.rcpts[0].attempts, 1);
	assert_int_equal(env.rcpts[0].next_attempt, 0);
	assert_string_equal(env.rcpts[0].last_reply,
	    "550 5.1.1 no such mailbox");
	assert_int_equal(sched_pending(&env, NULL, &failed), 0);
	assert_int_equal(failed, 1);
	envelope_clear(&env);
}

/* One message, three fates: only the deferred recipient comes back. */
static void
test_mixed_recipients(void **state)
{
	struct conf c = st_conf(5 * DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	size_t local[3], remote[3], nl, nr, delivered, failed;

	(void)state;
	st_env(&env, st_mixed, 3);
	assert_int_equal(sched_record(&c, &env, &env.rcpts[0], &st_ok, clk.now),
	    SCHED_DELIVERED);
	assert_int_equal(env.rcpts[0].state, ENVELOPE_RCPT_DELIVERED);
	assert_int_equal(sched_record(&c, &env, &env.rcpts[1], &st_tf, clk.now),
	    SCHED_DEFERRED);
	assert_int_equal(sched_record(&c, &env, &env.rcpts[2], &st_pf, clk.now),
	    SCHED_FAILED);
	assert_int_equal(sched_pending(&env, &delivered, &failed), 1);
	assert_int_equal(delivered, 1);
	assert_int_equal(failed, 1);

	clock_advance(&clk, 60);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl + nr, 0);
	clock_advance(&clk, 240);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl, 0);
	assert_int_equal(nr, 1);
	assert_int_equal(remote[0], 1);

	assert_int_equal(sched_record(&c, &env, &env.rcpts[1], &st_ok, clk.now),
	    SCHED_DELIVERED);
	assert_int_equal(sched_pending(&env, &delivered, &failed), 0);
	assert_int_equal(delivered, 2);
	assert_int_equal(failed, 1);
	envelope_clear(&env);
}

/* A forced run (start, flush) takes every pending recipient, whatever its
 * next attempt, and still none that is done. */
static void
test_force_run(void **state)
{
	struct conf c = st_conf(5 * DAY);
	struct fake_clock clk = { T0 };
	struct envelope env;
	size_t local[3], remote[3], nl, nr;

	(void)state;
	st_env(&env, st_mixed, 3);
	sched_record(&c, &env, &env.rcpts[0], &st_tf, clk.now);
	sched_record(&c, &env, &env.rcpts[1], &st_tf, clk.now);
	sched_record(&c, &env, &env.rcpts[2], &st_ok, clk.now);
	clock_advance(&clk, 10);
	st_due(&c, &env, false, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl + nr, 0);
	st_due(&c, &env, true, &clk, local, &nl, remote, &nr);
	assert_int_equal(nl, 1);
	assert_int_equal(local[0], 0);
	assert_int_equal(nr, 1);
	assert_int_equal(remote[0], 1);

	/* The forced attempt counts like any: the next follows the
	 * schedule from arrival (5m + 10m), not from the flush. */
	sched_record(&c, &env, &env.rcpts[1], &st_tf, clk.now);
	assert_int_equal(env.rcpts[1].attempts, 2);
	assert_int_equal(env.rcpts[1].next_attempt, T0 + 900);
	envelope_clear(&env);
}

/* The next attempt is clamped to expiry and never at or before now. */
static void
test_next_attempt_bounds(void **state)
{
	static const char *const rcpts[] = { "bob@remote.test" };
	struct conf c = st_conf(1000);
	struct envelope env;

	(void)state;
	st_env(&env, rcpts, 1);
	assert_int_equal(sched_next_attempt(&c, &env, 1, T0), T0 + 300);
	assert_int_equal(sched_next_attempt(&c, &env, 2, T0 + 300), T0 + 900);
	assert_int_equal(sched_next_attempt(&c, &env, 3, T0 + 900), T0 + 1000);
	/* Past expiry already: one second from now. */
	assert_int_equal(sched_next_attempt(&c, &env, 4, T0 + 5000),
	    T0 + 5001);
	envelope_clear(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_attempt_due),
		cmocka_unit_test(test_tempfail_follows_schedule),
		cmocka_unit_test(test_expiry_bounces),
		cmocka_unit_test(test_no_lifetime_never_expires),
		cmocka_unit_test(test_permfail_bounces_at_once),
		cmocka_unit_test(test_mixed_recipients),
		cmocka_unit_test(test_force_run),
		cmocka_unit_test(test_next_attempt_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
