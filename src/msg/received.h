/* SPDX-License-Identifier: ISC */
/*
 * Reading Received: header fields (RFC 5321 §4.4): the from/by/via/with/
 * id/for clauses, the comments, the date, and what they say about the
 * hop's transport security. This is what `sealmail inspect` uses to answer
 * "was my mail encrypted on every hop?". Pure.
 *
 * Input is untrusted: any sender can put Received fields of its own below
 * the ones real servers add, and a client's HELO name ends up inside the
 * from clause. The parser never trusts position or text beyond what the
 * grammar gives, bounds its work (RECEIVED_MAX_VALUE, RECEIVED_MAX_TOKENS)
 * and copies every string it keeps into fixed, NUL-terminated fields with
 * control bytes replaced by '?'. Callers that print them must still escape
 * non-ASCII bytes for terminals.
 *
 * Encryption evidence, strongest first:
 *  1. the "with" protocol word when it is one of the registered RFC 3848 /
 *     RFC 6531 types (ESMTPS, ESMTPSA, LMTPS, UTF8SMTPS, ... mean TLS;
 *     SMTP, ESMTP, ESMTPA, LMTP, UTF8SMTP, ... mean no TLS), plus the
 *     unregistered SMTPS/SMTPSA that Gmail writes. The word is written by
 *     the receiving server after its own "by" clause, out of the client's
 *     reach, so when it says "no TLS" a TLS claim elsewhere (a comment,
 *     which a HELO name can imitate) is ignored and the hop is flagged
 *     RECEIVED_EV_CONFLICT;
 *  2. the RFC 8314 §4.3 "tls CIPHER [group G]" clause;
 *  3. the comment formats of Postfix and sealmail ("using TLSv1.3 with
 *     cipher C (256/256 bits)"), sendmail/Gmail/Microsoft 365/OpenSMTPD
 *     key=value lists ("version=TLS1_3 cipher=C bits=128/128"), Exim and
 *     old OpenSMTPD colon lists ("TLS1.2:CIPHER:256[:verify]") and Gmail's
 *     "Google Transport Security".
 * Microsoft's "with Microsoft SMTP Server" without a version= comment
 * means the hop was not encrypted. Without any of these the answer is
 * RECEIVED_TLS_UNKNOWN.
 */
#ifndef SEALMAIL_MSG_RECEIVED_H
#define SEALMAIL_MSG_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/limits.h"

/* RFC 5321 §6.3: loop detection counts Received fields and should allow at
 * least 100; a message with more is looping and we read only 100. */
#define RECEIVED_MAX_HOPS	100
/* Bytes of one field value we parse; real ones are under 1 KiB (RFC 5322
 * §2.1.1 lines are at most 998 octets, a Received field a few lines). */
#define RECEIVED_MAX_VALUE	8192
/* Tokens (words, comments, literals) of one field we look at. */
#define RECEIVED_MAX_TOKENS	512
/* Comments kept per hop, and bytes kept of each. */
#define RECEIVED_MAX_COMMENTS	16
#define RECEIVED_COMMENT_LEN	256

enum received_tls {
	RECEIVED_TLS_UNKNOWN = 0,
	RECEIVED_TLS_NO,
	RECEIVED_TLS_YES,
};

/* Where the answer came from (bit mask in received_hop.evidence). */
#define RECEIVED_EV_PROTOCOL	0x01	/* registered "with" word */
#define RECEIVED_EV_TLS_CLAUSE	0x02	/* RFC 8314 §4.3 tls clause */
#define RECEIVED_EV_COMMENT	0x04	/* a vendor comment format */
#define RECEIVED_EV_MICROSOFT	0x08	/* "Microsoft SMTP Server" w/o TLS */
#define RECEIVED_EV_CONFLICT	0x10	/* TLS claimed against the word */

