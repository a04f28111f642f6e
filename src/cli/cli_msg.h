/* SPDX-License-Identifier: ISC */
/* Message input and JSON output helpers shared by the offline tools. */
#ifndef SEALMAIL_CLI_CLI_MSG_H
#define SEALMAIL_CLI_CLI_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Read the message at path ("-": stdin), at most max bytes, into out
 * (initialised here; the caller buf_clear()s it) with every bare LF made
 * CRLF. -1 after a one-line error on stderr. */
int cli_read_message(const char *path, size_t max, struct buf *out);
/* The same for a message already in memory, p[0..len): -1 (silently)
 * when len is over max. */
int cli_msg_from_bytes(const void *p, size_t len, size_t max,
    struct buf *out);

/* Length of the header section of msg (CRLF form, as cli_read_message
 * gives it): up to and including the CRLF of its last field, without the
 * empty line; the body starts at the returned length + 2 when that is at
 * most msg->len. */
size_t cli_msg_header_len(const struct buf *msg);

/* Length (2..4) of the valid UTF-8 sequence at s (NUL-terminated) and its
 * code point in *cp, or 0. */
size_t cli_utf8(const unsigned char *s, uint32_t *cp);

/* Print untrusted s (NUL-terminated) for a terminal: printable ASCII and
 * UTF-8 as they are, but C1 controls, bidirectional overrides and
 * anything else that is not printable as \xHH. */
void cli_put_text(const char *s);

/* Print s to stdout as a JSON string (RFC 8259 §7); invalid UTF-8 becomes
 * U+FFFD; NULL prints null. */
void cli_json_str(const char *s);

#endif
