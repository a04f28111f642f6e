/* SPDX-License-Identifier: ISC */
/*
 * The milter protocol, version 6 (the Sendmail/Postfix content-filter
 * protocol), as pure encoders and decoders: no I/O. A packet is a 4-byte
 * big-endian length (of what follows), a command byte, then data. What a
 * milter sends is untrusted: milter_frame_next bounds a packet by
 * LIMIT_MILTER_PACKET before anything is looked at, and milter_reply_parse
 * checks every field against the packet's length; the results borrow the
 * packet's bytes.
 */
#ifndef SEALMAIL_MILTER_MILTER_PROTO_H
#define SEALMAIL_MILTER_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"

#define MILTER_VERSION		6
/* Body chunks we send, as libmilter's MILTER_CHUNK_SIZE. */
#define MILTER_CHUNK		65535

/* Commands (MTA to milter). */
enum milter_cmd {
	MILTER_CMD_ABORT = 'A',
	MILTER_CMD_BODY = 'B',
	MILTER_CMD_CONNECT = 'C',
	MILTER_CMD_MACRO = 'D',
	MILTER_CMD_BODYEOB = 'E',
	MILTER_CMD_HELO = 'H',
	MILTER_CMD_HEADER = 'L',
	MILTER_CMD_MAIL = 'M',
	MILTER_CMD_EOH = 'N',
	MILTER_CMD_OPTNEG = 'O',
	MILTER_CMD_QUIT = 'Q',
	MILTER_CMD_RCPT = 'R',
	MILTER_CMD_DATA = 'T',
	MILTER_CMD_UNKNOWN = 'U',
};

/* Replies and modification actions (milter to MTA). */
enum milter_reply_kind {
	MILTER_R_ADDRCPT = '+',
	MILTER_R_DELRCPT = '-',
	MILTER_R_ADDRCPT_PAR = '2',
	MILTER_R_SHUTDOWN = '4',
	MILTER_R_ACCEPT = 'a',
	MILTER_R_REPLBODY = 'b',
	MILTER_R_CONTINUE = 'c',
	MILTER_R_DISCARD = 'd',
	MILTER_R_CHGFROM = 'e',
	MILTER_R_CONN_FAIL = 'f',
	MILTER_R_ADDHEADER = 'h',
	MILTER_R_INSHEADER = 'i',
	MILTER_R_SETSYMLIST = 'l',
	MILTER_R_CHGHEADER = 'm',
	MILTER_R_OPTNEG = 'O',
	MILTER_R_PROGRESS = 'p',
	MILTER_R_QUARANTINE = 'q',
	MILTER_R_REJECT = 'r',
	MILTER_R_SKIP = 's',
	MILTER_R_TEMPFAIL = 't',
	MILTER_R_REPLYCODE = 'y',
};

/* Actions a milter may ask for (SMFIF_*). */
#define MILTER_ACT_ADDHDRS	0x001
#define MILTER_ACT_CHGBODY	0x002
#define MILTER_ACT_ADDRCPT	0x004
#define MILTER_ACT_DELRCPT	0x008
#define MILTER_ACT_CHGHDRS	0x010
#define MILTER_ACT_QUARANTINE	0x020
#define MILTER_ACT_CHGFROM	0x040
#define MILTER_ACT_ADDRCPT_PAR	0x080
#define MILTER_ACT_SETSYMLIST	0x100

/* Protocol steps a milter may skip or not answer (SMFIP_*). */
#define MILTER_P_NOCONNECT	0x000001
#define MILTER_P_NOHELO		0x000002
#define MILTER_P_NOMAIL		0x000004
#define MILTER_P_NORCPT		0x000008
#define MILTER_P_NOBODY		0x000010
#define MILTER_P_NOHDRS		0x000020
#define MILTER_P_NOEOH		0x000040
#define MILTER_P_NR_HDR		0x000080
#define MILTER_P_NOUNKNOWN	0x000100
#define MILTER_P_NODATA		0x000200
#define MILTER_P_SKIP		0x000400
#define MILTER_P_RCPT_REJ	0x000800
#define MILTER_P_NR_CONN	0x001000
#define MILTER_P_NR_HELO	0x002000
#define MILTER_P_NR_MAIL	0x004000
#define MILTER_P_NR_RCPT	0x008000
#define MILTER_P_NR_DATA	0x010000
#define MILTER_P_NR_UNKN	0x020000
#define MILTER_P_NR_EOH		0x040000
#define MILTER_P_NR_BODY	0x080000
#define MILTER_P_HDR_LEADSPC	0x100000

