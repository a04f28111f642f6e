/* SPDX-License-Identifier: ISC */
/*
 * `sealmail alias add|del|list [ADDRESS] [TARGET...]`: aliases in the
 * store. ADDRESS is local@domain or "@domain" (a catch-all for local parts
 * that are neither users nor aliases) in a local domain; targets are any
 * addresses, local or remote. `list` prints "address target" lines.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "store/db.h"

#define CLI_ALIAS_USAGE "alias add|del|list [ADDRESS] [TARGET...]"

/* The normalized arguments: address (NULL if none) and targets. */
struct cli_alias_args {
	char		*address;
	char		**targets;
	size_t		 ntargets;
};

struct cli_alias_cmd {
	const char	*name;
	int		 min_args;	/* ADDRESS and TARGETs */
	int		 max_args;	/* -1: no limit */
	int		(*run)(struct db *, const struct cli_alias_args *);
};

/* Normalize one argument into a heap string; print why not. */
static char *
cli_alias_norm(const char *arg, bool catchall_ok, const char *what)
{
	char out[DB_ADDRESS_MAX + 1];

	return cli_address(arg, catchall_ok, what, out) == 0 ?
	    xstrdup(out) : NULL;
}

static int
cli_alias_add(struct db *db, const struct cli_alias_args *a)
{
	/* A user is delivered to itself (db_rcpt_expand): an alias of the
	 * same name would silently never apply. */
	if (db_user_exists(db, a->address) == DB_OK) {
		cli_error("%s is a user; an alias of it would never apply",
		    a->address);
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < a->ntargets; i++) {
		if (strcasecmp(a->address, a->targets[i]) == 0) {
			cli_error("alias %s cannot point to itself",
			    a->address);
			return CLI_EXIT_FAIL;
		}
	}
	for (size_t i = 0; i < a->ntargets; i++) {
		if (db_alias_add(db, a->address, a->targets[i]) != DB_OK) {
			cli_error("%s", db_error(db));
			return CLI_EXIT_FAIL;
		}
	}
	return CLI_EXIT_OK;
}

/* Delete one target (or all when target is NULL); print a miss. */
static int
cli_alias_del1(struct db *db, const char *address, const char *target)
{
	switch (db_alias_del(db, address, target)) {
	case DB_OK:
		return 0;
	case DB_NOTFOUND:
		if (target != NULL)
			cli_error("no alias %s -> %s", address, target);
		else
			cli_error("no alias %s", address);
		return -1;
	case DB_ERROR:
		break;
	}
	cli_error("%s", db_error(db));
	return -1;
}

static int
cli_alias_del(struct db *db, const struct cli_alias_args *a)
{
	int rc = CLI_EXIT_OK;

	if (a->ntargets == 0)
		return cli_alias_del1(db, a->address, NULL) == 0 ?
		    CLI_EXIT_OK : CLI_EXIT_FAIL;
	/* Delete every target that exists, report each that does not. */
	for (size_t i = 0; i < a->ntargets; i++)
		if (cli_alias_del1(db, a->address, a->targets[i]) == -1)
			rc = CLI_EXIT_FAIL;
	return rc;
}

static void
cli_alias_print(const char *address, const char *target, void *arg)
{
	(void)arg;
	printf("%s %s\n", address, target);
}

static int
cli_alias_list(struct db *db, const struct cli_alias_args *a)
{
	if (db_alias_list(db, a->address, cli_alias_print, NULL) != DB_OK) {
		cli_error("%s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	return cli_list_done();
}

static const struct cli_alias_cmd cli_alias_cmds[] = {
	{ "add", 2, -1, cli_alias_add },
	{ "del", 1, -1, cli_alias_del },
	{ "list", 0, 1, cli_alias_list },
};

/* Find the command and collect its positional arguments into pos (size
 * argc); NULL on a usage error. "--" ends the options (there are none). */
static const struct cli_alias_cmd *
cli_alias_parse(int argc, char **argv, char **pos, int *npos)
{
	const struct cli_alias_cmd *cmd = NULL;
	bool opts = true;

	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(cli_alias_cmds) / sizeof(cli_alias_cmds[0]); i++)
		if (strcmp(argv[1], cli_alias_cmds[i].name) == 0)
			cmd = &cli_alias_cmds[i];
	if (cmd == NULL)
		return NULL;
	*npos = 0;
	for (int i = 2; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0)
			opts = false;
		else if (opts && argv[i][0] == '-' && argv[i][1] != '\0')
			return NULL;
		else
			pos[(*npos)++] = argv[i];
	}
	if (*npos < cmd->min_args ||
	    (cmd->max_args >= 0 && *npos > cmd->max_args))
		return NULL;
	return cmd;
}

/* Normalize ADDRESS and TARGETs into a; `add` needs a local domain. */
static int
cli_alias_args(const struct conf *c, const struct cli_alias_cmd *cmd,
    char **pos, int npos, struct cli_alias_args *a)
{
	if (npos == 0)
		return 0;
	if ((a->address = cli_alias_norm(pos[0], true, "address")) == NULL)
		return -1;
	if (cmd->run == cli_alias_add && cli_local_domain(c, a->address) == -1)
		return -1;
	a->targets = xcalloc((size_t)npos, sizeof(*a->targets));
	for (int i = 1; i < npos; i++) {
		a->targets[a->ntargets] = cli_alias_norm(pos[i], false,
		    "target");
		if (a->targets[a->ntargets] == NULL)
			return -1;
		a->ntargets++;
	}
	return 0;
}

static void
cli_alias_args_clear(struct cli_alias_args *a)
{
	for (size_t i = 0; i < a->ntargets; i++)
		free(a->targets[i]);
	free(a->targets);
	free(a->address);
}

int
cli_alias(int argc, char **argv, const char *config)
{
	const struct cli_alias_cmd *cmd;
	struct cli_alias_args a = { 0 };
	struct conf *c = NULL;
	struct db *db = NULL;
	char **pos;
	int npos, rc = CLI_EXIT_FAIL;

	pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	if ((cmd = cli_alias_parse(argc, argv, pos, &npos)) == NULL) {
		free(pos);
		return cli_usage(CLI_ALIAS_USAGE);
	}
	if (cli_load_conf(config, &c) == -1)
		goto done;
	if (cli_alias_args(c, cmd, pos, npos, &a) == -1)
		goto done;
	if ((db = cli_open_store(c, true)) != NULL)
		rc = cmd->run(db, &a);
done:
	db_close(db);
	conf_free(c);
	cli_alias_args_clear(&a);
	free(pos);
	return rc;
}
