/* SPDX-License-Identifier: ISC */
/*
 * LMTP client (RFC 2033) for local delivery; see lmtp.h. Synchronous and
 * blocking by design (the queue runner calls it from a libevent callback;
 * the peer is a local Dovecot): every wait is bounded by job->timeout.
 */
#include "deliver/lmtp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/hostport.h"
#include "core/limits.h"
#include "core/unixaddr.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "msg/hops.h"
#include "queue/spool.h"

#define LMTP_OUT_SIZE		(64 * 1024)
#define LMTP_IN_SIZE		4096
/* More lines than any LHLO reply has: a server that keeps sending "250-"
 * lines cannot keep us reading forever. */
#define LMTP_MAX_REPLY_LINES	100

struct lmtp_conn {
	int		 fd;
	unsigned	 timeout;
	bool		 has_8bitmime;
	bool		 has_smtputf8;
	bool		 bol;		/* data: at a line start */
	bool		 cr;		/* data: last byte was CR */
	char		 err[160];	/* why the connection failed */
	size_t		 inoff, inlen;
	size_t		 outlen;
	char		 in[LMTP_IN_SIZE];
	char		 out[LMTP_OUT_SIZE];
};

struct lmtp_reply {
	int	code;
	/* "250 2.1.5 Ok": the lines joined, bounded */
	char	text[LIMIT_REPLY_LINE + 1];
};

typedef void lmtp_line_cb(struct lmtp_conn *c, const char *text);

