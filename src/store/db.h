/* SPDX-License-Identifier: ISC */
/*
 * The SQLite store (DATA_DIR/sealmail.db): accounts and aliases (the
 * accounts' password hashes in a file of their own, below). The only
 * code that touches SQLite. Addresses are stored in the canonical form of
 * msg/addr.h; lookups are ASCII case-insensitive in both parts.
 * One struct db per process (open after fork, never share a handle).
 */
#ifndef SEALMAIL_STORE_DB_H
#define SEALMAIL_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

enum db_result {
	DB_OK = 0,
	DB_NOTFOUND = 1,
	DB_ERROR = -1,
};

/*
 * Open (creating it and its schema if `create`) the store at `path`.
 * When the caller runs as root and `owner` is a user name, the file (and its
 * journal) is chowned to that user, so the daemon running as `owner` can use
 * a store the CLI created as root. Returns NULL and writes a one-line error
 * into err on failure.
 *
 * Details: a new file is created mode 0600. Only the file and a leftover
 * "-journal" are chowned, never the folder (the daemon chowns data_dir
 * itself at start); an `owner` that is NULL, "" or not an existing user
 * means no chown. The file is opened without following symlinks and is not
 * chowned if it is not a regular file with one link. Rollback journal (not
 * WAL, whose readers need a writable -shm) in PERSIST mode: with `create`
 * the "-journal" is made too (0600) and then never deleted, so the
 * sandboxed processes need rights on these two files only. Busy timeout
 * 5 s. Without
 * `create`, a missing file or schema is an error; an older schema is
 * upgraded, a newer one refused.
 */
struct db *db_open(const char *path, bool create, const char *owner,
    char *err, size_t errlen);
/* The PostgreSQL store of the libpq connection string dsn (password, if
 * not NULL, from the config's postgresql_password_file), which must be at
 * this sealmail's schema version (`sealmail store migrate` brings it
 * there; nothing is created here). Every db_* function works on it; its
 * calls block on the network, so the daemon makes them on store threads
 * (store/db_pool.h), not on its event loops (three uncommon exceptions
 * are listed in docs/postgresql.md). NULL with the message in err. */
struct db *db_open_pg(const char *dsn, const char *password, char *err,
    size_t errlen);
/* db_open_pg that neither connects nor checks the schema: the handle
 * connects at its first call (sql_open_pg_later), so it can be made while
 * the server is away. For a process whose store was checked already (the
 * daemon's master checks at start) and whose calls all tolerate
 * DB_ERROR: the SMTP worker's DMARC row buffers. NULL only for a
 * connection string libpq cannot parse. */
struct db *db_open_pg_later(const char *dsn, const char *password, char *err,
    size_t errlen);
/* db_close(NULL) is a no-op. */
void db_close(struct db *db);
/* Free what the connection caches (SQLite's page cache, up to ~2 MiB, and
 * the recipient cache) while the process is idle; refilled on use. */
void db_release_memory(struct db *db);

/* One line (no newline) saying why the last call on db returned DB_ERROR,
 * e.g. "user a@example.org already exists". Borrowed: valid until the next
 * call on db. */
const char *db_error(const struct db *db);

/* local(64) + "@" + domain(255), RFC 5321 §4.5.3.1.1-2. */
#define DB_ADDRESS_MAX	320

/*
 * Check `in` the way every add and lookup function does and write its
 * stored form into out (outlen > DB_ADDRESS_MAX): the canonical text of
 * msg/addr.h ("local@domain", quoting only where needed, domain lower-case
 * A-labels), or "@domain" when catchall_ok. Refused (-1): anything
 * addr_parse_mailbox refuses (UTF-8 allowed), longer than DB_ADDRESS_MAX,
 * or a result that does not fit in out.
 */
int db_address_normalize(const char *in, bool catchall_ok, char *out,
    size_t outlen);

