/* SPDX-License-Identifier: ISC */
/*
 * Who may see an admin listener's pages: clients from loopback or
 * trusted_networks, and others with HTTP basic credentials (RFC 7617)
 * of a password_file user. The hash is checked on the worker's password
 * pool, never on the loop; a failure is answered 401 after the delay SMTP
 * AUTH failures get (doubling per recent failure from the address, shared
 * by all workers through net/connlimit), so guessing costs the same on
 * both doors.
 */
#ifndef SEALMAIL_WEB_WEB_ACCESS_H
#define SEALMAIL_WEB_WEB_ACCESS_H

#include <stdbool.h>
#include <sys/socket.h>

struct conf;
struct connlimit;
struct evhttp_request;
struct web_access;
struct web_env;
struct keys_client;

/* The check for admin listener conf->listeners[listener] named name
 * (borrowed). Its password_file (if any) is the keys process's, which
 * checks passwords for us (keys, borrowed; NULL: nobody gets in but
 * loopback and trusted_networks). env is borrowed and is what
 * web_admin_serve gets. */
struct web_access *web_access_new(const char *name, size_t listener,
    bool has_users, struct keys_client *keys, struct connlimit *limits,
    const struct web_env *env);
/* Forget the checks in progress (their requests are left to evhttp,
 * which frees them with their connections) and free. NULL: no-op. */
void web_access_free(struct web_access *a);

/* True for loopback (127/8, ::1, ::ffff:127/104) and trusted_networks. */
bool web_access_is_trusted(const struct conf *conf, const struct sockaddr *sa);

/* Let req from peer (sid for logs) through to web_admin_serve, now or
 * after a password check, or answer 401. may_trust false: peer's address
 * lends no trust (a proxy's own connection), a password is needed. */
void web_access_serve(struct web_access *a, struct evhttp_request *req,
    const struct sockaddr *peer, bool may_trust, const char *sid);

#endif
