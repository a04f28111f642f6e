/* SPDX-License-Identifier: ISC */
/*
 * The keys process, `sealmail-keys` (one per configuration generation):
 * holds the private keys the master hands it (TLS and DKIM, as PEM bytes
 * over the control socket) and the read access to password hashes, and
 * answers its peers (each SMTP worker and the queue runner, one socket
 * each, passed by the master with SCM_RIGHTS): sign this digest with key
 * N, verify this password. Protocol: keys/keys_proto.h.
 */
#ifndef SEALMAIL_DAEMON_KEYS_H
#define SEALMAIL_DAEMON_KEYS_H

#include "conf/conf.h"

/* The keys process's body, after the fork (privileges already dropped).
 * ctl: its end of the master's SOCK_SEQPACKET control socket. Runs until
 * the master closes ctl (reload: a newer generation took over) or sends
 * SIGTERM, then until its last peer has gone. Returns the exit code. */
int keys_main(const struct conf *conf, int ctl);

#endif
