/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the store: accounts, aliases, recipient expansion (catch-all,
 * recursion, loops, limits, dedup, remote targets), sender ownership, the
 * schema version and the file's mode and owner, named secrets, the password
 * file and the move of an older store's hashes into it. Each test gets a
 * fresh store and password file in a mkdtemp folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/limits.h"
#include "store/db.h"
#include "store/db_internal.h"

#define H1	"$y$j9T$abcdefghijklmnop$0123456789abcdefghijklmnopqrstuvwxyzAB"
#define H2	"$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3"

struct dbt {
	char		 dir[64];
	char		 path[128];
	char		 pwpath[128];
	struct db	*db;		/* with the password file, as the CLI */
	struct db_passwd *pwr;		/* a reader, as the keys process */
	char		 out[32768];	/* joined results of the last call */
};

/* Hand db the test's password file (made if missing). */
static void
dbt_attach(struct db *db, const struct dbt *t)
{
	struct db_passwd *pw;
	char err[256];

	if ((pw = db_passwd_open(t->pwpath, true, NULL, err,
	    sizeof(err))) == NULL)
		fail_msg("db_passwd_open: %s", err);
	db_set_passwd(db, pw);
}

/* Check what the keys process reads for address: want, or no hash when
 * want is NULL. */
static void
dbt_hash_is(const struct dbt *t, const char *address, const char *want)
{
	char *h = NULL;
	enum db_result r = db_passwd_get(t->pwr, address, &h);

	assert_int_equal(r, want != NULL ? DB_OK : DB_NOTFOUND);
	if (want != NULL)
		assert_string_equal(h, want);
	else
		assert_null(h);
	free(h);
}

static int
dbt_setup(void **state)
{
	struct dbt *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-db-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sealmail.db", t->dir);
	t->db = db_open(t->path, true, NULL, err, sizeof(err));
	if (t->db == NULL)
		fail_msg("db_open: %s", err);
	snprintf(t->pwpath, sizeof(t->pwpath), "%s/%s", t->dir,
	    DB_PASSWD_FILE);
	dbt_attach(t->db, t);
	if ((t->pwr = db_passwd_open(t->pwpath, false, NULL, err,
	    sizeof(err))) == NULL)
		fail_msg("db_passwd_open: %s", err);
	*state = t;
	return 0;
}

static void
dbt_unlink(const struct dbt *t, const char *suffix)
{
	char p[160];

	snprintf(p, sizeof(p), "%s%s", t->path, suffix);
	unlink(p);
}

static int
dbt_teardown(void **state)
{
	struct dbt *t = *state;

	db_close(t->db);
	db_passwd_close(t->pwr);
	unlink(t->pwpath);
	dbt_unlink(t, "");
	dbt_unlink(t, "-journal");
	dbt_unlink(t, ".other");
	dbt_unlink(t, ".link");
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Append "a" or "a b" and a ';' to the test's out. */
static void
dbt_collect(const char *a, const char *b, void *arg)
{
	struct dbt *t = arg;
	size_t n = strlen(t->out);

	snprintf(t->out + n, sizeof(t->out) - n, "%s%s%s;", a, b ? " " : "",
	    b ? b : "");
}

static bool
dbt_is_local(const char *domain, void *arg)
{
	(void)arg;
	return strcasecmp(domain, "example.org") == 0 ||
	    strcasecmp(domain, "example.net") == 0;
}

/* Expand address; t->out gets the results joined with ';'. */
static enum db_result
dbt_expand(struct dbt *t, const char *address)
{
	char **v = NULL;
	size_t n = 0;
	enum db_result r;

	t->out[0] = '\0';
	r = db_rcpt_expand(t->db, address, dbt_is_local, NULL, &v, &n);
	if (r != DB_OK) {
		assert_null(v);
		assert_int_equal(n, 0);
	}
	for (size_t i = 0; i < n; i++)
		dbt_collect(v[i], NULL, t);
	db_strv_free(v, n);
	return r;
}

static const char *
dbt_users(struct dbt *t)
{
	t->out[0] = '\0';
	assert_int_equal(db_user_list(t->db, dbt_collect, t), DB_OK);
	return t->out;
}

static const char *
dbt_aliases(struct dbt *t, const char *address)
{
	t->out[0] = '\0';
	assert_int_equal(db_alias_list(t->db, address, dbt_collect, t), DB_OK);
	return t->out;
}

static void
dbt_alias(struct dbt *t, const char *address, const char *target)
{
	assert_int_equal(db_alias_add(t->db, address, target), DB_OK);
}

static void
dbt_user(struct dbt *t, const char *address)
{
	assert_int_equal(db_user_add(t->db, address, H1), DB_OK);
}

static void
test_user_add_get_del(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	assert_int_equal(db_user_exists(t->db, "alice@example.org"), DB_OK);
	dbt_hash_is(t, "alice@example.org", H1);
	/* Both parts of the address are case-insensitive. */
	assert_int_equal(db_user_exists(t->db, "ALICE@Example.ORG"), DB_OK);
	dbt_hash_is(t, "ALICE@Example.ORG", H1);
	assert_int_equal(db_user_exists(t->db, "bob@example.org"),
	    DB_NOTFOUND);
	dbt_hash_is(t, "bob@example.org", NULL);
	assert_int_equal(db_user_del(t->db, "Alice@example.org"), DB_OK);
	assert_int_equal(db_user_del(t->db, "alice@example.org"), DB_NOTFOUND);
	assert_int_equal(db_user_exists(t->db, "alice@example.org"),
	    DB_NOTFOUND);
	/* A deleted account keeps no hash that could log in. */
	dbt_hash_is(t, "alice@example.org", NULL);
}

static void
test_user_duplicate(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	assert_int_equal(db_user_add(t->db, "alice@example.org", H2),
	    DB_ERROR);
	assert_non_null(strstr(db_error(t->db), "already exists"));
	assert_int_equal(db_user_add(t->db, "ALICE@EXAMPLE.ORG", H2),
	    DB_ERROR);
	assert_string_equal(dbt_users(t), "alice@example.org;");
}

static void
test_user_passwd(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	assert_int_equal(db_user_set_hash(t->db, "alice@EXAMPLE.org", H2),
	    DB_OK);
	/* The reader (another connection) sees the change at once. */
	dbt_hash_is(t, "alice@example.org", H2);
	/* Only an account has a password. */
	assert_int_equal(db_user_set_hash(t->db, "nobody@example.org", H2),
	    DB_NOTFOUND);
	dbt_hash_is(t, "nobody@example.org", NULL);
	assert_int_equal(db_user_set_hash(t->db, "alice@example.org", ""),
	    DB_ERROR);
	assert_int_equal(db_user_set_hash(t->db, "alice@example.org",
	    "has space"), DB_ERROR);
}

static void
test_user_list_and_normalize(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "carol@example.org");
	/* The domain is stored lower-cased, the local part as given. */
	dbt_user(t, "Alice@EXAMPLE.org");
	dbt_user(t, "bob@example.net");
	assert_string_equal(dbt_users(t),
	    "Alice@example.org;bob@example.net;carol@example.org;");
}

