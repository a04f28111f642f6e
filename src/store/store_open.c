/* SPDX-License-Identifier: ISC */
/* The daemon's store connections (see store_open.h). */
#include "store/store_open.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "core/xmalloc.h"
#include "store/db.h"
#include "store/db_pg.h"

int
store_open_read_password(const char *file, char **out, char *err,
    size_t errlen)
{
	char pw[DB_PG_PASSWORD_MAX + 2];

	*out = NULL;
	if (file == NULL)
		return 0;
	if (db_pg_password(file, pw, sizeof(pw), err, errlen) == -1) {
		explicit_bzero(pw, sizeof(pw));
		return -1;
	}
	*out = xstrdup(pw);
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

/* *out from file, unless it is read already or there is no file. */
static int
store_open_load_one(const char *file, char **out, char *err, size_t errlen)
{
	if (*out != NULL)
		return 0;
	return store_open_read_password(file, out, err, errlen);
}

int
store_open_load(struct conf *c, char *err, size_t errlen)
{
	if (c->store_backend != CONF_STORE_POSTGRESQL)
		return 0;
	if (store_open_load_one(c->store_postgresql_password_file,
	    &c->store_postgresql_password, err, errlen) == -1 ||
	    store_open_load_one(c->store_keys_postgresql_password_file,
	    &c->store_keys_postgresql_password, err, errlen) == -1)
		return -1;
	return 0;
}

void
store_open_forget_keys(struct conf *c)
{
	conf_store_forget(&c->store_keys_postgresql_password);
}

const char *
store_open_keys_dsn(const struct conf *c)
{
	if (!store_open_is_remote(c))
		return NULL;
	return c->store_keys_postgresql != NULL ? c->store_keys_postgresql :
	    c->store_postgresql;
}

struct db_passwd *
store_open_passwd(const struct conf *c, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *password;

	if (store_open_is_remote(c)) {
		/* Its own role when it has one; the store's otherwise. */
		password = c->store_keys_postgresql != NULL ?
		    c->store_keys_postgresql_password :
		    c->store_postgresql_password;
		return db_passwd_open_pg(store_open_keys_dsn(c), password, err,
		    errlen);
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->data_dir,
	    DB_PASSWD_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "data_dir is too long");
		return NULL;
	}
	return db_passwd_open(path, false, NULL, err, errlen);
}

bool
store_open_is_remote(const struct conf *c)
{
	return c->store_backend == CONF_STORE_POSTGRESQL;
}

/* The store of c, with password for PostgreSQL; connected now, or at
 * its first call when later. */
static struct db *
store_open_as(const struct conf *c, const char *password, bool create,
    bool later, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct db *db;

	if (store_open_is_remote(c))
		db = later ? db_open_pg_later(c->store_postgresql, password,
		    err, errlen) : db_open_pg(c->store_postgresql, password,
		    err, errlen);
	else {
		if ((size_t)snprintf(path, sizeof(path), "%s/sealmail.db",
		    c->data_dir) >= sizeof(path)) {
			snprintf(err, errlen, "data_dir is too long");
			return NULL;
		}
		db = db_open(path, create, c->user, err, errlen);
	}
	if (db != NULL && db_set_recipient_delimiter(db,
	    c->recipient_delimiter) == -1) {
		snprintf(err, errlen, "recipient_delimiter is too long for "
		    "the store");
		db_close(db);
		db = NULL;
	}
	return db;
}

struct db *
store_open(const struct conf *c, bool create, char *err, size_t errlen)
{
	return store_open_as(c, c->store_postgresql_password, create, false,
	    err, errlen);
}

struct db *
store_open_with_password(const struct conf *c, const char *password,
    bool create, char *err, size_t errlen)
{
	return store_open_as(c, password, create, false, err, errlen);
}

struct db *
store_open_later(const struct conf *c, bool create, char *err, size_t errlen)
{
	return store_open_as(c, c->store_postgresql_password, create, true,
	    err, errlen);
}