/*
 * Password hashes are not in the store: they live in a file of their own
 * beside it, DATA_DIR/passwd.db (DB_PASSWD_FILE, one table: address,
 * hash), which only the keys process (reading) and the CLI open, so that a
 * taken-over worker, which reads and writes the store, reads no hash.
 * db_passwd_open opens it as db_open does the store (mode 0600, owner,
 * journal, schema); `create` makes it. The store's upgrade that took the
 * hashes out of its users table copied them here first (db_schema.c).
 */
#define DB_PASSWD_FILE	"passwd.db"
struct db_passwd;
struct db_passwd *db_passwd_open(const char *path, bool create,
    const char *owner, char *err, size_t errlen);
/* The passwords table of a PostgreSQL store (db_open_pg), as the owner
 * role or the keys process's role. */
struct db_passwd *db_passwd_open_pg(const char *dsn, const char *password,
    char *err, size_t errlen);
/* db_passwd_close(NULL) is a no-op. */
void db_passwd_close(struct db_passwd *pw);
/* address's hash into *hash (heap, the caller frees) on DB_OK; an address
 * that is not a valid one is DB_NOTFOUND. */
enum db_result db_passwd_get(struct db_passwd *pw, const char *address,
    char **hash);

/*
 * Hand db the password file (db owns pw from then on and closes it): the
 * account functions below then keep both files in step. Without one, they
 * refuse to touch a password (DB_ERROR), and db_user_del refuses too: a
 * deleted account must not keep a hash that logs in.
 */
void db_set_passwd(struct db *db, struct db_passwd *pw);

/*
 * Accounts. `hash` is a crypt(3) string (see account/passwd.h): printable
 * ASCII without spaces; NULL in db_user_add makes an account without a
 * password (it receives mail, never logs in). db_user_add returns
 * DB_ERROR for an invalid address or hash and for an address that is
 * already a user (db_error() says which). Lookups (del, set_hash, exists)
 * of an address that is not a valid address return DB_NOTFOUND, so
 * untrusted input can be passed as is. Aliases that point to a deleted
 * user are kept.
 *
 * Order across the two files, so a crash between the writes never leaves
 * a hash without its account: add writes the account, then the hash; del
 * removes the hash, then the account.
 */
enum db_result db_user_add(struct db *db, const char *address,
    const char *hash);
enum db_result db_user_del(struct db *db, const char *address);
enum db_result db_user_set_hash(struct db *db, const char *address,
    const char *hash);
/* DB_OK if address is an account, DB_NOTFOUND if not. */
enum db_result db_user_exists(struct db *db, const char *address);
/* List callbacks are called after the query has finished, so they may call
 * other db functions on the same handle. */
typedef void db_list_cb(const char *a, const char *b, void *arg);
/* Calls cb(address, NULL, arg) for each user in order. */
enum db_result db_user_list(struct db *db, db_list_cb *cb, void *arg);

/* Aliases: `address` is user@domain or "@domain" (catch-all); `target` is
 * any address (local or remote), never "@domain". One row per (address,
 * target), compared case-insensitively; adding an existing pair is DB_OK. */
enum db_result db_alias_add(struct db *db, const char *address,
    const char *target);
/* target NULL deletes every target of address. DB_NOTFOUND if no row was
 * deleted. */
enum db_result db_alias_del(struct db *db, const char *address,
    const char *target);
/* Calls cb(address, target, arg) per row, or only those of `address`. */
enum db_result db_alias_list(struct db *db, const char *address,
    db_list_cb *cb, void *arg);

/*
 * Expand a recipient: an existing user is itself; an alias expands
 * recursively (depth LIMIT_ALIAS_DEPTH, at most LIMIT_ALIAS_TARGETS results,
 * loops cut); an unknown local part falls back to the "@domain" catch-all.
 * Addresses in non-local domains (per the is_local callback) are kept as
 * given. On DB_OK, *out is a heap array of n heap strings, deduplicated, the
 * caller frees all (db_strv_free). DB_NOTFOUND if the address is neither a
 * user nor an alias nor covered by a catch-all.
 *
 * postmaster@ any local domain (RFC 5321 §4.5.1: it MUST be accepted)
 * that is neither a user, an alias nor under a catch-all goes to the
 * oldest account of its domain, else to the oldest account of all, else
 * to its own mailbox (so it is never refused).
 *
 * Details: users come back in their stored spelling. A local target that
 * is neither a user, an alias nor covered by a catch-all is dropped (so an
 * alias whose targets all are unknown is DB_NOTFOUND and gets a 550 at RCPT,
 * not a bounce later). is_local NULL treats every domain as local. Hitting
 * a limit logs a warning and returns what was gathered so far.
 */
