/* SPDX-License-Identifier: ISC */
/* Unit tests for proc/sandbox: the Landlock ABI cap of the test hook, the
 * rights each ABI handles, which signals the seccomp filter lets out, the
 * store's work under the Landlock rules, and who may read password
 * hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>


#include "conf/conf.h"
#include "proc/sandbox_internal.h"
#include "store/db.h"
#include "store/db_internal.h"

static void
test_abi_cap(void **state)
{
	(void)state;
	assert_int_equal(sandbox_landlock_abi(7, NULL), 7);
	assert_int_equal(sandbox_landlock_abi(7, ""), 7);
	assert_int_equal(sandbox_landlock_abi(7, "2"), 2);
	assert_int_equal(sandbox_landlock_abi(2, "5"), 2);
	/* The hook only lowers the ABI: it never turns Landlock off. */
	assert_int_equal(sandbox_landlock_abi(7, "0"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "-3"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "2x"), 7);
	assert_int_equal(sandbox_landlock_abi(7, "99999999999999999999"), 7);
	/* Nor does it turn it on. */
	assert_int_equal(sandbox_landlock_abi(0, "2"), 0);
	assert_int_equal(sandbox_landlock_abi(-1, NULL), 0);
}

static void
test_handled(void **state)
{
	(void)state;
	assert_true(sandbox_landlock_handled(0) == 0);
	/* ABI 1: bits 0 (EXECUTE) to 12 (MAKE_SYM). */
	assert_true(sandbox_landlock_handled(1) == 0x1fff);
	/* ABI 2 (Debian 12's 6.1) adds REFER, not TRUNCATE. */
	assert_true(sandbox_landlock_handled(2) == 0x3fff);
	assert_true(sandbox_landlock_handled(3) == 0x7fff);
	assert_true(sandbox_landlock_handled(4) == 0x7fff);
	/* ABI 5 adds IOCTL_DEV; 6 and 7 add no filesystem right. */
	assert_true(sandbox_landlock_handled(5) == 0xffff);
	assert_true(sandbox_landlock_handled(7) == 0xffff);
	assert_true((sandbox_landlock_handled(2) &
	    LANDLOCK_ACCESS_FS_REFER) != 0);
}

/* In a child under kind's filter: 0 if it may signal its own threads but
 * not its parent (another process of the same user: the keys process, the
 * runner), else the step that went wrong. */
static int
signals_child(enum sandbox_kind kind)
{
	pid_t parent = getppid();

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return 10;
	sandbox_seccomp_enter(kind, false);
	if (syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), 0) != 0)
		return 11;
	if (syscall(SYS_tgkill, parent, parent, 0) != -1 || errno != EPERM)
		return 12;
	if (syscall(SYS_tkill, parent, 0) != -1 || errno != EPERM)
		return 13;
	return 0;
}

static void
test_no_signal_to_others(void **state)
{
	static const enum sandbox_kind kinds[] = {
		SANDBOX_WORKER, SANDBOX_RUNNER, SANDBOX_KEYS,
	};
	(void)state;
#ifdef SANDBOX_SANITIZER
	skip();		/* the argument checks are off in ASan builds */
#endif
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int st;
		pid_t pid = fork();

		assert_true(pid != -1);
		if (pid == 0)
			_exit(signals_child(kinds[i]));
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

/* In a child under the worker's or the runner's Landlock rules: the CA
 * store is readable, /etc/ssl/private is not, of /proc only its own
 * /proc/PID, and the store, opened before the sandbox as the children
 * do, sorts more than fits its cache. 0 if so, 77 without Landlock, else
 * the step. */
static int
store_child(enum sandbox_kind kind, const char *dir)
{
	struct conf c;
	struct db *db;
	char path[4096], err[256];
	static const char big_sort[] =
	    "PRAGMA cache_size = 10;"
	    "CREATE TABLE t(x);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 20000) INSERT INTO t SELECT randomblob(200) FROM n;"
	    "SELECT count(*) FROM (SELECT x FROM t ORDER BY x);"
	    "CREATE TEMP TABLE u AS SELECT x FROM t;";

	memset(&c, 0, sizeof(c));
	c.data_dir = (char *)dir;
	snprintf(path, sizeof(path), "%s/sealmail.db", dir);
	if ((db = db_open(path, true, NULL, err, sizeof(err))) == NULL)
		return 10;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return 11;
	if (sandbox_landlock_enter(kind, "test", &c) == 0)
		return 77;
	/* The CA store, never the TLS keys beside it (a service user in
	 * group ssl-cert, or root here, could read them). */
	if (kind != SANDBOX_KEYS && access("/etc/ssl/certs", R_OK) == 0 &&
	    open("/etc/ssl/certs", O_RDONLY | O_DIRECTORY) == -1)
		return 13;
	if (open("/etc/ssl/private", O_RDONLY | O_DIRECTORY) != -1 ||
	    open("/usr/lib/ssl/private", O_RDONLY | O_DIRECTORY) != -1)
		return 14;
	/* Of /proc only its own: not its parent's (the master's, in the
	 * daemon), nor any other process's. */
	if (open("/proc/self/status", O_RDONLY) == -1 ||
	    open("/proc/thread-self/status", O_RDONLY) == -1)
		return 15;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)getppid());
	if (open(path, O_RDONLY) != -1 ||
	    open("/proc/1/status", O_RDONLY) != -1 ||
	    open("/proc/stat", O_RDONLY) != -1)
		return 16;
	if (sql_exec(db->sql, big_sort) != SQL_OK) {
		fprintf(stderr, "store under landlock: %s\n",
		    sql_errmsg(db->sql));
		return 12;
	}
	db_close(db);
	return 0;
}

