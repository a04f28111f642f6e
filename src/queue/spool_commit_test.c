/* SPDX-License-Identifier: ISC */
/* Unit tests of the asynchronous commit pool: commits become durable files
 * in queue/, callbacks run on the loop, a detached job still commits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/ids.h"
#include "core/xmalloc.h"
#include "queue/spool.h"
#include "queue/spool_commit.h"

#define NJOBS	20

struct state {
	char			 dir[64];
	struct event_base	*base;
	int			 done;
};

static void
committed(int rc, int err, const struct envelope *env, void *arg)
{
	struct state *st = arg;

	(void)err;
	assert_int_equal(rc, 0);
	assert_true(ids_qid_valid(env->id));
	assert_int_equal(env->size, 5);
	if (++st->done == NJOBS - 1)	/* one of them is detached */
		event_base_loopexit(st->base, NULL);
}

static bool
exists(const char *dir, const char *qid, const char *ext)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/spool/queue/%s%s", dir, qid, ext);
	return access(path, F_OK) == 0;
}

static void
test_commit_pool(void **unused)
{
	struct state st = { .dir = "/tmp/spool_commit_test.XXXXXX" };
	char qids[NJOBS][IDS_QID_LEN + 1], err[256];
	struct spool_commit_job *jobs[NJOBS];

	(void)unused;
	assert_non_null(mkdtemp(st.dir));
	assert_int_equal(spool_init(st.dir, err, sizeof(err)), 0);
	st.base = event_base_new();
	struct spool_committer *c = spool_committer_new(st.base, 4);
	for (int i = 0; i < NJOBS; i++) {
		struct envelope env;
		ids_qid_new(qids[i]);
		struct spool_msg *m = spool_msg_new(st.dir, qids[i]);
		assert_non_null(m);
		assert_int_equal(spool_msg_write(m, "hello", 5), 0);
		envelope_init(&env);
		env.mail_from = xstrdup("a@example.org");
		envelope_add_rcpt(&env, "b@example.org", "b@example.org", NULL,
		    0);
		jobs[i] = spool_commit_submit(c, m, &env, committed, &st);
		assert_null(env.mail_from);	/* moved into the job */
		envelope_clear(&env);
	}
	spool_commit_detach(jobs[0]);
	event_base_dispatch(st.base);
	spool_committer_free(c);	/* drains: the detached one too */
	assert_int_equal(st.done, NJOBS - 1);
	for (int i = 0; i < NJOBS; i++) {
		struct envelope env;

		assert_true(exists(st.dir, qids[i], ".msg"));
		envelope_init(&env);
		assert_int_equal(spool_env_load(st.dir, qids[i], &env, err,
		    sizeof(err)), 0);
		assert_int_equal(env.size, 5);
		envelope_clear(&env);
		assert_int_equal(spool_remove(st.dir, qids[i]), 0);
	}
	event_base_free(st.base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", st.dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
