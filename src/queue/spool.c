/* SPDX-License-Identifier: ISC */
/*
 * The durable spool (see spool.h). Layout under DATA_DIR:
 *
 *	spool/tmp/ID.msg	message being received (smtp worker, sendmail,
 *				bounce)
 *	spool/queue/ID.msg	committed message: the message bytes, then
 *				the envelope as committed, then a trailer
 *				giving the envelope's length; its presence
 *				is the commit marker. Never changes again.
 *	spool/queue/ID.env	the envelope's current state, once the queue
 *				runner has recorded an attempt (ID.env.tmp +
 *				rename); it overrides the committed one
 *	spool/free/ID		files of delivered messages, emptied, kept
 *				for reuse (see below)
 *	spool/free/ID.claim	a file the runner is emptying (not yet free)
 *	run/queue.sock		the queue runner's datagram socket
 *
 * Commit: envelope and trailer appended to the message file, one fsync,
 * rename into queue/ (the commit point), fsync of queue/ (shared with
 * concurrent commits, core/fsdir.h). One file means one fsync per message
 * instead of two (message, envelope): the first lever on throughput, as
 * each fsync is a synchronous disk write. A crash before the rename leaves
 * a file in tmp/ (removed after a day); after the directory fsync nothing
 * is lost. Readers take the message as the first env->size bytes
 * (spool_msg_pread). Queues written by the earlier two-file commit (.msg
 * without trailer + .env) load unchanged, since ID.env comes first.
 *
 * Recycling: a message file that the queue runner has finished with is
 * renamed out of queue/ to free/ID.claim, emptied there, and renamed to
 * free/ID; a new message takes such a file (rename into tmp/, which only
 * one taker can win) before it creates one. A file is written only by the
 * one process that holds it under a name of its own (the runner's claim,
 * a taker's tmp/ID.msg), never once another process can take it. Creating and deleting an inode
 * per message is what costs most on ext4 without a journal: each new
 * inode is searched past every inode deleted in the last seconds
 * (recently_deleted() in the kernel), 25% of the server's CPU at 600
 * messages/s. free/ holds at most SPOOL_FREE_MAX files; `queue delete`
 * unlinks instead, since the runner may still be reading that file.
 *
 * Every file name is built from an id that passed ids_qid_valid(), so no
 * path component comes from outside. Message bytes go through a 64 KiB
 * userspace buffer because spool_msg_write is called per received chunk on
 * the server's hot path: one write(2) per 64 KiB, not per line.
 */
#include "queue/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/fsdir.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/unixaddr.h"
#include "core/xmalloc.h"

#define SPOOL_BUF_SIZE		(64 * 1024)
#define SPOOL_ORPHAN_AGE	3600	/* queue/ID.env without .msg */
#define SPOOL_TMP_AGE		86400	/* anything in tmp/ */
#define SPOOL_FREE_MAX		1024	/* files kept in free/ */
#define SPOOL_FREE_BATCH	64	/* names read from free/ at once */
/* free/ID.claim: a file being emptied by spool_recycle; no process but
 * the recycler writes it. A crash leaves it behind: the scan removes it
 * once it is SPOOL_CLAIM_AGE old (by mtime, which the truncation sets).
 * Removing one early is harmless: the message was delivered, and the
 * recycler's next step then fails and it lets the file go. */
#define SPOOL_CLAIM_EXT		".claim"
#define SPOOL_CLAIM_AGE		60
/* The trailer that ends a committed queue/ID.msg: this prefix, the
 * envelope text's length in 16 hex digits, LF. */
#define SPOOL_TRAILER_TAG	"SMENV1 "
#define SPOOL_TRAILER_LEN	(sizeof(SPOOL_TRAILER_TAG) - 1 + 16 + 1)

struct spool_msg {
	char		*data_dir;
	char		 qid[IDS_QID_LEN + 1];
	int		 fd;
	bool		 failed;	/* a write failed: no commit */
	size_t		 size;		/* bytes accepted so far */
	size_t		 used;		/* bytes waiting in buf */
	unsigned char	 buf[SPOOL_BUF_SIZE];
};

