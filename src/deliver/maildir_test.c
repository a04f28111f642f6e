/* SPDX-License-Identifier: ISC */
/* Unit tests for Maildir delivery: layout, content (prepend + message with
 * LF endings), S= size, Junk folder, unsafe addresses, unique names, and
 * the names derived from (queue id, recipient) with the recheck that keeps
 * a repeated attempt from writing a copy twice. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/workpool.h"
#include "deliver/maildir.h"

struct mdt {
	char	dir[64];
	char	msg[PATH_MAX];
	int	fd;
	size_t	size;		/* of the message in fd */
};

static int
mdt_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int
mdt_setup(void **state)
{
	struct mdt *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/sealmail-maildir-test.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->msg, sizeof(t->msg), "%s/msg", t->dir);
	t->fd = -1;
	*state = t;
	return 0;
}

static int
mdt_teardown(void **state)
{
	struct mdt *t = *state;

	if (t->fd != -1)
		close(t->fd);
	nftw(t->dir, mdt_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Write the spooled message (n bytes) and open it for reading. */
static void
mdt_message(struct mdt *t, const char *p, size_t n)
{
	/* As in the spool, the committed envelope follows the message:
	 * none of it may reach the mailbox. */
	static const char tail[] = "id 0000\nSMENV1 0000000000000008\n";
	int fd = open(t->msg, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(write(fd, tail, sizeof(tail) - 1),
	    (ssize_t)sizeof(tail) - 1);
	close(fd);
	t->size = n;
	if (t->fd != -1)
		close(t->fd);
	t->fd = open(t->msg, O_RDONLY);
	assert_true(t->fd >= 0);
}

/* The single file in dir (asserts there is exactly one); name into name. */
static void
mdt_only_file(const char *dir, char *name, size_t namelen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(name, namelen, "%s", de->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static int
mdt_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Read a whole file into a new buffer, its size into *len. */
static char *
mdt_read(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	char *p;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

/* Check the delivered file in folder: content and S=. */
static void
mdt_check_delivered(const char *folder, const char *want, size_t wantlen)
{
	char dir[PATH_MAX], name[256], path[PATH_MAX * 2];
	size_t len;
	unsigned long long s;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/new", folder);
	mdt_only_file(dir, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *got = mdt_read(path, &len);
	assert_int_equal(len, wantlen);
	assert_memory_equal(got, want, wantlen);
	free(got);
	const char *sz = strstr(name, ",S=");
	assert_non_null(sz);
	s = strtoull(sz + 3, NULL, 10);
	assert_int_equal(s, wantlen);
	assert_null(strchr(name, ':'));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(dir, sizeof(dir), "%s/tmp", folder);
	assert_int_equal(mdt_count(dir), 0);
}

static void
test_layout_and_content(void **state)
{
	struct mdt *t = *state;
	static const char msg[] = "Subject: hi\r\n\r\nline 1\r\nbare\rcr\r\n";
	static const char want[] = "Received: from x\n\tby y\n"
	    "Subject: hi\n\nline 1\nbare\rcr\n";
	struct delivery_result res;
	char folder[PATH_MAX], sub[PATH_MAX];
	struct stat st;

	mdt_message(t, msg, sizeof(msg) - 1);
	assert_int_equal(maildir_deliver_one(t->dir, "Bob@Example.ORG", false,
	    NULL, "Received: from x\r\n\tby y\r\n", t->fd, t->size, &res),
	    DELIVERY_OK);
	assert_int_equal(res.status, DELIVERY_OK);
	assert_int_equal(strncmp(res.reply, "250 ", 4), 0);
	snprintf(folder, sizeof(folder),
	    "%s/mail/example.org/bob/Maildir", t->dir);
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(sub, sizeof(sub), "%s%s", folder, subs[i]);
		assert_int_equal(stat(sub, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	mdt_check_delivered(folder, want, sizeof(want) - 1);
}

static void
test_junk_folder(void **state)
{
	struct mdt *t = *state;
	static const char msg[] = "Subject: spam\r\n\r\nbuy\r\n";
	struct delivery_result res;
	char folder[PATH_MAX], path[PATH_MAX + 32];
	struct stat st;

	mdt_message(t, msg, sizeof(msg) - 1);
	assert_int_equal(maildir_deliver_one(t->dir, "carol@example.org", true,
	    NULL, NULL, t->fd, t->size, &res), DELIVERY_OK);
	snprintf(folder, sizeof(folder),
	    "%s/mail/example.org/carol/Maildir/.Junk", t->dir);
	mdt_check_delivered(folder, "Subject: spam\n\nbuy\n", 19);
	snprintf(path, sizeof(path), "%s/maildirfolder", folder);
	assert_int_equal(stat(path, &st), 0);
	/* The parent Maildir is a valid, empty Maildir. */
	snprintf(path, sizeof(path),
	    "%s/mail/example.org/carol/Maildir/new", t->dir);
	assert_int_equal(mdt_count(path), 0);
}

static void
test_unsafe_addresses(void **state)
{
	struct mdt *t = *state;
	char long_local[80];

	/* A local part of 65 bytes, one more than RFC 5321 allows. */
	memset(long_local, 'a', 65);
	memcpy(long_local + 65, "@example.org", 13);
	const char *const bad[] = {
		"../../etc@example.org", "a/b@example.org",
		".hidden@example.org", "..@example.org", "a@../x", "a@.",
		"a@x/y", "@example.org", "a@",
		"no-at-sign", "a\nb@example.org", "a@exa\x7fmple.org",
		long_local,
	};
	struct delivery_result res;
	char path[PATH_MAX];

	mdt_message(t, "x\r\n", 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(maildir_path(t->dir, bad[i], false, path,
		    sizeof(path)), -1);
		assert_int_equal(maildir_deliver_one(t->dir, bad[i], false,
		    NULL, NULL, t->fd, t->size, &res), DELIVERY_PERMFAIL);
		assert_int_equal(strncmp(res.reply, "550 5.1.3", 9), 0);
	}
	snprintf(path, sizeof(path), "%s/mail", t->dir);
	assert_int_equal(mdt_count(path), -1);
	/* '@' inside a quoted local part: split at the last one. */
	assert_int_equal(maildir_path("/d", "\"a@b\"@Example.org", true, path,
	    sizeof(path)), 0);
	assert_string_equal(path, "/d/mail/example.org/\"a@b\"/Maildir/.Junk");
}

static void
test_unique_names(void **state)
{
	enum { N = 2000 };
	static char names[N][256];

	(void)state;
	/* Far more names than microseconds pass: the counter separates
	 * names made within the same microsecond. */
	for (int i = 0; i < N; i++)
		assert_int_equal(maildir_unique(names[i], sizeof(names[i])), 0);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(names[i - 1], names[i]);
	assert_non_null(strstr(names[0], ".M"));
	assert_non_null(strstr(names[0], "P"));
	assert_non_null(strstr(names[0], "Q"));
	assert_null(strchr(names[0], '/'));
	assert_null(strchr(names[0], ':'));
}

static void
test_two_deliveries_same_mailbox(void **state)
{
	struct mdt *t = *state;
	struct delivery_result res;
	char dir[PATH_MAX];

	mdt_message(t, "a\r\n", 3);
	assert_int_equal(maildir_deliver_one(t->dir, "d@example.org", false,
	    NULL, NULL, t->fd, t->size, &res), DELIVERY_OK);
	assert_int_equal(maildir_deliver_one(t->dir, "d@example.org", false,
	    NULL, NULL, t->fd, t->size, &res), DELIVERY_OK);
	snprintf(dir, sizeof(dir), "%s/mail/example.org/d/Maildir/new", t->dir);
	assert_int_equal(mdt_count(dir), 2);
}

static void
test_crlf_across_buffers(void **state)
{
	struct mdt *t = *state;
	const size_t n = 200000;
	char *msg = malloc(n), *want = malloc(n);
	struct delivery_result res;
	char folder[PATH_MAX];
	size_t w = 0;

	/* Lines of varying length so CRLF pairs straddle every 64 KiB read
	 * boundary sooner or later; the message ends in a bare CR. */
	for (size_t i = 0; i < n; i++)
		msg[i] = (char)('a' + i % 26);
	for (size_t i = 10; i + 1 < n; i += 7 + i % 13) {
		msg[i] = '\r';
		msg[i + 1] = '\n';
	}
	msg[65535] = '\r';
	msg[65536] = '\n';
	msg[n - 1] = '\r';
	for (size_t i = 0; i < n; i++)
		if (!(msg[i] == '\r' && i + 1 < n && msg[i + 1] == '\n'))
			want[w++] = msg[i];
	mdt_message(t, msg, n);
	assert_int_equal(maildir_deliver_one(t->dir, "e@example.org", false,
	    NULL, "X: y\r\n", t->fd, t->size, &res), DELIVERY_OK);
	memmove(want + 5, want, w);
	memcpy(want, "X: y\n", 5);
	snprintf(folder, sizeof(folder), "%s/mail/example.org/e/Maildir",
	    t->dir);
	mdt_check_delivered(folder, want, w + 5);
	free(msg);
	free(want);
}

struct mdt_done {
	int			n;
	enum delivery_status	st[4];
	bool			ended;
	struct event_base	*base;
};

static void
mdt_done_cb(size_t i, const struct delivery_result *res, void *arg)
{
	struct mdt_done *d = arg;

	assert_int_equal(i, (size_t)d->n);
	d->st[d->n++] = res->status;
}

static void
mdt_end_cb(void *arg)
{
	struct mdt_done *d = arg;

	d->ended = true;
	if (d->base != NULL)
		event_base_loopbreak(d->base);
}

/* Run one job of the asynchronous method on a loop and a pool of its
 * own, to its end; stop (or cancel) it right after the start when asked.
 * 0 once ended (or cancelled). */
static int
mdt_run_job(struct mdt *t, struct delivery_job *job, int how)
{
	struct mdt_done *d = job->arg;
	struct event_base *base = event_base_new();
	struct workpool *pool = workpool_new(base, 2, "maildir test");
	const struct delivery_setup setup = {
		.base = base, .pool = pool, .data_dir = t->dir,
	};
	char err[128];
	struct delivery_method *m = maildir_delivery_ops.new(&setup, err,
	    sizeof(err));
	struct delivery *dl;

	assert_non_null(m);
	d->base = base;
	job->rcpt = mdt_done_cb;
	job->end = mdt_end_cb;
	dl = maildir_delivery_ops.start(m, job);
	assert_non_null(dl);
	assert_int_equal(d->n, 0);	/* never from within start() */
	if (how == 1)
		maildir_delivery_ops.stop(dl);
	if (how == 2)
		maildir_delivery_ops.cancel(dl);
	else
		event_base_dispatch(base);
	maildir_delivery_ops.free(m);
	workpool_free(pool);
	event_base_free(base);
	d->base = NULL;
	return how == 2 || d->ended ? 0 : -1;
}

static void
test_ops_per_recipient(void **state)
{
	struct mdt *t = *state;
	struct envelope env;
	struct mdt_done d = { 0 };
	size_t idx[] = { 0, 2 };

	mdt_message(t, "hi\r\n", 4);
	envelope_init(&env);
	env.size = t->size;
	envelope_add_rcpt(&env, "f@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "skipped@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "../g@example.org", NULL, NULL, 0);
	struct delivery_job job = {
		.env = &env, .msg_fd = t->fd,
		.rcpts = idx, .nrcpts = 2, .arg = &d,
	};
	assert_string_equal(maildir_delivery_ops.name, "maildir");
	assert_int_equal(mdt_run_job(t, &job, 0), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.st[0], DELIVERY_OK);
	assert_int_equal(d.st[1], DELIVERY_PERMFAIL);
	envelope_clear(&env);
}

/* The single file in the new/ folder of address's mailbox. */
static void
mdt_new_file(struct mdt *t, const char *domain, const char *local,
    struct stat *st, char *content, size_t len)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], path[PATH_MAX + NAME_MAX + 2];

	snprintf(dir, sizeof(dir), "%s/mail/%s/%s/Maildir/new", t->dir, domain,
	    local);
	mdt_only_file(dir, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, st), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, content, len - 1);
	assert_true(n >= 0);
	content[n] = '\0';
	close(fd);
}

/* Several recipients of one message: each copy is complete, in its own
 * mailbox, and starts with its own Return-Path and Delivered-To (so no
 * copy is a hard link of another's). */
static void
test_recipients_own_copies(void **state)
{
	static const char *const rcpt[] = { "h@example.org", "i@example.org",
	    "j@example.net" };
	struct mdt *t = *state;
	struct envelope env;
	struct mdt_done d = { 0 };
	size_t idx[] = { 0, 1, 2 };
	struct stat st[3];
	char body[3][160], want[160];

	mdt_message(t, "hi\r\n", 4);
	envelope_init(&env);
	env.size = t->size;
	env.mail_from = strdup("s@example.com");
	env.prepend = strdup("X-Trace: 1\r\n");
	envelope_add_rcpt(&env, "h@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "i@example.org", NULL, NULL, 0);
	envelope_add_rcpt(&env, "j@example.net", NULL, NULL, 0);
	struct delivery_job job = {
		.env = &env, .msg_fd = t->fd,
		.rcpts = idx, .nrcpts = 3, .arg = &d,
	};
	assert_int_equal(mdt_run_job(t, &job, 0), 0);
	assert_int_equal(d.n, 3);
	mdt_new_file(t, "example.org", "h", &st[0], body[0], sizeof(body[0]));
	mdt_new_file(t, "example.org", "i", &st[1], body[1], sizeof(body[1]));
	mdt_new_file(t, "example.net", "j", &st[2], body[2], sizeof(body[2]));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d.st[i], DELIVERY_OK);
		snprintf(want, sizeof(want), "Return-Path: <s@example.com>\n"
		    "Delivered-To: %s\nX-Trace: 1\nhi\n", rcpt[i]);
		assert_string_equal(body[i], want);
		assert_int_equal(st[i].st_nlink, 1);
		assert_true(i == 0 || st[i].st_ino != st[0].st_ino);
	}
	envelope_clear(&env);
}

/* A bounce (null reverse-path) is delivered with "Return-Path: <>". */
static void
test_null_sender_return_path(void **state)
{
	struct mdt *t = *state;
	struct envelope env;
	struct mdt_done d = { 0 };
	size_t idx[] = { 0 };
	struct stat st;
	char body[160];

	mdt_message(t, "hi\r\n", 4);
	envelope_init(&env);
	env.size = t->size;
	env.mail_from = strdup("");
	envelope_add_rcpt(&env, "k@example.org", "alias@example.org", NULL,
	    0);
	struct delivery_job job = {
		.env = &env, .msg_fd = t->fd,
		.rcpts = idx, .nrcpts = 1, .arg = &d,
	};
	assert_int_equal(mdt_run_job(t, &job, 0), 0);
	assert_int_equal(d.st[0], DELIVERY_OK);
	mdt_new_file(t, "example.org", "k", &st, body, sizeof(body));
	assert_string_equal(body, "Return-Path: <>\n"
	    "Delivered-To: k@example.org\nhi\n");
	envelope_clear(&env);
}

/* Copies in the new/ folders of recipients f and g of example.org. */
static int
mdt_count_new(struct mdt *t)
{
	static const char *const who[] = { "f", "g" };
	char dir[PATH_MAX];
	int n = 0;

	for (size_t i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/mail/example.org/%s/Maildir/new",
		    t->dir, who[i]);
		DIR *dp = opendir(dir);
		struct dirent *de;

		while (dp != NULL && (de = readdir(dp)) != NULL)
			n += de->d_name[0] != '.';
		if (dp != NULL)
			closedir(dp);
	}
	return n;
}

/* A stopped job ends (its end callback runs) and reports exactly the
 * copies it wrote, however far its thread got; a cancelled one calls
 * back no more, and its thread reads only what the job copied (the
 * caller's envelope and fd are gone at once here: ASan/valgrind would
 * see a read of them). */
static void
test_ops_stop_and_cancel(void **state)
{
	struct mdt *t = *state;
	struct envelope *env = calloc(1, sizeof(*env));
	struct mdt_done d = { 0 };
	size_t idx[] = { 0, 1 };

	mdt_message(t, "hi\r\n", 4);
	envelope_init(env);
	env->size = t->size;
	envelope_add_rcpt(env, "f@example.org", NULL, NULL, 0);
	envelope_add_rcpt(env, "g@example.org", NULL, NULL, 0);
	struct delivery_job job = {
		.env = env, .msg_fd = t->fd, .rcpts = idx, .nrcpts = 2,
		.arg = &d,
	};
	assert_int_equal(mdt_run_job(t, &job, 1), 0);
	assert_true(d.ended);
	assert_true(d.n <= 2);
	for (int i = 0; i < d.n; i++)
		assert_int_equal(d.st[i], DELIVERY_OK);
	assert_int_equal(mdt_count_new(t), d.n);

	memset(&d, 0, sizeof(d));
	struct event_base *base = event_base_new();
	struct workpool *pool = workpool_new(base, 1, "maildir test");
	const struct delivery_setup setup = {
		.base = base, .pool = pool, .data_dir = t->dir,
	};
	char err[128];
	struct delivery_method *m = maildir_delivery_ops.new(&setup, err,
	    sizeof(err));
	job.rcpt = mdt_done_cb;
	job.end = mdt_end_cb;
	maildir_delivery_ops.cancel(maildir_delivery_ops.start(m, &job));
	envelope_clear(env);
	free(env);
	close(t->fd);
	t->fd = -1;
	maildir_delivery_ops.free(m);
	workpool_free(pool);
	event_base_free(base);
	assert_int_equal(d.n, 0);
	assert_false(d.ended);
}

/* --- copies named by (queue id, recipient) ---------------------------- */

#define MDT_QID		"0641f0a2b3c4d5e6f7a8"
#define MDT_QID2	"0641f0a2b3c4d5e9999a"

static void
mdt_copy_deliver(struct mdt *t, const char *address, bool junk,
    const char *qid, size_t rcpt, bool recheck, struct delivery_result *res)
{
	const struct maildir_copy c = { .qid = qid, .created = 1700000000,
	    .rcpt = rcpt, .recheck = recheck };

	assert_int_equal(maildir_deliver_one(t->dir, address, junk, &c,
	    "Delivered-To: x\r\n", t->fd, t->size, res), DELIVERY_OK);
}

static void
test_copy_base(void **state)
{
	struct maildir_copy c = { .qid = MDT_QID, .created = 1700000000 };
	char a[256], b[256], d[256], e[256];

	(void)state;
	assert_int_equal(maildir_copy_base(&c, a, sizeof(a)), 0);
	assert_int_equal(maildir_copy_base(&c, b, sizeof(b)), 0);
	/* Derived, not unique per call: a repeat finds the same name. */
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, "1700000000.Q" MDT_QID "R0.", 33), 0);
	assert_null(strpbrk(a, "/:,"));
	c.rcpt = 1;
	assert_int_equal(maildir_copy_base(&c, d, sizeof(d)), 0);
	assert_string_not_equal(a, d);
	c.rcpt = 0;
	c.qid = MDT_QID2;
	assert_int_equal(maildir_copy_base(&c, e, sizeof(e)), 0);
	assert_string_not_equal(a, e);
	assert_int_equal(maildir_copy_base(&c, e, 20), -1);
}

static void
test_name_is_copy(void **state)
{
	static const char base[] = "1700000000.Q" MDT_QID "R1.mx";

	(void)state;
	assert_true(maildir_name_is_copy(base, base));
	assert_true(maildir_name_is_copy("1700000000.Q" MDT_QID "R1.mx,S=12",
	    base));
	/* Dovecot in cur/: sizes kept, W= added, info with flags. */
	assert_true(maildir_name_is_copy("1700000000.Q" MDT_QID
	    "R1.mx,S=12,W=13:2,S", base));
	/* A tool that dropped the sizes (Dovecot renames a file whose S=
	 * proved wrong). */
	assert_true(maildir_name_is_copy("1700000000.Q" MDT_QID "R1.mx:2,RS",
	    base));
	/* Other recipients, messages and hosts are not this copy. */
	assert_false(maildir_name_is_copy("1700000000.Q" MDT_QID "R10.mx,S=1",
	    base));
	assert_false(maildir_name_is_copy("1700000000.Q" MDT_QID "R1.mx2,S=1",
	    base));
	assert_false(maildir_name_is_copy("1700000000.Q" MDT_QID2 "R1.mx",
	    base));
	assert_false(maildir_name_is_copy("1700000000.Q" MDT_QID "R1.m",
	    base));
}

/* Move the single file of folder/new to folder/cur as Dovecot does when
 * a client has seen it, with W= and the Seen flag; returns nothing. */
static void
mdt_dovecot_seen(const char *folder, bool keep_size)
{
	char dir[PATH_MAX], name[256], from[PATH_MAX * 2], to[PATH_MAX * 2];
	char *comma;

	snprintf(dir, sizeof(dir), "%s/new", folder);
	mdt_only_file(dir, name, sizeof(name));
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	if (!keep_size && (comma = strchr(name, ',')) != NULL)
		*comma = '\0';
	snprintf(to, sizeof(to), "%s/cur/%s%s:2,S", folder, name,
	    keep_size ? ",W=40" : "");
	assert_int_equal(rename(from, to), 0);
}

static int
mdt_count_sub(const char *folder, const char *sub)
{
	char dir[PATH_MAX + 8];

	snprintf(dir, sizeof(dir), "%s/%s", folder, sub);
	return mdt_count(dir);
}

/* folder holds n_new files in new/, n_cur in cur/ and none in tmp/. */
static void
mdt_assert_counts(const char *folder, int n_new, int n_cur)
{
	assert_int_equal(mdt_count_sub(folder, "new"), n_new);
	assert_int_equal(mdt_count_sub(folder, "cur"), n_cur);
	assert_int_equal(mdt_count_sub(folder, "tmp"), 0);
}

/* A repeated attempt (recheck) finds the copy Dovecot has moved to cur/
 * and flagged, and writes nothing; another recipient of the same message
 * in the same Maildir (an alias) and another message do get copies. */
static void
test_recheck_finds_dovecot_copy(void **state)
{
	struct mdt *t = *state;
	struct delivery_result res;
	char folder[PATH_MAX], found[PATH_MAX];

	mdt_message(t, "hi\r\n", 4);
	snprintf(folder, sizeof(folder), "%s/mail/example.org/m/Maildir",
	    t->dir);
	assert_int_equal(maildir_find_copy(folder, "x", found, sizeof(found)),
	    0);
	mdt_copy_deliver(t, "m@example.org", false, MDT_QID, 2, false, &res);
	mdt_dovecot_seen(folder, true);
	mdt_copy_deliver(t, "m@example.org", false, MDT_QID, 2, true, &res);
	assert_non_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 0, 1);
	mdt_copy_deliver(t, "m@example.org", false, MDT_QID, 3, true, &res);
	assert_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 1, 1);
	mdt_copy_deliver(t, "m@example.org", false, MDT_QID2, 2, true, &res);
	mdt_assert_counts(folder, 2, 1);
	/* Found in new/ as well. */
	mdt_copy_deliver(t, "m@example.org", false, MDT_QID2, 2, true, &res);
	assert_non_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 2, 1);
}