/* What we offer: every action we apply, every step a milter may skip
 * or leave unanswered, and SKIP. Not RCPT_REJ (we send only recipients
 * we accepted) nor HDR_LEADSPC (values get their leading space back). */
#define MILTER_OFFER_ACTIONS	(MILTER_ACT_ADDHDRS | MILTER_ACT_CHGBODY | \
	MILTER_ACT_ADDRCPT | MILTER_ACT_DELRCPT | MILTER_ACT_CHGHDRS | \
	MILTER_ACT_QUARANTINE | MILTER_ACT_CHGFROM | MILTER_ACT_ADDRCPT_PAR | \
	MILTER_ACT_SETSYMLIST)
#define MILTER_OFFER_PROTOCOL	(MILTER_P_NOCONNECT | MILTER_P_NOHELO | \
	MILTER_P_NOMAIL | MILTER_P_NORCPT | MILTER_P_NOBODY | MILTER_P_NOHDRS | \
	MILTER_P_NOEOH | MILTER_P_NR_HDR | MILTER_P_NOUNKNOWN | \
	MILTER_P_NODATA | MILTER_P_SKIP | MILTER_P_NR_CONN | \
	MILTER_P_NR_HELO | MILTER_P_NR_MAIL | MILTER_P_NR_RCPT | \
	MILTER_P_NR_DATA | MILTER_P_NR_UNKN | MILTER_P_NR_EOH | \
	MILTER_P_NR_BODY)

/* ---- encoders: each appends one packet to b; -1 (b unchanged) if it
 * would pass b's max or LIMIT_MILTER_PACKET. Strings must hold no NUL
 * (the protocol's separator): the caller passes text it checked. ---- */

int milter_enc_optneg(struct buf *b, uint32_t version, uint32_t actions,
    uint32_t protocol);
/* Macros for the command `stage` (a milter_cmd): n name/value pairs,
 * names[i] without braces where the name is one letter ("j", "i") and
 * with them otherwise ("{daemon_name}"). */
int milter_enc_macro(struct buf *b, char stage, const char *const *names,
    const char *const *values, size_t n);
/* family: '4', '6', 'L' (local socket; port 0) or 'U' (unknown). */
int milter_enc_connect(struct buf *b, const char *host, char family,
    uint16_t port, const char *addr);
int milter_enc_helo(struct buf *b, const char *helo);
/* MAIL or RCPT: the path with its brackets, then ESMTP arguments. */
int milter_enc_args(struct buf *b, char cmd, const char *const *args,
    size_t n);
int milter_enc_header(struct buf *b, const char *name, size_t nlen,
    const char *value, size_t vlen);
int milter_enc_body(struct buf *b, const void *p, size_t n);
/* A command without data: EOH, BODYEOB, ABORT, QUIT, DATA. */
int milter_enc_simple(struct buf *b, char cmd);

/* ---- decoders ---- */

enum milter_frame {
	MILTER_FRAME_OK,	/* one packet: *cmd, *data, *dlen, *used */
	MILTER_FRAME_MORE,	/* not all here yet */
	MILTER_FRAME_BAD,	/* length 0 or past LIMIT_MILTER_PACKET */
};

/* The first packet of p (len bytes); *used is its full size. */
enum milter_frame milter_frame_next(const uint8_t *p, size_t len,
    uint8_t *cmd, const uint8_t **data, size_t *dlen, size_t *used);