static int
lmtp_fail(struct lmtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why the connection is unusable; returns -1. */
static int
lmtp_fail(struct lmtp_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- connecting ------------------------------------------------------- */

static void
lmtp_set_timeouts(int fd, unsigned timeout)
{
	struct timeval tv = { .tv_sec = timeout, .tv_usec = 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connect to a unix socket; a full backlog waits at most SO_SNDTIMEO. */
static int
lmtp_connect_unix(struct lmtp_conn *c, const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (unixaddr_set(&sun, path) == -1)
		return lmtp_fail(c, "socket path: %s", strerror(errno));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return lmtp_fail(c, "socket: %s", strerror(errno));
	lmtp_set_timeouts(fd, c->timeout);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		lmtp_fail(c, "connect to %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

/* Non-blocking connect bounded by the timeout; fd is blocking after. */
static int
lmtp_connect_ai(struct lmtp_conn *c, const struct addrinfo *ai)
{
	struct pollfd pfd;
	int fd, e = 0;
	socklen_t elen = sizeof(e);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		int r = poll(&pfd, 1, (int)c->timeout * 1000);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
		    &elen) == -1)
			goto fail;
		if (e != 0) {
			errno = e;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
		goto fail;
	lmtp_set_timeouts(fd, c->timeout);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* "HOST:PORT" or "[V6ADDR]:PORT". */
static int
lmtp_connect_inet(struct lmtp_conn *c, const char *target)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV }, *res, *ai;
	char host[LIMIT_DOMAIN + 1];
	const char *port;
	bool v6;
	int r;

	if (hostport_split(target, host, sizeof(host), &port, &v6) == -1 ||
	    port == NULL || *port == '\0')
		return lmtp_fail(c, "bad LMTP target (want HOST:PORT)");
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		return lmtp_fail(c, "resolve %s: %s", host, gai_strerror(r));
	errno = EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if ((c->fd = lmtp_connect_ai(c, ai)) != -1)
			break;
	r = errno;
	freeaddrinfo(res);
	if (c->fd == -1)
		return lmtp_fail(c, "connect to %s: %s", target, strerror(r));
	return 0;
}

static int
lmtp_connect(struct lmtp_conn *c, const char *target)
{
	if (target == NULL)
		return lmtp_fail(c, "no LMTP target configured");
	if (strncmp(target, "unix:", 5) == 0)
		return lmtp_connect_unix(c, target + 5);
	return lmtp_connect_inet(c, target);
}

/* --- replies ---------------------------------------------------------- */

/* One line (without CR LF) of at most LIMIT_REPLY_LINE bytes into line. */
static int
lmtp_getline(struct lmtp_conn *c, char *line, time_t deadline)
{
	for (;;) {
		char *p = c->in + c->inoff;
		size_t avail = c->inlen - c->inoff;
		char *nl = memchr(p, '\n', avail);

		if (nl != NULL) {
			size_t n = (size_t)(nl - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n > LIMIT_REPLY_LINE)
				return lmtp_fail(c, "reply line too long");
			memcpy(line, p, n);
			line[n] = '\0';
			c->inoff += (size_t)(nl - p) + 1;
			return 0;
		}
		/* Check the bound before reading more (STYLE.md §7). */
		if (avail > LIMIT_REPLY_LINE + 1)
			return lmtp_fail(c, "reply line too long");
		memmove(c->in, p, avail);
		c->inoff = 0;
		c->inlen = avail;
		if (time(NULL) >= deadline)
			return lmtp_fail(c, "timeout reading reply");
		ssize_t r = recv(c->fd, c->in + c->inlen,
		    sizeof(c->in) - c->inlen, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return lmtp_fail(c, "timeout reading reply");
		if (r == -1)
			return lmtp_fail(c, "read: %s", strerror(errno));
		if (r == 0)
			return lmtp_fail(c, "connection closed by server");
		c->inlen += (size_t)r;
	}
}

/* "NNN" followed by ' ', '-' or the end; the code or -1. */
static int
lmtp_code(const char *line, char *sep)
{
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9')
		return -1;
	*sep = line[3] == '\0' ? ' ' : line[3];
	if (*sep != ' ' && *sep != '-')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Read a (multi-line) reply; cb sees the text of each line. */
static int
lmtp_read_reply(struct lmtp_conn *c, struct lmtp_reply *rep,
    lmtp_line_cb *cb)
{
	char line[LIMIT_REPLY_LINE + 1], sep;
	time_t deadline = time(NULL) + c->timeout;
	size_t tl = 0;

	rep->code = 0;
	rep->text[0] = '\0';
	for (int n = 0; n < LMTP_MAX_REPLY_LINES; n++) {
		if (lmtp_getline(c, line, deadline) == -1)
			return -1;
		int code = lmtp_code(line, &sep);
		if (code == -1 || (n > 0 && code != rep->code))
			return lmtp_fail(c, "malformed reply");
		rep->code = code;
		const char *text = line[3] ? line + 4 : "";
		if (cb)
			cb(c, text);
		/* Keep "CODE text" of the first line, then the texts. */
		int w = snprintf(rep->text + tl, sizeof(rep->text) - tl,
		    n == 0 ? "%s" : " %s", n == 0 ? line : text);
		if (w > 0)
			tl += (size_t)w < sizeof(rep->text) - tl ? (size_t)w :
			    sizeof(rep->text) - tl - 1;
		if (sep == ' ')
			return 0;
	}
	return lmtp_fail(c, "reply has too many lines");
}

static enum delivery_status
lmtp_status(int code)
{
	if (code / 100 == 2)
		return DELIVERY_OK;
	return code / 100 == 5 ? DELIVERY_PERMFAIL : DELIVERY_TEMPFAIL;
}

/* --- sending ---------------------------------------------------------- */

static int
lmtp_flush(struct lmtp_conn *c)
{
	size_t off = 0;

	while (off < c->outlen) {
		ssize_t n = send(c->fd, c->out + off, c->outlen - off,
		    MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return lmtp_fail(c, "timeout writing");
		if (n == -1)
			return lmtp_fail(c, "write: %s", strerror(errno));
		off += (size_t)n;
	}
	c->outlen = 0;
	return 0;
}

static int
lmtp_put(struct lmtp_conn *c, const char *p, size_t n)
{
	while (n > 0) {
		if (c->outlen == sizeof(c->out) && lmtp_flush(c) == -1)
			return -1;
		size_t k = sizeof(c->out) - c->outlen;
		if (k > n)
			k = n;
		memcpy(c->out + c->outlen, p, k);
		c->outlen += k;
		p += k;
		n -= k;
	}
	return 0;
}

static int
lmtp_cmd(struct lmtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send one command line (CRLF added) and flush it. */
static int
lmtp_cmd(struct lmtp_conn *c, const char *fmt, ...)
{
	char line[LIMIT_SMTP_LINE * 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return lmtp_fail(c, "command too long");
	memcpy(line + n, "\r\n", 2);
	if (lmtp_put(c, line, (size_t)n + 2) == -1)
		return -1;
	return lmtp_flush(c);
}

/* Data bytes, dot-stuffed (RFC 5321 §4.5.2), bare LF sent as CRLF. */
static int
lmtp_data_put(struct lmtp_conn *c, const char *p, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *extra = NULL;

		if (c->bol && p[i] == '.')
			extra = ".";
		else if (p[i] == '\n' && !c->cr)
			extra = "\r";
		c->cr = p[i] == '\r';
		c->bol = p[i] == '\n';
		if (extra == NULL)
			continue;
		if (lmtp_put(c, p + start, i - start) == -1 ||
		    lmtp_put(c, extra, 1) == -1)
			return -1;
		start = i;
	}
	return lmtp_put(c, p + start, n - start);
}

/* The message body: the recipient's trace field, the prepend block, then
 * the spool file, then ".". */
static int
lmtp_send_body(struct lmtp_conn *c, const struct delivery_job *job,
    const char *trace)
{
	char buf[LMTP_OUT_SIZE];
	uint64_t off = 0;

	c->bol = true;
	c->cr = false;
	if (lmtp_data_put(c, trace, strlen(trace)) == -1)
		return -1;
	if (job->env->prepend && lmtp_data_put(c, job->env->prepend,
	    strlen(job->env->prepend)) == -1)
		return -1;
	for (;;) {
		ssize_t n = spool_msg_pread(job->msg_fd, job->env->size, buf,
		    sizeof(buf), off);

		if (n == -1)
			return lmtp_fail(c, "read queue file: %s",
			    strerror(errno));
		if (n == 0)
			break;
		if (lmtp_data_put(c, buf, (size_t)n) == -1)
			return -1;
		off += (uint64_t)n;
	}
	if (!c->bol && lmtp_put(c, c->cr ? "\n" : "\r\n", c->cr ? 1 : 2) == -1)
		return -1;
	if (lmtp_put(c, ".\r\n", 3) == -1)
		return -1;
	return lmtp_flush(c);
}

/* --- the transaction -------------------------------------------------- */

struct lmtp_txn {
	const struct delivery_job	*job;
	struct lmtp_conn		*c;
	bool				*reported;
	size_t				 rcpt;		/* job idx of this
							 * transaction */
};

static void
lmtp_report(struct lmtp_txn *t, size_t i, enum delivery_status st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Report recipient i (once) to the job's callback. */
static void
lmtp_report(struct lmtp_txn *t, size_t i, enum delivery_status st,
    const char *fmt, ...)
{
	struct delivery_result res;
	va_list ap;

	if (t->reported[i])
		return;
	t->reported[i] = true;
	res.status = st;
	va_start(ap, fmt);
	vsnprintf(res.reply, sizeof(res.reply), fmt, ap);
	va_end(ap);
	t->job->done(i, &res, t->job->arg);
}

/* Every recipient not yet reported gets the reply's outcome (a session
 * level refusal: the same for all of them). */
static void
lmtp_report_rest(struct lmtp_txn *t, const struct lmtp_reply *rep)
{
	for (size_t i = 0; i < t->job->nrcpts; i++)
		lmtp_report(t, i, lmtp_status(rep->code), "%s", rep->text);
}

/* A path we can put between <> in a command: no CR, LF or other control
 * byte (command injection into the LMTP session), no '<' or '>', and not
 * longer than RFC 5321 allows. */
static bool
lmtp_path_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > LIMIT_PATH - 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>')
			return false;
	}
	return true;
}

static void
lmtp_lhlo_line(struct lmtp_conn *c, const char *text)
{
	size_t n = strcspn(text, " ");

	if (n == 8 && strncasecmp(text, "8BITMIME", 8) == 0)
		c->has_8bitmime = true;
	else if (n == 8 && strncasecmp(text, "SMTPUTF8", 8) == 0)
		c->has_smtputf8 = true;
}

/* Greeting and LHLO. 1: go on; 0: all recipients reported. */
static int
lmtp_hello(struct lmtp_txn *t, struct lmtp_reply *rep)
{
	struct lmtp_conn *c = t->c;

	if (lmtp_read_reply(c, rep, NULL) == -1)
		return -1;
	if (rep->code / 100 == 2) {
		if (lmtp_cmd(c, "LHLO %s", t->job->hostname ?
		    t->job->hostname : "localhost") == -1 ||
		    lmtp_read_reply(c, rep, lmtp_lhlo_line) == -1)
			return -1;
	}
	if (rep->code / 100 != 2) {
		/* A refused greeting or LHLO is the server's trouble, never
		 * a reason to bounce local mail. */
		rep->code = 451;
		lmtp_report_rest(t, rep);
		return 0;
	}
	return 1;
}

/* MAIL FROM. 1: go on; 0: all recipients reported. */
static int
lmtp_mail(struct lmtp_txn *t, struct lmtp_reply *rep)
{
	struct lmtp_conn *c = t->c;
	const struct envelope *env = t->job->env;
	const char *from = env->mail_from ? env->mail_from : "";
	bool eight = env->body == ENVELOPE_BODY_8BITMIME ||
	    env->body == ENVELOPE_BODY_BINARYMIME;

	if (!lmtp_path_ok(from)) {
		snprintf(rep->text, sizeof(rep->text),
		    "553 5.1.7 lmtp: unusable sender address");
		rep->code = 553;
		lmtp_report_rest(t, rep);
		return 0;
	}
	/* BINARYMIME cannot go through DATA (no CHUNKING here yet); it is
	 * sent as 8BITMIME, which is what a local store expects. */
	if (lmtp_cmd(c, "MAIL FROM:<%s>%s%s", from,
	    eight && c->has_8bitmime ? " BODY=8BITMIME" : "",
	    env->smtputf8 && c->has_smtputf8 ? " SMTPUTF8" : "") == -1 ||
	    lmtp_read_reply(c, rep, NULL) == -1)
		return -1;
	if (rep->code / 100 != 2) {
		lmtp_report_rest(t, rep);
		return 0;
	}
	return 1;
}

/* RCPT TO for t->rcpt. 1: accepted; 0: reported (the transaction is then
 * reset). */
static int
lmtp_rcpt(struct lmtp_txn *t, const char *a, struct lmtp_reply *rep)
{
	if (lmtp_cmd(t->c, "RCPT TO:<%s>", a) == -1 ||
	    lmtp_read_reply(t->c, rep, NULL) == -1)
		return -1;
	if (rep->code / 100 == 2)
		return 1;
	lmtp_report(t, t->rcpt, lmtp_status(rep->code), "%s", rep->text);
	if (lmtp_cmd(t->c, "RSET") == -1 ||
	    lmtp_read_reply(t->c, rep, NULL) == -1)
		return -1;
	return 0;
}

/* DATA with the recipient's trace field, the body, and its reply (RFC
 * 2033 §4.2: one per accepted recipient, here exactly one). */
static int
lmtp_data(struct lmtp_txn *t, const char *trace, struct lmtp_reply *rep)
{
	if (lmtp_cmd(t->c, "DATA") == -1 ||
	    lmtp_read_reply(t->c, rep, NULL) == -1)
		return -1;
	if (rep->code != 354) {
		if (rep->code / 100 == 3)
			rep->code = 451;
		lmtp_report(t, t->rcpt, lmtp_status(rep->code), "%s",
		    rep->text);
		/* A refused DATA need not end the transaction (RFC 5321 has
		 * the server keep it): without RSET the next recipient's MAIL
		 * would get 503 and fail for nothing. */
		if (lmtp_cmd(t->c, "RSET") == -1 ||
		    lmtp_read_reply(t->c, rep, NULL) == -1)
			return -1;
		return 0;
	}
	if (lmtp_send_body(t->c, t->job, trace) == -1 ||
	    lmtp_read_reply(t->c, rep, NULL) == -1)
		return -1;
	lmtp_report(t, t->rcpt, lmtp_status(rep->code), "%s", rep->text);
	return 0;
}

/*
 * One transaction for recipient t->rcpt: its copy starts with its own
 * Delivered-To (msg/hops.h), so recipients cannot share one DATA.
 * Return-Path is the LMTP server's to add: it makes the final delivery
 * (RFC 5321 §4.4), as Dovecot does. -1 when the connection failed, 0
 * when every recipient has been reported, 1 to go on.
 */
static int
lmtp_txn_one(struct lmtp_txn *t, struct lmtp_reply *rep)
{
	const char *a = t->job->env->rcpts[t->job->rcpts[t->rcpt]].address;
	char trace[LIMIT_PATH + 32];
	struct buf b;
	int r;

	buf_init(&b, sizeof(trace) - 1);
	if (a == NULL || *a == '\0' || !lmtp_path_ok(a) ||
	    hops_trace_fields(&b, NULL, a) == -1) {
		buf_clear(&b);
		lmtp_report(t, t->rcpt, DELIVERY_PERMFAIL,
		    "501 5.1.3 lmtp: unusable recipient address");
		return 1;
	}
	snprintf(trace, sizeof(trace), "%s", buf_cstr(&b));
	buf_clear(&b);
	if ((r = lmtp_mail(t, rep)) <= 0)
		return r;
	if ((r = lmtp_rcpt(t, a, rep)) <= 0)
		return r == 0 ? 1 : -1;
	return lmtp_data(t, trace, rep) == -1 ? -1 : 1;
}

/* The whole session on a connected c; -1 when the connection failed. */
static int
lmtp_session(struct lmtp_txn *t)
{
	struct lmtp_reply rep;
	int r;

	if ((r = lmtp_hello(t, &rep)) <= 0)
		return r;
	for (t->rcpt = 0; t->rcpt < t->job->nrcpts; t->rcpt++)
		if ((r = lmtp_txn_one(t, &rep)) <= 0)
			return r;
	/* QUIT is a courtesy: results are already final. */
	if (lmtp_cmd(t->c, "QUIT") == 0)
		lmtp_read_reply(t->c, &rep, NULL);
	return 0;
}

static int
lmtp_deliver(const struct delivery_job *job)
{
	struct lmtp_conn *c = xcalloc(1, sizeof(*c));
	struct lmtp_txn t = { .job = job, .c = c };
	int r;

	c->fd = -1;
	c->timeout = job->timeout ? job->timeout : 30;
	t.reported = xcalloc(job->nrcpts ? job->nrcpts : 1, sizeof(bool));
	r = lmtp_connect(c, job->target);
	if (r == 0)
		r = lmtp_session(&t);
	/* Whoever has no answer yet is deferred with the reason. */
	for (size_t i = 0; i < job->nrcpts; i++)
		lmtp_report(&t, i, DELIVERY_TEMPFAIL, "451 4.4.2 lmtp: %s",
		    c->err[0] ? c->err : "no reply");
	if (c->fd != -1)
		close(c->fd);
	free(t.reported);
	free(c);
	return r;
}

const struct delivery_ops lmtp_delivery_ops = {
	.name = "lmtp",
	.deliver = lmtp_deliver,
};
