/* SPDX-License-Identifier: ISC */
/*
 * The keys process's service (daemon/keys.c is its entry, daemon/keys.h
 * says what the process does): the key table the master loads over the
 * control socket, and its peers' requests (signatures, password checks)
 * answered on two pools of threads, one loop for all.
 */
#ifndef SEALMAIL_KEYS_KEYS_SERVE_H
#define SEALMAIL_KEYS_KEYS_SERVE_H

struct conf;
struct event_base;
struct keys;

/* What the process reads before its sandbox: the admin listeners'
 * password files, the password file, a dummy hash for unknown users. conf
 * is borrowed for the service's life; ctl, the master's control socket,
 * is owned. The loop exits once the master closes ctl (or after
 * keys_service_stop) and the last peer has gone. */
struct keys *keys_service_new(struct event_base *base,
    const struct conf *conf, int ctl);

/* After the sandbox: the pools' threads, and ctl is read from now on. */
void keys_service_start(struct keys *k);

/* SIGTERM: the loop exits once the last peer has gone. */
void keys_service_stop(struct keys *k);

/* Answers what is queued on the pools, drops the peers, frees k. */
void keys_service_free(struct keys *k);

#endif
