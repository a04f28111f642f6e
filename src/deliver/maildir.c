/* SPDX-License-Identifier: ISC */
/*
 * Maildir delivery (see maildir.h). The unique name follows the Maildir
 * specification as Dovecot writes it
 * (https://cr.yp.to/proto/maildir.html, Dovecot's maildir-filename.c):
 * "<secs>.M<usecs>P<pid>Q<counter>.<host>" in tmp/, then
 * "<that>,S=<size>" in new/; a queued message's copies instead get a base
 * derived from (queue id, recipient), "<secs>.Q<qid>R<index>.<host>"
 * (maildir_copy_base), which any Maildir reader accepts: the base is
 * opaque to it, only ',' (Dovecot's S= and W= fields) and ':' (the info,
 * ":2,<flags>") have a meaning, and neither occurs in it.
 */
#include "deliver/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsdir.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/selfpid.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/hops.h"
#include "queue/spool.h"

#define MAILDIR_BUF_SIZE	(64 * 1024)

static void
maildir_result(struct delivery_result *res, enum delivery_status status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
maildir_result(struct delivery_result *res, enum delivery_status status,
    const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->reply, sizeof(res->reply), fmt, ap);
	va_end(ap);
}

int
maildir_path(const char *data_dir, const char *address, bool junk,
    char *out, size_t outlen)
{
	char local[sizeof(((struct addr *)0)->local)];
	char domain[LIMIT_DOMAIN + 1];
	struct addr a;
	int n;

	if (addr_parse_mailbox(address, strlen(address), true, &a) !=
	    ADDR_OK || addr_mailbox_dirs(&a, domain, sizeof(domain), local,
	    sizeof(local)) == -1)
		return -1;
	n = snprintf(out, outlen, "%s/mail/%s/%s/Maildir%s", data_dir, domain,
	    local, junk ? "/.Junk" : "");
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

/* The host name with '/', ':' and ',' escaped, computed once per thread
 * (delivery runs on the queue runner's pool threads). */
static const char *
maildir_hostname(void)
{
	static _Thread_local char host[4 * 64 + 1];
	char raw[256];
	size_t o = 0;

	if (host[0] != '\0')
		return host;
	if (gethostname(raw, sizeof(raw)) == -1 || raw[0] == '\0')
		snprintf(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (const char *p = raw; *p && o + 5 < sizeof(host); p++) {
		if (*p == '/' || *p == ':' || *p == ',') {
			memcpy(host + o, *p == '/' ? "\\057" : *p == ':' ?
			    "\\072" : "\\054", 4);
			o += 4;
		} else
			host[o++] = *p;
	}
	host[o] = '\0';
	return host;
}

int
maildir_unique(char *out, size_t outlen)
{
	static _Atomic unsigned long counter;
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(out, outlen, "%lld.M%ldP%ldQ%lu.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)selfpid(), ++counter, maildir_hostname());
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

int
maildir_copy_base(const struct maildir_copy *c, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%lld.Q%sR%zu.%s", c->created, c->qid,
	    c->rcpt, maildir_hostname());

	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

bool
maildir_name_is_copy(const char *name, const char *base)
{
	size_t n = strlen(base);

	return strncmp(name, base, n) == 0 && (name[n] == '\0' ||
	    name[n] == ',' || name[n] == ':');
}

/* Look for base in folder/sub: 1 found (name into found), 0 not, -1.
 * With prefix, any name that starts with base matches. */
static int
maildir_find_in(const char *folder, const char *sub, const char *base,
    bool prefix, char *found, size_t foundlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", folder, sub) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (prefix ? strncmp(de->d_name, base, strlen(base)) == 0 :
		    maildir_name_is_copy(de->d_name, base)) {
			snprintf(found, foundlen, "%s/%s", sub, de->d_name);
			r = 1;
			break;
		}
	if (r == 0 && errno != 0)
		r = -1;
	closedir(d);
	return r;
}

/*
 * new/ first, then cur/: a copy moves only from new/ to cur/ (Dovecot
 * renames it there when a client sees it, keeping the base and adding
 * ":2,<flags>"), so one that left new/ while new/ was read is in cur/
 * before cur/ is read.
 */
static int
maildir_find_any(const char *folder, const char *base, bool prefix,
    char *found, size_t foundlen)
{
	int r = maildir_find_in(folder, "new", base, prefix, found, foundlen);

	if (r != 0)
		return r;
	return maildir_find_in(folder, "cur", base, prefix, found, foundlen);
}

int
maildir_find_copy(const char *folder, const char *base, char *found,
    size_t foundlen)
{
	return maildir_find_any(folder, base, false, found, foundlen);
}

/* mkdir that tolerates an existing folder; fsyncs the parent when it
 * created one, so the new entry survives a crash with the message. */
static int
maildir_mkdir(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (mkdir(path, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	if (slash == NULL || (size_t)(slash - path) >= sizeof(parent))
		return 0;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	return fsdir_sync(parent);
}

/* Create dir/cur, dir/new and dir/tmp. */
static int
maildir_make_subdirs(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, subs[i]) >=
		    (int)sizeof(path) || maildir_mkdir(path) == -1)
			return -1;
	}
	return 0;
}

/*
 * Create folder and its parents below DATA/mail, and cur/ new/ tmp/. A
 * Maildir++ subfolder (".Junk") also gets the "maildirfolder" marker file,
 * and its parent Maildir gets its own cur/ new/ tmp/ so that the mailbox
 * is a valid Maildir even when its first message went to Junk.
 */
static int
maildir_make_folder(const char *data_dir, const char *folder)
{
	size_t base = strlen(data_dir);
	char path[PATH_MAX];
	char *sub;

	if (snprintf(path, sizeof(path), "%s", folder) >= (int)sizeof(path))
		return -1;
	/* Every '/' after data_dir ends one level: mail, DOMAIN, LOCAL, ... */
	for (char *p = path + base + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		int r = maildir_mkdir(path);
		*p = '/';
		if (r == -1)
			return -1;
	}
	if (maildir_mkdir(folder) == -1 || maildir_make_subdirs(folder) == -1)
		return -1;
	if ((sub = strstr(path, "/Maildir/.")) == NULL)
		return 0;
	sub[sizeof("/Maildir") - 1] = '\0';
	if (maildir_make_subdirs(path) == -1)
		return -1;
	if (snprintf(path, sizeof(path), "%s/maildirfolder", folder) >=
	    (int)sizeof(path))
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	return close(fd);
}

/* Buffered writer that turns CRLF into LF and counts what it wrote. */
struct maildir_writer {
	int		 fd;
	bool		 cr;		/* a CR is held back */
	size_t		 size;		/* bytes in the file */
	size_t		 used;
	char		 out[MAILDIR_BUF_SIZE];
};

static int
maildir_flush(struct maildir_writer *w)
{
	size_t off = 0;

	while (off < w->used) {
		ssize_t n = write(w->fd, w->out + off, w->used - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	w->size += w->used;
	w->used = 0;
	return 0;
}

static int
maildir_emit(struct maildir_writer *w, char c)
{
	if (w->used == sizeof(w->out) && maildir_flush(w) == -1)
		return -1;
	w->out[w->used++] = c;
	return 0;
}

/* A CR is held until the next byte shows whether it starts a CRLF; a
 * bare CR is kept as it is. */
static int
maildir_put(struct maildir_writer *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (w->cr) {
			w->cr = false;
			if (p[i] != '\n' && maildir_emit(w, '\r') == -1)
				return -1;
		}
		if (p[i] == '\r')
			w->cr = true;
		else if (maildir_emit(w, p[i]) == -1)
			return -1;
	}
	return 0;
}

/* Copy prepend and the message through the writer, then flush. */
static int
maildir_copy(struct maildir_writer *w, const char *prepend, int msg_fd,
    uint64_t msg_size)
{
	char in[MAILDIR_BUF_SIZE];
	uint64_t off = 0;

	if (prepend && maildir_put(w, prepend, strlen(prepend)) == -1)
		return -1;
	for (;;) {
		ssize_t n = spool_msg_pread(msg_fd, msg_size, in, sizeof(in),
		    off);

		if (n == -1)
			return -1;
		if (n == 0)
			break;
		if (maildir_put(w, in, (size_t)n) == -1)
			return -1;
		off += (uint64_t)n;
	}
	if (w->cr && maildir_emit(w, '\r') == -1)
		return -1;
	w->cr = false;
	return maildir_flush(w);
}

/* A temporary failure reply for errno e during op. */
static enum delivery_status
maildir_tempfail(struct delivery_result *res, const char *op, int e)
{
	if (e == EDQUOT) {
		maildir_result(res, DELIVERY_TEMPFAIL,
		    "452 4.2.2 maildir: mailbox over quota");
	} else if (e == ENOSPC) {
		maildir_result(res, DELIVERY_TEMPFAIL,
		    "452 4.3.1 maildir: insufficient system storage");
	} else {
		maildir_result(res, DELIVERY_TEMPFAIL, "451 4.3.0 maildir: "
		    "%s: %s", op, strerror(e));
	}
	return DELIVERY_TEMPFAIL;
}

/*
 * Open folder/tmp/base for writing, creating the folder on first use. A
 * derived name (derived) already in tmp/ is what a killed attempt at this
 * very copy left half-written: only one runner works on a message at a
 * time (its lock), so it is ours to replace.
 */
static int
maildir_open_tmp(const char *data_dir, const char *folder,
    const char *tmp, bool derived)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);

	if (fd == -1 && errno == EEXIST && derived && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd == -1 && errno == ENOENT) {
		if (maildir_make_folder(data_dir, folder) == -1)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	}
	return fd;
}

struct maildir_paths {
	char	folder[PATH_MAX];
	char	base[256];
	char	tmp[PATH_MAX];
	char	final[PATH_MAX];
	char	newdir[PATH_MAX];
	size_t	size;		/* of the file written */
	bool	derived;	/* base from (queue id, recipient) */
};

/* Fill folder/tmp/base: the whole copy, fsynced and closed. */
static int
maildir_write_tmp(struct maildir_writer *w, int fd, const char *prepend,
    int msg_fd, uint64_t msg_size, const char **op)
{
	int e;

	w->fd = fd;
	w->cr = false;
	w->size = w->used = 0;
	*op = "write";
	if (maildir_copy(w, prepend, msg_fd, msg_size) == -1)
		goto fail;
	*op = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	*op = "close";
	return close(fd);
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/*
 * Write the file into tmp/ and move it into new/ under its final name;
 * errno and *op describe a failure. Everything is on the caller's stack:
 * several pool threads of the queue runner deliver at once.
 */
static int
maildir_store(struct maildir_paths *mp, const char *data_dir,
    const char *prepend, int msg_fd, uint64_t msg_size, const char **op)
{
	struct maildir_writer w;
	int fd;

	*op = "open";
	if ((fd = maildir_open_tmp(data_dir, mp->folder, mp->tmp,
	    mp->derived)) == -1)
		return -1;
	if (maildir_write_tmp(&w, fd, prepend, msg_fd, msg_size, op) == -1)
		return -1;
	mp->size = w.size;
	*op = "link";
	if (snprintf(mp->final, sizeof(mp->final), "%s/new/%s,S=%zu",
	    mp->folder, mp->base, w.size) >= (int)sizeof(mp->final)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A rename that, like the classic link + unlink, never replaces an
	 * existing file, in one directory operation fewer; link where the
	 * file system cannot do it. A derived name already in new/ with the
	 * same size is this copy, made before: it stays, ours goes. */
	if (renameat2(AT_FDCWD, mp->tmp, AT_FDCWD, mp->final,
	    RENAME_NOREPLACE) == -1) {
		if (errno == EEXIST && mp->derived)
			unlink(mp->tmp);
		else if (errno != EINVAL && errno != ENOSYS)
			return -1;
		else if (link(mp->tmp, mp->final) == -1 &&
		    !(errno == EEXIST && mp->derived))
			return -1;
		else
			unlink(mp->tmp);
	}
	*op = "fsync new/";
	if (fsdir_sync(mp->newdir) == -1) {
		int e = errno;
		unlink(mp->final);
		errno = e;
		return -1;
	}
	return 0;
}

/* Names for one copy into mp->folder. -1 if a path does not fit. */
static int
maildir_names(struct maildir_paths *mp, const struct maildir_copy *copy)
{
	mp->derived = copy != NULL && copy->qid != NULL;
	if ((mp->derived ? maildir_copy_base(copy, mp->base,
	    sizeof(mp->base)) : maildir_unique(mp->base,
	    sizeof(mp->base))) == -1 ||
	    snprintf(mp->tmp, sizeof(mp->tmp), "%s/tmp/%s", mp->folder,
	    mp->base) >= (int)sizeof(mp->tmp) ||
	    snprintf(mp->newdir, sizeof(mp->newdir), "%s/new", mp->folder) >=
	    (int)sizeof(mp->newdir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * A recheck: whether the copy is there already. Matched on the base up to
 * the host name: the daemon may come back under another one (a container
 * made again after the crash), and the queue id is unique without it. One
 * found in new/ is synced once more, since the attempt that made it may
 * have been killed before it synced new/ (and the message leaves the
 * queue now).
 */
static int
maildir_recheck(const struct maildir_paths *mp, const struct maildir_copy *c)
{
	char found[PATH_MAX], dir[PATH_MAX], key[128];
	int r, n = snprintf(key, sizeof(key), "%lld.Q%sR%zu.", c->created,
	    c->qid, c->rcpt);

	if (n < 0 || (size_t)n >= sizeof(key)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	r = maildir_find_any(mp->folder, key, true, found, sizeof(found));

	if (r != 1)
		return r;
	if (strncmp(found, "new/", 4) == 0)
		return fsdir_sync(mp->newdir) == -1 ? -1 : 1;
	if (snprintf(dir, sizeof(dir), "%s/cur", mp->folder) >=
	    (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fsdir_sync(dir) == -1 ? -1 : 1;
}

enum delivery_status
maildir_deliver_one(const char *data_dir, const char *address, bool junk,
    const struct maildir_copy *copy, const char *prepend, int msg_fd,
    uint64_t msg_size, struct delivery_result *res)
{
	struct maildir_paths mp;
	const char *op = "fsync new/";
	int r;

	if (maildir_path(data_dir, address, junk, mp.folder,
	    sizeof(mp.folder)) == -1) {
		maildir_result(res, DELIVERY_PERMFAIL,
		    "550 5.1.3 maildir: address is not a valid mailbox name");
		return DELIVERY_PERMFAIL;
	}
	if (maildir_names(&mp, copy) == -1)
		return maildir_tempfail(res, "path", errno);
	if (mp.derived && copy->recheck) {
		if ((r = maildir_recheck(&mp, copy)) == -1)
			return maildir_tempfail(res, "recheck", errno);
		if (r == 1) {
			maildir_result(res, DELIVERY_OK, "250 2.0.0 already "
			    "in maildir (copy of an earlier attempt)");
			return DELIVERY_OK;
		}
	}
	if (maildir_store(&mp, data_dir, prepend, msg_fd, msg_size,
	    &op) == -1) {
		int e = errno;
		unlink(mp.tmp);
		return maildir_tempfail(res, op, e);
	}
	maildir_result(res, DELIVERY_OK, "250 2.0.0 delivered to maildir");
	return DELIVERY_OK;
}

/* --- the asynchronous method (deliver/delivery.h) -------------------- */

struct delivery_method {
	struct workpool		*pool;
	char			*data_dir;
	struct delivery		*head;		/* jobs on the pool */
};

/*
 * A job owns everything its thread reads (a copy of the envelope's
 * fields it uses, a dup of the message fd), so that a job cancelled
 * while its thread writes a copy needs nothing of the caller's. The loop
 * touches only stop (atomic), cancelled and the list links meanwhile.
 */
struct delivery {
	struct delivery_method	*m;
	struct delivery		*next, **pprev;
	struct workpool_job	*pj;
	delivery_rcpt_cb	*rcpt_cb;
	delivery_end_cb		*end;
	void			*arg;
	char			*data_dir;
	char			 qid[IDS_QID_LEN + 1];
	long long		 created;
	bool			 junk, recheck;
	char			*mail_from;
	char			*prepend;
	int			 fd;
	uint64_t		 size;
	size_t			 n;
	size_t			*idx;		/* envelope indices */
	char			**addr;
	/* Written by the thread, read by the loop after done(). */
	struct delivery_result	*res;
	bool			*made;
	atomic_bool		 stop;
	bool			 cancelled;
};

/*
 * On a pool thread. Every copy starts with its own Return-Path (RFC 5321
 * §4.4) and Delivered-To (loop detection, msg/hops.h), so recipients of
 * one message each get a copy written: a shared hard link would carry one
 * recipient's fields into the others' mailboxes. A stop is honoured
 * between copies, never inside one.
 */
static void
maildir_run(void *arg)
{
	struct delivery *d = arg;
	struct buf head;

	buf_init(&head, SIZE_MAX);
	for (size_t i = 0; i < d->n && !atomic_load(&d->stop); i++) {
		const struct maildir_copy copy = {
			.qid = d->qid[0] != '\0' ? d->qid : NULL,
			.created = d->created,
			.rcpt = d->idx[i],
			.recheck = d->recheck,
		};

		buf_reset(&head);
		if (hops_trace_fields(&head, d->mail_from, d->addr[i]) == -1)
			maildir_result(&d->res[i], DELIVERY_PERMFAIL, "550 "
			    "5.1.3 maildir: address unusable in a header "
			    "field");
		else {
			/* head is unbounded: the append cannot fail. */
			(void)buf_append_str(&head, d->prepend);
			maildir_deliver_one(d->data_dir, d->addr[i], d->junk,
			    &copy, buf_cstr(&head), d->fd, d->size,
			    &d->res[i]);
		}
		d->made[i] = true;
	}
	buf_clear(&head);
}

static void
maildir_job_free(struct delivery *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->addr[i]);
	free(d->addr);
	free(d->idx);
	free(d->res);
	free(d->made);
	free(d->data_dir);
	free(d->mail_from);
	free(d->prepend);
	if (d->fd != -1)
		close(d->fd);
	free(d);
}

static void
maildir_unlink(struct delivery *d)
{
	if (d->pprev == NULL)
		return;
	*d->pprev = d->next;
	if (d->next != NULL)
		d->next->pprev = d->pprev;
	d->pprev = NULL;
}

/* workpool_done_fn, on the loop: report the copies made, then the end.
 * A job the pool hands back at its free (cancelled by the pool, not by
 * its caller) still reports what its thread did. */
static void
maildir_done(void *arg, bool pool_cancelled)
{
	struct delivery *d = arg;

	(void)pool_cancelled;
	if (!d->cancelled) {
		maildir_unlink(d);
		for (size_t i = 0; i < d->n; i++)
			if (d->made[i])
				d->rcpt_cb(i, &d->res[i], d->arg);
		d->end(d->arg);
	}
	maildir_job_free(d);
}

static struct delivery *
maildir_start(struct delivery_method *m, const struct delivery_job *job)
{
	const struct envelope *env = job->env;
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->m = m;
	d->rcpt_cb = job->rcpt;
	d->end = job->end;
	d->arg = job->arg;
	d->data_dir = xstrdup(m->data_dir);
	memcpy(d->qid, env->id, sizeof(d->qid));
	d->created = (long long)env->created;
	d->junk = env->quarantine;
	d->recheck = job->recheck;
	d->mail_from = xstrdup(env->mail_from ? env->mail_from : "");
	d->prepend = xstrdup(env->prepend ? env->prepend : "");
	/* Without its own fd the thread would read a descriptor the caller
	 * may close (or reuse) after a cancel. */
	d->fd = fcntl(job->msg_fd, F_DUPFD_CLOEXEC, 0);
	d->size = env->size;
	d->n = job->nrcpts;
	d->idx = xcalloc(d->n + 1, sizeof(*d->idx));
	d->addr = xcalloc(d->n + 1, sizeof(*d->addr));
	d->res = xcalloc(d->n + 1, sizeof(*d->res));
	d->made = xcalloc(d->n + 1, sizeof(*d->made));
	for (size_t i = 0; i < d->n; i++) {
		d->idx[i] = job->rcpts[i];
		d->addr[i] = xstrdup(env->rcpts[job->rcpts[i]].address ?
		    env->rcpts[job->rcpts[i]].address : "");
	}
	atomic_init(&d->stop, d->fd == -1);
	if (d->fd == -1) {
		/* Out of descriptors: every copy is deferred. */
		for (size_t i = 0; i < d->n; i++) {
			maildir_tempfail(&d->res[i], "dup", errno);
			d->made[i] = true;
		}
	}
	d->next = m->head;
	if (m->head != NULL)
		m->head->pprev = &d->next;
	m->head = d;
	d->pprev = &m->head;
	d->pj = workpool_submit(m->pool, maildir_run, maildir_done, d);
	return d;
}

static void
maildir_stop(struct delivery *d)
{
	atomic_store(&d->stop, true);
}

static void
maildir_cancel(struct delivery *d)
{
	atomic_store(&d->stop, true);
	d->cancelled = true;
	maildir_unlink(d);
	workpool_cancel(d->pj);
}

static struct delivery_method *
maildir_new(const struct delivery_setup *setup, char *err, size_t errlen)
{
	struct delivery_method *m;

	if (setup->pool == NULL || setup->data_dir == NULL) {
		snprintf(err, errlen, "maildir: no work pool or data dir");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->pool = setup->pool;
	m->data_dir = xstrdup(setup->data_dir);
	return m;
}

static void
maildir_free(struct delivery_method *m)
{
	if (m == NULL)
		return;
	while (m->head != NULL)
		maildir_cancel(m->head);
	free(m->data_dir);
	free(m);
}

const struct delivery_ops maildir_delivery_ops = {
	.name = "maildir",
	.new = maildir_new,
	.free = maildir_free,
	.start = maildir_start,
	.stop = maildir_stop,
	.cancel = maildir_cancel,
};
