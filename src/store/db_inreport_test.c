/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the received reports' store (db_inreport.c): the
 * deduplication of a report sent twice, and that a report whose message
 * did not pass DMARC cannot keep out the genuine one with the same id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db_inreport.h"

struct it {
	char		 dir[64];
	char		 path[128];
	struct db	*db;
};

static int
it_setup(void **state)
{
	struct it *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-inrep-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sealmail.db", t->dir);
	if ((t->db = db_open(t->path, true, NULL, err, sizeof(err))) == NULL)
		fail_msg("db_open: %s", err);
	*state = t;
	return 0;
}

static int
it_teardown(void **state)
{
	struct it *t = *state;
	char p[160];

	db_close(t->db);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-journal", t->path);
	unlink(p);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Store a DMARC report of org "Example" with id "R1": one record of
 * count messages from ip. */
static enum db_result
it_add(struct db *db, bool authenticated, const char *ip, long long count)
{
	struct in_dmarc_record rec = {
		.source_ip = (char *)ip, .count = count,
		.disposition = (char *)"none", .dkim = (char *)"pass",
		.spf = (char *)"pass", .header_from = (char *)"example.org",
		.envelope_from = (char *)"example.org",
		.dkim_domain = (char *)"example.org",
		.dkim_result = (char *)"pass",
		.spf_domain = (char *)"example.org",
		.spf_result = (char *)"pass",
	};
	struct inreport r = {
		.kind = INREPORT_DMARC, .authenticated = authenticated,
		.received = 1796428800LL, .msg_id = (char *)"<m@x>",
		.msg_from_domain = (char *)"reporter.example",
	};

	r.u.dmarc = (struct in_dmarc){ .org_name = (char *)"Example",
	    .email = (char *)"r@reporter.example",
	    .report_id = (char *)"R1", .begin = 1796342400LL,
	    .end = 1796428799LL, .policy_domain = (char *)"example.org",
	    .policy = (char *)"reject", .rec = &rec, .nrec = 1 };
	return db_inreport_add(db, &r);
}

/* The one stored report: its authentication, record's IP and count. */
static void
it_check(struct db *db, bool authenticated, const char *ip, long long count)
{
	struct inreport *v;
	size_t n;

	assert_int_equal(db_inreport_list(db, INREPORT_DMARC, NULL, 0, &v,
	    &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].authenticated, authenticated);
	assert_int_equal(v[0].u.dmarc.nrec, 1);
	assert_string_equal(v[0].u.dmarc.rec[0].source_ip, ip);
	assert_int_equal(v[0].u.dmarc.rec[0].count, count);
	db_inreport_list_free(v, n);
}

static void
test_duplicate_once(void **state)
{
	struct it *t = *state;

	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_NOTFOUND);
	it_check(t->db, true, "192.0.2.1", 3);
}

/* A forged copy first (report ids are predictable): the genuine report
 * that passed DMARC replaces it. */
static void
test_authenticated_replaces_forged(void **state)
{
	struct it *t = *state;

	assert_int_equal(it_add(t->db, false, "198.51.100.66", 99999),
	    DB_OK);
	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	it_check(t->db, true, "192.0.2.1", 3);
}

/* A forged copy after the genuine one changes nothing. */
static void
test_forged_after_ignored(void **state)
{
	struct it *t = *state;

	assert_int_equal(it_add(t->db, true, "192.0.2.1", 3), DB_OK);
	assert_int_equal(it_add(t->db, false, "198.51.100.66", 99999),
	    DB_NOTFOUND);
	it_check(t->db, true, "192.0.2.1", 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duplicate_once, it_setup,
		    it_teardown),
		cmocka_unit_test_setup_teardown(
		    test_authenticated_replaces_forged, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_forged_after_ignored,
		    it_setup, it_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
