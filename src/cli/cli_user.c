/* SPDX-License-Identifier: ISC */
/*
 * `sealmail user add|del|passwd|list [ADDRESS] [--password-stdin]`:
 * accounts in the store, with yescrypt password hashes (account/passwd.h);
 * `user add --no-password` makes a mailbox that cannot log in here (for
 * [auth] passdb = dovecot, where Dovecot checks the passwords). The hashes
 * go to the password file DATA_DIR/passwd.db, never into the store.
 * Passwords come from the first line of stdin or from the terminal, and
 * every buffer that held one is wiped.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/passwd.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "msg/addr.h"
#include "store/db.h"

#define CLI_USER_USAGE \
	"user add|del|passwd|list [ADDRESS] [--password-stdin|--no-password]"

struct cli_user_args {
	const char	*address;	/* normalized, NULL for list */
	bool		 password_stdin;
	bool		 no_password;	/* add: a disabled password */
	unsigned	 min_password;	/* [auth] min_password_length */
};

struct cli_user_cmd {
	const char	*name;
	bool		 address;	/* takes ADDRESS */
	bool		 password;	/* takes --password-stdin */
	int		(*run)(struct db *, const struct cli_user_args *);
};

/* Characters (UTF-8 code points) in s: a password of non-ASCII letters
 * is not weaker per byte. */
static size_t
cli_user_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Read a password (confirmed on a terminal) of at least a->min_password
 * characters and hash it; NULL if not. */
static char *
cli_user_new_hash(const struct cli_user_args *a)
{
	char pw[CLI_PASSWORD_MAX + 2];
	char *hash = NULL;
	size_t n;

	if (cli_read_password(a->password_stdin, true, pw, sizeof(pw)) == -1)
		goto out;
	/* Submission is the Internet's favourite brute-force target. */
	if ((n = cli_user_chars(pw)) < a->min_password)
		cli_error("password too short: %zu characters, at least %u "
		    "([auth] min_password_length)", n, a->min_password);
	else if ((hash = passwd_hash(pw)) == NULL)
		cli_error("cannot hash the password");
out:
	explicit_bzero(pw, sizeof(pw));
	return hash;
}

/* 0 if the user exists; else print why not and return -1. */
static int
cli_user_exists(struct db *db, const char *address)
{
	enum db_result r = db_user_exists(db, address);

	if (r == DB_NOTFOUND)
		cli_error("no such user %s", address);
	else if (r == DB_ERROR)
		cli_error("%s", db_error(db));
	return r == DB_OK ? 0 : -1;
}

/* The first account of a domain receives its role addresses (postmaster,
 * abuse, root) unless they exist already: mail to them must reach a
 * person from the start, and that is the one person the domain has. */
static int
cli_user_first_of_domain(struct db *db, const char *address)
{
	const char *domain = addr_text_domain(address);
	char *first = NULL;
	enum db_result r = db_user_first(db, domain, &first);
	int rc = 0;

	if (r == DB_ERROR) {
		cli_error("%s", db_error(db));
		rc = -1;
	} else if (r == DB_OK && addr_text_equal(first, address))
		rc = cli_role_aliases(db, domain, address);
	free(first);
	return rc;
}