/* The clause a comment follows. */
enum received_clause {
	RECEIVED_CLAUSE_NONE = 0,	/* before any clause */
	RECEIVED_CLAUSE_FROM,
	RECEIVED_CLAUSE_BY,
	RECEIVED_CLAUSE_VIA,
	RECEIVED_CLAUSE_WITH,
	RECEIVED_CLAUSE_ID,
	RECEIVED_CLAUSE_FOR,
	RECEIVED_CLAUSE_TLS,
	RECEIVED_CLAUSE_OTHER,		/* an unknown clause */
	RECEIVED_CLAUSE_DATE,		/* after ';' */
};

struct received_comment {
	enum received_clause	clause;
	char			text[RECEIVED_COMMENT_LEN]; /* no outer () */
};

struct received_hop {
	/* Clauses as written ("" when absent). Multi-word values (with
	 * "Microsoft SMTP Server", via "Frontend Transport") are joined
	 * with single spaces. */
	char		from[LIMIT_HELO + 1];	/* the client's name (HELO) */
	char		from_rdns[LIMIT_DOMAIN + 1]; /* name in TCP-info */
	char		from_ip[64];		/* address in TCP-info, no [] */
	char		by[LIMIT_DOMAIN + 1];
	char		via[64];
	char		with[64];
	char		id[128];
	char		for_addr[LIMIT_PATH + 1];	/* with its <> if any */
	char		date[96];		/* text after the last ';' */
	time_t		when;			/* parsed date, UTC */
	bool		when_valid;

	struct received_comment comments[RECEIVED_MAX_COMMENTS];
	size_t		ncomments;		/* kept (extra ones dropped) */

	/* Transport. */
	enum received_tls tls;
	unsigned	evidence;		/* RECEIVED_EV_* */
	char		tls_version[16];	/* "TLSv1.3", "SSLv3", or "" */
	char		tls_cipher[128];	/* as written, or "" */
	char		tls_group[64];		/* key exchange group, or "" */
	int		tls_bits;		/* 0 when unknown */
	bool		authenticated;		/* "A" type, or Postfix's
						 * "Authenticated sender:" */
	bool		local;			/* no network: no from clause,
						 * loopback client, Exim local */
	bool		truncated;		/* value or tokens cut at a limit */
	bool		odd;			/* clauses out of place, repeated
						 * or malformed: worth a look */
};

enum received_result {
	RECEIVED_OK = 0,
	RECEIVED_ERR_SYNTAX,	/* neither a from nor a by clause */
};

/*
 * Parse the value of one Received field (the text after "Received:",
 * folded or not, CRLF or LF) of len bytes into *hop, which is overwritten
 * whole. On RECEIVED_ERR_SYNTAX *hop still holds whatever was found (its
 * tls is RECEIVED_TLS_UNKNOWN unless evidence was found).
 */
enum received_result received_parse(const char *value, size_t len,
    struct received_hop *hop);

/* "yes", "no" or "unknown". */
const char *received_tls_to_text(enum received_tls tls);

/*
 * Parse an RFC 5322 §3.3 date-time ("Tue, 1 Jul 2003 10:52:37 +0200", day
 * of week optional, seconds optional, obsolete zone names and a trailing
 * comment accepted) of len bytes into UTC seconds. False if it is not one.
 */
bool received_date_parse(const char *s, size_t len, time_t *out);

/*
 * Normalise a TLS version as the formats spell it ("TLSv1.3", "TLS1_3",
 * "TLS1.2", "TLSv1", "SSLv3") to OpenSSL's spelling with a minor number:
 * "TLSv1.3", "TLSv1.0", "SSLv3". False (out = "") if it is not a version.
 */
bool received_tls_version_normalize(const char *s, size_t len, char *out,
    size_t outlen);

/* Counts over a chain of hops (oldest first), for a one-line verdict. */
struct received_summary {
	size_t	nhops;
	size_t	nlocal;		/* hops with local set (not counted below) */
	size_t	nyes, nno, nunknown;	/* network hops by tls */
	size_t	first_no;	/* index of the oldest plaintext network hop,
				 * or (size_t)-1 */
	size_t	first_unknown;	/* same for unknown */
	char	versions[64];	/* "TLS 1.3/1.2", "TLS 1.3, SSL 3", or "" */
};

void received_summarize(const struct received_hop *hops, size_t n,
    struct received_summary *out);

#endif
