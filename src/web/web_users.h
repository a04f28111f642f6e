/* SPDX-License-Identifier: ISC */
/*
 * The users of an admin listener's password_file: "user:crypt-hash"
 * lines (htpasswd style; any crypt(5) scheme account/passwd.c verifies),
 * blank lines and "#" comments ignored. The file is the administrator's
 * but parsed with bounds all the same (size, line, user and hash length,
 * user count). web_users_parse is pure; web_users_load reads the file.
 */
#ifndef SEALMAIL_WEB_WEB_USERS_H
#define SEALMAIL_WEB_WEB_USERS_H

#include <stddef.h>

/* The whole file, lines, names and hashes, and users at most. */
#define WEB_USERS_FILE_MAX	(64 * 1024)
#define WEB_USERS_NAME_MAX	64
#define WEB_USERS_HASH_MAX	256
#define WEB_USERS_MAX		256

struct web_users;

/*
 * Parse len bytes of password file text. NULL with a one-line err
 * ("line N: ...") on the first bad line: a user name that is empty, too
 * long or holds a control character, space or ':'; a hash that is empty,
 * too long or holds a control character or space; a line without ':';
 * a user listed twice; too many users. The caller frees the result.
 */
struct web_users *web_users_parse(const char *text, size_t len, char *err,
    size_t errlen);
/* Read and parse the file at path (at most WEB_USERS_FILE_MAX bytes);
 * err names the file. */
struct web_users *web_users_load(const char *path, char *err, size_t errlen);
void web_users_free(struct web_users *u);

/* The stored hash of user (len bytes), or NULL. Borrowed from u. */
const char *web_users_hash(const struct web_users *u, const char *user,
    size_t len);
size_t web_users_count(const struct web_users *u);
/* The hash of the i-th user (i < web_users_count). Borrowed from u. */
const char *web_users_hash_at(const struct web_users *u, size_t i);

#endif