typedef bool db_is_local_cb(const char *domain, void *arg);
enum db_result db_rcpt_expand(struct db *db, const char *address,
    db_is_local_cb *is_local, void *arg, char ***out, size_t *n);
void db_strv_free(char **v, size_t n);

/*
 * Recipient delimiters ([server] recipient_delimiter, Postfix's
 * recipient_delimiter): each byte of delim is one. When a local part is
 * neither a user nor an alias, db_rcpt_expand tries it again cut at its
 * first delimiter ("bob+news@" -> "bob@") before the catch-all. "" or NULL
 * turns it off (the default). -1 if longer than DB_DELIMITER_MAX.
 */
#define DB_DELIMITER_MAX	8
int db_set_recipient_delimiter(struct db *db, const char *delim);

/*
 * The oldest account of `domain` (canonical, no '@'), or of all when
 * domain is NULL: *out is a heap string the caller frees on DB_OK.
 * DB_NOTFOUND when there is none. The postmaster fallback, and how
 * `user add` knows the first user of a domain.
 */
enum db_result db_user_first(struct db *db, const char *domain, char **out);

/* True if authenticated `user` may use `address` as sender: the address is
 * the user's own, or an alias (not a catch-all) whose targets include user. */
bool db_user_owns(struct db *db, const char *user, const char *address);
/* The same with the store's failures told apart: DB_OK owned, DB_NOTFOUND
 * not owned, DB_ERROR when the store could not say (a temporary failure
 * for the caller, never a refusal). */
enum db_result db_user_owns_check(struct db *db, const char *user,
    const char *address);

/* The DMARC Policy Record an evaluation found, as RFC 9990 §3.1.1.5
 * policy_published reports it: "none"/"quarantine"/"reject" (sp and np ""
 * when the record has none), "r"/"s", fo as published ("" for the
 * default), the valid rua URIs joined by ",". */
struct db_dmarc_published {
	const char	*p, *sp, *np;
	const char	*adkim, *aspf;
	const char	*fo;
	const char	*rua;
};

/* One DMARC evaluation (RFC 9990 §2 record fields); strings may be "". */
struct db_dmarc_row {
	long long	 time;
	const char	*source_ip;
	const char	*header_from;
	const char	*envelope_from;
	const char	*policy_domain;
	const char	*policy;	/* none | quarantine | reject */
	const char	*disposition;	/* what was applied */
	const char	*result;	/* pass | fail | ... */
	const char	*dkim_domain;	/* the signature reported (RFC 9990
					 * §3.1.3: aligned pass first) */
	const char	*dkim_selector;
	const char	*dkim_result;
	bool		 dkim_aligned;
	const char	*spf_domain;
	const char	*spf_result;
	bool		 spf_aligned;
	bool		 testing;
	/* The record of policy_domain; kept as the domain's last seen
	 * policy (table dmarc_policies) when the rows are written. */
	struct db_dmarc_published pub;
};

/*
 * Several writes that must land together (a report recorded as sent and
 * its rows as reported): db_begin() takes the write lock (BEGIN
 * IMMEDIATE); db_end() commits when ok, else rolls back (DB_ERROR then,
 * or when the commit fails). Not nested.
 */
enum db_result db_begin(struct db *db);
enum db_result db_end(struct db *db, bool ok);

/* Writes through this handle are no longer fsynced (PRAGMA synchronous =
 * OFF): for the SMTP workers, which only write report rows, where losing
 * the last rows in a power cut is acceptable and an fsync per message is
 * not. Accounts are written by the CLI with full durability. */
