/* SPDX-License-Identifier: ISC */
/* The cluster's node registry in the store (see db_node.h). Statements
 * are prepared per call: one beat every few seconds, and the CLI. */
#include "store/db_node.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/db_internal.h"

/* *clash: name's row was written after since by another instance. */
static enum db_result
db_node_clash(struct db *db, const struct db_node *n, long long since,
    bool *clash)
{
	struct sql_stmt *st = db_prepare(db, "SELECT instance FROM cluster_nodes "
	    "WHERE name = ?1 AND heartbeat > ?2");
	enum db_result r = DB_OK;
	int rc;

	*clash = false;
	if (st == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, n->name) == -1 ||
	    sql_bind_int64(st, 2, since) != SQL_OK)
		r = db_fail(db, "read heartbeat");
	else if ((rc = sql_step(st)) == SQL_ROW) {
		const char *t = sql_column_text(st, 0);

		*clash = since > 0 && (t == NULL ||
		    strcmp(t, n->instance) != 0);
	} else if (rc != SQL_DONE)
		r = db_fail(db, "read heartbeat");
	sql_finalize(st);
	return r;
}

static enum db_result
db_node_write(struct db *db, const struct db_node *n)
{
	/* ON CONFLICT ... excluded: the same text in SQLite and
	 * PostgreSQL. */
	struct sql_stmt *st = db_prepare(db, "INSERT INTO cluster_nodes (name, "
	    "mx, version, spki, queue_messages, queue_oldest, heartbeat, "
	    "beat_every, first_seen, instance) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?7, ?9) ON CONFLICT (name) DO UPDATE SET "
	    "mx = excluded.mx, version = excluded.version, "
	    "spki = excluded.spki, queue_messages = excluded.queue_messages, "
	    "queue_oldest = excluded.queue_oldest, "
	    "heartbeat = excluded.heartbeat, "
	    "beat_every = excluded.beat_every, instance = excluded.instance");
	enum db_result r;

	if (st == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, n->name) == -1 ||
	    db_bind(db, st, 2, n->mx) == -1 ||
	    db_bind(db, st, 3, n->version) == -1 ||
	    db_bind(db, st, 4, n->spki) == -1 ||
	    sql_bind_int64(st, 5, n->queue_messages) != SQL_OK ||
	    sql_bind_int64(st, 6, n->queue_oldest) != SQL_OK ||
	    sql_bind_int64(st, 7, n->heartbeat) != SQL_OK ||
	    sql_bind_int64(st, 8, n->every) != SQL_OK ||
	    db_bind(db, st, 9, n->instance) == -1)
		r = db_fail(db, "write heartbeat");
	else
		r = sql_step(st) == SQL_DONE ? DB_OK :
		    db_fail(db, "write heartbeat");
	sql_finalize(st);
	return r;
}

enum db_result
db_node_beat(struct db *db, const struct db_node *n, long long since,
    bool *clash)
{
	if (db_begin(db) != DB_OK)
		return DB_ERROR;
	return db_end(db, db_node_clash(db, n, since, clash) == DB_OK &&
	    db_node_write(db, n) == DB_OK);
}

/* Column col as a heap string of at most DB_NODE_TEXT_MAX bytes. */
static char *
db_node_text(struct sql_stmt *st, int col)
{
	const char *t = sql_column_text(st, col);

	return xstrndup(t == NULL ? "" : t, DB_NODE_TEXT_MAX);
}

enum db_result
db_node_list(struct db *db, struct db_node **out, size_t *n)
{
	struct sql_stmt *st = db_prepare(db, "SELECT name, mx, version, spki, "
	    "queue_messages, queue_oldest, heartbeat, beat_every, first_seen, "
	    "instance FROM cluster_nodes ORDER BY name LIMIT ?1");
	struct db_node *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return DB_ERROR;
	sql_bind_int64(st, 1, DB_NODES_MAX);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct db_node *d;

		if (v == NULL)
			v = xcalloc(DB_NODES_MAX, sizeof(*v));
		d = &v[k++];
		d->name = db_node_text(st, 0);
		d->mx = db_node_text(st, 1);
		d->version = db_node_text(st, 2);
		d->spki = db_node_text(st, 3);
		d->queue_messages = sql_column_int64(st, 4);
		d->queue_oldest = sql_column_int64(st, 5);
		d->heartbeat = sql_column_int64(st, 6);
		d->every = sql_column_int64(st, 7);
		d->first_seen = sql_column_int64(st, 8);
		d->instance = db_node_text(st, 9);
		if (k == DB_NODES_MAX)
			break;
	}
	sql_finalize(st);
	if (rc != SQL_ROW && rc != SQL_DONE) {
		db_node_list_free(v, k);
		return db_fail(db, "read nodes");
	}
	*out = v;
	*n = k;
	return DB_OK;
}

void
db_node_list_free(struct db_node *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].name);
		free(v[i].mx);
		free(v[i].version);
		free(v[i].spki);
		free(v[i].instance);
	}
	free(v);
}

enum db_result
db_node_forget(struct db *db, const char *name)
{
	struct sql_stmt *st = db_prepare(db, "DELETE FROM cluster_nodes WHERE "
	    "name = ?1");
	enum db_result r;

	if (st == NULL)
		return DB_ERROR;
	if (db_bind(db, st, 1, name) == -1 ||
	    sql_step(st) != SQL_DONE)
		r = db_fail(db, "forget node");
	else
		r = sql_changes(db->sql) > 0 ? DB_OK : DB_NOTFOUND;
	sql_finalize(st);
	return r;
}
