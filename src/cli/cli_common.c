/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by the subcommands: errors, usage, configuration, the
 * store, and reading a password from stdin or the terminal without echo.
 * Runs in the CLI process only; trusts its caller and the configuration,
 * and wipes what held a password.
 */
#include "cli/cli_common.h"

#include <errno.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "proc/priv.h"
#include "queue/spool.h"
#include "store/db.h"
#include "store/db_pg.h"
#include "store/store_open.h"

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sealmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage(const char *text)
{
	fprintf(stderr, "usage: sealmail %s\n", text);
	return CLI_EXIT_USAGE;
}

const char *
cli_escape(const char *s, char *out, size_t outlen)
{
	return log_escape(s, strlen(s), out, outlen);
}

int
cli_load_conf(const char *path, struct conf **out)
{
	char err[1024];

	if (conf_load(path, out, err, sizeof(err)) == -1) {
		cli_error("%s", err);
		return -1;
	}
	return 0;
}

int
cli_address(const char *arg, bool catchall_ok, const char *what, char *out)
{
	char esc[128];

	if (db_address_normalize(arg, catchall_ok, out, DB_ADDRESS_MAX + 1) ==
	    -1) {
		cli_error("invalid %s \"%s\"", what,
		    cli_escape(arg, esc, sizeof(esc)));
		return -1;
	}
	return 0;
}

int
cli_local_domain(const struct conf *c, const char *address)
{
	const char *domain = addr_text_domain(address);
	char esc[128];

	if (conf_is_local_domain(c, domain))
		return 0;
	cli_error("%s is not a local domain (no [domain \"%s\"] in %s)",
	    domain, domain, cli_escape(c->path != NULL ? c->path : "",
	    esc, sizeof(esc)));
	return -1;
}

static void
cli_count_cb(const char *a, const char *b, void *arg)
{
	(void)a;
	(void)b;
	++*(size_t *)arg;
}

/* DB_OK if `address` is a user or has an alias row, else DB_NOTFOUND. */
static enum db_result
cli_address_taken(struct db *db, const char *address)
{
	size_t rows = 0;
	enum db_result r = db_user_exists(db, address);

	if (r != DB_NOTFOUND)
		return r;
	if (db_alias_list(db, address, cli_count_cb, &rows) != DB_OK)
		return DB_ERROR;
	return rows > 0 ? DB_OK : DB_NOTFOUND;
}

int
cli_role_aliases(struct db *db, const char *domain, const char *target)
{
	static const char *const roles[] = { "postmaster", "abuse", "root" };
	char a[DB_ADDRESS_MAX + 1], made[3 * (DB_ADDRESS_MAX + 2)] = "";
	enum db_result r;

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		snprintf(a, sizeof(a), "%s@%s", roles[i], domain);
		if ((r = cli_address_taken(db, a)) == DB_NOTFOUND)
			r = db_alias_add(db, a, target);
		else if (r == DB_OK)
			continue;
		if (r != DB_OK) {
			cli_error("%s", db_error(db));
			return -1;
		}
		snprintf(made + strlen(made), sizeof(made) - strlen(made),
		    "%s%s", made[0] ? ", " : "", a);
	}
	if (made[0] != '\0')
		printf("%s now deliver to %s (aliases: change them with "
		    "`sealmail alias`)\n", made, target);
	return 0;
}

int
cli_list_done(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("cannot write the list");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* mkdir one folder; an existing folder is fine. */
static int
cli_mkdir1(const char *path, mode_t mode)
{
	struct stat st;
	char esc[256];

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	cli_error("cannot create folder %s: %s",
	    cli_escape(path, esc, sizeof(esc)),
	    errno == EEXIST ? "not a folder" : strerror(errno));
	return -1;
}

int
cli_mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rc = 0;

	/* Each prefix ending before a '/', then the whole path. */
	for (char *s = p + 1; *s != '\0' && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		rc = cli_mkdir1(p, mode);
		*s = '/';
	}
	if (rc == 0)
		rc = cli_mkdir1(p, mode);
	free(p);
	return rc;
}

int
cli_store_password(const char *file, char **out)
{
	char err[512], esc[1100];

	if (store_open_read_password(file, out, err, sizeof(err)) == -1) {
		cli_error("%s", cli_escape(err, esc, sizeof(esc)));
		return -1;
	}
	return 0;
}

/* The store (and, with accounts, its password table) of [store] backend
 * = postgresql, with the password store_open_load read into c, else with
 * the one in postgresql_password_file, read now: the CLI reads it only
 * for the commands that open the store (sendmail's users, who need not,
 * may not be able to). */
