/* SPDX-License-Identifier: ISC */
/*
 * How the daemon's processes reach their store: SQLite in data_dir, or the
 * PostgreSQL server that [store] backend = postgresql names, shared by
 * every node of a cluster. The one place that turns a conf into a handle.
 */
#ifndef SEALMAIL_DAEMON_STORE_OPEN_H
#define SEALMAIL_DAEMON_STORE_OPEN_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct db;

/* Read [store] postgresql_password_file into c->store_postgresql_password
 * (the master, at start and for each reload's new conf, before any child
 * or sandbox exists). A no-op for SQLite or without a file. -1 with a
 * one-line message in err. */
int store_open_load(struct conf *c, char *err, size_t errlen);

/* Whether c's store is shared with other nodes and reached over the
 * network (PostgreSQL): its calls may block, so never on an event loop. */
bool store_open_is_remote(const struct conf *c);

/*
 * A new connection to c's store with c's recipient delimiter set; the
 * caller owns it (db_close). SQLite: data_dir/sealmail.db, created with
 * `create` (only the master creates: children are sandboxed). PostgreSQL:
 * the DSN with the loaded password; its schema must be this sealmail's
 * (`sealmail store migrate`). NULL with a one-line message in err.
 */
struct db *store_open(const struct conf *c, bool create, char *err,
    size_t errlen);

#endif
