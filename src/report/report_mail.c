/* SPDX-License-Identifier: ISC */
/*
 * Report messages (report.h): a MIME message with a text part and the
 * report as attachments, DKIM-signed for the [reports] from domain and
 * committed to the spool like a bounce, or written to a folder (dry run).
 * The content comes from the report kinds; addresses and header values are
 * checked here once more, because a recipient comes from a DNS record.
 */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "auth/dkim_sign.h"
#include "conf/conf.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/datetime.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "report/report_mail.h"

/* A report message is small (a gzip of a day's rows); past this it is a
 * bug, not a report. */
#define REPORT_MAIL_MAX		(32u * 1024 * 1024)
/* Base64 lines of 76 characters (RFC 2045 §6.8). */
#define REPORT_B64_LINE		57

bool
report_mail_valid_text(const char *s)
{
	/* Printable ASCII and tab only: no CR or LF can split a header field
	 * (the address and subject are made from DNS data). */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p >= 0x7f)
			return false;
	return true;
}

/* A mailbox we can put in To: and RCPT TO as is: local@domain, no
 * brackets, quotes, spaces or controls. */
static bool
report_mail_valid_addr(const char *a)
{
	const char *at = strrchr(a, '@');

	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > LIMIT_PATH)
		return false;
	for (const char *p = a; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p))
			return false;
	return true;
}

/* A file name for to_dir: no path, no hidden file, printable. */
static bool
report_mail_valid_filename(const char *f)
{
	if (f[0] == '\0' || f[0] == '.' || strlen(f) > 255)
		return false;
	for (const char *p = f; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == '"' ||
		    *p == '\\')
			return false;
	return true;
}

/* "Name: value" folded at spaces before column 78 (RFC 5322 §2.2.3). */
int
report_mail_field(struct buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 2;
	const char *p = value;

	if (buf_printf(b, "%s:", name) == -1)
		return -1;
	while (*p != '\0') {
		const char *sp = strchr(p + 1, ' ');
		size_t w = sp ? (size_t)(sp - p) : strlen(p);

		if (p != value && *p == ' ' && col + w > 78) {
			if (buf_append_str(b, "\r\n") == -1)
				return -1;
			col = 0;
		} else if (p == value && buf_append_str(b, " ") == -1)
			return -1;
		if (buf_append(b, p, w) == -1)
			return -1;
		col += w;
		p += w;
	}
	return buf_append_str(b, "\r\n");
}

/* base64 in lines of 76 characters. */
static int
report_mail_base64(struct buf *b, const uint8_t *p, size_t n)
{
	char line[80];

	for (size_t off = 0; off < n; off += REPORT_B64_LINE) {
		size_t k = n - off < REPORT_B64_LINE ? n - off :
		    REPORT_B64_LINE;

		if (base64_encode(p + off, k, line, sizeof(line)) == -1 ||
		    buf_printf(b, "%s\r\n", line) == -1)
			return -1;
	}
	return 0;
}

/* Text with its line ends made CRLF (callers write "\n"). */
static int
report_mail_crlf(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n' ? buf_append_str(b, "\r\n") == -1 :
		    buf_append(b, s, 1) == -1)
			return -1;
	}
	return 0;
}

/* The header section (without DKIM-Signature) into hdr, the body into
 * body. */
