/* SPDX-License-Identifier: ISC */
/*
 * Every bound on untrusted input, with where it comes from. Code that sizes
 * an allocation from network data checks it against one of these first.
 */
#ifndef SEALMAIL_CORE_LIMITS_H
#define SEALMAIL_CORE_LIMITS_H

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define LIMIT_SMTP_LINE		512
/* MAIL and RCPT may carry extension parameters: RFC 3461 §6 adds up to 500
 * octets to RCPT (ORCPT, NOTIFY) and 100 to MAIL (ENVID, RET), RFC 4954 §5
 * up to 500 to MAIL (AUTH=). */
#define LIMIT_SMTP_PARAM_LINE	(LIMIT_SMTP_LINE + 1024)
/* RFC 4954 §4: AUTH lines may be longer; 12288 is what Postfix allows. */
#define LIMIT_SMTP_AUTH_LINE	12288
/* RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with CRLF
 * (the default of [server] max_line_length). */
#define LIMIT_TEXT_LINE		1000
/* RFC 5321 §4.5.3.1.1 and §4.5.3.1.2. */
#define LIMIT_LOCAL_PART	64
#define LIMIT_DOMAIN		255
/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with the brackets. */
#define LIMIT_PATH		256
/* RFC 3461 §4.4: ENVID at most 100 characters; ORCPT at most 500. */
#define LIMIT_DSN_ENVID		100
#define LIMIT_DSN_ORCPT		500
/* RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted. */
#define LIMIT_RECIPIENTS_DEFAULT 100
#define LIMIT_RECIPIENTS_MAX	10000
/* Header section we keep in memory while a message streams in (for the
 * From: check); larger header sections are rejected. */
#define LIMIT_HEADER_SECTION	(256 * 1024)
/* A single reply line we generate or parse (RFC 5321 §4.5.3.1.5). */
#define LIMIT_REPLY_LINE	512
/* SASL credentials (RFC 4616 §2: each part at most 255 octets). */
#define LIMIT_SASL_FIELD	255
/* Alias expansion depth and fan-out. */
#define LIMIT_ALIAS_DEPTH	8
#define LIMIT_ALIAS_TARGETS	1000
/* An envelope file (envelope + per-recipient state). */
#define LIMIT_ENVELOPE_FILE	(4 * 1024 * 1024)
/* [server] max_hops: RFC 5321 §6.3 asks for a Received-count threshold of
 * "normally at least 100"; at most 500, since a header section is looked
 * at up to 1000 fields (msg/rfc5322_headers.h). */
#define LIMIT_HOPS_DEFAULT	100
#define LIMIT_HOPS_MAX		500
/* A HELO/EHLO argument we keep. */
#define LIMIT_HELO		255

#endif