void db_relaxed_durability(struct db *db);

/* Record one evaluation for aggregate reports. */
enum db_result db_dmarc_add(struct db *db, const struct db_dmarc_row *row);
/*
 * Record one evaluation later: row (strings copied) joins the handle's
 * pending rows, written in one transaction by db_dmarc_flush (the SMTP
 * worker flushes every second; db_close flushes too). A write per message
 * would run on the event loop and, with SQLite's rollback journal, create
 * and delete a journal file per message. Past DB_DMARC_PENDING_MAX rows
 * the pending rows are flushed first; DB_ERROR then (the row is kept).
 */
#define DB_DMARC_PENDING_MAX	1024
enum db_result db_dmarc_defer(struct db *db, const struct db_dmarc_row *row);
/* Write the pending rows in one transaction. On DB_ERROR they are dropped
 * (db_error says why; db_dmarc_pending said how many before). */
enum db_result db_dmarc_flush(struct db *db);
/* The same, but on DB_ERROR the rows stay pending for the next flush (the
 * SMTP worker on PostgreSQL: a server away for a while loses nothing;
 * the caller bounds them below DB_DMARC_PENDING_MAX, where db_dmarc_defer
 * would flush itself). */
enum db_result db_dmarc_flush_keep(struct db *db);
size_t db_dmarc_pending(const struct db *db);

/* ---- reading the evaluations back for reports (db_report.c) ---------- */

/* The last policy recorded for a policy domain; heap strings. */
struct db_dmarc_policy {
	char		*domain;
	long long	 time;		/* when it was last seen */
	char		*p, *sp, *np, *adkim, *aspf, *fo, *rua;
	bool		 testing;
};
/* DB_NOTFOUND when the domain has no recorded policy. *out is cleared by
 * db_dmarc_policy_clear (also after an error). */
enum db_result db_dmarc_policy_get(struct db *db, const char *domain,
    struct db_dmarc_policy *out);
void db_dmarc_policy_clear(struct db_dmarc_policy *p);

/* The policy domains with evaluations in [begin, end) whose recorded
 * policy has a rua, in order; *out is freed with db_strv_free. */
enum db_result db_dmarc_report_domains(struct db *db, long long begin,
    long long end, char ***out, size_t *n);

/* One RFC 9990 record: the evaluations of [begin, end) that share every
 * field, with their count. */
struct db_dmarc_record {
	char		*source_ip, *disposition, *header_from, *envelope_from;
	char		*policy;	/* the p/sp/np that applied */
	char		*dkim_domain, *dkim_selector, *dkim_result;
	char		*spf_domain, *spf_result;
	bool		 dkim_aligned, spf_aligned, testing;
	long long	 count;
};
/* At most DB_DMARC_RECORDS_MAX records (the most frequent first): a
 * report stays a size a receiver takes even under a flood of sources. */
#define DB_DMARC_RECORDS_MAX	100000
enum db_result db_dmarc_records(struct db *db, const char *policy_domain,
    long long begin, long long end, struct db_dmarc_record **out,
    size_t *n);
void db_dmarc_records_free(struct db_dmarc_record *r, size_t n);
/* The time of the oldest evaluation; DB_NOTFOUND when there is none. */
enum db_result db_dmarc_oldest(struct db *db, long long *out);
/* DMARC results per author domain (RFC5322.From) since `since`, the
 * domains with most evaluations first: at most max into out, *n of them. */
struct db_dmarc_rate {
	char		 domain[256];
	long long	 pass;
	long long	 total;
};
enum db_result db_dmarc_pass_rates(struct db *db, long long since,
    struct db_dmarc_rate *out, size_t max, size_t *n);
/* Remove evaluations before `before`, policies not seen since then and
 * report_sent rows that ended before it. */
enum db_result db_report_prune(struct db *db, long long before);