static int
report_mail_compose(const struct report_run *run, const struct report_mail *m,
    const char *qid, struct buf *hdr, struct buf *body)
{
	const char *from = run->conf->reports_from;
	const char *dom = strrchr(from, '@') + 1;
	char date[64], sid[IDS_SID_LEN + 1], boundary[80];

	ids_sid_new(sid);
	snprintf(boundary, sizeof(boundary), "=_sealmail_report_%s_%s", qid,
	    sid);
	datetime_rfc5322((time_t)run->now, date, sizeof(date));
	if (buf_printf(hdr, "From: <%s>\r\nTo: <%s>\r\n", from, m->to) == -1 ||
	    report_mail_field(hdr, "Subject", m->subject) == -1 ||
	    buf_printf(hdr, "Date: %s\r\nMessage-ID: <%s.%s@%s>\r\n"
	    "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n",
	    date, qid, sid, dom) == -1)
		return -1;
	for (size_t i = 0; i < m->nheaders; i++)
		if (buf_printf(hdr, "%s\r\n", m->headers[i]) == -1)
			return -1;
	if (m->report_type != NULL) {
		if (buf_printf(hdr, "Content-Type: multipart/report; "
		    "report-type=%s;\r\n\tboundary=\"%s\"\r\n", m->report_type,
		    boundary) == -1)
			return -1;
	} else if (buf_printf(hdr, "Content-Type: multipart/mixed;\r\n"
	    "\tboundary=\"%s\"\r\n", boundary) == -1)
		return -1;
	if (buf_printf(body, "This is a MIME-encapsulated message.\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary) == -1 ||
	    report_mail_crlf(body, m->text ? m->text : "") == -1)
		return -1;
	if (body->len < 2 || memcmp(body->data + body->len - 2, "\r\n", 2))
		if (buf_append_str(body, "\r\n") == -1)
			return -1;
	for (size_t i = 0; i < m->natt; i++) {
		const struct report_attachment *a = &m->att[i];

		if (buf_printf(body, "\r\n--%s\r\nContent-Type: %s", boundary,
		    a->content_type) == -1 || (a->filename && buf_printf(body,
		    ";\r\n\tname=\"%s\"", a->filename) == -1) ||
		    buf_printf(body, "\r\nContent-Transfer-Encoding: %s\r\n",
		    a->base64 ? "base64" : "7bit") == -1 || (a->filename &&
		    buf_printf(body, "Content-Disposition: attachment;\r\n"
		    "\tfilename=\"%s\"\r\n", a->filename) == -1) ||
		    buf_append_str(body, "\r\n") == -1)
			return -1;
		if (a->base64 ? report_mail_base64(body, a->data, a->len) ==
		    -1 : buf_append(body, a->data, a->len) == -1)
			return -1;
		if (!a->base64 && (a->len < 2 || memcmp((const char *)a->data +
		    a->len - 2, "\r\n", 2) != 0) &&
		    buf_append_str(body, "\r\n") == -1)
			return -1;
	}
	return buf_printf(body, "\r\n--%s--\r\n", boundary) == -1 ? -1 : 0;
}

/* DKIM-Signature fields for hdr+body into sig; none (a warning) when the
 * from domain has no key. */
static void
report_mail_sign(const struct report_run *run, const char *qid,
    const struct buf *hdr, const struct buf *body, struct buf *sig)
{
	const char *dom = strrchr(run->conf->reports_from, '@') + 1;
	struct dkim_sign_key *const *keys;
	struct dkim_sign *s;
	char err[256];
	size_t n = run->keys ? dkim_keys_for(run->keys, dom, &keys) : 0;

	if (n == 0) {
		log_warn("qid=%s report not DKIM-signed: no key for %s", qid,
		    dom);
		return;
	}
	if (n > DKIM_SIGN_KEYS_MAX)
		n = DKIM_SIGN_KEYS_MAX;
	s = dkim_sign_new(keys, n, (time_t)run->now);
	dkim_sign_body(s, body->data, body->len);
	if (dkim_sign_finish(s, (const char *)hdr->data, hdr->len, sig, err,
	    sizeof(err)) == -1) {
		log_warn("qid=%s report not DKIM-signed: %s", qid, err);
		buf_reset(sig);
	}
	dkim_sign_free(s);
}

/* Write len bytes to DIR/name (replaced if present). */
int
report_mail_write_file(const char *dir, const char *name, const void *data,
    size_t len, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	const char *p = data;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	rc = 0;
out:
	if (fd != -1 && close(fd) == -1 && rc == 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

/* Dry run: the named attachments, or the whole message as QID.eml. */
static int
report_mail_to_dir(struct report_run *run, const struct report_mail *m,
    const char *qid, const struct buf *msg, char *err, size_t errlen)
{
	char name[IDS_QID_LEN + 8];
	size_t named = 0;

	for (size_t i = 0; i < m->natt; i++) {
		if (m->att[i].filename == NULL)
			continue;
		if (report_mail_write_file(run->to_dir, m->att[i].filename,
		    m->att[i].data, m->att[i].len, err, errlen) == -1)
			return -1;
		named++;
	}
	if (named == 0) {
		snprintf(name, sizeof(name), "%s.eml", qid);
		if (report_mail_write_file(run->to_dir, name, msg->data,
		    msg->len, err, errlen) == -1)
			return -1;
	}
	run->written++;
	return 0;
}

/* Commit msg for m->to from [reports] from, NOTIFY=NEVER. */
static int
report_mail_queue(const struct report_run *run, const struct report_mail *m,
    const char *qid, const struct buf *msg, char *err, size_t errlen)
{
	struct spool_msg *sm;
	struct envelope env;
	int rc;

	if ((sm = spool_msg_new(run->conf->data_dir, qid)) == NULL) {
		snprintf(err, errlen, "cannot create message %s: %s", qid,
		    strerror(errno));
		return -1;
	}
	if (spool_msg_write(sm, msg->data, msg->len) == -1) {
		snprintf(err, errlen, "cannot write message %s: %s", qid,
		    strerror(errno));
		spool_msg_abort(sm);
		return -1;
	}
	envelope_init(&env);
	memcpy(env.id, qid, sizeof(env.id));
	env.created = (time_t)run->now;
	env.mail_from = xstrdup(run->conf->reports_from);
	env.body = ENVELOPE_BODY_7BIT;
	/* A report asks for no DSN: a failing report address must not
	 * start a mail loop with the reported domain (RFC 9990 §3.5). */
	envelope_add_rcpt(&env, m->to, m->to, NULL, ENVELOPE_NOTIFY_NEVER);
	rc = spool_msg_commit(sm, &env);
	if (rc == -1)
		snprintf(err, errlen, "cannot commit message %s: %s", qid,
		    strerror(errno));
	envelope_clear(&env);
	return rc;
}

int
report_mail_send(struct report_run *run, const struct report_mail *m,
    char *err, size_t errlen)
{
	const char *from = run->conf->reports_from;
	char qid[IDS_QID_LEN + 1], esc[LIMIT_PATH * 4 + 1];
	struct buf hdr, body, msg;
	int rc = -1;

	if (from == NULL || strchr(from, '@') == NULL) {
		snprintf(err, errlen, "[reports] from is not an address");
		return -1;
	}
	if (!report_mail_valid_addr(m->to) ||
	    !report_mail_valid_text(m->subject)) {
		snprintf(err, errlen, "refusing report to %s: bad address or "
		    "subject", log_quote(m->to, strlen(m->to), esc,
		    sizeof(esc)));
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)(m->text ?
	    m->text : ""); *p; p++)
		if (*p >= 0x80) {
			snprintf(err, errlen, "report text is not ASCII");
			return -1;
		}
	for (size_t i = 0; i < m->nheaders; i++)
		if (!report_mail_valid_text(m->headers[i])) {
			snprintf(err, errlen, "bad report header field");
			return -1;
		}
	for (size_t i = 0; i < m->natt; i++)
		if (m->att[i].filename != NULL &&
		    !report_mail_valid_filename(m->att[i].filename)) {
			snprintf(err, errlen, "bad report file name");
			return -1;
		}
	ids_qid_new(qid);
	buf_init(&hdr, LIMIT_HEADER_SECTION);
	buf_init(&body, REPORT_MAIL_MAX);
	buf_init(&msg, REPORT_MAIL_MAX + LIMIT_HEADER_SECTION);
	if (report_mail_compose(run, m, qid, &hdr, &body) == -1) {
		snprintf(err, errlen, "report message too large");
		goto out;
	}
	report_mail_sign(run, qid, &hdr, &body, &msg);
	if (buf_append(&msg, hdr.data, hdr.len) == -1 ||
	    buf_append_str(&msg, "\r\n") == -1 ||
	    buf_append(&msg, body.data, body.len) == -1) {
		snprintf(err, errlen, "report message too large");
		goto out;
	}
	if (run->to_dir != NULL)
		rc = report_mail_to_dir(run, m, qid, &msg, err, errlen);
	else if ((rc = report_mail_queue(run, m, qid, &msg, err,
	    errlen)) == 0) {
		run->sent++;
		log_info("qid=%s report queued to=%s size=%zu", qid,
		    log_quote(m->to, strlen(m->to), esc, sizeof(esc)),
		    msg.len);
	}
out:
	buf_clear(&hdr);
	buf_clear(&body);
	buf_clear(&msg);
	return rc;
}
