/* SPDX-License-Identifier: ISC */
/* The queue runner's suspects file: parse bounds, save and take. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/suspects.h"

#define QA "0005f1a2b3c4d5e6f7a8"
#define QB "0005f1a2b3c4d5e6f7a9"

static void
test_parse(void **state)
{
	struct qidset s;
	static const char good[] = SUSPECTS_MAGIC "\n" QA "\n" QB "\n";

	(void)state;
	qidset_init(&s);
	assert_true(ids_qid_valid(QA));
	assert_int_equal(suspects_parse(good, sizeof(good) - 1, &s), 0);
	assert_int_equal(s.live, 2);
	assert_true(qidset_has(&s, QA) && qidset_has(&s, QB));
	/* The magic line alone: a clean stop with nothing suspect. */
	assert_int_equal(suspects_parse(SUSPECTS_MAGIC "\n",
	    sizeof(SUSPECTS_MAGIC), &s), 0);
	assert_int_equal(s.live, 0);
	/* Anything else is refused, and leaves the set empty. */
	static const char *const bad[] = {
		"", SUSPECTS_MAGIC, "sealmail-suspects 2\n" QA "\n",
		SUSPECTS_MAGIC "\n" QA, SUSPECTS_MAGIC "\n" QA "\r",
		SUSPECTS_MAGIC "\n" QA "\n" "../../etc/passwd\n",
		SUSPECTS_MAGIC "\n" "0005F1A2B3C4D5E6F7A8\n",
		SUSPECTS_MAGIC "\n" QA "\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(suspects_parse(good, sizeof(good) - 1, &s),
		    0);
		assert_int_equal(suspects_parse(bad[i], strlen(bad[i]), &s),
		    -1);
		assert_int_equal(s.live, 0);
	}
	qidset_clear(&s);
}

static void
test_save_take(void **state)
{
	char dir[] = "/tmp/sealmail-suspects-test-XXXXXX", run[64], f[96];
	struct qidset s, got;
	const char ids[2][IDS_QID_LEN + 1] = { QA, QB };

	(void)state;
	qidset_init(&s);
	qidset_init(&got);
	assert_non_null(mkdtemp(dir));
	snprintf(run, sizeof(run), "%s/run", dir);
	assert_int_equal(mkdir(run, 0700), 0);
	snprintf(f, sizeof(f), "%s/runner.suspects", run);
	/* No file: the last runner did not stop cleanly. */
	assert_int_equal(suspects_take(dir, &got), 0);
	qidset_fill(&s, ids, 2);
	qidset_del(&s, QA);
	char err[256];
	assert_int_equal(suspects_save(dir, &s, err, sizeof(err)), 0);
	assert_int_equal(suspects_take(dir, &got), 1);
	assert_int_equal(got.live, 1);
	assert_true(qidset_has(&got, QB));
	assert_false(qidset_has(&got, QA));
	/* Taken means removed: a crash after the take finds nothing. */
	assert_int_equal(access(f, F_OK), -1);
	assert_int_equal(suspects_take(dir, &got), 0);
	/* A damaged file is unusable, and removed too. */
	FILE *fp = fopen(f, "w");
	assert_non_null(fp);
	fputs(SUSPECTS_MAGIC "\nshort\n", fp);
	fclose(fp);
	assert_int_equal(suspects_take(dir, &got), -1);
	assert_int_equal(got.live, 0);
	assert_int_equal(access(f, F_OK), -1);
	rmdir(run);
	rmdir(dir);
	qidset_clear(&s);
	qidset_clear(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_save_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
