/* SPDX-License-Identifier: ISC */
/*
 * DSN generation (see bounce.h). The report is written straight into a new
 * spool message: the header and the first two parts through a small
 * bounded buffer flushed per recipient (so a message with thousands of
 * failed recipients needs no big allocation), then the original copied
 * from the spool with its line ends made CRLF. Every piece of envelope or
 * reply text goes through bounce_text(), which keeps it on one line of
 * printable characters: a remote server's reply cannot add a field or a
 * MIME boundary to the report.
 */
#include "queue/bounce.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/datetime.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "queue/spool.h"

/* The part of the report before the original, flushed to the spool
 * whenever it passes this size. */
#define BOUNCE_CHUNK		(64 * 1024)
/* Room for the report around the original when checking max size. */
#define BOUNCE_OVERHEAD		(16 * 1024)
#define BOUNCE_PER_RCPT		(2 * 1024)
/* Header fields we fold (Diagnostic-Code) aim at this width. */
#define BOUNCE_FOLD_WIDTH	78

/* What a recipient's last_reply says, by the conventions of bounce.h. */
struct bounce_reason {
	bool		 expired;
	char		 remote[LIMIT_DOMAIN + 1];	/* "" if unknown */
	const char	*reply;		/* after the prefixes */
	int		 code;		/* SMTP reply code, or 0 */
};

/* One DSN being written. */
struct bounce_out {
	const struct conf	*conf;
	const struct envelope	*env;
	struct spool_msg	*m;
	struct buf		 b;
	char			 qid[IDS_QID_LEN + 1];
	char			 boundary[80];
	bool			 utf8;		/* SMTPUTF8: global types */
	bool			 eightbit;	/* 8-bit bytes written */
	bool			 failed;	/* a write failed */
	time_t			 now;
};

/* --- reading last_reply ------------------------------------------------ */

static bool
bounce_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of an RFC 3463 "C.SSS.DDD" at p (class 2, 4 or 5) that ends at
 * a space, ';', ',' or the end of the string; 0 if there is none. */
static size_t
bounce_enhanced_len(const char *p)
{
	size_t i = 0, n;

	if (p[0] != '2' && p[0] != '4' && p[0] != '5')
		return 0;
	if (p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; n < 3 && bounce_is_digit(p[i]); n++)
			i++;
		if (n == 0 || bounce_is_digit(p[i]))
			return 0;
		if (part == 0 && p[i++] != '.')
			return 0;
	}
	if (p[i] != '\0' && p[i] != ' ' && p[i] != ';' && p[i] != ',')
		return 0;
	return i;
}