enum milter_parse {
	MILTER_PARSE_OK,
	MILTER_PARSE_UNKNOWN,	/* a command byte we do not know */
	MILTER_PARSE_BAD,	/* fields missing, unterminated, or wrong */
};

/* A decoded reply; pointers borrow the packet (strings are NUL-ended in
 * it, their lengths without the NUL). */
struct milter_reply {
	enum milter_reply_kind	 kind;
	uint32_t		 version, actions, protocol;	/* OPTNEG */
	uint32_t		 index;		/* INSHEADER, CHGHEADER */
	const char		*name;		/* header name; address of
						 * ADDRCPT, DELRCPT, CHGFROM;
						 * text of REPLYCODE and
						 * QUARANTINE */
	size_t			 name_len;
	const char		*value;		/* header value; ESMTP args
						 * of CHGFROM/ADDRCPT_PAR
						 * (NULL: none) */
	size_t			 value_len;
	const uint8_t		*body;		/* REPLBODY */
	size_t			 body_len;
};

enum milter_parse milter_reply_parse(uint8_t cmd, const uint8_t *data,
    size_t len, struct milter_reply *r);

/* ---- negotiation ---- */

/* The stages a milter may name macros for (SMFIM_*). */
enum milter_symlist_stage {
	MILTER_SYM_CONNECT, MILTER_SYM_HELO, MILTER_SYM_ENVFROM,
	MILTER_SYM_ENVRCPT, MILTER_SYM_DATA, MILTER_SYM_EOM, MILTER_SYM_EOH,
	MILTER_SYMLIST_STAGES,
};

struct milter_neg {
	uint32_t	version;
	uint32_t	actions;	/* what the milter may do */
	uint32_t	protocol;	/* steps skipped / not answered */
	/* SETSYMLIST: the macros it wants at each stage, space-separated
	 * names as it wrote them (has_symlist false: our defaults). */
	bool		has_symlist[MILTER_SYMLIST_STAGES];
	char		symlist[MILTER_SYMLIST_STAGES][LIMIT_MILTER_SYMLIST + 1];
};

/* The milter's OPTNEG answer r against what we offered: -1 if its version
 * is below 2 or it asks for an action or a protocol flag we did not
 * offer (Postfix refuses those too), or, having negotiated SETSYMLIST,
 * its macro lists are malformed (a stage we do not know, a list without
 * its NUL or past LIMIT_MILTER_SYMLIST); else the agreed set in *out. */
int milter_negotiate(const struct milter_reply *r, uint32_t offer_actions,
    uint32_t offer_protocol, struct milter_neg *out);

/* ---- replies to the SMTP client ---- */

/* A milter's custom reply: at most this many lines, each at most
 * LIMIT_REPLY_LINE - 2 bytes, joined with CRLF. */
#define MILTER_REPLY_LINES	8
#define MILTER_REPLY_MAX	(MILTER_REPLY_LINES * LIMIT_REPLY_LINE)

/*
 * Turn a milter's REPLYCODE text (len bytes, untrusted) into a valid SMTP
 * reply in out: each of its lines (CRLF-, CR- or LF-separated; empty
 * ones skipped; at most MILTER_REPLY_LINES, and as many as fit outlen),
 * parsed as a server's reply line is (smtpc_reply.h), must carry the
 * same 4xx or 5xx code; out is those lines as "CODE-X.Y.Z text" joined
 * with CRLF, the last one "CODE X.Y.Z text", each with its enhanced code
 * if of the reply's class (else ours, X.7.1), its text printable ASCII
 * only (others become '?'), cut to fit LIMIT_REPLY_LINE. -1 if it is not
 * such a reply (the caller then treats it as a broken milter); outlen
 * must be at least LIMIT_REPLY_LINE (one line).
 */
int milter_reply_sanitize(const char *text, size_t len, char *out,
    size_t outlen);

/* True if name (len bytes) is a valid header field name (RFC 5322 §3.6.8:
 * printable ASCII but ':', 1..LIMIT_MILTER_HEADER_NAME). */
bool milter_valid_header_name(const char *name, size_t len);

#endif
