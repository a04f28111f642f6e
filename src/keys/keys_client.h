/* SPDX-License-Identifier: ISC */
/*
 * A worker's or the runner's end of its connection to the keys process
 * (daemon/keys.h): the keyop backend of the process (keyop.h), and
 * password checks. Two sockets, both handed down by the master at the
 * fork: one driven by the process's event loop (keyop start, passwords),
 * one for blocking calls (keyop sync) from callers without the loop at
 * hand (threads, the HTTPS listeners' handshakes), serialised by a mutex.
 * If the keys process goes away, every pending request fails (signature
 * NULL, password KEYS_PASSWD_TEMP) and later ones fail at once: the
 * master restarts the keys process together with this process's
 * generation.
 */
#ifndef SEALMAIL_KEYS_KEYS_CLIENT_H
#define SEALMAIL_KEYS_KEYS_CLIENT_H

#include <stdint.h>

#include "keys/keyop.h"
#include "keys/keys_proto.h"

struct event_base;
struct keys_client;

/* In the child, right after the fork: the two sockets (async, sync) the
 * master made for it; keys_client_open() takes them over. */
void keys_client_inherit(int async_fd, int sync_fd);

/*
 * Connect the inherited sockets to base's loop and make this the
 * process's keyop backend (keyop_set_backend). NULL (and no backend)
 * when nothing was inherited. One per process.
 */
struct keys_client *keys_client_open(struct event_base *base);
/* Fail what is pending (callbacks run), close, unset the backend. NULL:
 * no-op. */
void keys_client_free(struct keys_client *kc);

/* The backend keys_client_open() registered (for tests and callers that
 * hold kc). */
const struct keyop_backend *keys_client_backend(struct keys_client *kc);

/* Called once per keys_client_passwd on the loop, never from inside it. */
typedef void keys_client_passwd_cb(void *arg, enum keys_passwd_res r);

/*
 * Ask whether pass is user's password in realm (KEYS_REALM_STORE: the
 * account's hash in passwd.db; KEYS_REALM_ADMIN(i): admin listener i's password_file;
 * yescrypt or the file's scheme in the keys process). Returns the request's id (never 0), or 0 when it cannot
 * be sent (too many pending, the keys process gone, a field too long);
 * then no callback. The password is wiped from our buffers once sent.
 */
uint32_t keys_client_passwd(struct keys_client *kc, uint16_t realm,
    const char *user, const char *pass, keys_client_passwd_cb *cb,
    void *arg);
/* The caller no longer wants id's answer: its callback will not run. */
void keys_client_cancel(struct keys_client *kc, uint32_t id);

#endif
