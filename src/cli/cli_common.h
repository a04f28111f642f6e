/* SPDX-License-Identifier: ISC */
/*
 * Small helpers shared by the subcommands (cli_*.c): one-line errors, usage,
 * loading the configuration, opening the store, reading a password. All of
 * them report problems themselves, as one line "sealmail: ..." on stderr,
 * so a subcommand only maps failure to its exit code (DESIGN.md §5: 0 ok,
 * 1 failure, 2 usage). Meant for the CLI process only: they write to
 * stderr and may prompt on the terminal.
 */
#ifndef SEALMAIL_CLI_CLI_COMMON_H
#define SEALMAIL_CLI_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/limits.h"

struct conf;
struct db;

/* Exit codes of every subcommand. */
#define CLI_EXIT_OK	0
#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

/* Longest password the CLI accepts: SASL PLAIN carries at most 255 octets
 * per field (RFC 4616 §2), so a longer one could never log in. */
#define CLI_PASSWORD_MAX	LIMIT_SASL_FIELD

/* Print "sealmail: <message>\n" on stderr. Arguments that come from the
 * user or a file should pass through cli_escape first. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "usage: sealmail <text>\n" on stderr and return CLI_EXIT_USAGE. */
int cli_usage(const char *text);

/* Escape `s` for an error line (log_escape over the whole string, so a
 * newline cannot split the one-line error). Returns out. */
const char *cli_escape(const char *s, char *out, size_t outlen);

/*
 * conf_load(path); on failure print "sealmail: <conf_load's error>" and
 * return -1. On success *out is the caller's to conf_free().
 */
int cli_load_conf(const char *path, struct conf **out);

/* Create `path` and any missing parents with `mode` (like mkdir -p);
 * existing folders are left as they are. Prints the error. */
int cli_mkdirs(const char *path, mode_t mode);

/*
 * Open the store DATA_DIR/sealmail.db of `c` (with [store] backend =
 * postgresql: its database, which `store migrate` must have brought to
 * this version), passing [server] user as the owner (see db_open). With `create`, data_dir is made (0755) if missing and
 * so are the file and its schema. Prints the error and returns NULL on
 * failure; the caller db_close()s the result.
 */
struct db *cli_open_store(const struct conf *c, bool create);
/* The password in file (a postgresql_password_file) as a new string in
 * *out, read by store_open_read_password as serve reads it; *out NULL
 * when file is NULL (libpq's own ways apply). -1 after saying why. The
 * caller wipes and frees it (conf_store_forget). */
int cli_store_password(const char *file, char **out);
/* cli_open_store, then the password file DATA_DIR/passwd.db beside it
 * (made if missing, same owner; PostgreSQL: its passwords table), handed
 * to the store (db_set_passwd), so that the account functions can set and
 * remove passwords. */
struct db *cli_open_accounts(const struct conf *c);

/*
 * db_address_normalize(arg, catchall_ok) into out (DB_ADDRESS_MAX + 1
 * bytes); on failure print "invalid <what> \"<arg>\"" and return -1.
 */
int cli_address(const char *arg, bool catchall_ok, const char *what,
    char *out);

/* 0 if the domain of `address` (normalized, see cli_address) is a local
 * domain of c; else print why not and return -1. */
int cli_local_domain(const struct conf *c, const char *address);

/*
 * The role addresses every mail domain is expected to have: postmaster
 * (RFC 5321 §4.5.1), abuse (RFC 2142) and root (where cron and daemons
 * send). Each of them @domain that is neither a user nor an alias becomes
 * an alias of `target` (normalized). Says on stdout what it made; -1
 * (error printed) if the store fails.
 */
int cli_role_aliases(struct db *db, const char *domain, const char *target);
/* The running binary's absolute path (/proc/self/exe) into out, or
 * "sealmail" if it cannot be read. Returns out. */
const char *cli_self_path(char *out, size_t len);

/*
 * Work as the spool's owner from here on, for commands that queue mail:
 * root switches to the [server] user (so queue files belong to the
 * daemon); before the daemon has ever run, the spool is created first and
 * data_dir given to that user, as the daemon does at start. Then the spool
 * folders are made if missing. -1 with one line in err (not printed).
 */
int cli_spool_owner(const struct conf *c, char *err, size_t errlen);

/* After a listing on stdout: CLI_EXIT_OK once it is flushed, else print
 * the error and return CLI_EXIT_FAIL. */
int cli_list_done(void);

/*
 * Read a password into out (size outlen > 1, at most CLI_PASSWORD_MAX bytes
 * are accepted). from_stdin: the first line of standard input, without its
 * "\n" (and a "\r" before it). Otherwise prompt on /dev/tty with echo off,
 * twice when `confirm`, and require both to match. An empty password, one
 * containing a NUL byte or one that is too long is refused. Prints the
 * error and returns -1; on any return the caller must explicit_bzero(out).
 */
int cli_read_password(bool from_stdin, bool confirm, char *out,
    size_t outlen);

/*
 * JSON helpers of the listings (json-c). jstr makes one JSON string of a
 * stored text (each listing decides how non-ASCII bytes are shown).
 * cli_json_lines: s, lines joined by '\n', as an array of strings (""
 * gives []); cli_json_opt: add key: jstr(s) to o unless s is "" (the
 * optional fields of RFC 8460 objects).
 */
struct json_object;
typedef struct json_object *cli_json_str_fn(const char *s);
struct json_object *cli_json_lines(const char *s, cli_json_str_fn *jstr);
void cli_json_opt(struct json_object *o, const char *key, const char *s,
    cli_json_str_fn *jstr);

#endif