/* The same in the Junk folder, with the sizes dropped from the name. */
static void
test_recheck_junk_without_sizes(void **state)
{
	struct mdt *t = *state;
	struct delivery_result res;
	char folder[PATH_MAX];

	mdt_message(t, "spam\r\n", 6);
	snprintf(folder, sizeof(folder),
	    "%s/mail/example.org/n/Maildir/.Junk", t->dir);
	mdt_copy_deliver(t, "n@example.org", true, MDT_QID, 0, false, &res);
	mdt_dovecot_seen(folder, false);
	mdt_copy_deliver(t, "n@example.org", true, MDT_QID, 0, true, &res);
	assert_non_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 0, 1);
}

/* A recheck finds the copy an attempt made under another host name (the
 * daemon's container made again after the crash): the queue id and the
 * recipient name it, the host does not. */
static void
test_recheck_other_hostname(void **state)
{
	struct mdt *t = *state;
	struct delivery_result res;
	char folder[PATH_MAX], from[PATH_MAX * 2], to[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	mdt_message(t, "hi\r\n", 4);
	snprintf(folder, sizeof(folder), "%s/mail/example.org/h/Maildir",
	    t->dir);
	mdt_copy_deliver(t, "h@example.org", false, MDT_QID, 0, false, &res);
	snprintf(from, sizeof(from), "%s/new", folder);
	assert_non_null(d = opendir(from));
	while ((de = readdir(d)) != NULL && de->d_name[0] == '.')
		;
	assert_non_null(de);
	snprintf(from, sizeof(from), "%s/new/%s", folder, de->d_name);
	snprintf(to, sizeof(to), "%s/cur/1700000000.Q" MDT_QID
	    "R0.oldpod-7f9c,S=20:2,S", folder);
	closedir(d);
	assert_int_equal(rename(from, to), 0);
	mdt_copy_deliver(t, "h@example.org", false, MDT_QID, 0, true, &res);
	assert_non_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 0, 1);
	/* Another recipient index is another copy. */
	mdt_copy_deliver(t, "h@example.org", false, MDT_QID, 1, true, &res);
	mdt_assert_counts(folder, 1, 1);
}

