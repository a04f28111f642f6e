/* SPDX-License-Identifier: ISC */
/* Unit tests for the spool: commit protocol, envelope load/save, abort,
 * listing order and crash-leftover cleanup, removal, and the nudge. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/limits.h"
#include "queue/spool.h"

struct spt {
	char	dir[64];
};

static int
spt_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
spt_setup(void **state)
{
	struct spt *t = calloc(1, sizeof(*t));
	char err[200];

	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-spool-test.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	if (spool_init(t->dir, err, sizeof(err)) == -1)
		return -1;
	*state = t;
	return 0;
}

static int
spt_teardown(void **state)
{
	struct spt *t = *state;

	nftw(t->dir, spt_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* DIR/REL, with the first "%s" in rel replaced by qid. */
static const char *
spt_path(const struct spt *t, const char *rel, const char *qid)
{
	static char path[PATH_MAX];
	const char *pct = strstr(rel, "%s");

	if (pct == NULL)
		snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	else
		snprintf(path, sizeof(path), "%s/%.*s%s%s", t->dir,
		    (int)(pct - rel), rel, qid, pct + 2);
	return path;
}

static bool
spt_exists(const struct spt *t, const char *fmt, const char *qid)
{
	struct stat st;

	return stat(spt_path(t, fmt, qid), &st) == 0;
}

/* Number of entries in DIR/rel, "." and ".." aside. */
static int
spt_count(const struct spt *t, const char *rel)
{
	DIR *d = opendir(spt_path(t, rel, ""));
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
spt_env(struct envelope *env, const char *rcpt)
{
	envelope_init(env);
	env->mail_from = strdup("alice@example.org");
	envelope_add_rcpt(env, rcpt, rcpt, NULL, 0);
}

/* Commit a message with body text under a new id written to qid. */
static void
spt_commit(const struct spt *t, char *qid, const char *body)
{
	struct envelope env;
	struct spool_msg *m;

	ids_qid_new(qid);
	m = spool_msg_new(t->dir, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, body, strlen(body)), 0);
	spt_env(&env, "bob@example.org");
	assert_int_equal(spool_msg_commit(m, &env), 0);
	envelope_clear(&env);
}

