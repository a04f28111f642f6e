/* SPDX-License-Identifier: ISC */
/*
 * Recipient expansions remembered between RCPT commands for as long as the
 * store file is unchanged. Every RCPT would otherwise cost a read
 * transaction: about nine system calls of locking and journal checks.
 *
 * "Unchanged" is SQLite's file change counter (file format §1.3.4, offset
 * 24), which a commit in rollback-journal mode always increments. It is
 * read without a lock: a read that races a commit sees either the old value
 * (the answer is the one from just before that commit, as if the lookup had
 * come first) or the new one (the cache is dropped). A hot journal rolled
 * back after a crash restores the counter along with the pages.
 *
 * SQLite only: the counter is in the file. A PostgreSQL handle has no
 * descriptor (vfd -1) and caches nothing itself; the SMTP worker keeps a
 * cache of its own on its loop (db_rcache.h, the same entries) and drops
 * it when the store's sealmail_changes counter moves (smtpd_store.c).
 */
#include "store/db.h"
#include "store/db_rcache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "store/db_internal.h"

/* Past this many addresses the cache starts over. */
#define DB_RCACHE_MAX	256

struct db_rcache_entry {
	char		*address;	/* normalized */
	enum db_result	 r;		/* DB_OK or DB_NOTFOUND */
	char		**v;		/* the expansion (DB_OK) */
	size_t		 n;
};

struct db_rcache {
	uint32_t		 version;
	db_is_local_cb		*is_local;	/* what the entries assumed */
	void			*arg;
	struct db_rcache_entry	 e[DB_RCACHE_MAX];
	size_t			 n;
};

static void
db_rcache_empty(struct db_rcache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].address);
		db_strv_free(c->e[i].v, c->e[i].n);
	}
	c->n = 0;
}

struct db_rcache *
db_rcache_new(void)
{
	return xcalloc(1, sizeof(struct db_rcache));
}

void
db_rcache_delete(struct db_rcache *c)
{
	if (c != NULL) {
		db_rcache_empty(c);
		free(c);
	}
}

void
db_rcache_clear(struct db_rcache *c)
{
	db_rcache_empty(c);
}

void
db_rcache_drop(struct db *db)
{
	if (db->rcache != NULL) {
		db_rcache_empty(db->rcache);
		free(db->rcache);
		db->rcache = NULL;
	}
}

void
db_rcache_free(struct db *db)
{
	db_rcache_drop(db);
	if (db->vfd != -1)
		close(db->vfd);
	db->vfd = -1;
}

void
db_rcache_init(struct db *db, const char *path)
{
	/* Its own descriptor: SQLite's is not ours to read. Without it
	 * (an in-memory store) nothing is cached. */
	db->vfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* The change counter now; false if it cannot be read. */
static bool
db_rcache_version(struct db *db, uint32_t *v)
{
	unsigned char b[4];

	if (db->vfd == -1 || pread(db->vfd, b, sizeof(b), 24) != sizeof(b))
		return false;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	return true;
}

bool
db_rcache_begin(struct db *db, db_is_local_cb *is_local, void *arg,
    uint32_t *version)
{
	struct db_rcache *c;

	if (!db_rcache_version(db, version))
		return false;
	if (db->rcache == NULL)
		db->rcache = xcalloc(1, sizeof(*db->rcache));
	c = db->rcache;
	if (c->version != *version || c->is_local != is_local ||
	    c->arg != arg) {
		db_rcache_empty(c);
		c->version = *version;
		c->is_local = is_local;
		c->arg = arg;
	}
	return true;
}

/* A copy of v[0..n) the caller owns (NULL when n is 0). */
static char **
db_rcache_copy(char *const *v, size_t n)
{
	char **out;

	if (n == 0)
		return NULL;
	out = xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

bool
db_rcache_find(const struct db_rcache *c, const char *address,
    enum db_result *r, char ***out, size_t *n)
{
	for (size_t i = 0; c != NULL && i < c->n; i++) {
		if (strcmp(c->e[i].address, address) != 0)
			continue;
		*r = c->e[i].r;
		*out = db_rcache_copy(c->e[i].v, c->e[i].n);
		*n = c->e[i].n;
		return true;
	}
	return false;
}

bool
db_rcache_get(struct db *db, const char *address, enum db_result *r,
    char ***out, size_t *n)
{
	return db_rcache_find(db->rcache, address, r, out, n);
}

void
db_rcache_add(struct db_rcache *c, const char *address, enum db_result r,
    char *const *v, size_t n)
{
	struct db_rcache_entry *e;

	if (r != DB_OK && r != DB_NOTFOUND)
		return;
	if (c->n == DB_RCACHE_MAX)
		db_rcache_empty(c);
	e = &c->e[c->n++];
	e->address = xstrdup(address);
	e->r = r;
	e->v = db_rcache_copy(v, n);
	e->n = n;
}

void
db_rcache_put(struct db *db, uint32_t version, const char *address,
    enum db_result r, char *const *v, size_t n)
{
	struct db_rcache *c = db->rcache;

	/* A commit during the lookup: its answer may be newer than version. */
	if (c != NULL && c->version == version)
		db_rcache_add(c, address, r, v, n);
}
