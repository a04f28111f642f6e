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

/* Milters (src/milter/): a packet's length word counts the command byte
 * and data; libmilter sends at most 65535 bytes of data unless it
 * negotiated more (SMFIP_MDS_1M), so 1 MiB covers every milter while
 * bounding what one packet can make us buffer. */
#define LIMIT_MILTER_PACKET	(1024 * 1024 + 1)
/* A header field name a milter adds or changes (RFC 5322 has no limit;
 * a line is 998). */
#define LIMIT_MILTER_HEADER_NAME 128
/* Modification actions one milter may send at end of message (headers
 * added, recipients changed, body chunks). */
#define LIMIT_MILTER_ACTIONS	1000
/* A milter's list of the macros it wants at one stage (SMFIR_SETSYMLIST
 * in its option negotiation), and the macros of it we look at. */
#define LIMIT_MILTER_SYMLIST	256
#define LIMIT_MILTER_SYMLIST_NAMES 32

/* Received reports (report/in_*.c): a report mail is hostile input that
 * may be a decompression bomb or an XML/JSON structure built to exhaust
 * memory. These bound every stage; past one, the report is refused with
 * a log line (the mail itself is delivered anyway). */
/* The part of a message read from the spool to look for a report. */
#define LIMIT_REPORT_MESSAGE	(16 * 1024 * 1024)
/* MIME nesting (multipart in multipart ...) and parts looked at. */
#define LIMIT_REPORT_MIME_DEPTH	8
#define LIMIT_REPORT_MIME_PARTS	64
/* Report payloads taken from one message. */
#define LIMIT_REPORT_PAYLOADS	4
/* Decompressed size of one report (gzip member or zip entry), the
 * entries of a zip, and the ratio of decompressed to compressed size
 * past which output is refused once above LIMIT_REPORT_RATIO_FLOOR (real
 * XML reports compress about 20:1; zeros give 1000:1). */
#define LIMIT_REPORT_DECOMPRESSED (32 * 1024 * 1024)
#define LIMIT_REPORT_ZIP_ENTRIES 16
#define LIMIT_REPORT_RATIO	200
#define LIMIT_REPORT_RATIO_FLOOR (1024 * 1024)
/* XML element depth (RFC 9990's schema needs 5) and records (rows) of
 * one aggregate report; TLS-RPT policies and failure details; the length
 * of any one text field kept. */
#define LIMIT_REPORT_XML_DEPTH	32
#define LIMIT_REPORT_RECORDS	10000
#define LIMIT_REPORT_JSON_DEPTH	16
/* json-c builds a tree of ~50-byte objects: values (counted as ',', '['
 * and '{' outside strings) are bounded before it starts. */
#define LIMIT_REPORT_JSON_VALUES 200000
#define LIMIT_REPORT_TLS_POLICIES 1000
#define LIMIT_REPORT_TLS_FAILURES 1000
#define LIMIT_REPORT_FIELD	1024

/* The queue runner's suspects file (queue/suspects.h): a queue id and a
 * newline per message, three million messages at most. */
#define LIMIT_SUSPECTS_FILE	(64u * 1024 * 1024)

#endif
