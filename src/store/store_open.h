/* SPDX-License-Identifier: ISC */
/*
 * How the daemon's processes reach their store: SQLite in data_dir, or the
 * PostgreSQL server that [store] backend = postgresql names, shared by
 * every node of a cluster. The one place that turns a conf into a handle
 * (the store layer's only look at the configuration).
 */
#ifndef SEALMAIL_STORE_STORE_OPEN_H
#define SEALMAIL_STORE_STORE_OPEN_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct db;
struct db_passwd;

/* Read [store] postgresql_password_file into c->store_postgresql_password
 * and keys_postgresql_password_file into c->store_keys_postgresql_password
 * (the master, at start and for each reload's new conf, before any child
 * or sandbox exists). A no-op for SQLite or without a file. -1 with a
 * one-line message in err. */
int store_open_load(struct conf *c, char *err, size_t errlen);

/* The password in file (a postgresql_password_file: db_pg_password's
 * rules) as a new string in *out: the one reader of these files, for
 * store_open_load and the command line (which reads one only when it
 * opens the store, or a file its user names). *out is NULL without a
 * file. -1 with a one-line message in err. The caller wipes it
 * (conf_store_forget). */
int store_open_read_password(const char *file, char **out, char *err,
    size_t errlen);

/* Wipe the keys role's password from c: every child but the keys process
 * calls it first thing, so a worker that is taken over cannot read the
 * password hashes with it. */
void store_open_forget_keys(struct conf *c);

/* The connection string the keys process uses: keys_postgresql, else the
 * store's. NULL for SQLite. */
const char *store_open_keys_dsn(const struct conf *c);

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
/* store_open with password for PostgreSQL rather than the loaded one (the
 * command line's, read with store_open_read_password: its conf is not
 * its to change). */
struct db *store_open_with_password(const struct conf *c,
    const char *password, bool create, char *err, size_t errlen);

/*
 * store_open for a handle that must exist while the PostgreSQL server is
 * away: it connects at its first call (db_open_pg_later), whose failure
 * is a DB_ERROR as after a broken connection, and its schema is not
 * checked (the master checked it when `serve` started). The SMTP
 * workers' two DMARC row buffers and remote delivery's handle in the
 * runner, so that a worker or runner the master starts during an outage
 * serves. SQLite: store_open.
 */
struct db *store_open_later(const struct conf *c, bool create, char *err,
    size_t errlen);

/*
 * The password hashes the keys process reads: PostgreSQL's passwords
 * table as the keys role (store_open_keys_dsn with
 * keys_postgresql_password_file's password; without keys_postgresql, the
 * store's role and password), else data_dir's password file. The caller
 * owns it (db_passwd_close). NULL with a one-line message in err.
 */
struct db_passwd *store_open_passwd(const struct conf *c, char *err,
    size_t errlen);

#endif
