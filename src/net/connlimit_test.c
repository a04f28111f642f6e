/* SPDX-License-Identifier: ISC */
/* Unit tests for net/connlimit: the pregreet pass memory, and buckets an
 * attacker cannot choose. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/connlimit.h"

static struct sockaddr_in
v4(uint32_t a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(a);
	return s;
}

/* One client that waited lets nobody else skip the wait: not the 1 in
 * 4096 addresses that shared its bucket before, which on a busy mx made
 * (nearly) every address count as passed within the day. */
static void
test_pregreet_pass_is_per_client(void **state)
{
	struct connlimit *cl = connlimit_new(2);
	struct sockaddr_in a = v4(0xc0000201), o;
	unsigned others = 0;

	(void)state;
	assert_false(connlimit_pregreet_passed(cl, (struct sockaddr *)&a));
	connlimit_pregreet_pass(cl, (struct sockaddr *)&a);
	assert_true(connlimit_pregreet_passed(cl, (struct sockaddr *)&a));
	for (uint32_t i = 0; i < 65536; i++) {
		o = v4(0x0a000000 + i);
		others += connlimit_pregreet_passed(cl, (struct sockaddr *)&o);
	}
	assert_int_equal(others, 0);
	/* IPv6 clients count by /64, as for the connection limits. */
	struct sockaddr_in6 s6, t6;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1:2::5", &s6.sin6_addr);
	t6 = s6;
	inet_pton(AF_INET6, "2001:db8:1:2::9", &t6.sin6_addr);
	connlimit_pregreet_pass(cl, (struct sockaddr *)&s6);
	assert_true(connlimit_pregreet_passed(cl, (struct sockaddr *)&t6));
	inet_pton(AF_INET6, "2001:db8:1:3::5", &t6.sin6_addr);
	assert_false(connlimit_pregreet_passed(cl, (struct sockaddr *)&t6));
	connlimit_free(cl);
}

/* The bucket of an IPv4 address as an unkeyed FNV-1a would choose it:
 * what an attacker can compute offline. */
static unsigned
fnv_bucket(uint32_t a)
{
	uint32_t h = 2166136261u;
	uint32_t be = htonl(a);
	const uint8_t *p = (const uint8_t *)&be;

	for (int i = 0; i < 4; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % 4096;
}

/* An attacker who knows a victim's address (a big sender's outbound
 * server) must not be able to pick one of his own that shares its
 * per-address counters, and so use up the victim's connection limit (or
 * raise its AUTH delays). Eight addresses that collide with the victim's
 * under a fixed hash: with a per-start key, (almost) none still does. */
static void
test_buckets_not_chosen_by_attacker(void **state)
{
	struct connlimit *cl = connlimit_new(1);
	struct sockaddr_in victim = v4(0xc0000205), o;
	unsigned found = 0, shared = 0;

	(void)state;
	for (uint32_t a = 0x0a000000; found < 8 && a < 0x0b000000; a++) {
		if (fnv_bucket(a) != fnv_bucket(0xc0000205))
			continue;
		found++;
		o = v4(a);
		assert_int_equal(connlimit_acquire(cl, 0,
		    (struct sockaddr *)&o, 1, 0), CONNLIMIT_OK);
		shared += connlimit_acquire(cl, 0, (struct sockaddr *)&victim,
		    1, 0) == CONNLIMIT_PER_IP;
		connlimit_release(cl, 0, (struct sockaddr *)&o);
		if (connlimit_total(cl) > 0)
			connlimit_release(cl, 0, (struct sockaddr *)&victim);
		assert_int_equal(connlimit_total(cl), 0);
	}
	assert_int_equal(found, 8);
	assert_true(shared <= 1);
	connlimit_free(cl);
}

/* Taken up to the limit, refused past it (with the count), given back
 * and taken again; accounts apart; names case-blind. */
static void
test_acct_take_give_back(void **state)
{
	struct connlimit *cl = connlimit_new(1);
	long long at[4];
	unsigned count;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_MESSAGES,
		    1, 3, &at[i], &count));
	assert_false(connlimit_acct_take(cl, "A@X", CONNLIMIT_ACCT_MESSAGES, 1,
	    3, &at[3], &count));
	assert_int_equal(count, 3);
	/* The recipients' window and other accounts are apart. */
	assert_true(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_RCPTS, 3, 3,
	    &at[3], &count));
	assert_false(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_RCPTS, 1, 3,
	    &at[3], &count));
	assert_true(connlimit_acct_take(cl, "b@x", CONNLIMIT_ACCT_MESSAGES, 1,
	    3, &at[3], &count));
	connlimit_acct_give_back(cl, "a@x", CONNLIMIT_ACCT_MESSAGES, 1, at[1]);
	assert_true(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_MESSAGES, 1,
	    3, &at[1], &count));
	assert_false(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_MESSAGES, 1,
	    3, &at[3], &count));
	/* No limit: always counted. */
	assert_true(connlimit_acct_take(cl, "a@x", CONNLIMIT_ACCT_MESSAGES, 1,
	    0, &at[3], &count));
	connlimit_free(cl);
}

/* Processes racing for one account's slots (as workers do) take exactly
 * the limit between them. */
static void
test_acct_take_is_exact_across_processes(void **state)
{
	enum { PROCS = 4, TRIES = 20000, MAX = 1000 };
	struct connlimit *cl = connlimit_new(PROCS);
	int fds[PROCS][2];
	unsigned total = 0;

	(void)state;
	for (int p = 0; p < PROCS; p++) {
		assert_int_equal(pipe(fds[p]), 0);
		pid_t pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			unsigned got = 0, count;
			long long at;

			for (int i = 0; i < TRIES; i++)
				got += connlimit_acct_take(cl, "spam@x",
				    CONNLIMIT_ACCT_RCPTS, 1, MAX, &at, &count);
			_exit(write(fds[p][1], &got, sizeof(got)) ==
			    sizeof(got) ? 0 : 1);
		}
		close(fds[p][1]);
	}
	for (int p = 0; p < PROCS; p++) {
		unsigned got;
		int st;

		assert_int_equal(read(fds[p][0], &got, sizeof(got)),
		    sizeof(got));
		close(fds[p][0]);
		total += got;
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(total, MAX);
	connlimit_free(cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pregreet_pass_is_per_client),
		cmocka_unit_test(test_buckets_not_chosen_by_attacker),
		cmocka_unit_test(test_acct_take_give_back),
		cmocka_unit_test(test_acct_take_is_exact_across_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