/*
 * The report job's state per kind ("dmarc", "tlsrpt"): how far it has
 * reported (the end of the last period done; DB_NOTFOUND before the
 * first run), and who runs it. A claim (holder, until) is taken
 * atomically: DB_OK when it is ours (free, expired or already ours),
 * DB_NOTFOUND when another holder's claim runs until later than now.
 */
enum db_result db_report_claim(struct db *db, const char *kind,
    const char *holder, long long now, long long until);
enum db_result db_report_release(struct db *db, const char *kind,
    const char *holder);
/* The holder of kind's claim into out (DB_NOTFOUND when there is none),
 * and taking over the claim of that holder, atomically: DB_OK only when
 * old still held it. */
enum db_result db_report_claim_holder(struct db *db, const char *kind,
    char *out, size_t outlen);
enum db_result db_report_claim_take(struct db *db, const char *kind,
    const char *old, const char *holder, long long until);
enum db_result db_report_watermark(struct db *db, const char *kind,
    long long *out);
enum db_result db_report_set_watermark(struct db *db, const char *kind,
    long long t);
/* report_sent: DB_OK if (kind, domain, begin) was sent, else
 * DB_NOTFOUND. */
enum db_result db_report_was_sent(struct db *db, const char *kind,
    const char *domain, long long begin);
enum db_result db_report_mark_sent(struct db *db, const char *kind,
    const char *domain, long long begin, long long end,
    const char *report_id, long long now);
/* How far reports of (kind, domain) sent for periods that begin in
 * [begin, end) reach (a `--now` run reports a period's first part):
 * the latest end into *until, DB_NOTFOUND when none was sent. */
enum db_result db_report_sent_until(struct db *db, const char *kind,
    const char *domain, long long begin, long long end, long long *until);

/*
 * The secret called name (len bytes, at most DB_SECRET_MAX), made of
 * random bytes by the first caller and the same for every later one, in
 * every process and on every node that shares the store (concurrent first
 * calls agree: the first row written wins). Used for the SRS key
 * ("srs"). DB_ERROR when the store cannot be read or written, or the
 * stored value has another length.
 */
#define DB_SECRET_MAX	64
enum db_result db_secret_get(struct db *db, const char *name, uint8_t *out,
    size_t len);

/*
 * MTA-STS policies (RFC 8461 §5.1), one row per Policy Domain: the TXT id
 * the policy was fetched under, the policy body as fetched (untrusted text,
 * parsed again by whoever loads it), and when it was fetched and expires
 * (Unix seconds, fetched + max_age). Domains are stored lower-case without
 * a final dot by the caller (deliver/mtasts.c).
 */
struct db_sts_row {
	char	*domain;
	char	*id;
	char	*policy;
	int64_t	 fetched;
	int64_t	 expires;
};

/* On DB_OK, *row holds heap strings released by db_sts_row_clear();
 * DB_NOTFOUND when the domain has no row. */
enum db_result db_sts_get(struct db *db, const char *domain,
    struct db_sts_row *row);
/* Insert or replace the domain's row. */
enum db_result db_sts_put(struct db *db, const struct db_sts_row *row);
/* Remove the domain's row; DB_NOTFOUND when there was none. */
enum db_result db_sts_del(struct db *db, const char *domain);
void db_sts_row_clear(struct db_sts_row *row);
/* Domains whose unexpired policy is due for a refresh at now (a day old
 * or past half its max_age), oldest first, at most DB_STS_DUE_MAX; *out
 * is freed with db_strv_free. */
#define DB_STS_DUE_MAX		1000
enum db_result db_sts_due(struct db *db, int64_t now, char ***out,
    size_t *n);

/*
 * One outbound TLS session attempt (the data of RFC 8460 TLS-RPT reports),
 * recorded by remote delivery. Strings are never NULL in rows read back;
 * NULL given to db_tls_result_defer is stored as "".
 */
