/* SPDX-License-Identifier: ISC */
/*
 * Dovecot's authentication protocol (the auth-client socket, protocol 1.x),
 * client side: the lines we send (handshake, AUTH with PLAIN, CANCEL) and
 * the parse of one line from the server. Pure; the server's lines are
 * treated as untrusted input, bounded by DOVECOT_PROTO_LINE_MAX.
 *
 * Values use Dovecot's tab-escaping: \001 followed by '0' (NUL), '1'
 * (\001), 't' (TAB), 'r' (CR) or 'n' (LF); \001 before anything else
 * stands for that character.
 */
#ifndef SEALMAIL_AUTH_DOVECOT_PROTO_H
#define SEALMAIL_AUTH_DOVECOT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"

/* The protocol leaves the line length open but "expects" 16384 bytes;
 * a longer line from the server ends the connection. */
#define DOVECOT_PROTO_LINE_MAX	16384
/* The major version we speak (and require of the server). */
#define DOVECOT_PROTO_MAJOR	1

enum dovecot_proto_kind {
	DOVECOT_PROTO_VERSION,	/* major, minor */
	DOVECOT_PROTO_MECH,	/* plain: the mechanism is PLAIN */
	DOVECOT_PROTO_DONE,	/* end of the server's handshake */
	DOVECOT_PROTO_OK,	/* id, user */
	DOVECOT_PROTO_FAIL,	/* id, user, temp */
	DOVECOT_PROTO_CONT,	/* id: the server wants another response */
	DOVECOT_PROTO_OTHER,	/* SPID, CUID, COOKIE or unknown: ignored */
	DOVECOT_PROTO_BAD,	/* malformed: drop the connection */
};

struct dovecot_proto_reply {
	enum dovecot_proto_kind	 kind;
	unsigned		 major, minor;
	bool			 plain;
	uint32_t		 id;
	/* FAIL: a temporary failure ("temp", or code=temp_fail), not
	 * wrong credentials. */
	bool			 temp;
	/* OK/FAIL: the user= field unescaped, "" when absent. A value
	 * that is empty, longer than LIMIT_SASL_FIELD or holds control
	 * characters makes the line DOVECOT_PROTO_BAD. */
	char			 user[LIMIT_SASL_FIELD + 1];
};

/* Parse one server line (without its LF) of len bytes. Fills *out
 * (zeroed first) and returns out->kind. */
enum dovecot_proto_kind dovecot_proto_parse(const char *line, size_t len,
    struct dovecot_proto_reply *out);

/* Append the client's handshake: VERSION and CPID. 0 or -1 (buf full). */
int dovecot_proto_handshake(struct buf *out, unsigned long pid);

/*
 * Append "AUTH id PLAIN service=... nologin [lip=] [rip=] secured
 * resp=BASE64" with the PLAIN message "" NUL user NUL pass (no
 * authorisation identity). lip/rip may be NULL or "" (left out). The
 * line holds the password (base64): the caller wipes out->data before
 * clearing it. 0, or -1 if user or pass is empty or longer than
 * LIMIT_SASL_FIELD, or the buf is full.
 */
int dovecot_proto_auth_plain(struct buf *out, uint32_t id,
    const char *service, const char *lip, const char *rip, const char *user,
    const char *pass);

/* Append "CANCEL id": the server forgets a request we no longer want. */
int dovecot_proto_cancel(struct buf *out, uint32_t id);

/* Append s (len bytes) tab-escaped. */
int dovecot_proto_escape(struct buf *out, const char *s, size_t len);

/* Unescape s (len bytes) in place; returns the new length. */
size_t dovecot_proto_unescape(char *s, size_t len);

#endif