static bool spool_name_match(const char *name, const char *ext, char *qid);
static char *spool_tmp_path(const struct spool_msg *m, char *out, size_t len);

/* DATA_DIR/spool/SUB/QID.EXT; -1 (ENAMETOOLONG) when it does not fit. */
static int
spool_path(char *out, size_t outlen, const char *data_dir, const char *sub,
    const char *qid, const char *ext)
{
	int n = snprintf(out, outlen, "%s/spool/%s/%s%s", data_dir, sub, qid,
	    ext);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* DATA_DIR/REL. */
static int
spool_dir_path(char *out, size_t outlen, const char *data_dir,
    const char *rel)
{
	int n = snprintf(out, outlen, "%s/%s", data_dir, rel);

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* write(2) all of p, retrying on EINTR and short writes. */
static int
spool_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create (or truncate) path with data, fsynced; removed again on error. */
static int
spool_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);

	if (fd == -1)
		return -1;
	if (spool_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	if (close(fd) == -1) {
		int e = errno;
		unlink(path);
		errno = e;
		return -1;
	}
	return 0;
}

static int
spool_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_init(const char *data_dir, char *err, size_t errlen)
{
	static const char *const dirs[] = {
		"spool", "spool/tmp", "spool/queue", "spool/free", "run",
	};
	char path[PATH_MAX];

	if (spool_mkdir(data_dir, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (spool_dir_path(path, sizeof(path), data_dir,
		    dirs[i]) == -1) {
			snprintf(err, errlen, "data_dir path too long");
			return -1;
		}
		if (spool_mkdir(path, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Names in free/ this process may take, read in batches. Another process
 * may take a name first: then its rename fails and the next one is tried.
 * After a read that found nothing, free/ is read again only once its
 * modification time has changed (one stat instead of a directory read).
 */
static struct {
	pthread_mutex_t	 lock;
	char		*data_dir;	/* whose free/ the names are in */
	char		 names[SPOOL_FREE_BATCH][IDS_QID_LEN + 1];
	size_t		 n;
	struct timespec	 empty_mtime;	/* free/ when found empty */
} spool_free = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Refill spool_free from DATA/spool/free (lock held). */
static void
spool_free_read(const char *data_dir)
{
	char path[PATH_MAX], qid[IDS_QID_LEN + 1];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (spool_dir_path(path, sizeof(path), data_dir, "spool/free") == -1 ||
	    stat(path, &st) == -1 ||
	    (st.st_mtim.tv_sec == spool_free.empty_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == spool_free.empty_mtime.tv_nsec) ||
	    (d = opendir(path)) == NULL)
		return;
	while (spool_free.n < SPOOL_FREE_BATCH && (de = readdir(d)) != NULL)
		if (spool_name_match(de->d_name, "", qid))
			memcpy(spool_free.names[spool_free.n++], qid,
			    sizeof(qid));
	closedir(d);
	if (spool_free.n == 0)
		spool_free.empty_mtime = st.st_mtim;
}

/* Move a recycled file to tmp_path and open it for writing, emptied;
 * -1 if there is none to take. */
static int
spool_free_take(const char *data_dir, const char *tmp_path)
{
	char path[PATH_MAX], name[IDS_QID_LEN + 1];
	int fd;

	for (;;) {
		pthread_mutex_lock(&spool_free.lock);
		if (spool_free.data_dir == NULL ||
		    strcmp(spool_free.data_dir, data_dir) != 0) {
			free(spool_free.data_dir);
			spool_free.data_dir = xstrdup(data_dir);
			spool_free.n = 0;
			spool_free.empty_mtime = (struct timespec){ 0, 0 };
		}
		if (spool_free.n == 0)
			spool_free_read(data_dir);
		if (spool_free.n == 0) {
			pthread_mutex_unlock(&spool_free.lock);
			return -1;
		}
		memcpy(name, spool_free.names[--spool_free.n], sizeof(name));
		pthread_mutex_unlock(&spool_free.lock);
		if (spool_path(path, sizeof(path), data_dir, "free", name,
		    "") == -1)
			return -1;
		if (rename(path, tmp_path) == -1)
			continue;	/* taken by another process */
		fd = open(tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW);
		if (fd != -1)
			return fd;
		unlink(tmp_path);	/* not ours to write (root's) */
	}
}

struct spool_msg *
spool_msg_new(const char *data_dir, const char *qid)
{
	char path[PATH_MAX];
	struct spool_msg *m;
	int fd;

	if (!ids_qid_valid(qid)) {
		errno = EINVAL;
		return NULL;
	}
	if (spool_path(path, sizeof(path), data_dir, "tmp", qid, ".msg") == -1)
		return NULL;
	if ((fd = spool_free_take(data_dir, path)) == -1)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return NULL;
	m = xmalloc(sizeof(*m));
	m->data_dir = xstrdup(data_dir);
	memcpy(m->qid, qid, sizeof(m->qid));
	m->fd = fd;
	m->failed = false;
	m->size = m->used = 0;
	return m;
}

int
spool_msg_flush(struct spool_msg *m)
{
	if (m->used == 0)
		return 0;
	if (spool_write_all(m->fd, m->buf, m->used) == -1) {
		m->failed = true;
		return -1;
	}
	m->used = 0;
	return 0;
}

int
spool_msg_write(struct spool_msg *m, const void *p, size_t n)
{
	if (m->failed) {
		errno = EIO;
		return -1;
	}
	if (n <= SPOOL_BUF_SIZE - m->used) {
		memcpy(m->buf + m->used, p, n);
		m->used += n;
	} else {
		if (spool_msg_flush(m) == -1)
			return -1;
		if (n >= SPOOL_BUF_SIZE) {
			/* Large chunk: skip the copy. */
			if (spool_write_all(m->fd, p, n) == -1) {
				m->failed = true;
				return -1;
			}
		} else {
			memcpy(m->buf, p, n);
			m->used = n;
		}
	}
	m->size += n;
	return 0;
}

size_t
spool_msg_size(const struct spool_msg *m)
{
	return m->size;
}

size_t
spool_msg_flushed(const struct spool_msg *m)
{
	return m->size - m->used;
}

static void
spool_msg_free(struct spool_msg *m)
{
	if (m->fd != -1)
		close(m->fd);
	free(m->data_dir);
	free(m);
}

/* DATA_DIR/spool/tmp/QID.msg of m (it always fits: spool_msg_new made
 * it). */
static char *
spool_tmp_path(const struct spool_msg *m, char *out, size_t len)
{
	if (spool_path(out, len, m->data_dir, "tmp", m->qid, ".msg") == -1)
		out[0] = '\0';
	return out;
}

int
spool_msg_reader(struct spool_msg *m)
{
	char path[PATH_MAX];

	if (m->failed) {
		errno = EIO;
		return -1;
	}
	if (spool_msg_flush(m) == -1 || spool_path(path, sizeof(path),
	    m->data_dir, "tmp", m->qid, ".msg") == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
spool_msg_restart(struct spool_msg *m)
{
	char path[PATH_MAX];
	int rfd, fd;

	if ((rfd = spool_msg_reader(m)) == -1)
		return -1;
	/* The old file lives on through rfd once unlinked; the new one
	 * takes its name, so the commit renames the new one. */
	if (unlink(spool_tmp_path(m, path, sizeof(path))) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		int e = errno;
		close(rfd);
		m->failed = true;
		errno = e;
		return -1;
	}
	close(m->fd);
	m->fd = fd;
	m->size = m->used = 0;
	return rfd;
}

void
spool_msg_abort(struct spool_msg *m)
{
	char path[PATH_MAX];

	if (m == NULL)
		return;
	if (spool_path(path, sizeof(path), m->data_dir, "tmp", m->qid,
	    ".msg") == 0)
		unlink(path);
	spool_msg_free(m);
}

/* The text form of env in a new buffer *b (the caller clears it); -1
 * (EFBIG, nothing to clear) past LIMIT_ENVELOPE_FILE. */
static int
spool_env_text(const struct envelope *env, struct buf *b)
{
	buf_init(b, LIMIT_ENVELOPE_FILE);
	if (envelope_to_text(env, b) == -1) {
		buf_clear(b);
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/* Serialise env and write it, fsynced, to path. */
static int
spool_env_write(const char *path, const struct envelope *env)
{
	struct buf b;
	int r;

	if (spool_env_text(env, &b) == -1)
		return -1;
	r = spool_write_file(path, b.data, b.len);
	buf_clear(&b);
	return r;
}

/* Append the envelope and the trailer to the message file, write out the
 * buffer, fsync and close. */
static int
spool_msg_seal(struct spool_msg *m, const struct envelope *env)
{
	char trailer[SPOOL_TRAILER_LEN + 1];
	struct buf b;
	int r;

	if (spool_env_text(env, &b) == -1)
		return -1;
	snprintf(trailer, sizeof(trailer), SPOOL_TRAILER_TAG "%016zx\n",
	    b.len);
	r = spool_msg_write(m, b.data, b.len);
	buf_clear(&b);
	if (r == -1 || spool_msg_write(m, trailer, SPOOL_TRAILER_LEN) == -1 ||
	    spool_msg_flush(m) == -1 || fsync(m->fd) == -1)
		return -1;
	r = close(m->fd);
	m->fd = -1;
	return r;
}

int
spool_msg_commit(struct spool_msg *m, struct envelope *env)
{
	char tmp[PATH_MAX], queue[PATH_MAX], dir[PATH_MAX];
	bool moved = false;
	int e;

	/* The file name is authoritative for the id; the size is what was
	 * actually written. */
	memcpy(env->id, m->qid, sizeof(env->id));
	env->size = m->size;
	if (env->created == 0)
		env->created = time(NULL);
	if (m->failed) {
		errno = EIO;
		goto fail;
	}
	if (spool_path(tmp, sizeof(tmp), m->data_dir, "tmp", m->qid,
	    ".msg") == -1 ||
	    spool_path(queue, sizeof(queue), m->data_dir, "queue", m->qid,
	    ".msg") == -1 ||
	    spool_queue_dir(m->data_dir, dir, sizeof(dir)) == -1 ||
	    spool_msg_seal(m, env) == -1)
		goto fail;
	/* The commit point: from here on the runner may see the message. */
	if (rename(tmp, queue) == -1)
		goto fail;
	moved = true;
	if (fsdir_sync(dir) == -1)
		goto fail;
	spool_msg_free(m);
	return 0;
fail:
	e = errno;
	/* The message was never acknowledged, so removing it is correct
	 * even if the rename did reach the disk. */
	if (moved)
		unlink(queue);
	else if (spool_path(tmp, sizeof(tmp), m->data_dir, "tmp", m->qid,
	    ".msg") == 0)
		unlink(tmp);
	spool_msg_free(m);
	errno = e;
	return -1;
}

/* Read a whole file of at most max bytes into a new NUL-terminated string.
 * Envelopes are replaced by rename, never rewritten in place, so the size
 * from fstat holds for the open file; more bytes than that is an error. */
static int
spool_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	size_t cap, len = 0;
	char *p;
	int e;

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	cap = (size_t)st.st_size + 1;
	p = xmalloc(cap + 1);
	while (len < cap) {
		ssize_t r = read(fd, p + len, cap - len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || (r > 0 && len + (size_t)r == cap)) {
			if (r > 0)
				errno = EFBIG;
			free(p);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p[len] = '\0';
	*out = p;
	*outlen = len;
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/*
 * The envelope committed inside queue/ID.msg: read the trailer, then the
 * text before it. The file's bytes are ours (written by the commit), but
 * it is still checked: lengths within the file and LIMIT_ENVELOPE_FILE,
 * and the envelope's size must say where it starts.
 */
static int
spool_env_read_embedded(int fd, struct envelope *env, char *err,
    size_t errlen)
{
	char trailer[SPOOL_TRAILER_LEN + 1], *text = NULL, *end;
	const size_t taglen = sizeof(SPOOL_TRAILER_TAG) - 1;
	unsigned long long elen;
	struct stat st;
	int r = -1, e;

	if (fstat(fd, &st) == -1) {
		e = errno;
		snprintf(err, errlen, "message file: %s", strerror(e));
		errno = e;
		return -1;
	}
	errno = EINVAL;
	if ((uintmax_t)st.st_size < SPOOL_TRAILER_LEN ||
	    spool_pread_full(fd, (uint64_t)st.st_size, trailer,
	    SPOOL_TRAILER_LEN, (uint64_t)st.st_size - SPOOL_TRAILER_LEN) !=
	    (ssize_t)SPOOL_TRAILER_LEN) {
		snprintf(err, errlen, "message file has no envelope");
		goto out;
	}
	trailer[SPOOL_TRAILER_LEN] = '\0';
	elen = strtoull(trailer + taglen, &end, 16);
	if (memcmp(trailer, SPOOL_TRAILER_TAG, taglen) != 0 ||
	    end != trailer + SPOOL_TRAILER_LEN - 1 || *end != '\n' ||
	    elen > LIMIT_ENVELOPE_FILE ||
	    elen > (uintmax_t)st.st_size - SPOOL_TRAILER_LEN) {
		snprintf(err, errlen, "message file has no valid envelope "
		    "trailer");
		goto out;
	}
	off_t start = st.st_size - (off_t)SPOOL_TRAILER_LEN - (off_t)elen;
	text = xmalloc(elen + 1);
	if (spool_pread_full(fd, (uint64_t)st.st_size, text, elen,
	    (uint64_t)start) != (ssize_t)elen) {
		snprintf(err, errlen, "message file: %s", strerror(errno));
		goto out;
	}
	text[elen] = '\0';
	if (envelope_from_text(text, elen, env, err, errlen) == -1)
		goto out;
	if ((uintmax_t)env->size != (uintmax_t)start) {
		snprintf(err, errlen, "envelope size does not match the "
		    "message file");
		goto out;
	}
	r = 0;
out:
	e = errno;
	free(text);
	if (r == -1)
		errno = e == 0 || e == ENOENT ? EINVAL : e;
	return r;
}

/* The runner's saved state queue/ID.env into env: 0, 1 if there is none,
 * -1 with err and errno. */
static int
spool_env_read_saved(const char *data_dir, const char *qid,
    struct envelope *env, char *err, size_t errlen)
{
	char path[PATH_MAX], *text;
	size_t len;
	int r;

	if (spool_path(path, sizeof(path), data_dir, "queue", qid,
	    ".env") == -1) {
		snprintf(err, errlen, "%s: %s", qid, strerror(errno));
		return -1;
	}
	if (spool_read_file(path, LIMIT_ENVELOPE_FILE, &text, &len) == -1) {
		int e = errno;
		if (e == ENOENT)
			return 1;
		snprintf(err, errlen, "%s.env: %s", qid, strerror(e));
		errno = e;
		return -1;
	}
	r = envelope_from_text(text, len, env, err, errlen);
	free(text);
	if (r == -1)
		errno = EINVAL;
	return r;
}

/* Whether fd is still the file queue/ID.msg names: a message delivered or
 * deleted while it was read is gone, not broken. */
static bool
spool_fd_current(const char *data_dir, const char *qid, int fd)
{
	char path[PATH_MAX];
	struct stat a, b;

	if (spool_path(path, sizeof(path), data_dir, "queue", qid,
	    ".msg") == -1 || fstat(fd, &a) == -1)
		return true;	/* cannot tell: report the error as it is */
	if (stat(path, &b) == -1)
		return errno != ENOENT;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
spool_env_open(const char *data_dir, const char *qid, struct envelope *env,
    int *fdp, char *err, size_t errlen)
{
	int fd, r, e;

	*fdp = -1;
	if (!ids_qid_valid(qid)) {
		snprintf(err, errlen, "invalid queue id");
		errno = EINVAL;
		return -1;
	}
	if ((fd = spool_msg_open(data_dir, qid)) == -1) {
		e = errno;
		snprintf(err, errlen, "%s.msg: %s", qid, strerror(e));
		errno = e;
		return -1;
	}
	/* The runner's saved state first, else the committed envelope. */
	r = spool_env_read_saved(data_dir, qid, env, err, errlen);
	if (r == 0)
		env->state_saved = true;
	else if (r == 1)
		r = spool_env_read_embedded(fd, env, err, errlen);
	if (r == 0 && strcmp(env->id, qid) != 0) {
		snprintf(err, errlen, "envelope id does not match file name");
		errno = EINVAL;
		r = -1;
	}
	if (r == -1) {
		e = errno;
		if (!spool_fd_current(data_dir, qid, fd)) {
			snprintf(err, errlen, "%s.msg: removed while read", qid);
			e = ENOENT;
		}
		close(fd);
		errno = e;
		return -1;
	}
	*fdp = fd;
	return 0;
}

int
spool_env_load(const char *data_dir, const char *qid, struct envelope *env,
    char *err, size_t errlen)
{
	int fd;

	if (spool_env_open(data_dir, qid, env, &fd, err, errlen) == -1)
		return -1;
	close(fd);
	return 0;
}

int
spool_env_save(const char *data_dir, struct envelope *env)
{
	char tmp[PATH_MAX], path[PATH_MAX], msg[PATH_MAX], dir[PATH_MAX];
	struct stat st;

	if (!ids_qid_valid(env->id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(tmp, sizeof(tmp), data_dir, "queue", env->id,
	    ".env.tmp") == -1 ||
	    spool_path(path, sizeof(path), data_dir, "queue", env->id,
	    ".env") == -1 ||
	    spool_path(msg, sizeof(msg), data_dir, "queue", env->id,
	    ".msg") == -1 ||
	    spool_dir_path(dir, sizeof(dir), data_dir, "spool/queue") == -1)
		return -1;
	/* A message deleted meanwhile (sealmail queue delete) must not come
	 * back as an envelope without its message file. */
	if (stat(msg, &st) == -1)
		return -1;
	if (spool_env_write(tmp, env) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	env->state_saved = true;
	return fsdir_sync(dir);
}

int
spool_msg_open(const char *data_dir, const char *qid)
{
	char path[PATH_MAX];

	if (!ids_qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof(path), data_dir, "queue", qid,
	    ".msg") == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

ssize_t
spool_pread_full(int fd, uint64_t size, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = spool_msg_pread(fd, size, (char *)buf + got,
		    n - got, off + got);

		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

bool
spool_msg_exists(const char *data_dir, const char *qid)
{
	char path[PATH_MAX];
	struct stat st;

	if (!ids_qid_valid(qid) || spool_path(path, sizeof(path), data_dir,
	    "queue", qid, ".msg") == -1)
		return false;
	return stat(path, &st) == 0 || errno != ENOENT;
}

int
spool_queue_dir(const char *data_dir, char *out, size_t outlen)
{
	return spool_dir_path(out, outlen, data_dir, "spool/queue");
}

bool
spool_committed_name(const char *name, char *qid)
{
	return spool_name_match(name, ".msg", qid);
}

ssize_t
spool_msg_pread(int fd, uint64_t size, void *buf, size_t n, uint64_t off)
{
	if (off >= size)
		return 0;
	if (n > size - off)
		n = (size_t)(size - off);
	for (;;) {
		ssize_t r = pread(fd, buf, n, (off_t)off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0) {		/* the file is shorter than size */
			errno = EIO;
			return -1;
		}
		return r;
	}
}

void
spool_remove_state(const char *data_dir, const char *qid)
{
	static const char *const state[] = { ".env", ".env.tmp" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++)
		if (spool_path(path, sizeof(path), data_dir, "queue", qid,
		    state[i]) == 0)
			unlink(path);
}

int
spool_remove(const char *data_dir, const char *qid)
{
	char path[PATH_MAX];

	if (!ids_qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	/* The message file is the commit marker: it goes first. */
	if (spool_path(path, sizeof(path), data_dir, "queue", qid,
	    ".msg") == -1 || unlink(path) == -1)
		return -1;
	spool_remove_state(data_dir, qid);
	/* No directory fsync: a removal lost in a crash brings the message
	 * back and it is tried again (at-least-once), nothing is lost. */
	return 0;
}

int
spool_recycle(const char *data_dir, const struct envelope *env)
{
	char path[PATH_MAX], claim[PATH_MAX], free_path[PATH_MAX];
	const char *qid = env->id;

	if (!ids_qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof(path), data_dir, "queue", qid,
	    ".msg") == -1 ||
	    spool_path(claim, sizeof(claim), data_dir, "free", qid,
	    SPOOL_CLAIM_EXT) == -1 ||
	    spool_path(free_path, sizeof(free_path), data_dir, "free", qid,
	    "") == -1)
		return -1;
	/*
	 * Out of queue/ (the un-commit) under a name no other process takes,
	 * emptied there, and only then handed to free/, after which this
	 * process never names the file again. Emptying it under its free/
	 * name raced with the workers: truncate(2) resolves the path first
	 * and truncates later, so a worker could take the file, commit a new
	 * message into it and acknowledge it in between, and the truncation
	 * then emptied that message (issue 10, item 0).
	 */
	if (rename(path, claim) == -1)
		return -1;
	if (truncate(claim, 0) == -1 || rename(claim, free_path) == -1)
		unlink(claim);
	/* Most messages never had state: skip two unlinks bound to fail. A
	 * stale ID.env.tmp (a crash while saving) is reaped by spool_list. */
	if (env->state_saved)
		spool_remove_state(data_dir, qid);
	return 0;
}

/* If name is "QID" + ext exactly, copy the id into qid and return true. */
static bool
spool_name_match(const char *name, const char *ext, char *qid)
{
	size_t n = strlen(name), elen = strlen(ext);

	if (n != IDS_QID_LEN + elen || strcmp(name + IDS_QID_LEN, ext) != 0)
		return false;
	memcpy(qid, name, IDS_QID_LEN);
	qid[IDS_QID_LEN] = '\0';
	return ids_qid_valid(qid);
}

/* True if dirfd/name is a regular file last modified before cutoff. */
static bool
spool_is_older(int dfd, const char *name, time_t cutoff)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_mtime < cutoff;
}

/* Remove crash leftovers in tmp/ older than a day. */
static void
spool_clean_tmp(const char *data_dir, time_t now)
{
	char path[PATH_MAX], qid[IDS_QID_LEN + 1];
	struct dirent *de;
	DIR *d;

	if (spool_dir_path(path, sizeof(path), data_dir, "spool/tmp") == -1 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if ((spool_name_match(de->d_name, ".msg", qid) ||
		    spool_name_match(de->d_name, ".env", qid)) &&
		    spool_is_older(dirfd(d), de->d_name, now - SPOOL_TMP_AGE)) {
			log_info("qid=%s spool removed stale tmp file %s", qid,
			    de->d_name);
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

/* Committed ids found in queue/ (.msg), plus the .env names seen. */
struct spool_scan {
	char	(*ids)[IDS_QID_LEN + 1];
	size_t	  nids, capids;
	char	(*envs)[IDS_QID_LEN + 1];
	size_t	  nenvs, capenvs;
};

static void
spool_scan_add(char (**v)[IDS_QID_LEN + 1], size_t *n, size_t *cap,
    const char *qid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	memcpy((*v)[(*n)++], qid, IDS_QID_LEN + 1);
}

static int
spool_qid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Reap queue/ID.env without ID.msg (a removal interrupted by a crash, or
 * a save racing `queue delete`) and stale ID.env.tmp, both older than an
 * hour: far longer than any envelope save takes, so a file that old is a
 * leftover, not work in progress.
 */
static void
spool_reap_orphans(DIR *d, struct spool_scan *sc, time_t now)
{
	int dfd = dirfd(d);
	char name[IDS_QID_LEN + 16];

	for (size_t i = 0; i < sc->nenvs; i++) {
		if (bsearch(sc->envs[i], sc->ids, sc->nids, sizeof(sc->ids[0]),
		    spool_qid_cmp) != NULL)
			continue;
		snprintf(name, sizeof(name), "%s.env", sc->envs[i]);
		if (!spool_is_older(dfd, name, now - SPOOL_ORPHAN_AGE))
			continue;
		log_warn("qid=%s spool removed orphan envelope file (no "
		    "message)", sc->envs[i]);
		unlinkat(dfd, name, 0);
	}
}

/* Keep at most SPOOL_FREE_MAX files in free/ (more accumulate after a
 * large queue drained), and remove claims a crash left behind. */
static void
spool_trim_free(const char *data_dir, time_t now)
{
	char path[PATH_MAX], qid[IDS_QID_LEN + 1];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (spool_dir_path(path, sizeof(path), data_dir, "spool/free") == -1 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (spool_name_match(de->d_name, "", qid)) {
			if (++n > SPOOL_FREE_MAX)
				unlinkat(dirfd(d), de->d_name, 0);
		} else if (spool_name_match(de->d_name, SPOOL_CLAIM_EXT, qid) &&
		    spool_is_older(dirfd(d), de->d_name,
		    now - SPOOL_CLAIM_AGE))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int
spool_list(const char *data_dir, spool_list_cb *cb, void *arg)
{
	struct spool_scan sc = { 0 };
	char path[PATH_MAX], qid[IDS_QID_LEN + 1];
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;

	if (spool_dir_path(path, sizeof(path), data_dir, "spool/queue") == -1 ||
	    (d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (spool_name_match(de->d_name, ".msg", qid))
			spool_scan_add(&sc.ids, &sc.nids, &sc.capids, qid);
		else if (spool_name_match(de->d_name, ".env", qid))
			spool_scan_add(&sc.envs, &sc.nenvs, &sc.capenvs, qid);
		else if (spool_name_match(de->d_name, ".env.tmp", qid) &&
		    spool_is_older(dirfd(d), de->d_name,
		    now - SPOOL_ORPHAN_AGE))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	/* Queue ids start with the arrival time in hex: sorting the text
	 * sorts by age, oldest first. */
	if (sc.nids > 0)
		qsort(sc.ids, sc.nids, sizeof(sc.ids[0]), spool_qid_cmp);
	spool_reap_orphans(d, &sc, now);
	closedir(d);
	spool_clean_tmp(data_dir, now);
	spool_trim_free(data_dir, now);
	/* Callbacks run after the directory is closed so they may remove. */
	for (size_t i = 0; i < sc.nids; i++)
		cb(sc.ids[i], arg);
	free(sc.envs);
	free(sc.ids);
	return sc.nids > INT_MAX ? INT_MAX : (int)sc.nids;
}

int
spool_count(const char *data_dir, size_t *n, long long *oldest)
{
	char path[PATH_MAX], qid[IDS_QID_LEN + 1], first[IDS_QID_LEN + 1] = "";
	struct dirent *de;
	DIR *d;

	*n = 0;
	*oldest = 0;
	if (spool_dir_path(path, sizeof(path), data_dir, "spool/queue") == -1 ||
	    (d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!spool_name_match(de->d_name, ".msg", qid))
			continue;
		(*n)++;
		if (first[0] == '\0' || strcmp(qid, first) < 0)
			memcpy(first, qid, sizeof(first));
	}
	closedir(d);
	/* The id starts with 13 hex digits of microseconds (core/ids.h). */
	if (first[0] != '\0') {
		first[13] = '\0';
		*oldest = (long long)(strtoull(first, NULL, 16) / 1000000);
	}
	return 0;
}

int
spool_sock_addr(const char *data_dir, struct sockaddr_un *sun)
{
	char path[PATH_MAX];

	if (spool_dir_path(path, sizeof(path), data_dir,
	    "run/queue.sock") == -1)
		return -1;
	return unixaddr_set(sun, path);
}

int
spool_nudge(const char *data_dir, const char *msg)
{
	struct sockaddr_un sun;
	int fd, e;

	if (spool_sock_addr(data_dir, &sun) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/*
	 * Best effort: ENOENT/ECONNREFUSED mean no runner is listening and
	 * EAGAIN a runner too busy to read; it scans the queue anyway. The
	 * caller gets -1 and errno to tell the user, nothing is logged.
	 */
	if (sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}