static void
test_init_modes(void **state)
{
	struct spt *t = *state;
	struct stat st;

	assert_int_equal(stat(spt_path(t, "spool/queue", ""), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(spt_path(t, "run", ""), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_commit(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1], err[200];
	static char big[200000];
	struct envelope env, got;
	struct spool_msg *m;
	struct stat st;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ids_qid_new(qid);
	m = spool_msg_new(t->dir, qid);
	assert_non_null(m);
	assert_true(spt_exists(t, "spool/tmp/%s.msg", qid));
	/* Small writes, a write bigger than the buffer, small again. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(spool_msg_write(m, "line\r\n", 6), 0);
	assert_int_equal(spool_msg_write(m, big, sizeof(big)), 0);
	assert_int_equal(spool_msg_write(m, "end\r\n", 5), 0);
	assert_int_equal(spool_msg_size(m), 6000 + sizeof(big) + 5);
	spt_env(&env, "bob@example.org");
	assert_int_equal(spool_msg_commit(m, &env), 0);
	assert_string_equal(env.id, qid);
	assert_int_equal(env.size, 6000 + sizeof(big) + 5);
	assert_true(env.created > 0);

	/* One file: the message, then the envelope and its trailer. */
	assert_false(spt_exists(t, "spool/tmp/%s.msg", qid));
	assert_int_equal(stat(spt_path(t, "spool/queue/%s.msg", qid), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true((size_t)st.st_size > env.size);
	assert_false(spt_exists(t, "spool/queue/%s.env", qid));

	/* The message reads back byte for byte, and ends at env.size. */
	int fd = spool_msg_open(t->dir, qid);
	assert_true(fd >= 0);
	char *back = malloc(env.size + 1);
	size_t got_len = 0;
	ssize_t r;
	while ((r = spool_msg_pread(fd, env.size, back + got_len, 70000,
	    got_len)) > 0)
		got_len += (size_t)r;
	assert_int_equal(r, 0);
	assert_int_equal(got_len, env.size);
	assert_memory_equal(back, "line\r\nline\r\n", 12);
	assert_memory_equal(back + 6000, big, sizeof(big));
	assert_memory_equal(back + 6000 + sizeof(big), "end\r\n", 5);
	/* A size past the file's end is an error, not a short message. */
	assert_int_equal(spool_msg_pread(fd, (uint64_t)st.st_size + 1, back,
	    1, (uint64_t)st.st_size), -1);
	assert_int_equal(errno, EIO);
	free(back);
	close(fd);

	envelope_init(&got);
	assert_int_equal(spool_env_load(t->dir, qid, &got, err, sizeof(err)),
	    0);
	assert_string_equal(got.id, qid);
	assert_int_equal(got.size, env.size);
	assert_string_equal(got.rcpts[0].address, "bob@example.org");
	envelope_clear(&got);
	envelope_clear(&env);
}

static void
test_abort_leaves_nothing(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1];
	struct spool_msg *m;

	ids_qid_new(qid);
	m = spool_msg_new(t->dir, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x", 1), 0);
	spool_msg_abort(m);
	spool_msg_abort(NULL);
	assert_int_equal(spt_count(t, "spool/tmp"), 0);
	assert_int_equal(spt_count(t, "spool/queue"), 0);
}

static void
test_failed_commit_leaves_nothing(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1];
	struct envelope env;
	struct spool_msg *m;

	ids_qid_new(qid);
	m = spool_msg_new(t->dir, qid);
	assert_non_null(m);
	assert_int_equal(spool_msg_write(m, "x", 1), 0);
	/* An envelope over the file bound cannot be written. */
	spt_env(&env, "bob@example.org");
	env.prepend = malloc(LIMIT_ENVELOPE_FILE);
	memset(env.prepend, '\n', LIMIT_ENVELOPE_FILE - 1);
	env.prepend[LIMIT_ENVELOPE_FILE - 1] = '\0';
	assert_int_equal(spool_msg_commit(m, &env), -1);
	envelope_clear(&env);
	assert_int_equal(spt_count(t, "spool/tmp"), 0);
	assert_int_equal(spt_count(t, "spool/queue"), 0);
}

static void
test_bad_qid(void **state)
{
	struct spt *t = *state;
	struct envelope env;
	char err[200];

	errno = 0;
	assert_null(spool_msg_new(t->dir, "../../../etc/passwd"));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(spool_msg_open(t->dir, "x"), -1);
	assert_int_equal(spool_remove(t->dir, "../x"), -1);
	envelope_init(&env);
	assert_int_equal(spool_env_load(t->dir, "0123", &env, err,
	    sizeof(err)), -1);
	assert_int_equal(spool_env_save(t->dir, &env), -1);
	envelope_clear(&env);
}

static void
test_save_and_load(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1], err[200];
	struct envelope env;

	spt_commit(t, qid, "hello\r\n");
	envelope_init(&env);
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    0);
	env.rcpts[0].state = ENVELOPE_RCPT_FAILED;
	env.rcpts[0].attempts = 3;
	env.rcpts[0].last_reply = strdup("550 5.1.1 no such user");
	assert_int_equal(spool_env_save(t->dir, &env), 0);
	envelope_clear(&env);
	assert_false(spt_exists(t, "spool/queue/%s.env.tmp", qid));
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    0);
	assert_int_equal(env.rcpts[0].state, ENVELOPE_RCPT_FAILED);
	assert_int_equal(env.rcpts[0].attempts, 3);
	assert_string_equal(env.rcpts[0].last_reply, "550 5.1.1 no such user");

	/* After removal a late save must not resurrect the envelope. */
	assert_int_equal(spool_remove(t->dir, qid), 0);
	assert_int_equal(spool_env_save(t->dir, &env), -1);
	assert_false(spt_exists(t, "spool/queue/%s.env", qid));
	envelope_clear(&env);
}

static void
test_load_corrupt(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1], other[IDS_QID_LEN + 1], err[200];
	struct envelope env;
	FILE *fp;

	spt_commit(t, qid, "x\r\n");
	fp = fopen(spt_path(t, "spool/queue/%s.env", qid), "w");
	fputs("sealmail-envelope 1\nhelo a b\nend\n", fp);
	fclose(fp);
	envelope_init(&env);
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "line 2"));
	envelope_clear(&env);

	/* An envelope copied under another name is refused. */
	ids_qid_new(other);
	fp = fopen(spt_path(t, "spool/queue/%s.env", qid), "w");
	fprintf(fp, "sealmail-envelope 1\nid %s\ncreated 1\nmail-from\n"
	    "end\n", other);
	fclose(fp);
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "does not match"));
	envelope_clear(&env);
	assert_int_equal(spool_env_load(t->dir, other, &env, err,
	    sizeof(err)), -1);
	envelope_clear(&env);

	/* Without a saved state the trailer of the message file counts; a
	 * file without one (or with a lying one) is refused. */
	static const char *const bad[] = {
		"x\r\n",					/* no trailer */
		"x\r\nSMENV1 00000000000000zz\n",		/* not hex */
		"x\r\nSMENV1 00000000000fffff\n",		/* too long */
		"x\r\nabc\nSMENV1 0000000000000004\n",	/* not an env */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(unlink(spt_path(t, "spool/queue/%s.env",
		    qid)) == 0 || errno == ENOENT, 1);
		fp = fopen(spt_path(t, "spool/queue/%s.msg", qid), "w");
		fputs(bad[i], fp);
		fclose(fp);
		envelope_init(&env);
		assert_int_equal(spool_env_load(t->dir, qid, &env, err,
		    sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		envelope_clear(&env);
	}
}

struct spt_list {
	char	ids[8][IDS_QID_LEN + 1];
	int	n;
};

static void
spt_list_cb(const char *qid, void *arg)
{
	struct spt_list *l = arg;

	if (l->n < 8)
		snprintf(l->ids[l->n++], IDS_QID_LEN + 1, "%s", qid);
}

/* Create DIR/rel (formatted with qid) with an mtime `age` seconds ago. */
static void
spt_touch(const struct spt *t, const char *fmt, const char *qid, time_t age)
{
	const char *p = spt_path(t, fmt, qid);
	struct timespec ts[2];
	int fd = open(p, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

static void
test_list_order_and_cleanup(void **state)
{
	struct spt *t = *state;
	char a[IDS_QID_LEN + 1], b[IDS_QID_LEN + 1], c[IDS_QID_LEN + 1];
	char old[] = "0000000000001aaaaaaa", fresh[] = "0000000000002bbbbbbb";
	char oldtmp[] = "0000000000003ccccccc";
	struct spt_list l = { .n = 0 };

	spt_commit(t, a, "1\r\n");
	spt_commit(t, b, "2\r\n");
	spt_commit(t, c, "3\r\n");
	/* State files without their message: reaped once an hour old. */
	spt_touch(t, "spool/queue/%s.env", old, 7200);
	spt_touch(t, "spool/queue/%s.env", fresh, 10);
	spt_touch(t, "spool/queue/%s.env.tmp", old, 7200);
	spt_touch(t, "spool/tmp/%s.msg", oldtmp, 2 * 86400);
	spt_touch(t, "spool/tmp/%s.msg", fresh, 60);
	assert_int_equal(spool_list(t->dir, spt_list_cb, &l), 3);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.ids[0], a);
	assert_string_equal(l.ids[1], b);
	assert_string_equal(l.ids[2], c);
	assert_false(spt_exists(t, "spool/queue/%s.env", old));
	assert_false(spt_exists(t, "spool/queue/%s.env.tmp", old));
	assert_true(spt_exists(t, "spool/queue/%s.env", fresh));
	assert_false(spt_exists(t, "spool/tmp/%s.msg", oldtmp));
	assert_true(spt_exists(t, "spool/tmp/%s.msg", fresh));
}

static void
spt_remove_cb(const char *qid, void *arg)
{
	assert_int_equal(spool_remove(arg, qid), 0);
}

static void
test_remove(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1];
	struct spt_list l = { .n = 0 };

	spt_commit(t, qid, "x\r\n");
	assert_true(spool_msg_exists(t->dir, qid));
	char name[64], got[IDS_QID_LEN + 1];
	snprintf(name, sizeof(name), "%s.msg", qid);
	assert_true(spool_committed_name(name, got));
	assert_string_equal(got, qid);
	snprintf(name, sizeof(name), "%s.env", qid);
	assert_false(spool_committed_name(name, got));
	assert_int_equal(spool_remove(t->dir, qid), 0);
	assert_false(spool_msg_exists(t->dir, qid));
	assert_false(spt_exists(t, "spool/queue/%s.env", qid));
	assert_false(spt_exists(t, "spool/queue/%s.msg", qid));
	errno = 0;
	assert_int_equal(spool_remove(t->dir, qid), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(spool_msg_open(t->dir, qid), -1);
	/* Callbacks may remove what they are given. */
	spt_commit(t, qid, "y\r\n");
	spt_commit(t, qid, "z\r\n");
	assert_int_equal(spool_list(t->dir, spt_remove_cb, t->dir), 2);
	assert_int_equal(spool_list(t->dir, spt_list_cb, &l), 0);
	assert_int_equal(spt_count(t, "spool/queue"), 0);
}

/* A finished message's file is emptied into free/ and the next message
 * reuses it (the same inode); free/ is trimmed by the queue scan. */
static void
test_recycle(void **state)
{
	struct spt *t = *state;
	char a[IDS_QID_LEN + 1], b[IDS_QID_LEN + 1];
	struct stat st_a, st;
	struct spool_msg *m;
	struct envelope ea;
	char aerr[200];

	spt_commit(t, a, "secret\r\n");
	assert_int_equal(stat(spt_path(t, "spool/queue/%s.msg", a), &st_a), 0);
	/* The runner's saved state goes with it; the flag says it exists. */
	envelope_init(&ea);
	assert_int_equal(spool_env_load(t->dir, a, &ea, aerr, sizeof(aerr)),
	    0);
	assert_false(ea.state_saved);
	assert_int_equal(spool_env_save(t->dir, &ea), 0);
	assert_true(ea.state_saved);
	envelope_clear(&ea);
	envelope_init(&ea);
	assert_int_equal(spool_env_load(t->dir, a, &ea, aerr, sizeof(aerr)),
	    0);
	assert_true(ea.state_saved);
	assert_int_equal(spool_recycle(t->dir, &ea), 0);
	assert_false(spt_exists(t, "spool/queue/%s.msg", a));
	assert_false(spt_exists(t, "spool/queue/%s.env", a));
	assert_int_equal(stat(spt_path(t, "spool/free/%s", a), &st), 0);
	assert_int_equal(st.st_size, 0);	/* no delivered mail lingers */
	errno = 0;
	assert_int_equal(spool_recycle(t->dir, &ea), -1);
	assert_int_equal(errno, ENOENT);
	envelope_clear(&ea);

	ids_qid_new(b);
	m = spool_msg_new(t->dir, b);
	assert_non_null(m);
	assert_false(spt_exists(t, "spool/free/%s", a));
	assert_int_equal(stat(spt_path(t, "spool/tmp/%s.msg", b), &st), 0);
	assert_int_equal(st.st_ino, st_a.st_ino);
	assert_int_equal(spool_msg_write(m, "x\r\n", 3), 0);
	struct envelope env;
	spt_env(&env, "bob@example.org");
	assert_int_equal(spool_msg_commit(m, &env), 0);
	envelope_clear(&env);
	envelope_init(&env);
	char err[200];
	assert_int_equal(spool_env_load(t->dir, b, &env, err, sizeof(err)),
	    0);
	assert_int_equal(env.size, 3);
	envelope_clear(&env);

	/* Over the bound, the scan trims free/. */
	for (int i = 0; i < 1100; i++) {
		char q[IDS_QID_LEN + 1];
		ids_qid_new(q);
		spt_touch(t, "spool/free/%s", q, 0);
	}
	struct spt_list l = { .n = 0 };
	assert_int_equal(spool_list(t->dir, spt_list_cb, &l), 1);
	assert_int_equal(spt_count(t, "spool/free"), 1024);
}

/* A message delivered and recycled while a reader (`queue list`, the
 * runner) has it open is gone (ENOENT), not a broken file. The reader is
 * held between opening the message and reading its state by making the
 * state file a FIFO, which blocks until the other end opens. */
static void
test_load_while_recycled(void **state)
{
	struct spt *t = *state;
	char qid[IDS_QID_LEN + 1], err[200];
	struct envelope env;
	int status;
	pid_t pid;

	spt_commit(t, qid, "soon delivered\r\n");
	assert_int_equal(mkfifo(spt_path(t, "spool/queue/%s.env", qid), 0600),
	    0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct envelope e;
		int fd;

		/* Opens once the reader is inside spool_env_load. */
		fd = open(spt_path(t, "spool/queue/%s.env", qid), O_WRONLY);
		envelope_init(&e);
		memcpy(e.id, qid, sizeof(e.id));
		if (fd == -1 || spool_recycle(t->dir, &e) == -1)
			_exit(1);
		close(fd);	/* the reader sees an empty state file */
		_exit(0);
	}
	envelope_init(&env);
	errno = 0;
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    -1);
	assert_int_equal(errno, ENOENT);
	envelope_clear(&env);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(spt_path(t, "spool/queue/%s.env", qid));
}

/* What the stand-in worker of test_recycle_race saw. */
enum spt_taker {
	SPT_TAKEN,	/* took free/ID and committed a message into it */
	SPT_NOT_FREE,	/* the file was being emptied, not yet in free/ */
	SPT_NO_BREAK,	/* the recycler never touched the file */
	SPT_NO_LEASE,	/* leases unavailable here */
	SPT_SETUP,	/* a step of the stand-in itself failed */
};

/*
 * A worker that takes a free/ file at the worst moment: while the recycler
 * is inside truncate(2), between resolving the path and truncating. A
 * write lease on the file makes that moment last: truncate(2) resolves the
 * path, then waits for the lease holder (it gets SIGIO). The holder then
 * does what spool_free_take and a commit do (rename free/ID into tmp/,
 * write a whole committed message, rename it into queue/) and only then
 * lets the truncation go on. `image` is a committed file for id `qid`.
 */
static enum spt_taker
spt_taker(const struct spt *t, const char *victim, const char *qid,
    const char *image, size_t len, int ready)
{
	char free_path[PATH_MAX], tmp[PATH_MAX], queue[PATH_MAX];
	struct timespec wait = { 10, 0 };
	sigset_t io;
	int fd;

	snprintf(free_path, sizeof(free_path), "%s/spool/free/%s", t->dir,
	    victim);
	snprintf(tmp, sizeof(tmp), "%s/spool/tmp/%s.msg", t->dir, qid);
	snprintf(queue, sizeof(queue), "%s/spool/queue/%s.msg", t->dir, qid);
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	sigprocmask(SIG_BLOCK, &io, NULL);
	if ((fd = open(spt_path(t, "spool/queue/%s.msg", victim),
	    O_RDWR)) == -1)
		return SPT_SETUP;
	if (fcntl(fd, F_SETLEASE, F_WRLCK) == -1)
		return SPT_NO_LEASE;
	if (write(ready, "r", 1) != 1)
		return SPT_SETUP;
	if (sigtimedwait(&io, NULL, &wait) != SIGIO)
		return SPT_NO_BREAK;
	if (rename(free_path, tmp) == -1)
		return errno == ENOENT ? SPT_NOT_FREE : SPT_SETUP;
	if (pwrite(fd, image, len, 0) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) == -1 || fsync(fd) == -1 ||
	    rename(tmp, queue) == -1)
		return SPT_SETUP;
	/* Acknowledged: now the truncation may go on. */
	fcntl(fd, F_SETLEASE, F_UNLCK);
	close(fd);
	return SPT_TAKEN;
}