static struct db *
cli_open_pg(const struct conf *c, bool accounts)
{
	char err[512], esc[600];
	char *password = NULL;
	struct db_passwd *p = NULL;
	struct db *db = NULL;

	if (c->store_postgresql_password != NULL)
		password = xstrdup(c->store_postgresql_password);
	else if (cli_store_password(c->store_postgresql_password_file,
	    &password) == -1)
		return NULL;
	if ((db = store_open_with_password(c, password, false, err,
	    sizeof(err))) == NULL)
		cli_error("store: %s", cli_escape(err, esc, sizeof(esc)));
	else if (accounts && (p = db_passwd_open_pg(c->store_postgresql,
	    password, err, sizeof(err))) == NULL) {
		cli_error("store passwords: %s", cli_escape(err, esc,
		    sizeof(esc)));
		db_close(db);
		db = NULL;
	} else if (p != NULL)
		db_set_passwd(db, p);
	conf_store_forget(&password);
	return db;
}

struct db *
cli_open_store(const struct conf *c, bool create)
{
	char err[512], esc[600];
	struct db *db;

	if (store_open_is_remote(c))
		return cli_open_pg(c, false);
	if (c->data_dir == NULL || c->data_dir[0] == '\0') {
		cli_error("[server] data_dir is not set");
		return NULL;
	}
	if (create && cli_mkdirs(c->data_dir, 0755) == -1)
		return NULL;
	/* data_dir/sealmail.db, owned by [server] user, as serve opens it. */
	if ((db = store_open(c, create, err, sizeof(err))) == NULL)
		cli_error("store %s", cli_escape(err, esc, sizeof(esc)));
	return db;
}

struct db *
cli_open_accounts(const struct conf *c)
{
	char err[512], esc[600];
	struct db_passwd *pw;
	struct db *db;
	char *path;

	if (store_open_is_remote(c))
		return cli_open_pg(c, true);
	if ((db = cli_open_store(c, true)) == NULL)
		return NULL;
	path = xasprintf("%s/%s", c->data_dir, DB_PASSWD_FILE);
	if ((pw = db_passwd_open(path, true, c->user, err,
	    sizeof(err))) == NULL) {
		cli_error("password file %s", cli_escape(err, esc,
		    sizeof(esc)));
		db_close(db);
		db = NULL;
	} else
		db_set_passwd(db, pw);
	free(path);
	return db;
}

enum cli_line {
	CLI_LINE_OK,
	CLI_LINE_EMPTY,
	CLI_LINE_LONG,
	CLI_LINE_NUL,
	CLI_LINE_ERROR,
};

/* Set by the handlers below while the terminal has echo off. */
static volatile sig_atomic_t cli_tty_signo;

/*
 * Read one line from fd a byte at a time (so nothing after it is consumed
 * from a pipe), into out. Bytes past CLI_PASSWORD_MAX are dropped but the
 * line is read to its end, so a too-long password is refused, never cut.
 */
static enum cli_line
cli_read_line(int fd, char *out, size_t outlen)
{
	size_t len = 0, cap = outlen - 1;
	bool toolong = false, nul = false;
	ssize_t r;
	char ch;

	if (cap > CLI_PASSWORD_MAX + 1)
		cap = CLI_PASSWORD_MAX + 1;	/* room for a "\r" */
	for (;;) {
		r = read(fd, &ch, 1);
		if (r == -1 && errno == EINTR && cli_tty_signo == 0)
			continue;
		if (r == -1 || r == 0 || ch == '\n')
			break;
		nul |= ch == '\0';
		if (len < cap)
			out[len++] = ch;
		else
			toolong = true;
	}
	explicit_bzero(&ch, sizeof(ch));
	if (len > 0 && out[len - 1] == '\r')
		len--;
	out[len] = '\0';
	if (r == -1)
		return CLI_LINE_ERROR;
	if (toolong || len > CLI_PASSWORD_MAX)
		return CLI_LINE_LONG;
	if (nul)
		return CLI_LINE_NUL;
	return len == 0 ? CLI_LINE_EMPTY : CLI_LINE_OK;
}

/* Report what was wrong with a password line; 0 if nothing. */
static int
cli_line_check(enum cli_line r)
{
	switch (r) {
	case CLI_LINE_OK:
		return 0;
	case CLI_LINE_EMPTY:
		cli_error("empty password refused");
		break;
	case CLI_LINE_LONG:
		cli_error("password longer than %d bytes refused",
		    CLI_PASSWORD_MAX);
		break;
	case CLI_LINE_NUL:
		cli_error("password with a NUL byte refused");
		break;
	case CLI_LINE_ERROR:
		cli_error("cannot read the password: %s", strerror(errno));
		break;
	}
	return -1;
}