/* Run child(kind, a fresh folder) in a process of its own for each of
 * the n kinds; it exits 0 (passed), 77 (no Landlock: skip) or the step
 * that failed. */
static void
each_profile(const enum sandbox_kind *kinds, size_t n,
    int (*child)(enum sandbox_kind, const char *))
{
	for (size_t i = 0; i < n; i++) {
		char dir[] = "/tmp/sandbox_test.XXXXXX", cmd[64];
		int st;
		pid_t pid;

		assert_non_null(mkdtemp(dir));
		if ((pid = fork()) == 0)
			_exit(child(kinds[i], dir));
		assert_int_equal(waitpid(pid, &st, 0), pid);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 77)
			skip();
		if (WEXITSTATUS(st) != 0)
			fail_msg("profile %d: step %d", (int)kinds[i],
			    WEXITSTATUS(st));
	}
}

static void
test_store_under_landlock(void **state)
{
	static const enum sandbox_kind kinds[] = {
		SANDBOX_WORKER, SANDBOX_RUNNER,
	};
	(void)state;
	each_profile(kinds, sizeof(kinds) / sizeof(kinds[0]), store_child);
}

#define HASH	"$y$j9T$sandboxsandboxsa$sandboxsandboxsandboxsandboxsandboxsand1"

/* Whether the file name in dir can be opened for reading and holds the
 * bytes of s; *opened says whether it could be opened. */
static bool
file_has(const char *dir, const char *name, const char *s, bool *opened)
{
	char path[4096], buf[65536];
	size_t n = strlen(s), have = 0;
	ssize_t r;
	bool has = false;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*opened = (fd = open(path, O_RDONLY | O_CLOEXEC)) != -1;
	if (!*opened)
		return false;
	/* Keep the last n - 1 bytes across reads. */
	while (!has && (r = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)r;
		has = memmem(buf, have, s, n) != NULL;
		if (have >= n) {
			memmove(buf, buf + have - (n - 1), n - 1);
			have = n - 1;
		}
	}
	close(fd);
	return has;
}

/* In a child: the accounts as the CLI makes them (one with a password),
 * then kind's Landlock rules. A worker or the runner can open no file in
 * data_dir that holds the hash (the password file not at all); the keys
 * process reads the password file and not the store. 0 if so, 77 without
 * Landlock, else the step. */
static int
hashes_child(enum sandbox_kind kind, const char *dir)
{
	struct db_passwd *pw;
	struct conf c;
	struct db *db;
	struct dirent *e;
	DIR *d;
	char path[4096], err[256];
	bool opened, hash_seen = false;

	memset(&c, 0, sizeof(c));
	c.data_dir = (char *)dir;
	snprintf(path, sizeof(path), "%s/sealmail.db", dir);
	if ((db = db_open(path, true, NULL, err, sizeof(err))) == NULL)
		return 10;
	snprintf(path, sizeof(path), "%s/%s", dir, DB_PASSWD_FILE);
	if ((pw = db_passwd_open(path, true, NULL, err, sizeof(err))) == NULL)
		return 11;
	db_set_passwd(db, pw);
	if (db_user_add(db, "alice@example.org", HASH) != DB_OK)
		return 12;
	db_close(db);
	if ((d = opendir(dir)) == NULL)
		return 13;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return 14;
	if (sandbox_landlock_enter(kind, "test", &c) == 0)
		return 77;
	/* The listing was opened before: data_dir itself is not granted. */
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (file_has(dir, e->d_name, HASH, &opened)) {
			hash_seen = true;
			if (kind != SANDBOX_KEYS) {
				fprintf(stderr, "%s holds a hash\n", e->d_name);
				return 15;
			}
		}
		if (strcmp(e->d_name, DB_PASSWD_FILE) == 0 &&
		    opened != (kind == SANDBOX_KEYS))
			return 16;
		if (strcmp(e->d_name, "sealmail.db") == 0 &&
		    opened != (kind != SANDBOX_KEYS))
			return 17;
	}
	closedir(d);
	/* The control: the hash is where the keys process looks. */
	return kind == SANDBOX_KEYS && !hash_seen ? 18 : 0;
}

static void
test_password_hashes_keys_only(void **state)
{
	static const enum sandbox_kind kinds[] = {
		SANDBOX_WORKER, SANDBOX_RUNNER, SANDBOX_KEYS,
	};
	(void)state;
	each_profile(kinds, sizeof(kinds) / sizeof(kinds[0]), hashes_child);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_cap),
		cmocka_unit_test(test_handled),
		cmocka_unit_test(test_no_signal_to_others),
		cmocka_unit_test(test_store_under_landlock),
		cmocka_unit_test(test_password_hashes_keys_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
