/* SPDX-License-Identifier: ISC */
/*
 * `sealmail store migrate`: bring the configured store's schema to this
 * sealmail's version (SQLite: data_dir/sealmail.db and passwd.db, as
 * serve would; PostgreSQL: its migrations, as the owner role). `sealmail
 * store copy --from sqlite:PATH --to postgresql:DSN`: move a single
 * node's SQLite store into a new PostgreSQL database (store/db_pg.h).
 */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "store/db.h"
#include "store/db_pg.h"

#define CLI_STORE_USAGE	"store migrate | store copy [--from sqlite:PATH] " \
	"[--to postgresql:DSN] [--password-file FILE]"

static int
cli_store_migrate(const struct conf *c)
{
	char err[512], esc[1100], *password;
	int from, to, rc;
	struct db *db;

	if (c->store_backend == CONF_STORE_SQLITE) {
		/* Opening the files upgrades them, as serve does. */
		if ((db = cli_open_store(c, true)) == NULL)
			return CLI_EXIT_FAIL;
		db_close(db);
		printf("store: %s/sealmail.db is at this sealmail's schema\n",
		    c->data_dir);
		return CLI_EXIT_OK;
	}
	if (cli_store_password(c->store_postgresql_password_file,
	    &password) == -1)
		return CLI_EXIT_FAIL;
	rc = db_pg_migrate(c->store_postgresql, password, &from, &to, err,
	    sizeof(err));
	conf_store_forget(&password);
	if (rc == -1) {
		cli_error("store: %s", cli_escape(err, esc, sizeof(esc)));
		return CLI_EXIT_FAIL;
	}
	if (from == to)
		printf("store: postgresql schema at version %d already\n", to);
	else
		printf("store: postgresql schema migrated from version %d to "
		    "%d\n", from, to);
	return CLI_EXIT_OK;
}

static int
cli_store_copy(const struct conf *c, int argc, char **argv)
{
	char err[1024], esc[2100];
	char *from = NULL, *passwd = NULL, *dir = NULL, *password = NULL;
	const char *to = c->store_postgresql;
	/* The conf's file, or one for a database the conf does not name. */
	const char *pwfile = c->store_postgresql_password_file;
	int rc = CLI_EXIT_USAGE;

	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			goto out;
		if (strcmp(argv[i], "--from") == 0 &&
		    strncmp(argv[i + 1], "sqlite:", 7) == 0 &&
		    argv[i + 1][7] != '\0')
			from = xstrdup(argv[i + 1] + 7);
		else if (strcmp(argv[i], "--to") == 0 &&
		    strncmp(argv[i + 1], "postgresql:", 11) == 0)
			to = argv[i + 1] + 11;
		else if (strcmp(argv[i], "--password-file") == 0)
			pwfile = argv[i + 1];
		else
			goto out;
	}
	if (from == NULL) {
		if (c->data_dir == NULL || c->data_dir[0] == '\0') {
			cli_error("[server] data_dir is not set: name the "
			    "store with --from sqlite:PATH");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		from = xasprintf("%s/sealmail.db", c->data_dir);
	}
	if (to == NULL || *to == '\0') {
		cli_error("no PostgreSQL store: --to postgresql:DSN, or "
		    "[store] postgresql");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* Not on a command line either, where ps shows it. */
	if (!conf_store_dsn_ok(to, err, sizeof(err))) {
		cli_error("--to: %s", err);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* The password file lives beside the store (db_passwd_open). */
	dir = xstrdup(from);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	else
		strcpy(dir, ".");
	passwd = xasprintf("%s/passwd.db", dir);
	rc = CLI_EXIT_FAIL;
	if (cli_store_password(pwfile, &password) == -1)
		goto out;
	if (db_pg_copy(from, passwd, to, password, stdout, err,
	    sizeof(err)) == -1)
		cli_error("store copy: %s (nothing was copied)",
		    cli_escape(err, esc, sizeof(esc)));
	else {
		printf("store copy: done; set [store] backend = postgresql "
		    "once serve supports it\n");
		rc = CLI_EXIT_OK;
	}
out:
	conf_store_forget(&password);
	if (rc == CLI_EXIT_USAGE)
		cli_usage(CLI_STORE_USAGE);
	free(from);
	free(dir);
	free(passwd);
	return rc;
}

int
cli_store(int argc, char **argv, const char *config)
{
	struct conf *c;
	int rc;

	if (argc < 2 || (strcmp(argv[1], "migrate") == 0 && argc != 2) ||
	    (strcmp(argv[1], "migrate") != 0 && strcmp(argv[1], "copy") != 0))
		return cli_usage(CLI_STORE_USAGE);
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	if (strcmp(argv[1], "migrate") == 0)
		rc = cli_store_migrate(c);
	else
		rc = cli_store_copy(c, argc, argv);
	conf_free(c);
	return rc;
}