struct db_tls_result {
	long long	 time;		/* unix time of the session; the UTC
					 * day is derived from it */
	const char	*policy_domain;	/* recipient domain the policy is
					 * for */
	const char	*policy_type;	/* "tlsa" | "sts" | "no-policy-found"
					 * (RFC 8460 §4.4) */
	const char	*policy_string;	/* policy-string lines joined by '\n'
					 * ("" for no-policy-found): TLSA:
					 * each record in presentation form;
					 * sts: each policy line */
	const char	*mx_host;	/* tlsa: the MX host; sts: the
					 * policy's mx patterns joined by
					 * '\n'; "" otherwise */
	const char	*sending_ip;	/* our address of the session, "" if
					 * unknown */
	const char	*receiving_mx;	/* receiving-mx-hostname */
	const char	*receiving_helo;	/* receiving-mx-helo: the name
					 * in the server's EHLO reply, "" if
					 * none */
	const char	*receiving_ip;
	const char	*result;	/* "success" or an RFC 8460 §4.3
					 * result-type */
	const char	*failure_code;	/* failure-reason-code, "" if none */
};

/*
 * Record one session later, as db_dmarc_defer does: r (strings copied,
 * each cut at DB_TLS_FIELD_MAX bytes) joins the handle's pending rows;
 * db_tls_result_flush writes them in one transaction, and db_close
 * flushes. Rows are kept per UTC day of r->time and every other field,
 * with a count: recording a session equal to a stored one but for the
 * time (same day) adds 1 to its count. Past DB_TLS_PENDING_MAX rows the
 * pending rows are flushed first; DB_ERROR then (the row is kept).
 */
#define DB_TLS_PENDING_MAX	1024
/* An MTA-STS policy is at most 64 KiB (RFC 8461 §3.2). */
#define DB_TLS_FIELD_MAX	65536
enum db_result db_tls_result_defer(struct db *db,
    const struct db_tls_result *r);
/* Write the pending rows in one transaction (nothing pending: DB_OK). On
 * DB_ERROR they are dropped (db_error says why; db_tls_result_pending
 * said how many before). */
enum db_result db_tls_result_flush(struct db *db);
size_t db_tls_result_pending(const struct db *db);

/* The UTC day of a unix time, as days since 1970-01-01 (floor). */
long long db_tls_day(long long time);

/* One failure-details element of RFC 8460 §4.4 (result != "success"). */
struct db_tls_failure {
	char		*result;	/* result-type */
	char		*sending_ip;
	char		*receiving_mx;
	char		*receiving_helo;
	char		*receiving_ip;
	char		*failure_code;
	long long	 count;		/* failed-session-count */
};

/* One policy (RFC 8460 §4.4 policies element) of one day. */
struct db_tls_policy {
	char			*policy_domain;
	char			*policy_type;
	char			*policy_string;	/* lines joined by '\n' */
	char			*mx_host;	/* as recorded */
	long long		 successes;	/* total-successful-session-count */
	long long		 failures;	/* total-failure-session-count */
	struct db_tls_failure	*failure;	/* failure-details */
	size_t			 nfailure;
};

struct db_tls_day {
	struct db_tls_policy	*policy;
	size_t			 npolicy;
};

/*
 * Read every stored result of UTC day `day` (db_tls_day) into *out,
 * grouped per policy (policy_domain, policy_type, policy_string,
 * mx_host), policies in byte order of those fields. Pending rows of
 * this handle are not included. The caller frees *out with
 * db_tls_day_clear, also after DB_ERROR (then it is empty).
 */
enum db_result db_tls_results_day(struct db *db, long long day,
    struct db_tls_day *out);
void db_tls_day_clear(struct db_tls_day *d);

/*
 * TLS-RPT reporting progress (RFC 8460 reports, report/tlsrpt_report.c).
 * Each row counts sessions; `reported` is how many of them a sent report
 * covered. A report of day `day` for a policy domain first claims the
 * rows (claimed = count: sessions recorded later are not in it), reads
 * the claimed part not yet reported, and once the report is sent marks
 * it reported (reported = claimed). So a day reported in parts never
 * counts a session twice, and a report that failed is claimed again, with
 * what came since, by the next run.
 */
/* Policy domains with sessions of `day` not yet reported; *out is freed
 * with db_strv_free. */