static int
cli_user_add(struct db *db, const struct cli_user_args *a)
{
	char *hash = NULL;
	enum db_result r;

	r = db_user_exists(db, a->address);
	if (r != DB_NOTFOUND) {
		if (r == DB_OK)
			cli_error("user %s already exists", a->address);
		else
			cli_error("%s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	/* Without a password (no row in the password file) the account
	 * only receives mail. */
	if (!a->no_password && (hash = cli_user_new_hash(a)) == NULL)
		return CLI_EXIT_FAIL;
	r = db_user_add(db, a->address, hash);
	free(hash);
	if (r != DB_OK) {
		cli_error("%s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	return cli_user_first_of_domain(db, a->address) == -1 ?
	    CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int
cli_user_del(struct db *db, const struct cli_user_args *a)
{
	switch (db_user_del(db, a->address)) {
	case DB_OK:
		return CLI_EXIT_OK;
	case DB_NOTFOUND:
		cli_error("no such user %s", a->address);
		return CLI_EXIT_FAIL;
	case DB_ERROR:
		break;
	}
	cli_error("%s", db_error(db));
	return CLI_EXIT_FAIL;
}

static int
cli_user_passwd(struct db *db, const struct cli_user_args *a)
{
	enum db_result r;
	char *hash;

	if (cli_user_exists(db, a->address) == -1)
		return CLI_EXIT_FAIL;
	if ((hash = cli_user_new_hash(a)) == NULL)
		return CLI_EXIT_FAIL;
	r = db_user_set_hash(db, a->address, hash);
	free(hash);
	if (r == DB_OK)
		return CLI_EXIT_OK;
	/* Deleted while we asked for the password. */
	if (r == DB_NOTFOUND)
		cli_error("no such user %s", a->address);
	else
		cli_error("%s", db_error(db));
	return CLI_EXIT_FAIL;
}

static void
cli_user_print(const char *address, const char *unused, void *arg)
{
	(void)unused;
	(void)arg;
	printf("%s\n", address);
}

static int
cli_user_list(struct db *db, const struct cli_user_args *a)
{
	(void)a;
	if (db_user_list(db, cli_user_print, NULL) != DB_OK) {
		cli_error("%s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	return cli_list_done();
}

static const struct cli_user_cmd cli_user_cmds[] = {
	{ "add", true, true, cli_user_add },
	{ "del", true, false, cli_user_del },
	{ "passwd", true, true, cli_user_passwd },
	{ "list", false, false, cli_user_list },
};

/* Split argv into the command, its ADDRESS, --password-stdin and (add
 * only) --no-password; NULL on a usage error. "--" ends the options. */
static const struct cli_user_cmd *
cli_user_parse(int argc, char **argv, const char **address, bool *pwstdin,
    bool *nopass)
{
	const struct cli_user_cmd *cmd = NULL;
	bool opts = true;
	int npos = 0;

	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(cli_user_cmds) / sizeof(cli_user_cmds[0]); i++)
		if (strcmp(argv[1], cli_user_cmds[i].name) == 0)
			cmd = &cli_user_cmds[i];
	if (cmd == NULL)
		return NULL;
	for (int i = 2; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0)
			opts = false;
		else if (opts && strcmp(argv[i], "--password-stdin") == 0)
			*pwstdin = true;
		else if (opts && strcmp(argv[i], "--no-password") == 0)
			*nopass = true;
		else if (opts && argv[i][0] == '-' && argv[i][1] != '\0')
			return NULL;
		else if (npos++ == 0)
			*address = argv[i];
	}
	if (npos != (cmd->address ? 1 : 0) || (*pwstdin && !cmd->password) ||
	    (*nopass && (cmd->run != cli_user_add || *pwstdin)))
		return NULL;
	return cmd;
}

/* Normalize the ADDRESS argument; `user add` also needs a local domain. */
static int
cli_user_address(const struct conf *c, const struct cli_user_cmd *cmd,
    const char *arg, char *out)
{
	if (cli_address(arg, false, "address", out) == -1)
		return -1;
	if (cmd->run == cli_user_add && cli_local_domain(c, out) == -1)
		return -1;
	return 0;
}

int
cli_user(int argc, char **argv, const char *config)
{
	const struct cli_user_cmd *cmd;
	struct cli_user_args a = { 0 };
	char address[DB_ADDRESS_MAX + 1];
	const char *arg = NULL;
	struct conf *c = NULL;
	struct db *db = NULL;
	int rc = CLI_EXIT_FAIL;

	if ((cmd = cli_user_parse(argc, argv, &arg, &a.password_stdin,
	    &a.no_password)) == NULL)
		return cli_usage(CLI_USER_USAGE);
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	a.min_password = c->min_password_length;
	if (arg != NULL) {
		if (cli_user_address(c, cmd, arg, address) == -1)
			goto done;
		a.address = address;
	}
	if ((db = cli_open_accounts(c)) != NULL)
		rc = cmd->run(db, &a);
done:
	db_close(db);
	conf_free(c);
	return rc;
}
