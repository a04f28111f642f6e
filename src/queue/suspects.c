/* SPDX-License-Identifier: ISC */
/* The queue runner's suspects file (see suspects.h). */
#include "queue/suspects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/limits.h"
#include "core/xmalloc.h"

static int
suspects_paths(const char *data_dir, char dir[PATH_MAX],
    char path[PATH_MAX])
{
	if ((size_t)snprintf(dir, PATH_MAX, "%s/run", data_dir) >= PATH_MAX ||
	    (size_t)snprintf(path, PATH_MAX, "%s/runner.suspects", dir) >=
	    PATH_MAX)
		return -1;
	return 0;
}

static int
suspects_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
suspects_parse(const char *buf, size_t len, struct qidset *out)
{
	const size_t magic = sizeof(SUSPECTS_MAGIC) - 1;
	char (*ids)[IDS_QID_LEN + 1];
	size_t n = 0, pos;

	qidset_clear(out);
	if (len < magic + 1 || memcmp(buf, SUSPECTS_MAGIC, magic) != 0 ||
	    buf[magic] != '\n' || (len - magic - 1) % (IDS_QID_LEN + 1) != 0)
		return -1;
	ids = xcalloc((len - magic - 1) / (IDS_QID_LEN + 1) + 1,
	    sizeof(*ids));
	for (pos = magic + 1; pos < len; pos += IDS_QID_LEN + 1) {
		if (buf[pos + IDS_QID_LEN] != '\n')
			break;
		memcpy(ids[n], buf + pos, IDS_QID_LEN);
		ids[n][IDS_QID_LEN] = '\0';
		if (!ids_qid_valid(ids[n]))
			break;
		n++;
	}
	if (pos < len) {
		free(ids);
		return -1;
	}
	qidset_fill(out, (const char (*)[IDS_QID_LEN + 1])ids, n);
	free(ids);
	return 0;
}

int
suspects_save(const char *data_dir, const struct qidset *s, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *fp;
	int fd, ok;

	if (suspects_paths(data_dir, dir, path) == -1) {
		snprintf(err, errlen, "%s: path too long", data_dir);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	ok = fprintf(fp, "%s\n", SUSPECTS_MAGIC) > 0;
	for (size_t i = 0; ok && i < s->n; i++)
		if (!s->v[i].gone)
			ok = fprintf(fp, "%s\n", s->v[i].id) > 0;
	ok = ok && fflush(fp) == 0 && fsync(fd) == 0;
	ok = fclose(fp) == 0 && ok;
	if (!ok || rename(tmp, path) == -1 || suspects_sync_dir(dir) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
suspects_take(const char *data_dir, struct qidset *out)
{
	char dir[PATH_MAX], path[PATH_MAX], *buf;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, r;

	qidset_clear(out);
	if (suspects_paths(data_dir, dir, path) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)LIMIT_SUSPECTS_FILE) {
		close(fd);
		r = -1;
		goto remove;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	r = got == (size_t)st.st_size && suspects_parse(buf, got, out) == 0 ?
	    1 : -1;
	free(buf);
remove:
	/* Gone before the first delivery: a runner that crashes from here
	 * on must leave no list behind, or the next would trust it. */
	if (unlink(path) == -1 || suspects_sync_dir(dir) == -1)
		r = -1;
	if (r != 1)
		qidset_clear(out);
	return r;
}