/* Without a recheck a copy still in new/ under its full name is not
 * written twice; a half-written tmp/ file of a killed attempt is
 * replaced, never delivered. */
static void
test_repeat_and_tmp_leftover(void **state)
{
	struct mdt *t = *state;
	struct delivery_result res;
	struct maildir_copy c = { .qid = MDT_QID, .created = 1700000000,
	    .rcpt = 0 };
	char folder[PATH_MAX], base[256], path[PATH_MAX * 2];
	int fd;

	mdt_message(t, "hi\r\n", 4);
	snprintf(folder, sizeof(folder), "%s/mail/example.org/o/Maildir",
	    t->dir);
	mdt_copy_deliver(t, "o@example.org", false, MDT_QID, 0, false, &res);
	mdt_copy_deliver(t, "o@example.org", false, MDT_QID, 0, false, &res);
	mdt_assert_counts(folder, 1, 0);

	c.rcpt = 1;
	assert_int_equal(maildir_copy_base(&c, base, sizeof(base)), 0);
	snprintf(path, sizeof(path), "%s/tmp/%s", folder, base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Delivered-To: half", 18), 18);
	close(fd);
	mdt_copy_deliver(t, "o@example.org", false, MDT_QID, 1, true, &res);
	assert_null(strstr(res.reply, "already"));
	mdt_assert_counts(folder, 2, 0);
	snprintf(path, sizeof(path), "%s/new/%s,S=%d", folder, base,
	    (int)strlen("Delivered-To: x\nhi\n"));
	size_t len;
	char *got = mdt_read(path, &len);
	assert_int_equal(len, strlen("Delivered-To: x\nhi\n"));
	assert_memory_equal(got, "Delivered-To: x\nhi\n", len);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_and_content,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_junk_folder, mdt_setup,
		    mdt_teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_addresses,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test(test_unique_names),
		cmocka_unit_test_setup_teardown(
		    test_two_deliveries_same_mailbox, mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_crlf_across_buffers,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_ops_per_recipient,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_recipients_own_copies,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_ops_stop_and_cancel,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_null_sender_return_path,
		    mdt_setup, mdt_teardown),
		cmocka_unit_test(test_copy_base),
		cmocka_unit_test(test_name_is_copy),
		cmocka_unit_test_setup_teardown(
		    test_recheck_finds_dovecot_copy, mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_recheck_junk_without_sizes, mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_recheck_other_hostname, mdt_setup, mdt_teardown),
		cmocka_unit_test_setup_teardown(test_repeat_and_tmp_leftover,
		    mdt_setup, mdt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
