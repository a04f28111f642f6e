/* SPDX-License-Identifier: ISC */
/* The daemon's store connections (see store_open.h). */
#include "daemon/store_open.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "core/xmalloc.h"
#include "store/db.h"
#include "store/db_pg.h"

int
store_open_load(struct conf *c, char *err, size_t errlen)
{
	char pw[DB_PG_PASSWORD_MAX + 2];

	if (c->store_backend != CONF_STORE_POSTGRESQL ||
	    c->store_postgresql_password_file == NULL ||
	    c->store_postgresql_password != NULL)
		return 0;
	if (db_pg_password(c->store_postgresql_password_file, pw, sizeof(pw),
	    err, errlen) == -1)
		return -1;
	c->store_postgresql_password = xstrdup(pw);
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

bool
store_open_is_remote(const struct conf *c)
{
	return c->store_backend == CONF_STORE_POSTGRESQL;
}

struct db *
store_open(const struct conf *c, bool create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct db *db;

	if (store_open_is_remote(c))
		db = db_open_pg(c->store_postgresql,
		    c->store_postgresql_password, err, errlen);
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
