/* SPDX-License-Identifier: ISC */
/*
 * The local submission socket ([server] submit_socket): a unix stream
 * socket that every local user may connect to, so that `sealmail sendmail`
 * works for cron jobs and web applications the way Postfix's postdrop
 * does, without a setgid helper. The master binds it (as root, before the
 * privilege drop) and the SMTP workers serve it; the only identity the
 * daemon believes is the kernel's (SO_PEERCRED), never the client's word.
 */
#ifndef SEALMAIL_NET_LOCALSOCK_H
#define SEALMAIL_NET_LOCALSOCK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Bind and listen on path (mode 0666, non-blocking, close-on-exec). The
 * parent folder is created (0755) when missing; it must not be writable
 * by group or others, since whoever may write it could put their own
 * socket in our place and read other users' mail. A socket file left by a
 * daemon that is gone is replaced; one that still answers is not (another
 * instance owns it). The fd, or -1 with a one-line err.
 */
int localsock_bind(const char *path, char *err, size_t errlen);

/* Remove path if it is a socket nobody answers on any more (our own, once
 * closed at exit); another instance's live socket is left alone. */
void localsock_unlink_stale(const char *path);

/* The uid of the process at the other end of connected socket fd, from
 * the kernel (SO_PEERCRED). 0 or -1. */
int localsock_peer_uid(int fd, uid_t *uid);

#endif