static void
cli_tty_catch(int signo)
{
	cli_tty_signo = signo;
}

/* Write a prompt; a failed write only loses the prompt. */
static void
cli_tty_write(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	(void)n;
}

static const int cli_tty_signals[] = {
	SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU,
};
#define CLI_TTY_NSIGNALS (sizeof(cli_tty_signals) / sizeof(cli_tty_signals[0]))

/* Catch (or restore) the signals that would leave the terminal without
 * echo if they ended or stopped us mid-prompt. */
static void
cli_tty_signals_set(bool catch, struct sigaction *saved)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	/* No SA_RESTART, so the read returns EINTR. */
	sa.sa_handler = cli_tty_catch;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < CLI_TTY_NSIGNALS; i++) {
		if (catch)
			sigaction(cli_tty_signals[i], &sa, &saved[i]);
		else
			sigaction(cli_tty_signals[i], &saved[i], NULL);
	}
}

/*
 * Prompt on the terminal fd and read a line with echo off. A signal during
 * the read restores the terminal first and is then re-raised with its
 * original disposition, as readpassphrase(3) does.
 */
static int
cli_tty_prompt(int fd, const char *prompt, char *out, size_t outlen)
{
	struct sigaction saved[CLI_TTY_NSIGNALS];
	struct termios old, quiet;
	enum cli_line r = CLI_LINE_ERROR;

	if (tcgetattr(fd, &old) == -1) {
		cli_error("cannot read terminal settings: %s", strerror(errno));
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ICANON;
	cli_tty_signo = 0;
	cli_tty_signals_set(true, saved);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0) {
		cli_tty_write(fd, prompt);
		if (cli_tty_signo == 0)
			r = cli_read_line(fd, out, outlen);
		tcsetattr(fd, TCSAFLUSH, &old);
		cli_tty_write(fd, "\n");
	}
	cli_tty_signals_set(false, saved);
	if (cli_tty_signo != 0) {
		raise(cli_tty_signo);
		cli_error("password entry interrupted");
		return -1;
	}
	return cli_line_check(r);
}

/* Prompt twice on fd and compare. */
static int
cli_tty_password(int fd, bool confirm, char *out, size_t outlen)
{
	char again[CLI_PASSWORD_MAX + 2];
	int rc;

	if (cli_tty_prompt(fd, "Password: ", out, outlen) == -1)
		return -1;
	if (!confirm)
		return 0;
	rc = cli_tty_prompt(fd, "Retype password: ", again, sizeof(again));
	if (rc == 0 && strcmp(out, again) != 0) {
		cli_error("passwords do not match");
		rc = -1;
	}
	explicit_bzero(again, sizeof(again));
	return rc;
}

int
cli_read_password(bool from_stdin, bool confirm, char *out, size_t outlen)
{
	int fd, rc;

	if (outlen < 2) {
		cli_error("password buffer too small");
		return -1;
	}
	out[0] = '\0';
	if (from_stdin)
		return cli_line_check(cli_read_line(STDIN_FILENO, out, outlen));
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		cli_error("no terminal to read the password from "
		    "(use --password-stdin)");
		return -1;
	}
	rc = cli_tty_password(fd, confirm, out, outlen);
	close(fd);
	return rc;
}

const char *
cli_self_path(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);

	if (n <= 0 || (size_t)n >= len - 1)
		snprintf(out, len, "sealmail");
	else
		out[n] = '\0';
	return out;
}

int
cli_spool_owner(const struct conf *c, char *err, size_t errlen)
{
	struct stat sb;
	char *path;
	bool missing;

	if (geteuid() == 0 && c->user && c->user[0] != '\0') {
		path = xasprintf("%s/spool", c->data_dir);
		missing = stat(path, &sb) == -1;
		free(path);
		if (missing && (spool_init(c->data_dir, err, errlen) == -1 ||
		    priv_chown_tree(c->data_dir, c->user, err, errlen) == -1))
			return -1;
		priv_drop(c->user);
	}
	return spool_init(c->data_dir, err, errlen);
}

struct json_object *
cli_json_lines(const char *s, cli_json_str_fn *jstr)
{
	json_object *a = json_object_new_array();
	char *copy = xstrdup(s), *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		json_object_array_add(a, jstr(line));
	free(copy);
	return a;
}

void
cli_json_opt(struct json_object *o, const char *key, const char *s,
    cli_json_str_fn *jstr)
{
	if (s[0] != '\0')
		json_object_object_add(o, key, jstr(s));
}
