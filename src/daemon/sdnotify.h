/* SPDX-License-Identifier: ISC */
/*
 * Readiness and status for systemd (Type=notify): the sd_notify(3)
 * protocol spoken directly, one datagram to $NOTIFY_SOCKET, instead of
 * linking libsystemd (which would add to every process's idle memory).
 */
#ifndef SEALMAIL_DAEMON_SDNOTIFY_H
#define SEALMAIL_DAEMON_SDNOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

/*
 * The address $NOTIFY_SOCKET names: an absolute path, or "@name" for
 * Linux's abstract namespace (the '@' becomes a NUL byte, and the length
 * counts the name exactly). Returns -1 for anything else (empty, relative,
 * too long for sun_path), so a bad value is never sent to.
 */
int sdnotify_addr(const char *value, struct sockaddr_un *sun,
    socklen_t *len);

/*
 * Take $NOTIFY_SOCKET from the environment and remove it there, so the
 * children we fork (which systemd would not listen to) never send. Call
 * once in the process that reports, before it forks. Returns whether
 * there is anyone to report to.
 */
bool sdnotify_init(void);

/*
 * Send one notification: newline-separated VAR=VALUE lines
 * ("READY=1\nSTATUS=..."). Nothing when not started by systemd. 0 when
 * sent or not needed, -1 when sending failed (the caller may log it: the
 * service manager would then time the start out).
 */
int sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "RELOADING=1" with the MONOTONIC_USEC that systemd >= 253 wants with it
 * (older versions ignore the extra line). */
int sdnotify_reloading(void);

#endif