/* Recycling never writes to a file another process can take from free/
 * (issue 10, item 0: an acknowledged message was found emptied). */
static void
test_recycle_race(void **state)
{
	struct spt *t = *state;
	char victim[IDS_QID_LEN + 1], qid[IDS_QID_LEN + 1], err[200];
	char image[4096];
	struct envelope env;
	struct stat st;
	int pipefd[2], status, fd;
	ssize_t len;
	char c;
	pid_t pid;

	/* The bytes of a committed message, to be written by the taker. */
	spt_commit(t, qid, "a message that was acknowledged\r\n");
	fd = open(spt_path(t, "spool/queue/%s.msg", qid), O_RDONLY);
	assert_true(fd != -1);
	len = read(fd, image, sizeof(image));
	assert_true(len > 0);
	close(fd);
	assert_int_equal(spool_remove(t->dir, qid), 0);

	spt_commit(t, victim, "delivered\r\n");
	envelope_init(&env);
	assert_int_equal(spool_env_load(t->dir, victim, &env, err,
	    sizeof(err)), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(pipefd[0]);
		_exit(spt_taker(t, victim, qid, image, (size_t)len,
		    pipefd[1]));
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1) {	/* no lease taken */
		assert_int_equal(waitpid(pid, &status, 0), pid);
		close(pipefd[0]);
		envelope_clear(&env);
		if (WIFEXITED(status) && WEXITSTATUS(status) == SPT_NO_LEASE)
			skip();		/* file leases unavailable here */
		fail_msg("taker failed to start: status %d", status);
	}
	close(pipefd[0]);
	assert_int_equal(spool_recycle(t->dir, &env), 0);
	envelope_clear(&env);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SPT_TAKEN) {
		/* What the taker acknowledged must be intact. */
		assert_int_equal(stat(spt_path(t, "spool/queue/%s.msg", qid),
		    &st), 0);
		assert_int_equal(st.st_size, len);
	}
	/* The truncation met the file while the taker held it, and at that
	 * moment the file was not in free/ to be taken. */
	assert_int_equal(WEXITSTATUS(status), SPT_NOT_FREE);
	/* Afterwards it is free, empty, and the next message takes it. */
	assert_int_equal(stat(spt_path(t, "spool/free/%s", victim), &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_false(spt_exists(t, "spool/free/%s.claim", victim));
	spt_commit(t, qid, "next\r\n");
	assert_false(spt_exists(t, "spool/free/%s", victim));
	envelope_init(&env);
	assert_int_equal(spool_env_load(t->dir, qid, &env, err, sizeof(err)),
	    0);
	assert_int_equal(env.size, 6);
	envelope_clear(&env);
}

/* A claim left by a crash in the middle of recycling is removed by the
 * scan once it is old; a fresh one is left to its recycler. */
static void
test_recycle_claim_leftover(void **state)
{
	struct spt *t = *state;
	char old[IDS_QID_LEN + 1], fresh[IDS_QID_LEN + 1];
	struct spt_list l = { .n = 0 };

	ids_qid_new(old);
	ids_qid_new(fresh);
	spt_touch(t, "spool/free/%s.claim", old, 61);
	spt_touch(t, "spool/free/%s.claim", fresh, 0);
	assert_int_equal(spool_list(t->dir, spt_list_cb, &l), 0);
	assert_false(spt_exists(t, "spool/free/%s.claim", old));
	assert_true(spt_exists(t, "spool/free/%s.claim", fresh));
}

static void
test_nudge(void **state)
{
	struct spt *t = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char got[64];
	int fd;

	errno = 0;
	assert_int_equal(spool_nudge(t->dir, "flush"), -1);
	assert_int_equal(errno, ENOENT);
	const char *sock = spt_path(t, "run/queue.sock", "");
	assert_true(strlen(sock) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(spool_nudge(t->dir, "new 0000000000001aaaaaaa"), 0);
	ssize_t n = recv(fd, got, sizeof(got) - 1, 0);
	assert_int_equal(n, 24);
	got[n] = '\0';
	assert_string_equal(got, "new 0000000000001aaaaaaa");
	close(fd);
	/* A stale socket file with nobody behind it. */
	errno = 0;
	assert_int_equal(spool_nudge(t->dir, "flush"), -1);
	assert_int_equal(errno, ECONNREFUSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_modes, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_commit, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing,
		    spt_setup, spt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_commit_leaves_nothing, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_qid, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_save_and_load, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_load_corrupt, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_list_order_and_cleanup,
		    spt_setup, spt_teardown),
		cmocka_unit_test_setup_teardown(test_remove, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_recycle, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_load_while_recycled,
		    spt_setup, spt_teardown),
		cmocka_unit_test_setup_teardown(test_recycle_race, spt_setup,
		    spt_teardown),
		cmocka_unit_test_setup_teardown(test_recycle_claim_leftover,
		    spt_setup, spt_teardown),
		cmocka_unit_test_setup_teardown(test_nudge, spt_setup,
		    spt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
