/* SPDX-License-Identifier: ISC */
/*
 * SMTP command-line parsing (RFC 5321 §4.1, with the MAIL/RCPT parameters of
 * SIZE, BODY, SMTPUTF8, DSN and AUTH). Pure: takes one line without CRLF,
 * untrusted, and yields a verb and typed arguments or a specific error the
 * session maps to a reply.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_CMD_H
#define SEALMAIL_SMTPD_SMTPD_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "msg/addr.h"
#include "queue/envelope.h"

enum smtpd_verb {
	SMTPD_VERB_UNKNOWN = 0,
	SMTPD_VERB_HELO,
	SMTPD_VERB_EHLO,
	SMTPD_VERB_MAIL,
	SMTPD_VERB_RCPT,
	SMTPD_VERB_DATA,
	SMTPD_VERB_BDAT,
	SMTPD_VERB_RSET,
	SMTPD_VERB_NOOP,
	SMTPD_VERB_QUIT,
	SMTPD_VERB_VRFY,
	SMTPD_VERB_EXPN,
	SMTPD_VERB_HELP,
	SMTPD_VERB_STARTTLS,
	SMTPD_VERB_AUTH,
};

enum smtpd_cmd_result {
	SMTPD_CMD_OK = 0,
	SMTPD_CMD_ERR_UNKNOWN,		/* 500 5.5.2 unknown command */
	SMTPD_CMD_ERR_SYNTAX,		/* 501 5.5.4 syntax error in arguments */
	SMTPD_CMD_ERR_PATH,		/* 553 5.1.3 / 501 5.1.3 bad address */
	SMTPD_CMD_ERR_PATH_UTF8,	/* 553 5.6.7 UTF-8 address w/o SMTPUTF8 */
	SMTPD_CMD_ERR_PATH_IDNA,	/* 553 5.1.3 domain not valid IDNA2008 */
	SMTPD_CMD_ERR_PARAM,		/* 555 5.5.4 unknown/duplicate parameter */
	SMTPD_CMD_ERR_NUL,		/* 500 5.5.2 NUL or 8-bit in a command */
};

struct smtpd_cmd {
	enum smtpd_verb	 verb;
	const char	*arg;	/* text after the verb and one space, inside the
				 * caller's line; "" if none. Trailing spaces
				 * are stripped. */
	size_t		 arglen;
};

/* Split `line` (len bytes, no CRLF) into verb and argument. Verbs are
 * case-insensitive. A NUL, CR or LF byte anywhere, or an 8-bit byte in any
 * command but MAIL and RCPT (whose paths may be UTF-8), is
 * SMTPD_CMD_ERR_NUL. DATA, RSET, QUIT and STARTTLS with an argument, and
 * HELO, EHLO, MAIL, RCPT, BDAT, VRFY, EXPN and AUTH without one, are
 * SMTPD_CMD_ERR_SYNTAX. out->verb is set whenever the verb was recognised,
 * also on errors, so the reply can name the command. */
enum smtpd_cmd_result smtpd_cmd_parse(const char *line, size_t len,
    struct smtpd_cmd *out);

struct smtpd_mail_args {
	struct addr		 from;
	bool			 is_null;	/* MAIL FROM:<> */
	uint64_t		 size;		/* SIZE=, 0 if not given */
	enum envelope_body	 body;
	bool			 smtputf8;
	enum envelope_ret	 ret;
	char			 envid[LIMIT_DSN_ENVID + 1];	/* xtext as given */
	bool			 has_envid;
	char			 auth[LIMIT_PATH + 1];	/* AUTH= value as given */
	bool			 has_auth;
	bool			 requiretls;	/* REQUIRETLS (RFC 8689 §3) */
};

/* Parse the argument of MAIL ("FROM:<path> params"). Spaces after the colon
 * are tolerated. utf8_ok: the session advertised SMTPUTF8 (always true for
 * us), but a non-ASCII path is accepted only with the SMTPUTF8 parameter. */
enum smtpd_cmd_result smtpd_cmd_parse_mail(const char *arg, size_t len,
    struct smtpd_mail_args *out);

struct smtpd_rcpt_args {
	struct addr	 to;
	bool		 postmaster;	/* RCPT TO:<Postmaster> (RFC 5321 §4.5.1),
					 * any case: then to.local is
					 * "postmaster" and to.domain "" */
	unsigned	 notify;	/* ENVELOPE_NOTIFY_* or 0 */
	char		 orcpt[LIMIT_DSN_ORCPT + 1];	/* "type;xtext" as given */
	bool		 has_orcpt;
};

/* Parse the argument of RCPT ("TO:<path> params"); smtputf8 tells whether
 * the transaction's MAIL had SMTPUTF8 (permits non-ASCII). */
enum smtpd_cmd_result smtpd_cmd_parse_rcpt(const char *arg, size_t len,
    bool smtputf8, struct smtpd_rcpt_args *out);

/* Parse "BDAT <size> [LAST]". */
enum smtpd_cmd_result smtpd_cmd_parse_bdat(const char *arg, size_t len,
    uint64_t *size, bool *last);

/* Map a parse error to the reply line (code, enhanced code and text,
 * without CRLF), e.g. "501 5.5.4 Syntax error in parameters". */
const char *smtpd_cmd_error_reply(enum smtpd_cmd_result r);

#endif
