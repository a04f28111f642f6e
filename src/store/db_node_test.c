/* SPDX-License-Identifier: ISC */
/* Unit tests for the node registry of the store (db_node.c): a beat
 * makes or updates a node's row (first_seen kept), the list is ordered
 * by name, and forget removes exactly one row, any case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "store/db.h"
#include "store/db_node.h"
#include "teststore.h"

static void
test_beat_and_list(void **state)
{
	struct teststore *t = *state;
	struct db_node b = { .name = "mx2.example.test",
	    .mx = "mx2.example.test", .version = "0.1.0", .spki = "ab cd",
	    .queue_messages = 3, .queue_oldest = 900, .heartbeat = 1000,
	    .every = 10, .instance = "i2" };
	struct db_node a = { .name = "mx1.example.test",
	    .mx = "mx1.example.test", .version = "0.1.0", .spki = "",
	    .queue_messages = -1, .heartbeat = 1005, .every = 1,
	    .instance = "i1" };
	struct db_node *v;
	bool clash = true;
	size_t n;

	assert_int_equal(db_node_list(t->db, &v, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(db_node_beat(t->db, &b, 0, &clash), DB_OK);
	assert_int_equal(db_node_beat(t->db, &a, 0, &clash), DB_OK);
	/* the next beat updates the row; first_seen stays the first */
	b.heartbeat = 1010;
	b.queue_messages = 0;
	b.queue_oldest = 0;
	b.version = "0.2.0";
	assert_int_equal(db_node_beat(t->db, &b, 0, &clash), DB_OK);
	assert_int_equal(db_node_list(t->db, &v, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "mx1.example.test");
	assert_int_equal(v[0].queue_messages, -1);
	assert_int_equal(v[0].every, 1);
	assert_string_equal(v[0].spki, "");
	assert_string_equal(v[1].name, "mx2.example.test");
	assert_string_equal(v[1].mx, "mx2.example.test");
	assert_string_equal(v[1].version, "0.2.0");
	assert_string_equal(v[1].spki, "ab cd");
	assert_int_equal(v[1].heartbeat, 1010);
	assert_int_equal(v[1].first_seen, 1000);
	assert_int_equal(v[1].queue_messages, 0);
	assert_int_equal(v[1].queue_oldest, 0);
	assert_int_equal(v[1].every, 10);
	assert_string_equal(v[1].instance, "i2");
	assert_false(clash);
	db_node_list_free(v, n);
}

/* Two runners beating under one name: the second's beat after the
 * first's is a clash for the first; its own beats, and a beat that is
 * its first (a restart), are not. */
static void
test_clash(void **state)
{
	struct teststore *t = *state;
	struct db_node a = { .name = "mx1.example.test",
	    .mx = "mx1.example.test", .version = "0.1.0", .spki = "",
	    .heartbeat = 1000, .every = 10, .instance = "A" };
	struct db_node b = a;
	bool clash = true;

	b.instance = "B";
	assert_int_equal(db_node_beat(t->db, &a, 0, &clash), DB_OK);
	assert_false(clash);
	a.heartbeat = 1010;
	assert_int_equal(db_node_beat(t->db, &a, 1000, &clash), DB_OK);
	assert_false(clash);
	/* B starts (its first beat: nothing to compare) */
	b.heartbeat = 1012;
	assert_int_equal(db_node_beat(t->db, &b, 0, &clash), DB_OK);
	assert_false(clash);
	/* A's next beat finds B's row newer than its own last */
	a.heartbeat = 1020;
	assert_int_equal(db_node_beat(t->db, &a, 1010, &clash), DB_OK);
	assert_true(clash);
	/* and B finds A's */
	b.heartbeat = 1022;
	assert_int_equal(db_node_beat(t->db, &b, 1012, &clash), DB_OK);
	assert_true(clash);
}

static void
test_forget(void **state)
{
	struct teststore *t = *state;
	struct db_node a = { .name = "mx1.example.test",
	    .mx = "mx1.example.test", .version = "0.1.0", .spki = "",
	    .heartbeat = 1000, .every = 10, .instance = "i1" };
	struct db_node b = a;
	struct db_node *v;
	bool clash;
	size_t n;

	b.name = b.mx = "mx2.example.test";
	assert_int_equal(db_node_beat(t->db, &a, 0, &clash), DB_OK);
	assert_int_equal(db_node_beat(t->db, &b, 0, &clash), DB_OK);
	assert_int_equal(db_node_forget(t->db, "MX2.Example.Test"), DB_OK);
	assert_int_equal(db_node_forget(t->db, "mx2.example.test"),
	    DB_NOTFOUND);
	assert_int_equal(db_node_forget(t->db, "mx9.example.test"),
	    DB_NOTFOUND);
	assert_int_equal(db_node_list(t->db, &v, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "mx1.example.test");
	db_node_list_free(v, n);
	/* a forgotten node that starts again registers again */
	assert_int_equal(db_node_beat(t->db, &b, 0, &clash), DB_OK);
	assert_int_equal(db_node_list(t->db, &v, &n), DB_OK);
	assert_int_equal(n, 2);
	db_node_list_free(v, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_beat_and_list,
		    teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_forget,
		    teststore_setup, teststore_teardown),
		cmocka_unit_test_setup_teardown(test_clash,
		    teststore_setup, teststore_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