static void
test_invalid_addresses(void **state)
{
	struct dbt *t = *state;
	char long_local[80], long_addr[400], out[DB_ADDRESS_MAX + 1];
	const char *bad[] = {
		"", "alice", "@example.org", "alice@", "alice@example..org",
		"alice@.example.org", "alice@example.org.",
		"al ice@example.org", "alice@exa mple.org",
		"al\nice@example.org", "a\x7f@example.org",
		"alice@example.org\r", "a@b@example.org", "alice@exa_mple.org",
		"alice@[1.2.3.4", long_local, long_addr,
	};

	memset(long_local, 'a', 65);
	snprintf(long_local + 65, sizeof(long_local) - 65, "@example.org");
	memset(long_addr, 'b', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	long_addr[10] = '@';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (db_user_add(t->db, bad[i], H1) != DB_ERROR)
			fail_msg("accepted user \"%s\"", bad[i]);
		if (db_alias_add(t->db, "x@example.org", bad[i]) != DB_ERROR)
			fail_msg("accepted target \"%s\"", bad[i]);
	}
	assert_string_equal(dbt_users(t), "");
	assert_int_equal(db_user_add(t->db, "alice@example.org", ""), DB_ERROR);
	/* Valid forms. */
	assert_int_equal(db_address_normalize("\"a@b\"@example.org", false, out,
	    sizeof(out)), 0);
	assert_int_equal(db_address_normalize("a@[192.0.2.1]", false, out,
	    sizeof(out)), 0);
	assert_int_equal(db_address_normalize("Ü@BÜCHER.example", false, out,
	    sizeof(out)), 0);
	/* The domain is kept as A-labels (msg/addr.h), after the UTS #46
	 * mapping (Ü lower-cased in the domain; the local part keeps it). */
	assert_string_equal(out, "Ü@xn--bcher-kva.example");
	/* Quoting that is not needed goes: one key per mailbox. */
	assert_int_equal(db_address_normalize("\"you\"@Example.ORG", false,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "you@example.org");
	assert_int_equal(db_address_normalize("@Example.ORG", true, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "@example.org");
	assert_int_equal(db_address_normalize("@example.org", false, out,
	    sizeof(out)), -1);
	assert_int_equal(db_address_normalize("a@example.org", false, out, 5),
	    -1);
}

static void
test_alias_add_del_list(void **state)
{
	struct dbt *t = *state;

	dbt_alias(t, "info@example.org", "alice@example.org");
	dbt_alias(t, "info@example.org", "bob@example.org");
	dbt_alias(t, "@example.net", "carol@example.org");
	/* Adding the same pair again (any case) is no change. */
	dbt_alias(t, "INFO@example.org", "Bob@example.org");
	assert_string_equal(dbt_aliases(t, NULL),
	    "@example.net carol@example.org;"
	    "info@example.org alice@example.org;"
	    "info@example.org bob@example.org;");
	assert_string_equal(dbt_aliases(t, "info@EXAMPLE.org"),
	    "info@example.org alice@example.org;"
	    "info@example.org bob@example.org;");
	assert_string_equal(dbt_aliases(t, "nope@example.org"), "");
	assert_string_equal(dbt_aliases(t, "not an address"), "");
	/* An alias cannot point to itself or to a catch-all. */
	assert_int_equal(db_alias_add(t->db, "info@example.org",
	    "Info@example.org"), DB_ERROR);
	assert_int_equal(db_alias_add(t->db, "info@example.org",
	    "@example.org"), DB_ERROR);
	assert_int_equal(db_alias_del(t->db, "info@example.org",
	    "alice@example.org"), DB_OK);
	assert_int_equal(db_alias_del(t->db, "info@example.org",
	    "alice@example.org"), DB_NOTFOUND);
	assert_int_equal(db_alias_del(t->db, "info@example.org", NULL), DB_OK);
	assert_int_equal(db_alias_del(t->db, "info@example.org", NULL),
	    DB_NOTFOUND);
	assert_int_equal(db_alias_del(t->db, "@example.net", NULL), DB_OK);
	assert_string_equal(dbt_aliases(t, NULL), "");
}

static void
test_expand_user_and_alias(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "Alice@example.org");
	dbt_user(t, "bob@example.org");
	dbt_alias(t, "team@example.org", "bob@example.org");
	dbt_alias(t, "team@example.org", "alice@example.org");
	/* A user is itself, in its stored spelling. */
	assert_int_equal(dbt_expand(t, "ALICE@EXAMPLE.ORG"), DB_OK);
	assert_string_equal(t->out, "Alice@example.org;");
	assert_int_equal(dbt_expand(t, "Team@Example.org"), DB_OK);
	assert_string_equal(t->out, "Alice@example.org;bob@example.org;");
	assert_int_equal(dbt_expand(t, "nobody@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "garbage"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "@example.org"), DB_NOTFOUND);
}

static void
test_expand_remote_kept(void **state)
{
	struct dbt *t = *state;

	dbt_alias(t, "fwd@example.org", "Someone@Elsewhere.example");
	dbt_alias(t, "fwd@example.org", "other@remote.example");
	assert_int_equal(dbt_expand(t, "fwd@example.org"), DB_OK);
	assert_string_equal(t->out,
	    "other@remote.example;Someone@elsewhere.example;");
	/* A remote address is never looked up, only kept. */
	dbt_alias(t, "x@remote.example", "bob@example.org");
	assert_int_equal(dbt_expand(t, "x@remote.example"), DB_OK);
	assert_string_equal(t->out, "x@remote.example;");
}

static void
test_expand_catchall(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	dbt_user(t, "bob@example.org");
	dbt_alias(t, "sales@example.org", "bob@example.org");
	dbt_alias(t, "@example.org", "alice@example.org");
	/* Unknown local part: the catch-all. */
	assert_int_equal(dbt_expand(t, "random@example.org"), DB_OK);
	assert_string_equal(t->out, "alice@example.org;");
	/* A user or an alias is never caught. */
	assert_int_equal(dbt_expand(t, "bob@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	assert_int_equal(dbt_expand(t, "sales@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	/* The catch-all of one domain says nothing about another. */
	assert_int_equal(dbt_expand(t, "random@example.net"), DB_NOTFOUND);
	/* An alias target that is unknown falls to its domain's catch-all. */
	dbt_alias(t, "typo@example.net", "nobody@example.org");
	assert_int_equal(dbt_expand(t, "typo@example.net"), DB_OK);
	assert_string_equal(t->out, "alice@example.org;");
}

static void
test_expand_recursive_loop_dedup(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	dbt_user(t, "bob@example.org");
	dbt_alias(t, "all@example.org", "staff@example.org");
	dbt_alias(t, "all@example.org", "ALICE@example.org");
	dbt_alias(t, "staff@example.org", "alice@example.org");
	dbt_alias(t, "staff@example.org", "bob@example.org");
	dbt_alias(t, "staff@example.org", "all@example.org");	/* loop */
	dbt_alias(t, "staff@example.org", "ext@remote.example");
	dbt_alias(t, "all@example.org", "EXT@remote.example");
	assert_int_equal(dbt_expand(t, "all@example.org"), DB_OK);
	/* Each once, whatever the case or the path. */
	assert_string_equal(t->out,
	    "alice@example.org;EXT@remote.example;bob@example.org;");
	/* A loop with nothing at its end delivers nowhere. */
	dbt_alias(t, "ping@example.org", "pong@example.org");
	dbt_alias(t, "pong@example.org", "ping@example.org");
	assert_int_equal(dbt_expand(t, "ping@example.org"), DB_NOTFOUND);
	/* Unknown local targets are dropped, the rest kept. */
	dbt_alias(t, "mixed@example.org", "ghost@example.org");
	dbt_alias(t, "mixed@example.org", "bob@example.org");
	assert_int_equal(dbt_expand(t, "mixed@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
}

/* Chain a0 -> a1 -> ... -> a<n> and end it at the user alice. */
static void
dbt_chain(struct dbt *t, const char *prefix, int n)
{
	char a[64], b[64];

	for (int i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s%d@example.org", prefix, i);
		snprintf(b, sizeof(b), "%s%d@example.org", prefix, i + 1);
		dbt_alias(t, a, b);
	}
	snprintf(a, sizeof(a), "%s%d@example.org", prefix, n);
	dbt_alias(t, a, "alice@example.org");
}

static void
test_expand_depth_cap(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	/* LIMIT_ALIAS_DEPTH aliases in a row resolve... */
	dbt_chain(t, "ok", LIMIT_ALIAS_DEPTH - 1);
	assert_int_equal(dbt_expand(t, "ok0@example.org"), DB_OK);
	assert_string_equal(t->out, "alice@example.org;");
	/* ...one more is cut. */
	dbt_chain(t, "deep", LIMIT_ALIAS_DEPTH);
	assert_int_equal(dbt_expand(t, "deep0@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "deep1@example.org"), DB_OK);
}

static void
test_expand_targets_cap(void **state)
{
	struct dbt *t = *state;
	char a[64];

	assert_int_equal(sql_exec(t->db->sql, "BEGIN"), SQL_OK);
	for (int i = 0; i < LIMIT_ALIAS_TARGETS + 50; i++) {
		snprintf(a, sizeof(a), "r%04d@remote.example", i);
		dbt_alias(t, "list@example.org", a);
	}
	assert_int_equal(sql_exec(t->db->sql, "COMMIT"), SQL_OK);
	assert_int_equal(dbt_expand(t, "list@example.org"), DB_OK);
	assert_int_equal(strlen(t->out),
	    LIMIT_ALIAS_TARGETS * strlen("r0000@remote.example;"));
}

static void
test_user_owns(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	dbt_user(t, "bob@example.org");
	dbt_alias(t, "sales@example.org", "alice@example.org");
	dbt_alias(t, "all@example.org", "sales@example.org");
	dbt_alias(t, "support@example.org", "bob@example.org");
	dbt_alias(t, "@example.org", "alice@example.org");
	/* An alias by a user's name never applies and grants nothing. */
	dbt_alias(t, "bob@example.org", "alice@example.org");
	assert_true(db_user_owns(t->db, "alice@example.org",
	    "alice@example.org"));
	assert_true(db_user_owns(t->db, "alice@example.org",
	    "Alice@EXAMPLE.org"));
	assert_true(db_user_owns(t->db, "ALICE@example.org",
	    "sales@example.org"));
	assert_true(db_user_owns(t->db, "alice@example.org",
	    "SALES@example.ORG"));
	assert_true(db_user_owns(t->db, "alice@example.org",
	    "all@example.org"));
	assert_false(db_user_owns(t->db, "alice@example.org",
	    "support@example.org"));
	assert_false(db_user_owns(t->db, "alice@example.org",
	    "bob@example.org"));
	assert_false(db_user_owns(t->db, "bob@example.org",
	    "alice@example.org"));
	/* The catch-all delivers to alice but does not let her send. */
	assert_false(db_user_owns(t->db, "alice@example.org",
	    "anything@example.org"));
	assert_false(db_user_owns(t->db, "alice@example.org", "garbage"));
	assert_false(db_user_owns(t->db, "garbage", "garbage"));
	assert_false(db_user_owns(t->db, "alice@example.org",
	    "@example.org"));
}

static void
test_schema_version(void **state)
{
	struct dbt *t = *state;
	char err[256];
	struct db *db;

	db_close(t->db);
	t->db = NULL;
	/* Reopening an existing store does not need create. */
	db = db_open(t->path, false, NULL, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(sql_exec(db->sql, "PRAGMA user_version = 99"), SQL_OK);
	db_close(db);
	assert_null(db_open(t->path, true, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));
}

static void
test_open_missing_and_mode(void **state)
{
	struct dbt *t = *state;
	char err[256], other[160];
	struct stat st;

	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(other, sizeof(other), "%s.other", t->path);
	assert_null(db_open(other, false, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, other));
	/* An empty file is not a store unless we may create one. */
	fclose(fopen(other, "w"));
	assert_null(db_open(other, false, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no schema"));
}

static void
test_open_refuses_symlink(void **state)
{
	struct dbt *t = *state;
	char err[256], lnk[160];

	snprintf(lnk, sizeof(lnk), "%s.link", t->path);
	assert_int_equal(symlink(t->path, lnk), 0);
	assert_null(db_open(lnk, false, NULL, err, sizeof(err)));
	assert_null(db_open(lnk, true, NULL, err, sizeof(err)));
}

static void
test_open_owner(void **state)
{
	struct dbt *t = *state;
	struct passwd *pw = getpwnam("nobody");
	char err[256], lnk[160];
	struct stat st;
	struct db *db;

	if (geteuid() != 0 || pw == NULL)
		skip();
	db = db_open(t->path, false, "nobody", err, sizeof(err));
	if (db == NULL)
		fail_msg("db_open: %s", err);
	db_close(db);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_uid, pw->pw_uid);
	/* An owner that is no user: no chown, no error. */
	db = db_open(t->path, false, "no-such-user-x", err, sizeof(err));
	assert_non_null(db);
	db_close(db);
	/* A hard link would hand the other name's file over: refused. */
	snprintf(lnk, sizeof(lnk), "%s.link", t->path);
	assert_int_equal(link(t->path, lnk), 0);
	assert_null(db_open(t->path, false, "nobody", err, sizeof(err)));
	assert_non_null(strstr(err, "one link"));
}

/* A list callback may use the same handle. */
static void
dbt_nested(const char *a, const char *b, void *arg)
{
	struct dbt *t = arg;

	(void)b;
	assert_int_equal(db_user_exists(t->db, a), DB_OK);
	assert_int_equal(db_user_set_hash(t->db, a, H2), DB_OK);
}

static void
test_list_callback_reentry(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "alice@example.org");
	dbt_user(t, "bob@example.org");
	assert_int_equal(db_user_list(t->db, dbt_nested, t), DB_OK);
	dbt_hash_is(t, "bob@example.org", H2);
}

static int
dbt_dmarc_rows(const struct dbt *t)
{
	struct sql_stmt *st;
	int n;

	assert_non_null(st = sql_prepare(t->db->sql,
	    "SELECT count(*) FROM dmarc_results"));
	assert_int_equal(sql_step(st), SQL_ROW);
	n = (int)sql_column_int64(st, 0);
	sql_finalize(st);
	return n;
}

/* Deferred DMARC rows: copied at once, written by a flush in one go (or
 * first when the bound is reached), none lost. */
static void
test_dmarc_defer_flush(void **state)
{
	struct dbt *t = *state;
	char from[64];
	struct db_dmarc_row row = { .time = 1, .source_ip = "192.0.2.1",
	    .header_from = from, .result = "pass", .dkim_aligned = true };

	for (int i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "d%d.example", i);
		assert_int_equal(db_dmarc_defer(t->db, &row), DB_OK);
	}
	strcpy(from, "overwritten.example");
	assert_int_equal(db_dmarc_pending(t->db), 3);
	assert_int_equal(dbt_dmarc_rows(t), 0);
	assert_int_equal(db_dmarc_flush(t->db), DB_OK);
	assert_int_equal(db_dmarc_pending(t->db), 0);
	assert_int_equal(dbt_dmarc_rows(t), 3);
	struct sql_stmt *st;
	assert_non_null(st = sql_prepare(t->db->sql, "SELECT count(*) FROM "
	    "dmarc_results WHERE header_from = 'd1.example' AND "
	    "dkim_aligned = 1 AND spf_domain = ''"));
	assert_int_equal(sql_step(st), SQL_ROW);
	assert_int_equal((int)sql_column_int64(st, 0), 1);
	sql_finalize(st);
	assert_int_equal(db_dmarc_flush(t->db), DB_OK);	/* nothing */

	for (int i = 0; i < DB_DMARC_PENDING_MAX + 5; i++)
		assert_int_equal(db_dmarc_defer(t->db, &row), DB_OK);
	assert_int_equal(db_dmarc_pending(t->db), 5);
	assert_int_equal(dbt_dmarc_rows(t), 3 + DB_DMARC_PENDING_MAX);
	char err[256];
	db_close(t->db);	/* writes the rest */
	t->db = db_open(t->path, false, NULL, err, sizeof(err));
	assert_non_null(t->db);
	assert_int_equal(dbt_dmarc_rows(t), 8 + DB_DMARC_PENDING_MAX);
}

/* Expansions are cached between calls; a change through another handle
 * (as by `sealmail user add` in another process) must show at once. */
static void
test_expand_cache_sees_changes(void **state)
{
	struct dbt *t = *state;
	struct db *other;
	char err[256];

	other = db_open(t->path, false, NULL, err, sizeof(err));
	assert_non_null(other);
	dbt_attach(other, t);
	assert_int_equal(dbt_expand(t, "new@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "new@example.org"), DB_NOTFOUND);
	assert_int_equal(db_user_add(other, "new@example.org", H1), DB_OK);
	assert_int_equal(dbt_expand(t, "new@example.org"), DB_OK);
	assert_string_equal(t->out, "new@example.org;");
	/* Answered from the cache, still a copy the caller owns. */
	assert_int_equal(dbt_expand(t, "NEW@example.org"), DB_OK);
	assert_string_equal(t->out, "new@example.org;");
	assert_int_equal(db_alias_add(other, "list@example.org",
	    "new@example.org"), DB_OK);
	assert_int_equal(dbt_expand(t, "list@example.org"), DB_OK);
	assert_int_equal(db_user_del(other, "new@example.org"), DB_OK);
	assert_int_equal(dbt_expand(t, "new@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "list@example.org"), DB_NOTFOUND);
	db_close(other);
}

/* RFC 5321 §4.5.1: postmaster of a local domain always expands. */
static void
test_expand_postmaster(void **state)
{
	struct dbt *t = *state;
	char *first = NULL;

	/* No account at all: its own mailbox, never refused. */
	assert_int_equal(dbt_expand(t, "Postmaster@example.org"), DB_OK);
	assert_string_equal(t->out, "Postmaster@example.org;");
	assert_int_equal(db_user_first(t->db, NULL, &first), DB_NOTFOUND);
	dbt_user(t, "bob@example.org");
	dbt_user(t, "alice@example.org");
	assert_int_equal(db_user_first(t->db, "example.org", &first), DB_OK);
	assert_string_equal(first, "bob@example.org");
	free(first);
	assert_int_equal(db_user_first(t->db, "example.net", &first),
	    DB_NOTFOUND);
	/* The oldest account of the domain, else the oldest of all. */
	assert_int_equal(dbt_expand(t, "postmaster@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	assert_int_equal(dbt_expand(t, "POSTMASTER@example.net"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	dbt_user(t, "zed@example.net");
	assert_int_equal(dbt_expand(t, "postmaster@example.net"), DB_OK);
	assert_string_equal(t->out, "zed@example.net;");
	/* An alias wins; other names get no fallback; remote is remote. */
	dbt_alias(t, "postmaster@example.org", "alice@example.org");
	assert_int_equal(dbt_expand(t, "postmaster@example.org"), DB_OK);
	assert_string_equal(t->out, "alice@example.org;");
	assert_int_equal(dbt_expand(t, "abuse@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "postmaster2@example.org"),
	    DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "postmaster@remote.example"), DB_OK);
	assert_string_equal(t->out, "postmaster@remote.example;");
}

/* recipient_delimiter: user+ext, then user, then the catch-all. */
static void
test_expand_delimiter(void **state)
{
	struct dbt *t = *state;

	dbt_user(t, "bob@example.org");
	dbt_user(t, "bob+x@example.org");
	dbt_alias(t, "sales@example.org", "bob@example.org");
	/* Off by default. */
	assert_int_equal(dbt_expand(t, "bob+news@example.org"), DB_NOTFOUND);
	assert_int_equal(db_set_recipient_delimiter(t->db, "+-"), 0);
	assert_int_equal(dbt_expand(t, "bob+news@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	assert_int_equal(dbt_expand(t, "Bob-a+b@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	assert_int_equal(dbt_expand(t, "sales+q@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	/* An existing user with the delimiter in its name stays itself. */
	assert_int_equal(dbt_expand(t, "bob+x@example.org"), DB_OK);
	assert_string_equal(t->out, "bob+x@example.org;");
	/* Nothing to cut, or nothing before it, or quoted: not found. */
	assert_int_equal(dbt_expand(t, "carol+x@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "+bob@example.org"), DB_NOTFOUND);
	assert_int_equal(dbt_expand(t, "\"bob+ x\"@example.org"),
	    DB_NOTFOUND);
	/* The base comes before the catch-all. */
	dbt_alias(t, "@example.org", "sales@example.org");
	dbt_user(t, "carol@example.org");
	assert_int_equal(dbt_expand(t, "carol+x@example.org"), DB_OK);
	assert_string_equal(t->out, "carol@example.org;");
	assert_int_equal(dbt_expand(t, "dave+x@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	/* A cut that would leave no valid address ("dave.@") is no cut:
	 * the catch-all still applies. */
	assert_int_equal(dbt_expand(t, "dave.+x@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	/* Turned off again: the cache does not keep the old answers. */
	assert_int_equal(db_set_recipient_delimiter(t->db, ""), 0);
	assert_int_equal(dbt_expand(t, "carol+x@example.org"), DB_OK);
	assert_string_equal(t->out, "bob@example.org;");
	assert_int_equal(db_set_recipient_delimiter(t->db, "123456789"), -1);
}

/* Another handle on the test's store. */
static struct db *
open_db(const struct dbt *t)
{
	char err[256];
	struct db *db = db_open(t->path, true, NULL, err, sizeof(err));

	if (db == NULL)
		fail_msg("db_open: %s", err);
	return db;
}

static void
test_secret_made_once_and_kept(void **state)
{
	struct dbt *t = *state;
	uint8_t a[32], b[32], c[32], zero[32] = { 0 };
	struct db *db = t->db, *db2;

	assert_int_equal(db_secret_get(db, "srs", a, sizeof(a)), DB_OK);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(db_secret_get(db, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
	/* Another name is another secret. */
	assert_int_equal(db_secret_get(db, "other", c, sizeof(c)), DB_OK);
	assert_memory_not_equal(a, c, sizeof(a));
	/* A relaxed handle (the runner's, the workers') reads the same. */
	db2 = open_db(t);
	db_relaxed_durability(db2);
	memset(b, 0, sizeof(b));
	assert_int_equal(db_secret_get(db2, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
	/* A length that does not match the stored value is an error. */
	assert_int_equal(db_secret_get(db2, "srs", b, 16), DB_ERROR);
	assert_non_null(strstr(db_error(db2), "srs"));
	assert_int_equal(db_secret_get(db2, "srs", b, DB_SECRET_MAX + 1),
	    DB_ERROR);
	db_close(db2);
	db_close(db);
	/* Reopened: still the same. */
	t->db = db = open_db(t);
	assert_int_equal(db_secret_get(db, "srs", b, sizeof(b)), DB_OK);
	assert_memory_equal(a, b, sizeof(a));
}

#define DBT_SECRET_PROCS	6

static void
test_secret_concurrent_first_use(void **state)
{
	struct dbt *t = *state;
	uint8_t got[DBT_SECRET_PROCS][32], mine[32];
	int fds[DBT_SECRET_PROCS][2];
	pid_t pid[DBT_SECRET_PROCS];
	/* The store exists (schema made) but has no secret yet. */
	for (int i = 0; i < DBT_SECRET_PROCS; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct db *c = open_db(t);
			uint8_t s[32];
			int ok = db_secret_get(c, "srs", s, sizeof(s)) == DB_OK;

			db_close(c);
			if (!ok || write(fds[i][1], s, sizeof(s)) != sizeof(s))
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < DBT_SECRET_PROCS; i++) {
		int status;

		assert_int_equal(read(fds[i][0], got[i], 32), 32);
		close(fds[i][0]);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(db_secret_get(t->db, "srs", mine, sizeof(mine)),
	    DB_OK);
	for (int i = 0; i < DBT_SECRET_PROCS; i++)
		assert_memory_equal(got[i], mine, 32);
}

/* An account without a password; a store without the password file
 * touches no password and deletes no account (its hash would stay). */
static void
test_user_password_file_needed(void **state)
{
	struct dbt *t = *state;
	struct db *bare;
	char err[256];

	assert_int_equal(db_user_add(t->db, "alice@example.org", NULL), DB_OK);
	assert_int_equal(db_user_exists(t->db, "alice@example.org"), DB_OK);
	dbt_hash_is(t, "alice@example.org", NULL);
	dbt_user(t, "bob@example.org");
	assert_non_null(bare = db_open(t->path, false, NULL, err,
	    sizeof(err)));
	assert_int_equal(db_user_add(bare, "carol@example.org", H1), DB_ERROR);
	assert_non_null(strstr(db_error(bare), "password file"));
	assert_int_equal(db_user_set_hash(bare, "bob@example.org", H2),
	    DB_ERROR);
	assert_int_equal(db_user_del(bare, "bob@example.org"), DB_ERROR);
	assert_int_equal(db_user_exists(bare, "bob@example.org"), DB_OK);
	db_close(bare);
	assert_int_equal(db_user_exists(t->db, "carol@example.org"),
	    DB_NOTFOUND);
}

/* Whether the file at path holds the bytes of s anywhere. */
static bool
dbt_file_has(const char *path, const char *s)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(s), len;
	char *buf;
	bool has = false;

	if (f == NULL)
		return false;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
	for (size_t i = 0; i + n <= len && !has; i++)
		has = memcmp(buf + i, s, n) == 0;
	free(buf);
	return has;
}

/* Make t's store what sealmail before the password file wrote (the
 * hashes in users): alice, bob (whose first hash H3 was replaced by
 * H2, as `user passwd` did) and 300 deleted accounts. */
#define H3	"$y$j9T$oldoldoldoldoldo$oldoldoldoldoldoldoldoldoldoldoldoldold12"
#define H4	"$y$j9T$deleteddeleteddd$deleteddeleteddeleteddeleteddeleteddel1"
static void
dbt_make_old_store(struct dbt *t)
{
	char sql[512];

	db_close(t->db);
	t->db = NULL;
	db_passwd_close(t->pwr);
	t->pwr = NULL;
	assert_int_equal(unlink(t->pwpath), 0);
	snprintf(sql, sizeof(sql), "%s-journal", t->pwpath);
	unlink(sql);
	/* The schema up to the step that moved the hashes out, as the
	 * sealmail before it made it (its number may change on merges). */
	struct db_schema old = db_schema_store;
	old.nhooks = 0;
	for (old.nsteps = 0; strstr(old.steps[old.nsteps],
	    "DROP COLUMN hash") == NULL; old.nsteps++)
		assert_true(old.nsteps + 1 < db_schema_store.nsteps);
	unlink(t->path);
	snprintf(sql, sizeof(sql), "%s-journal", t->path);
	unlink(sql);
	struct db *db = db_open_schema(t->path, true, NULL, &old, sql,
	    sizeof(sql));
	if (db == NULL)
		fail_msg("old store: %s", sql);
	db_close(db);
	/* A raw connection: db_open would upgrade it at once. Without
	 * secure delete (Debian builds SQLite with it on, others do not),
	 * so that replaced and deleted hashes stay in the file's free space
	 * and in the persistent journal. */
	struct sql *s = sql_open_sqlite(t->path, 0, sql, sizeof(sql));
	assert_non_null(s);
	assert_int_equal(sql_exec(s, "PRAGMA journal_mode = PERSIST;"
	    "PRAGMA secure_delete = OFF;"
	    "INSERT INTO users VALUES ('alice@example.org', '" H1 "', 1);"
	    "INSERT INTO users VALUES ('bob@example.org', '" H3 "', 2);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "  WHERE i < 300) INSERT INTO users SELECT 'gone' || i || "
	    "  '@example.org', '" H4 "', 3 FROM n;"
	    "UPDATE users SET hash = '" H2 "' WHERE address = "
	    "  'bob@example.org';"
	    "DELETE FROM users WHERE address LIKE 'gone%';"), SQL_OK);
	sql_close(s);
}

static void
dbt_reopen(struct dbt *t)
{
	char err[256];

	if ((t->db = db_open(t->path, false, NULL, err, sizeof(err))) == NULL)
		fail_msg("db_open: %s", err);
	dbt_attach(t->db, t);
	if ((t->pwr = db_passwd_open(t->pwpath, false, NULL, err,
	    sizeof(err))) == NULL)
		fail_msg("db_passwd_open: %s", err);
}

/* An older store's hashes move to the password file, every account
 * keeping its own; afterwards neither the store nor its journal holds a
 * byte of any hash, not even replaced or deleted ones. */
static void
test_hashes_moved_out(void **state)
{
	struct dbt *t = *state;
	char journal[160];

	dbt_make_old_store(t);
	snprintf(journal, sizeof(journal), "%s-journal", t->path);
	assert_true(dbt_file_has(t->path, H2));
	/* Deleted accounts' hashes linger in free pages and the journal. */
	assert_true(dbt_file_has(t->path, H4));
	assert_true(dbt_file_has(journal, H4));
	dbt_reopen(t);
	dbt_hash_is(t, "alice@example.org", H1);
	dbt_hash_is(t, "bob@example.org", H2);
	dbt_hash_is(t, "gone1@example.org", NULL);
	assert_int_equal(db_user_exists(t->db, "bob@example.org"), DB_OK);
	assert_string_equal(dbt_users(t), "alice@example.org;"
	    "bob@example.org;");
	static const char *const all[] = { H1, H2, H3, H4, "$y$j9T$" };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_false(dbt_file_has(t->path, all[i]));
		assert_false(dbt_file_has(journal, all[i]));
	}
	assert_true(dbt_file_has(t->pwpath, H1));
}

/* A crash after the copy, before the store dropped its hashes: the next
 * open copies again, keeping what the password file has. A copy that
 * fails (the password file cannot be made) leaves the store as it was,
 * hashes and all, and refuses to open it. */
static void
test_hashes_move_interrupted(void **state)
{
	struct dbt *t = *state;
	struct db_passwd *pw;
	char err[256];

	dbt_make_old_store(t);
	assert_int_equal(mkdir(t->pwpath, 0700), 0);
	assert_null(db_open(t->path, false, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "password"));
	assert_true(dbt_file_has(t->path, H1));
	assert_int_equal(rmdir(t->pwpath), 0);
	/* The copy made, the crash before the store's commit. */
	assert_non_null(pw = db_passwd_open(t->pwpath, true, NULL, err,
	    sizeof(err)));
	assert_int_equal(db_passwd_set(pw, "alice@example.org", H4), DB_OK);
	db_passwd_close(pw);
	dbt_reopen(t);
	dbt_hash_is(t, "alice@example.org", H4);
	dbt_hash_is(t, "bob@example.org", H2);
	assert_false(dbt_file_has(t->path, H1));
}

/* `user passwd` and `user del` leave no byte of the hash they replaced or
 * removed in the password file or its persistent journal (which keeps
 * the pages a write changed): a copy or backup of the files, or a later
 * bug, gives away no former password. */
static void
test_passwd_replaced_scrubbed(void **state)
{
	struct dbt *t = *state;
	char journal[160];

	snprintf(journal, sizeof(journal), "%s-journal", t->pwpath);
	assert_int_equal(db_user_add(t->db, "alice@example.org", H3), DB_OK);
	assert_int_equal(db_user_add(t->db, "bob@example.org", H4), DB_OK);
	assert_true(dbt_file_has(t->pwpath, H3));
	assert_int_equal(db_user_set_hash(t->db, "alice@example.org", H2),
	    DB_OK);
	assert_int_equal(db_user_del(t->db, "bob@example.org"), DB_OK);
	dbt_hash_is(t, "alice@example.org", H2);
	dbt_hash_is(t, "bob@example.org", NULL);
	assert_false(dbt_file_has(t->pwpath, H3));
	assert_false(dbt_file_has(journal, H3));
	assert_false(dbt_file_has(t->pwpath, H4));
	assert_false(dbt_file_has(journal, H4));
}

/* The seq of each account by address, joined ("a=1;b=2;"). */
static const char *
dbt_seqs(struct dbt *t)
{
	struct sql_stmt *st;
	size_t off = 0;

	assert_non_null(st = sql_prepare(t->db->sql, "SELECT address, seq "
	    "FROM users ORDER BY address"));
	t->out[0] = '\0';
	while (sql_step(st) == SQL_ROW)
		off += (size_t)snprintf(t->out + off, sizeof(t->out) - off,
		    "%s=%lld;", sql_column_text(st, 0),
		    (long long)sql_column_int64(st, 1));
	sql_finalize(st);
	return t->out;
}

/* The step that gave users an explicit order of creation (seq, where
 * SQLite's rowid was the tie-break of created) keeps the order of the
 * accounts an older store had; accounts added afterwards come after
 * them, so the oldest of a second stays the postmaster fallback. */
static void
test_upgrade_keeps_creation_order(void **state)
{
	struct dbt *t = *state;
	char err[256], *first = NULL;

	db_close(t->db);
	t->db = NULL;
	db_passwd_close(t->pwr);	/* dbt_reopen opens them again */
	t->pwr = NULL;
	struct db_schema old = db_schema_store;
	for (old.nsteps = 0; strstr(old.steps[old.nsteps],
	    "users ADD COLUMN seq") == NULL; old.nsteps++)
		assert_true(old.nsteps + 1 < db_schema_store.nsteps);
	dbt_unlink(t, "");
	dbt_unlink(t, "-journal");
	struct db *db = db_open_schema(t->path, true, NULL, &old, err,
	    sizeof(err));
	if (db == NULL)
		fail_msg("old store: %s", err);
	assert_int_equal(sql_exec(db->sql, "INSERT INTO users VALUES "
	    "('zed@example.org', 7); INSERT INTO users VALUES "
	    "('amy@example.org', 7)"), SQL_OK);
	db_close(db);
	dbt_reopen(t);
	assert_string_equal(dbt_seqs(t), "amy@example.org=2;"
	    "zed@example.org=1;");
	dbt_user(t, "bob@example.org");
	assert_string_equal(dbt_seqs(t), "amy@example.org=2;"
	    "bob@example.org=3;zed@example.org=1;");
	assert_int_equal(db_user_first(t->db, "example.org", &first), DB_OK);
	assert_string_equal(first, "zed@example.org");
	free(first);
}

#define DBT(f) cmocka_unit_test_setup_teardown(f, dbt_setup, dbt_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DBT(test_user_add_get_del),
		DBT(test_user_duplicate),
		DBT(test_user_passwd),
		DBT(test_user_list_and_normalize),
		DBT(test_invalid_addresses),
		DBT(test_alias_add_del_list),
		DBT(test_expand_user_and_alias),
		DBT(test_expand_remote_kept),
		DBT(test_expand_catchall),
		DBT(test_expand_postmaster),
		DBT(test_expand_delimiter),
		DBT(test_expand_recursive_loop_dedup),
		DBT(test_expand_depth_cap),
		DBT(test_expand_targets_cap),
		DBT(test_expand_cache_sees_changes),
		DBT(test_user_owns),
		DBT(test_schema_version),
		DBT(test_open_missing_and_mode),
		DBT(test_open_refuses_symlink),
		DBT(test_open_owner),
		DBT(test_list_callback_reentry),
		DBT(test_dmarc_defer_flush),
		DBT(test_secret_made_once_and_kept),
		DBT(test_secret_concurrent_first_use),
		DBT(test_user_password_file_needed),
		DBT(test_hashes_moved_out),
		DBT(test_hashes_move_interrupted),
		DBT(test_passwd_replaced_scrubbed),
		DBT(test_upgrade_keeps_creation_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
