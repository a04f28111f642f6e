/* SPDX-License-Identifier: ISC */
/*
 * SMTP replies as the client reads them (RFC 5321 §4.2): a push parser that
 * takes one line at a time (without its line end) and assembles multi-line
 * replies ("250-..." continuations, "250 ..." last line), with the RFC 3463
 * enhanced status code split off; and the EHLO capability list built from a
 * complete EHLO reply. Everything here is pure and bounded: a line is at most
 * LIMIT_REPLY_LINE octets, a reply at most SMTPC_REPLY_MAX_LINES lines. The
 * input comes from a remote server and is untrusted.
 */
#ifndef SEALMAIL_SMTPC_SMTPC_REPLY_H
#define SEALMAIL_SMTPC_SMTPC_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Enough for an EHLO list of every extension we know of, with room. */
#define SMTPC_REPLY_MAX_LINES	64
/* "5.123.456" plus NUL. */
#define SMTPC_ENH_MAX		12

enum smtpc_reply_result {
	SMTPC_REPLY_DONE,		/* the reply is complete */
	SMTPC_REPLY_MORE,		/* continuation line taken, push the next */
	SMTPC_REPLY_ERR_SYNTAX,		/* not "DDD", "DDD text" or "DDD-text" */
	SMTPC_REPLY_ERR_TOO_LONG,	/* line longer than LIMIT_REPLY_LINE */
	SMTPC_REPLY_ERR_TOO_MANY,	/* more than SMTPC_REPLY_MAX_LINES */
	SMTPC_REPLY_ERR_MISMATCH,	/* continuation with another code */
};

/*
 * One reply. After SMTPC_REPLY_DONE: code is the three-digit code, enhanced
 * the RFC 3463 code of the first line ("" when absent or when its class does
 * not match the code's first digit) and text the text of every line (with
 * the code, the separator and the enhanced code removed) joined by '\n'.
 * After an error the object must be reset before reuse.
 */
struct smtpc_reply {
	int		 code;
	char		 enhanced[SMTPC_ENH_MAX];
	struct buf	 text;
	size_t		 nlines;
	bool		 done;
};

/* Embedded lifecycle; clear frees the text. */
void smtpc_reply_init(struct smtpc_reply *r);
void smtpc_reply_clear(struct smtpc_reply *r);
/* Forget the current reply (keeps the allocation) to parse the next one. */
void smtpc_reply_reset(struct smtpc_reply *r);

/*
 * Push one line of len octets without its CRLF (a trailing CR is tolerated
 * and removed). Pushing after DONE starts a new reply implicitly.
 */
enum smtpc_reply_result smtpc_reply_push(struct smtpc_reply *r,
    const char *line, size_t len);

/*
 * Convenience for whole buffers (tests, fuzzing): parse the first reply in
 * data[0..len), lines ended by LF or CRLF. Stores in *used the octets taken.
 * Returns the push result; SMTPC_REPLY_MORE means the data ended first.
 */
enum smtpc_reply_result smtpc_reply_parse(struct smtpc_reply *r,
    const char *data, size_t len, size_t *used);

/* Reply class from the first digit: 2, 3, 4 or 5 (0 if no reply yet). */
int smtpc_reply_class(const struct smtpc_reply *r);

/* A static name for a result, for logs. */
const char *smtpc_reply_result_text(enum smtpc_reply_result res);

/* SASL mechanisms (RFC 4954 AUTH keyword), as bits. */
#define SMTPC_AUTH_PLAIN	0x01
#define SMTPC_AUTH_LOGIN	0x02
#define SMTPC_AUTH_CRAM_MD5	0x04
#define SMTPC_AUTH_SCRAM_SHA_1	0x08
#define SMTPC_AUTH_SCRAM_SHA_256 0x10
#define SMTPC_AUTH_XOAUTH2	0x20
#define SMTPC_AUTH_OTHER	0x80

/* What a server announced in its EHLO reply. */
struct smtpc_caps {
	bool		 pipelining;		/* RFC 2920 */
	bool		 size;			/* RFC 1870: SIZE announced */
	uint64_t	 size_max;		/* its argument; 0: no fixed limit */
	bool		 eightbitmime;		/* RFC 6152 */
	bool		 smtputf8;		/* RFC 6531 */
	bool		 starttls;		/* RFC 3207 */
	unsigned	 auth;			/* SMTPC_AUTH_* bits, RFC 4954 */
	bool		 chunking;		/* RFC 3030 */
	bool		 dsn;			/* RFC 3461 */
	bool		 enhancedstatuscodes;	/* RFC 2034 */
	bool		 requiretls;		/* RFC 8689 */
};

/*
 * Fill *caps from a complete 2xx EHLO reply (the first line, the server's
 * name and greeting, is skipped). Keywords are case-insensitive; unknown
 * ones are ignored; "AUTH=" (pre-standard) is read like "AUTH". Returns 0,
 * or -1 (caps zeroed) if r is not a complete 2xx reply.
 */
int smtpc_caps_from_reply(const struct smtpc_reply *r,
    struct smtpc_caps *caps);

#endif