enum db_result db_tls_unreported_domains(struct db *db, long long day,
    char ***out, size_t *n);
enum db_result db_tls_claim(struct db *db, long long day,
    const char *policy_domain);
/* As db_tls_results_day, for one policy domain, counting claimed -
 * reported. */
enum db_result db_tls_results_claimed(struct db *db, long long day,
    const char *policy_domain, struct db_tls_day *out);
enum db_result db_tls_mark_reported(struct db *db, long long day,
    const char *policy_domain);
/* Remove the rows of the UTC days that ended at or before `before`. */
enum db_result db_tls_prune(struct db *db, long long before);

/*
 * A DMARC failure waiting for its RFC 9991 failure report: the fields of
 * the ARF report, with mail_from and headers already redacted (no body).
 * Strings are never NULL in rows read back; NULL is stored as "".
 */
struct db_dmarc_failure {
	long long	 id;		/* set when read back */
	long long	 time;
	const char	*source_ip;
	const char	*policy_domain;
	const char	*header_from;	/* the Author Domain */
	const char	*mail_from;	/* redacted envelope sender */
	const char	*ruf;		/* the record's ruf URIs, '\n'-joined */
	const char	*auth_failure;	/* Auth-Failure: dmarc, dkim or spf */
	const char	*auth_results;	/* Authentication-Results value */
	const char	*alignment;	/* Identity-Alignment value */
	const char	*delivery;	/* Delivery-Result value */
	const char	*headers;	/* redacted header section, CRLF */
	/* A failed signature of an aligned identifier (d=, i=, s=), or "" */
	const char	*dkim_domain;
	const char	*dkim_identity;
	const char	*dkim_selector;
};

/* Deferred like db_dmarc_defer (the SMTP worker flushes every second,
 * db_close flushes); at most DB_DFAIL_PENDING_MAX pending, then flushed
 * first. Fields cut at DB_DFAIL_FIELD_MAX bytes. */
#define DB_DFAIL_PENDING_MAX	256
#define DB_DFAIL_FIELD_MAX	(256 * 1024)
enum db_result db_dmarc_failure_defer(struct db *db,
    const struct db_dmarc_failure *f);
enum db_result db_dmarc_failure_flush(struct db *db);
enum db_result db_dmarc_failure_flush_keep(struct db *db);
size_t db_dmarc_failure_pending(const struct db *db);
/* The oldest stored failures, at most max; the strings of each element
 * are heap copies released by db_dmarc_failures_free. */
enum db_result db_dmarc_failures_list(struct db *db, size_t max,
    struct db_dmarc_failure **out, size_t *n);
void db_dmarc_failures_free(struct db_dmarc_failure *v, size_t n);
enum db_result db_dmarc_failure_del(struct db *db, long long id);

/*
 * One report to dest in UTC hour `hour` (time / 3600), if fewer than
 * limit were taken there: true and counted; false at the limit (or on a
 * store error, db_error says). Counts of hours before keep_from are
 * deleted on the way.
 */
bool db_report_rate_take(struct db *db, const char *dest, long long hour,
    unsigned limit, long long keep_from);

/*
 * The status page's history (db_metrics.c): the 10-minute buckets and the
 * recent delivery failures of a metrics snapshot, so that a restart keeps
 * them. Totals are not stored (counters restart with the daemon).
 * db_metrics_save writes s's non-empty buckets (one row per bucket start),
 * deletes those older than s's 24 h window, and replaces the stored
 * failures with s's, in one transaction. db_metrics_load fills out's
 * history for the 24 h ending at now (rows on the 10-minute grid only) and
 * its failures (newest first, at most METRICS_FAIL_N, text cut at
 * METRICS_FAIL_TEXT); the totals in out stay zero.
 */
struct metrics_snapshot;
enum db_result db_metrics_save(struct db *db,
    const struct metrics_snapshot *s);
enum db_result db_metrics_load(struct db *db, long long now,
    struct metrics_snapshot *out);

#endif
