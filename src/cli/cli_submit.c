/* SPDX-License-Identifier: ISC */
/* The client of the local submission socket (see cli_submit.h). */
#include "cli/cli_submit.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/unixaddr.h"
#include "smtpc/smtpc_reply.h"

/* How long we wait for any reply (RFC 5321 §4.5.3.2 allows 10 minutes for
 * the one after the final dot; the daemon answers in milliseconds). */
#define SUBMIT_TIMEOUT_MS	(10 * 60 * 1000)
/* Bytes of message collected before each write. */
#define SUBMIT_CHUNK		65536

struct submit_conn {
	int			 fd;
	char			 in[4096];	/* read, not yet parsed */
	size_t			 inlen;
	struct smtpc_reply	 reply;
};

int
submit_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (unixaddr_set(&sun, path) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
submit_wait(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	while ((n = poll(&p, 1, SUBMIT_TIMEOUT_MS)) == -1 && errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

static int
submit_write(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one complete reply into sc->reply. -1 on I/O or syntax errors. */
static int
submit_reply(struct submit_conn *sc)
{
	smtpc_reply_reset(&sc->reply);
	for (;;) {
		char *nl = memchr(sc->in, '\n', sc->inlen);

		if (nl != NULL) {
			size_t n = (size_t)(nl - sc->in);
			enum smtpc_reply_result r = smtpc_reply_push(&sc->reply,
			    sc->in, n);

			memmove(sc->in, nl + 1, sc->inlen - n - 1);
			sc->inlen -= n + 1;
			if (r == SMTPC_REPLY_DONE)
				return 0;
			if (r != SMTPC_REPLY_MORE) {
				errno = EPROTO;
				return -1;
			}
			continue;
		}
		if (sc->inlen == sizeof(sc->in)) {
			errno = EPROTO;		/* a line past any limit */
			return -1;
		}
		if (submit_wait(sc->fd, POLLIN) == -1)
			return -1;
		ssize_t r = recv(sc->fd, sc->in + sc->inlen,
		    sizeof(sc->in) - sc->inlen, 0);
		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		sc->inlen += (size_t)r;
	}
}

/* Send a command line and read the reply: its class (2..5), or -1. */
static int
submit_cmd(struct submit_conn *sc, struct buf *line)
{
	if (buf_append(line, "\r\n", 2) == -1 ||
	    submit_write(sc->fd, line->data, line->len) == -1 ||
	    submit_reply(sc) == -1)
		return -1;
	return smtpc_reply_class(&sc->reply);
}

/* The reply as one line for an error message. */
static void
submit_reply_text(const struct submit_conn *sc, char *err, size_t errlen)
{
	const struct smtpc_reply *r = &sc->reply;
	const char *t = buf_cstr(&r->text);
	size_t n = strcspn(t, "\n");

	snprintf(err, errlen, "%d%s%s %.*s", r->code, r->enhanced[0] ? " " :
	    "", r->enhanced, (int)(n > 200 ? 200 : n), t);
}

/* The message, dot-stuffed (RFC 5321 §4.5.2), then the final ".". */
static int
submit_data(struct submit_conn *sc, const struct submit_msg *m)
{
	struct buf out;
	size_t pos = 0;
	int rc = -1;

	buf_init(&out, SUBMIT_CHUNK + LIMIT_TEXT_LINE + 8);
	while (pos < m->len) {
		const uint8_t *p = m->data + pos;
		const uint8_t *e = memchr(p, '\n', m->len - pos);
		size_t n = e ? (size_t)(e - p) + 1 : m->len - pos;

		/* A line too long for one chunk goes out in pieces. */
		if (n > SUBMIT_CHUNK)
			n = SUBMIT_CHUNK;
		if ((p[0] == '.' && (pos == 0 || m->data[pos - 1] == '\n') &&
		    buf_append(&out, ".", 1) == -1) ||
		    buf_append(&out, p, n) == -1)
			goto out;
		pos += n;
		if (out.len >= SUBMIT_CHUNK) {
			if (submit_write(sc->fd, out.data, out.len) == -1)
				goto out;
			buf_reset(&out);
		}
	}
	if (buf_append_str(&out, m->len > 0 && m->data[m->len - 1] != '\n' ?
	    "\r\n.\r\n" : ".\r\n") == -1 ||
	    submit_write(sc->fd, out.data, out.len) == -1)
		goto out;
	rc = 0;
out:
	buf_clear(&out);
	return rc;
}

static int
submit_notify(struct buf *b, unsigned notify)
{
	static const struct { unsigned bit; const char *word; } w[] = {
		{ ENVELOPE_NOTIFY_SUCCESS, "SUCCESS" },
		{ ENVELOPE_NOTIFY_FAILURE, "FAILURE" },
		{ ENVELOPE_NOTIFY_DELAY, "DELAY" },
	};
	const char *sep = " NOTIFY=";

	if (notify == 0)
		return 0;
	if (notify & ENVELOPE_NOTIFY_NEVER)
		return buf_append_str(b, " NOTIFY=NEVER");
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (notify & w[i].bit) {
			if (buf_printf(b, "%s%s", sep, w[i].word) == -1)
				return -1;
			sep = ",";
		}
	return 0;
}

/* MAIL FROM with its parameters, then one RCPT TO per recipient. */
static enum submit_result
submit_envelope(struct submit_conn *sc, const struct submit_msg *m,
    size_t *bad, char *err, size_t errlen)
{
	struct buf line;
	enum submit_result res = SUBMIT_ERROR;
	int cls;

	buf_init(&line, LIMIT_PATH * 2 + 128);
	if (buf_printf(&line, "MAIL FROM:<%s>%s%s%s", m->sender,
	    m->eightbit ? " BODY=8BITMIME" : "", m->smtputf8 ? " SMTPUTF8" : "",
	    m->ret == ENVELOPE_RET_FULL ? " RET=FULL" : m->ret ==
	    ENVELOPE_RET_HDRS ? " RET=HDRS" : "") == -1 ||
	    (cls = submit_cmd(sc, &line)) == -1)
		goto io;
	if (cls != 2)
		goto refused;
	for (size_t i = 0; i < m->nrcpts; i++) {
		buf_reset(&line);
		if (buf_printf(&line, "RCPT TO:<%s>", m->rcpts[i]) == -1 ||
		    submit_notify(&line, m->notify) == -1 ||
		    (cls = submit_cmd(sc, &line)) == -1)
			goto io;
		if (cls != 2) {
			*bad = i;
			res = strcmp(sc->reply.enhanced, "5.1.1") == 0 ?
			    SUBMIT_RCPT_UNKNOWN : SUBMIT_REFUSED;
			submit_reply_text(sc, err, errlen);
			goto out;
		}
	}
	res = SUBMIT_OK;
	goto out;
refused:
	res = SUBMIT_REFUSED;
	submit_reply_text(sc, err, errlen);
	goto out;
io:
	snprintf(err, errlen, "talking to the daemon: %s", strerror(errno));
out:
	buf_clear(&line);
	return res;
}

enum submit_result
submit_send(int fd, const struct submit_msg *m, char qid[IDS_QID_LEN + 1],
    size_t *bad, char *err, size_t errlen)
{
	struct submit_conn sc = { .fd = fd };
	struct buf line;
	enum submit_result res = SUBMIT_ERROR;
	int cls;

	qid[0] = '\0';
	*bad = SIZE_MAX;
	smtpc_reply_init(&sc.reply);
	buf_init(&line, 256);
	if (submit_reply(&sc) == -1 || buf_append_str(&line, "EHLO localhost")
	    == -1 || (cls = submit_cmd(&sc, &line)) == -1)
		goto io;
	if (smtpc_reply_class(&sc.reply) != 2 || cls != 2) {
		res = SUBMIT_REFUSED;
		submit_reply_text(&sc, err, errlen);
		goto out;
	}
	if ((res = submit_envelope(&sc, m, bad, err, errlen)) != SUBMIT_OK)
		goto out;
	res = SUBMIT_ERROR;
	buf_reset(&line);
	if (buf_append_str(&line, "DATA") == -1 ||
	    (cls = submit_cmd(&sc, &line)) == -1)
		goto io;
	if (cls != 3) {
		res = SUBMIT_REFUSED;
		submit_reply_text(&sc, err, errlen);
		goto out;
	}
	if (submit_data(&sc, m) == -1 || submit_reply(&sc) == -1)
		goto io;
	if (smtpc_reply_class(&sc.reply) != 2) {
		res = SUBMIT_REFUSED;
		submit_reply_text(&sc, err, errlen);
		goto out;
	}
	/* "250 2.0.0 Ok: queued as ID" */
	const char *q = strstr(buf_cstr(&sc.reply.text), "queued as ");
	if (q != NULL && strlen(q + 10) >= IDS_QID_LEN) {
		snprintf(qid, IDS_QID_LEN + 1, "%.*s", IDS_QID_LEN, q + 10);
		if (!ids_qid_valid(qid))
			qid[0] = '\0';
	}
	res = SUBMIT_OK;
	buf_reset(&line);
	if (buf_append_str(&line, "QUIT") == 0)
		(void)submit_cmd(&sc, &line);
	goto out;
io:
	snprintf(err, errlen, "talking to the daemon: %s", strerror(errno));
out:
	if (res != SUBMIT_OK) {
		buf_reset(&line);
		if (buf_append_str(&line, "QUIT") == 0)
			(void)submit_cmd(&sc, &line);
	}
	buf_clear(&line);
	smtpc_reply_clear(&sc.reply);
	return res;
}

/* Track the last line of the client's input (its first bytes suffice)
 * to know whether it ended with QUIT. */
static void
submit_last_line(char *last, size_t *n, bool *fresh, const char *p,
    size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (*fresh) {
			*n = 0;
			*fresh = false;
		}
		if (p[i] == '\n')
			*fresh = true;
		else if (*n < 7)
			last[(*n)++] = p[i];
	}
}

static int
submit_relay_out(int fd, char *buf, size_t len)
{
	ssize_t r = recv(fd, buf, len, 0);

	if (r <= 0)
		return r == 0 || errno == ECONNRESET ? 0 : -1;
	for (ssize_t o = 0; o < r; ) {
		ssize_t w = write(STDOUT_FILENO, buf + o, (size_t)(r - o));
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		o += w;
	}
	return 1;
}

/*
 * When the client's input ends after QUIT, the daemon answers whatever
 * is still in its buffer, then 221 and closes: we read until then. Input
 * that ends otherwise is a client going away: the daemon is told by the
 * half-close, as it would be by a dropped connection, and a transaction
 * it has not finished is not committed.
 */
int
submit_relay(int fd)
{
	struct pollfd p[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};
	char buf[16384], last[8];
	size_t nlast = 0;
	bool fresh = true;
	int r;

	for (;;) {
		int n = poll(p, 2, SUBMIT_TIMEOUT_MS);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((r = submit_relay_out(fd, buf, sizeof(buf))) <= 0) {
				if (r == -1 && errno == EINTR)
					continue;
				return r;
			}
		}
		if (p[0].fd == -1 || !(p[0].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			continue;
		ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got > 0) {
			submit_last_line(last, &nlast, &fresh, buf,
			    (size_t)got);
			if (submit_write(fd, buf, (size_t)got) == -1)
				return -1;
			continue;
		}
		p[0].fd = -1;
		if (!(nlast >= 4 && strncasecmp(last, "QUIT", 4) == 0 &&
		    (nlast == 4 || last[4] == '\r' || last[4] == ' ')))
			shutdown(fd, SHUT_WR);
	}
}
