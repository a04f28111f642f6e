/* SPDX-License-Identifier: ISC */
/* An admin listener's password_file (see web_users.h). */
#include "web/web_users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"

struct web_user {
	char	*name;
	char	*hash;
};

struct web_users {
	struct web_user	*v;
	size_t		 n;
};

/* No control characters, no space, nor DEL: a name or hash with them is
 * a mistake (a stray CR from an editor, say) better reported than kept. */
static bool
web_users_token_ok(const char *p, size_t len, bool colon_ok)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c == 0x7f || (!colon_ok && c == ':'))
			return false;
	}
	return true;
}

/* Check and add one line (without its LF); 0, or -1 with err. */
static int
web_users_line(struct web_users *u, const char *p, size_t len,
    char *err, size_t errlen)
{
	const char *colon = memchr(p, ':', len);
	size_t ulen, hlen;

	if (colon == NULL) {
		snprintf(err, errlen, "no ':' between user and hash");
		return -1;
	}
	ulen = (size_t)(colon - p);
	hlen = len - ulen - 1;
	if (ulen == 0 || ulen > WEB_USERS_NAME_MAX ||
	    !web_users_token_ok(p, ulen, false)) {
		snprintf(err, errlen, "bad user name (1 to %d printable "
		    "characters, no space or ':')", WEB_USERS_NAME_MAX);
		return -1;
	}
	if (hlen == 0 || hlen > WEB_USERS_HASH_MAX ||
	    !web_users_token_ok(colon + 1, hlen, true)) {
		snprintf(err, errlen, "bad hash (1 to %d printable characters, "
		    "no space)", WEB_USERS_HASH_MAX);
		return -1;
	}
	if (web_users_hash(u, p, ulen) != NULL) {
		snprintf(err, errlen, "user listed twice");
		return -1;
	}
	if (u->n == WEB_USERS_MAX) {
		snprintf(err, errlen, "more than %d users", WEB_USERS_MAX);
		return -1;
	}
	u->v = xreallocarray(u->v, u->n + 1, sizeof(*u->v));
	u->v[u->n].name = xstrndup(p, ulen);
	u->v[u->n].hash = xstrndup(colon + 1, hlen);
	u->n++;
	return 0;
}

struct web_users *
web_users_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct web_users *u = xcalloc(1, sizeof(*u));
	char why[160];
	unsigned line = 0;

	if (len > WEB_USERS_FILE_MAX) {
		snprintf(err, errlen, "larger than %d bytes",
		    WEB_USERS_FILE_MAX);
		web_users_free(u);
		return NULL;
	}
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t l = nl ? (size_t)(nl - text) : len;
		const char *p = text;

		line++;
		text += l + (nl != NULL);
		len -= l + (nl != NULL);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0 || p[0] == '#')
			continue;
		if (web_users_line(u, p, l, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "line %u: %s", line, why);
			web_users_free(u);
			return NULL;
		}
	}
	return u;
}

struct web_users *
web_users_load(const char *path, char *err, size_t errlen)
{
	char *text = xmalloc(WEB_USERS_FILE_MAX + 1), why[256];
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct web_users *u = NULL;

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(text);
		return NULL;
	}
	/* One byte more than allowed, so an oversized file is seen as such. */
	while (len <= WEB_USERS_FILE_MAX &&
	    (r = read(fd, text + len, WEB_USERS_FILE_MAX + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)r;
	}
	if ((u = web_users_parse(text, len, why, sizeof(why))) == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
out:
	close(fd);
	free(text);
	return u;
}

void
web_users_free(struct web_users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].name);
		explicit_bzero(u->v[i].hash, strlen(u->v[i].hash));
		free(u->v[i].hash);
	}
	free(u->v);
	free(u);
}

const char *
web_users_hash(const struct web_users *u, const char *user, size_t len)
{
	for (size_t i = 0; i < u->n; i++)
		if (strlen(u->v[i].name) == len &&
		    memcmp(u->v[i].name, user, len) == 0)
			return u->v[i].hash;
	return NULL;
}

size_t
web_users_count(const struct web_users *u)
{
	return u->n;
}

const char *
web_users_hash_at(const struct web_users *u, size_t i)
{
	return u->v[i].hash;
}