/* The reply code starting p ("550", "550 ...", "550-..."), or 0. */
static int
bounce_reply_code(const char *p)
{
	if (p[0] < '2' || p[0] > '5' || !bounce_is_digit(p[1]) ||
	    !bounce_is_digit(p[2]))
		return 0;
	if (p[3] != '\0' && p[3] != ' ' && p[3] != '-')
		return 0;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* Characters of a host name, or of an address literal's inside. */
static bool
bounce_is_name_char(char c, bool literal)
{
	if (bounce_is_digit(c) || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '-' || c == '.')
		return true;
	return literal ? c == ':' : c == '_';
}

/*
 * "host NAME[ADDR] said: ", "host NAME said: " or "host [ADDR] said: ":
 * copy NAME (or "[ADDR]" when there is no name) into r->remote and return
 * what follows; NULL if p has none of these forms. Only name characters
 * are accepted, so the Remote-MTA value stays one token.
 */
static const char *
bounce_parse_host(const char *p, struct bounce_reason *r)
{
	const char *name = p + 5, *q, *lit = NULL;
	size_t n, i;

	if (strncmp(p, "host ", 5) != 0)
		return NULL;
	for (q = name; bounce_is_name_char(*q, false); q++)
		;
	n = (size_t)(q - name);
	if (*q == '[') {
		lit = q;
		for (q++; bounce_is_name_char(*q, true); q++)
			;
		if (*q++ != ']')
			return NULL;
	}
	if (strncmp(q, " said: ", 7) != 0)
		return NULL;
	if (n == 0 && lit != NULL) {
		name = lit;
		n = (size_t)(q - lit);
	}
	if (n == 0 || n > LIMIT_DOMAIN)
		return NULL;
	for (i = 0; i < n; i++)
		r->remote[i] = name[i];
	r->remote[n] = '\0';
	return q + 7;
}

static void
bounce_parse_reason(const char *reply, struct bounce_reason *r)
{
	static const char expired[] = "expired after ";
	static const char last[] = "; last reply: ";
	const char *p = reply ? reply : "", *q;

	memset(r, 0, sizeof(*r));
	if (strncmp(p, expired, sizeof(expired) - 1) == 0) {
		r->expired = true;
		if ((q = strstr(p, last)) != NULL)
			p = q + sizeof(last) - 1;
	}
	if ((q = bounce_parse_host(p, r)) != NULL)
		p = q;
	r->reply = p;
	r->code = bounce_reply_code(p);
}

void
bounce_status(const char *reply, char *out, size_t outlen)
{
	struct bounce_reason r;
	const char *enh = NULL;
	char cls;
	size_t n = 0;

	bounce_parse_reason(reply, &r);
	if (r.code != 0 && r.reply[3] == ' ')
		n = bounce_enhanced_len(enh = r.reply + 4);
	else if (r.code == 0)
		n = bounce_enhanced_len(enh = r.reply);
	/* RFC 3463 §2: the class agrees with the reply; a failed recipient
	 * is never a success (2.x.x), so that becomes permanent. */
	cls = r.code >= 500 ? '5' : r.code >= 400 ? '4' :
	    (r.code == 0 && n > 0) ? enh[0] : r.expired ? '4' : '5';
	if (cls == '2')
		cls = '5';
	if (n > 0 && r.code / 100 != 2)
		snprintf(out, outlen, "%c%.*s", cls, (int)n - 1, enh + 1);
	else if (r.expired && r.code == 0)
		snprintf(out, outlen, "4.4.7");
	else
		snprintf(out, outlen, "%c.0.0", cls);
}

/* --- writing ------------------------------------------------------------ */

/*
 * Append untrusted text as one line of printable characters: control bytes
 * (CR and LF included) become '?', and so do 8-bit bytes unless the report
 * is UTF-8 (RFC 6533). Returns -1 if b is full.
 */
static int
bounce_text(struct bounce_out *o, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char c = (char)*p;

		if (*p == '\t')
			c = ' ';
		else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !o->utf8))
			c = '?';
		if (*p >= 0x80 && o->utf8)
			o->eightbit = true;
		if (buf_append(&o->b, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* RFC 3461 §4 xtext decoded ("+XX" for any byte), for Original-Envelope-
 * Id and Original-Recipient (RFC 3461 §6.3 (a)); a "+XX" that does not
 * stand for a printable character is left encoded. */
static int
bounce_xtext(struct bounce_out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *dec = xstrdup(s), *d = dec;
	int rc;

	for (const char *p = s; *p; p++) {
		const char *h1, *h2;

		if (p[0] == '+' && p[1] && p[2] &&
		    (h1 = strchr(hex, p[1])) != NULL &&
		    (h2 = strchr(hex, p[2])) != NULL) {
			int v = (int)(h1 - hex) * 16 + (int)(h2 - hex);

			if (v > 0x20 && v < 0x7f) {
				*d++ = (char)v;
				p += 2;
				continue;
			}
		}
		*d++ = *p;
	}
	*d = '\0';
	rc = bounce_text(o, dec);
	free(dec);
	return rc;
}

/* Write what b holds to the spool message. */
static int
bounce_flush(struct bounce_out *o)
{
	if (o->failed)
		return -1;
	if (o->b.len > 0 && spool_msg_write(o->m, o->b.data, o->b.len) == -1)
		o->failed = true;
	buf_reset(&o->b);
	return o->failed ? -1 : 0;
}

/*
 * "Name: value" folded at spaces near BOUNCE_FOLD_WIDTH (RFC 5322 §2.2.3),
 * the value made safe by bounce_text first.
 */
static int
bounce_field_folded(struct bounce_out *o, const char *name, const char *type,
    const char *value)
{
	struct bounce_out tmp = *o;
	size_t col, i, start = 0, last_sp = 0;
	const char *v;
	int rc = -1;

	buf_init(&tmp.b, 4 * LIMIT_REPLY_LINE + 64);
	if (bounce_text(&tmp, value) == -1)
		goto out;
	o->eightbit |= tmp.eightbit;
	v = buf_cstr(&tmp.b);
	if (buf_printf(&o->b, "%s: %s; ", name, type) == -1)
		goto out;
	col = strlen(name) + strlen(type) + 4;
	for (i = 0; v[i] != '\0'; i++, col++) {
		if (v[i] == ' ' && i > start)
			last_sp = i;
		if (col >= BOUNCE_FOLD_WIDTH && last_sp > start) {
			if (buf_append(&o->b, v + start, last_sp - start) ==
			    -1 || buf_append_str(&o->b, "\r\n") == -1)
				goto out;
			col = i - last_sp;
			start = last_sp;
		}
	}
	if (buf_printf(&o->b, "%s\r\n", v + start) == -1)
		goto out;
	rc = 0;
out:
	buf_clear(&tmp.b);
	return rc;
}

static int
bounce_header(struct bounce_out *o)
{
	const struct conf *c = o->conf;
	char date[64];

	datetime_rfc5322(o->now, date, sizeof(date));
	if (buf_printf(&o->b, "From: Mail Delivery System "
	    "<MAILER-DAEMON@%s>\r\nTo: <", c->hostname) == -1 ||
	    bounce_text(o, o->env->mail_from) == -1 ||
	    buf_printf(&o->b, ">\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%s@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n",
	    date, o->qid, c->hostname, o->boundary) == -1)
		return -1;
	return 0;
}

/* Part 1: for people. */
static int
bounce_human(struct bounce_out *o, const size_t *idx, size_t n)
{
	const struct envelope *env = o->env;

	if (buf_printf(&o->b, "--%s\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n\r\n"
	    "This is the mail system at host %s.\r\n\r\n"
	    "I'm sorry to have to inform you that your message could not\r\n"
	    "be delivered to one or more recipients. The details are below,\r\n"
	    "followed by %s.\r\n\r\n", o->boundary,
	    o->utf8 ? "utf-8" : "us-ascii", o->conf->hostname,
	    env->requiretls ? "the header of your message only (it required\r\n"
	    "TLS: REQUIRETLS, RFC 8689)" :
	    "a copy of your message or of its header") == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct envelope_rcpt *rc = &env->rcpts[idx[i]];

		if (buf_append_str(&o->b, "<") == -1 ||
		    bounce_text(o, rc->address) == -1 ||
		    buf_append_str(&o->b, ">") == -1)
			return -1;
		if (rc->orig && strcasecmp(rc->orig, rc->address) != 0 &&
		    (buf_append_str(&o->b, " (expanded from <") == -1 ||
		    bounce_text(o, rc->orig) == -1 ||
		    buf_append_str(&o->b, ">)") == -1))
			return -1;
		if (buf_append_str(&o->b, ":\r\n    ") == -1 ||
		    bounce_text(o, rc->last_reply ? rc->last_reply :
		    "delivery failed") == -1 ||
		    buf_append_str(&o->b, "\r\n\r\n") == -1)
			return -1;
		if (o->b.len > BOUNCE_CHUNK && bounce_flush(o) == -1)
			return -1;
	}
	return 0;
}

/* Original-Recipient from ORCPT "addr-type;xtext" (RFC 3461 §6.3 (d)). */
static int
bounce_orcpt(struct bounce_out *o, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char *type;
	int rc;

	if (semi == NULL || semi == orcpt)
		return 0;	/* malformed: MUST NOT invent one */
	type = xstrndup(orcpt, (size_t)(semi - orcpt));
	rc = buf_append_str(&o->b, "Original-Recipient: ") == -1 ||
	    bounce_text(o, type) == -1 || buf_append_str(&o->b, "; ") == -1 ||
	    bounce_xtext(o, semi + 1) == -1 ||
	    buf_append_str(&o->b, "\r\n") == -1 ? -1 : 0;
	free(type);
	return rc;
}

/* "rfc822", or RFC 6533 §3's "utf-8" for a non-ASCII address. */
static const char *
bounce_addr_type(const char *address)
{
	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		if (*p >= 0x80)
			return "utf-8";
	return "rfc822";
}

/* The per-recipient fields of one failed recipient (RFC 3464 §2.3). */
static int
bounce_rcpt_fields(struct bounce_out *o, const struct envelope_rcpt *rc)
{
	struct bounce_reason r;
	char status[16], date[64];

	bounce_parse_reason(rc->last_reply, &r);
	bounce_status(rc->last_reply, status, sizeof(status));
	datetime_rfc5322(o->now, date, sizeof(date));
	if (buf_append_str(&o->b, "\r\n") == -1 ||
	    (rc->orcpt && bounce_orcpt(o, rc->orcpt) == -1) ||
	    buf_printf(&o->b, "Final-Recipient: %s; ",
	    bounce_addr_type(rc->address)) == -1 ||
	    bounce_text(o, rc->address) == -1 ||
	    buf_printf(&o->b, "\r\nAction: failed\r\nStatus: %s\r\n",
	    status) == -1)
		return -1;
	if (r.remote[0] != '\0' &&
	    buf_printf(&o->b, "Remote-MTA: dns; %s\r\n", r.remote) == -1)
		return -1;
	if (r.code != 0) {
		if (bounce_field_folded(o, "Diagnostic-Code", "smtp",
		    r.reply) == -1)
			return -1;
	} else if (bounce_field_folded(o, "Diagnostic-Code", "x-sealmail",
	    rc->last_reply ? rc->last_reply : "delivery failed") == -1)
		return -1;
	return buf_printf(&o->b, "Last-Attempt-Date: %s\r\n", date) == -1 ?
	    -1 : 0;
}

/* Part 2: for programs. */
static int
bounce_report(struct bounce_out *o, const size_t *idx, size_t n)
{
	const struct envelope *env = o->env;
	char date[64];

	datetime_rfc5322(env->created, date, sizeof(date));
	if (buf_printf(&o->b, "--%s\r\n"
	    "Content-Description: Delivery report\r\n"
	    "Content-Type: message/%sdelivery-status\r\n\r\n"
	    "Reporting-MTA: dns; %s\r\n"
	    "X-Sealmail-Queue-ID: %s\r\n", o->boundary,
	    o->utf8 ? "global-" : "", o->conf->hostname, env->id) == -1)
		return -1;
	if (env->envid && (buf_append_str(&o->b, "Original-Envelope-Id: ") ==
	    -1 || bounce_xtext(o, env->envid) == -1 ||
	    buf_append_str(&o->b, "\r\n") == -1))
		return -1;
	if (buf_printf(&o->b, "Arrival-Date: %s\r\n", date) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (bounce_rcpt_fields(o, &env->rcpts[idx[i]]) == -1)
			return -1;
		if (o->b.len > BOUNCE_CHUNK && bounce_flush(o) == -1)
			return -1;
	}
	return buf_append_str(&o->b, "\r\n") == -1 ? -1 : 0;
}

/* --- the original ------------------------------------------------------- */

/* Line-end normaliser: bare LF and bare CR become CRLF (the spool holds
 * CRLF already; this keeps a damaged file from breaking the report). */
struct bounce_crlf {
	bool	cr;		/* the previous byte was a CR */
	bool	bol;		/* at the start of a line */
	bool	eightbit;
};

/* Append p[0..n) to out with line ends made CRLF; -1 if out is full. */
static int
bounce_crlf(struct bounce_crlf *st, const uint8_t *p, size_t n,
    struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (st->cr && c == '\n') {
			st->cr = false;
			continue;	/* CRLF already written */
		}
		st->cr = c == '\r';
		if (c == '\r' || c == '\n') {
			if (buf_append(out, "\r\n", 2) == -1)
				return -1;
			st->bol = true;
		} else {
			if (buf_append(out, &c, 1) == -1)
				return -1;
			st->bol = false;
			st->eightbit |= c >= 0x80;
		}
	}
	return 0;
}

/* True if the message (size bytes of fd) or the prepend has a byte
 * >= 0x80. */
static int
bounce_scan_8bit(int fd, uint64_t size, const char *prepend, bool *eightbit)
{
	uint8_t chunk[16384];
	uint64_t off = 0;
	ssize_t r = 0;

	*eightbit = false;
	for (const unsigned char *p = (const unsigned char *)(prepend ?
	    prepend : ""); *p; p++)
		if (*p >= 0x80)
			*eightbit = true;
	while (!*eightbit && (r = spool_pread_full(fd, size, chunk,
	    sizeof(chunk), off)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (chunk[i] >= 0x80)
				*eightbit = true;
		off += (uint64_t)r;
	}
	return *eightbit || r == 0 ? 0 : -1;
}

/*
 * The header section of the original (prepend + file) into out, CRLF line
 * ends, at most LIMIT_HEADER_SECTION bytes of the file looked at; a longer
 * section is cut after its last complete line. Sets *eightbit.
 */
static int
bounce_load_headers(int fd, uint64_t size, const char *prepend,
    struct buf *out, bool *eightbit)
{
	struct bounce_crlf st = { .bol = true };
	size_t plen = prepend ? strlen(prepend) : 0;
	uint8_t *raw = xmalloc(LIMIT_HEADER_SECTION + 1);
	ssize_t r = spool_pread_full(fd, size, raw, LIMIT_HEADER_SECTION + 1,
	    0);
	const uint8_t *end;
	int rc = -1;

	if (r == -1)
		goto out;
	buf_init(out, 2 * (plen + (size_t)r) + 4);
	if (bounce_crlf(&st, (const uint8_t *)prepend, plen, out) == -1 ||
	    bounce_crlf(&st, raw, (size_t)r, out) == -1)
		panic("bounce header buffer too small");
	if (out->len >= 2 && memcmp(out->data, "\r\n", 2) == 0)
		out->len = 0;		/* no header section at all */
	else if ((end = memmem(out->data, out->len, "\r\n\r\n", 4)) != NULL)
		out->len = (size_t)(end - out->data) + 2;
	else if ((size_t)r > LIMIT_HEADER_SECTION) {
		/* Cut inside the section: keep whole lines only. */
		while (out->len >= 2 && memcmp(out->data + out->len - 2,
		    "\r\n", 2) != 0)
			out->len--;
		out->len -= out->len >= 2 ? 0 : out->len;
	} else if (!st.bol && buf_append(out, "\r\n", 2) == -1)
		panic("bounce header buffer too small");
	*eightbit = false;
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] >= 0x80)
			*eightbit = true;
	rc = 0;
out:
	free(raw);
	return rc;
}

/* Copy prepend + the whole message, CRLF line ends. */
static int
bounce_copy_full(struct bounce_out *o, int fd, const char *prepend)
{
	struct bounce_crlf st = { .bol = true };
	uint8_t chunk[16384];
	uint64_t off = 0;
	ssize_t r;

	if (prepend && bounce_crlf(&st, (const uint8_t *)prepend,
	    strlen(prepend), &o->b) == -1)
		return -1;
	while ((r = spool_pread_full(fd, o->env->size, chunk, sizeof(chunk),
	    off)) > 0) {
		if (bounce_crlf(&st, chunk, (size_t)r, &o->b) == -1)
			return -1;
		if (o->b.len >= BOUNCE_CHUNK && bounce_flush(o) == -1)
			return -1;
		off += (uint64_t)r;
	}
	if (r == -1)
		return -1;
	if (!st.bol && buf_append(&o->b, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* RET=FULL, or by default a small message, unless that cannot work. */
static bool
bounce_want_full(const struct bounce_out *o, uint64_t size, size_t n)
{
	const struct envelope *env = o->env;
	size_t plen = env->prepend ? strlen(env->prepend) : 0;
	uint64_t total = size + plen + BOUNCE_OVERHEAD +
	    (uint64_t)n * BOUNCE_PER_RCPT;

	/* RFC 3030 §3: a binary body cannot sit in an 8bit MIME part.
	 * RFC 8689 §5: a REQUIRETLS message is returned as if RET=HDRS,
	 * whatever RET said: the report may travel less well protected. */
	if (env->body == ENVELOPE_BODY_BINARYMIME ||
	    env->ret == ENVELOPE_RET_HDRS || env->requiretls)
		return false;
	/* RFC 3461 §6.2: the MTA MAY return only the headers of a message
	 * that is too long; one the sender's server would refuse is. */
	if (o->conf->max_message_size > 0 &&
	    total > (uint64_t)o->conf->max_message_size)
		return false;
	return env->ret == ENVELOPE_RET_FULL || size <= BOUNCE_FULL_MAX;
}

/* Part 3: the original message, or its header section. */
static int
bounce_original(struct bounce_out *o, int fd, size_t n)
{
	const char *prepend = o->env->prepend;
	uint64_t size = o->env->size;
	struct buf hdr;
	bool full, eightbit;

	full = bounce_want_full(o, size, n);
	if (full) {
		if (bounce_scan_8bit(fd, size, prepend, &eightbit) == -1)
			return -1;
	} else if (bounce_load_headers(fd, size, prepend, &hdr,
	    &eightbit) == -1)
		return -1;
	o->eightbit |= eightbit;
	if (buf_printf(&o->b, "--%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n%s\r\n", o->boundary, full ?
	    "Undelivered Message" : "Undelivered Message Headers",
	    full ? (o->utf8 ? "message/global" : "message/rfc822") :
	    (o->utf8 ? "message/global-headers" : "text/rfc822-headers"),
	    eightbit ? "Content-Transfer-Encoding: 8bit\r\n" : "") == -1 ||
	    bounce_flush(o) == -1) {
		if (!full)
			buf_clear(&hdr);
		return -1;
	}
	if (!full) {
		if (hdr.len > 0 && spool_msg_write(o->m, hdr.data,
		    hdr.len) == -1)
			o->failed = true;
		buf_clear(&hdr);
	} else if (bounce_copy_full(o, fd, prepend) == -1)
		return -1;
	if (buf_printf(&o->b, "\r\n--%s--\r\n", o->boundary) == -1)
		return -1;
	return bounce_flush(o);
}

/* --- the entry point ----------------------------------------------------- */

/* The recipients of failed[] that get a report (RFC 3461 §4.1 NOTIFY). */
static size_t
bounce_select(const struct envelope *env, const size_t *failed,
    size_t nfailed, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < nfailed; i++) {
		const struct envelope_rcpt *rc;

		if (failed[i] >= env->nrcpts ||
		    env->rcpts[failed[i]].state != ENVELOPE_RCPT_FAILED) {
			log_warn("qid=%s bounce skips recipient %zu: not a "
			    "failed recipient", env->id, failed[i]);
			continue;
		}
		rc = &env->rcpts[failed[i]];
		/* NOTIFY absent means FAILURE,DELAY (RFC 3461 §4.1). */
		if (rc->notify != 0 && ((rc->notify & ENVELOPE_NOTIFY_NEVER) ||
		    !(rc->notify & ENVELOPE_NOTIFY_FAILURE)))
			continue;
		idx[n++] = failed[i];
	}
	return n;
}

/* Write the whole report into o->m. */
static int
bounce_write(struct bounce_out *o, int fd, const size_t *idx, size_t n)
{
	if (bounce_header(o) == -1 || bounce_human(o, idx, n) == -1 ||
	    bounce_report(o, idx, n) == -1 || bounce_flush(o) == -1 ||
	    bounce_original(o, fd, n) == -1)
		return -1;
	return o->failed ? -1 : 0;
}

/* Commit o->m with the DSN's envelope: null sender, one recipient. */
static int
bounce_commit(struct bounce_out *o)
{
	const struct envelope *env = o->env;
	struct envelope b;
	int rc;

	envelope_init(&b);
	memcpy(b.id, o->qid, sizeof(b.id));
	b.created = o->now;
	b.mail_from = xstrdup("");
	b.body = o->eightbit ? ENVELOPE_BODY_8BITMIME : ENVELOPE_BODY_7BIT;
	b.smtputf8 = o->utf8;
	/* RFC 8689 §5: the DSN of a REQUIRETLS message is protected in the
	 * same manner (the client lets a bounce through where REQUIRETLS
	 * is not offered: smtpc_session.h). */
	b.requiretls = env->requiretls;
	/* A DSN asks for no DSN of its own (RFC 3461 §6.2). */
	envelope_add_rcpt(&b, env->mail_from, env->mail_from, NULL,
	    ENVELOPE_NOTIFY_NEVER);
	rc = spool_msg_commit(o->m, &b);
	o->m = NULL;
	envelope_clear(&b);
	return rc;
}

/* A new report: fresh queue id, and a boundary that no original can
 * contain by chance (RFC 2046 §5.1.1), as it is random and made now. */
static void
bounce_out_init(struct bounce_out *o, const struct conf *conf,
    const struct envelope *env)
{
	char sid[IDS_SID_LEN + 1];

	memset(o, 0, sizeof(*o));
	o->conf = conf;
	o->env = env;
	o->now = time(NULL);
	o->utf8 = env->smtputf8;
	buf_init(&o->b, 2 * BOUNCE_CHUNK);
	ids_qid_new(o->qid);
	ids_sid_new(sid);
	snprintf(o->boundary, sizeof(o->boundary), "=_sealmail_%s_%s",
	    o->qid, sid);
}

int
bounce_enqueue(const struct conf *conf, const struct envelope *env,
    const size_t *failed, size_t nfailed, char *err, size_t errlen)
{
	struct bounce_out o;
	char esc[LIMIT_PATH * 4 + 1];
	size_t *idx, n;
	int fd = -1, rc = -1;

	if (env->mail_from == NULL || env->mail_from[0] == '\0') {
		log_info("qid=%s bounce not sent: null sender", env->id);
		return 0;
	}
	idx = xcalloc(nfailed + 1, sizeof(*idx));
	if ((n = bounce_select(env, failed, nfailed, idx)) == 0) {
		log_info("qid=%s bounce not sent: NOTIFY excludes failure",
		    env->id);
		free(idx);
		return 0;
	}
	bounce_out_init(&o, conf, env);
	if ((fd = spool_msg_open(conf->data_dir, env->id)) == -1) {
		snprintf(err, errlen, "cannot open message %s: %s", env->id,
		    strerror(errno));
		goto out;
	}
	if ((o.m = spool_msg_new(conf->data_dir, o.qid)) == NULL) {
		snprintf(err, errlen, "cannot create bounce %s: %s", o.qid,
		    strerror(errno));
		goto out;
	}
	if (bounce_write(&o, fd, idx, n) == -1) {
		snprintf(err, errlen, "cannot write bounce %s: %s", o.qid,
		    strerror(errno ? errno : EIO));
		goto out;
	}
	if (bounce_commit(&o) == -1) {
		snprintf(err, errlen, "cannot commit bounce %s: %s", o.qid,
		    strerror(errno));
		goto out;
	}
	log_info("qid=%s bounce of=%s to=%s rcpts=%zu", o.qid, env->id,
	    log_quote(env->mail_from, strlen(env->mail_from), esc,
	    sizeof(esc)), n);
	rc = 0;
out:
	spool_msg_abort(o.m);
	if (fd != -1)
		close(fd);
	buf_clear(&o.b);
	free(idx);
	return rc;
}
