/* SPDX-License-Identifier: ISC */
/*
 * smtpload: the SMTP load generator behind `make bench`.
 *
 * One epoll loop per thread drives C concurrent client sessions with
 * non-blocking sockets and OpenSSL (plain, STARTTLS or implicit TLS). Each
 * session sends M messages of S bytes (MAIL, RCPT, DATA, optionally
 * pipelined, optionally after AUTH PLAIN) and checks every reply code; a
 * session that gets an unexpected reply is counted under the error kind of
 * the step and closed. Three kinds of run:
 *
 *   mail       messages until a duration (-d) or a message count (-N);
 *   handshake  connect, TLS, greeting, QUIT, as fast as possible (-d/-N
 *              counts sessions);
 *   idle       open K sessions (TLS, EHLO) and hold them for T seconds, for
 *              memory measurements; prints "READY ..." on stdout once the
 *              ramp is over so a driver can measure while they are held.
 *
 * It reports accepted msgs/s, sessions/s, latency percentiles per message,
 * per TLS handshake and per session setup (connect to greeting), errors by
 * kind, and its own CPU use, warning when it is itself the bottleneck. The
 * server is trusted only to be an SMTP server: replies are bounded
 * (SL_REPLY_MAX) and parsed with explicit lengths. Certificates are not
 * verified (the bench certificate is self-signed), but the full handshake
 * work (ECDHE, signature verification) is still done.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define SL_REPLY_MAX	8192		/* one reply, all lines (RFC 5321 §4.5.3.1.5 is 512/line) */
#define SL_CMD_MAX	2048
#define SL_TICK_MS	50
#define SL_MAX_THREADS	16

enum sl_mode { SL_PLAIN, SL_STARTTLS, SL_TLS };
enum sl_kind { SL_MAIL, SL_HANDSHAKE, SL_IDLE };

/* Where a session is; a reply is judged by the state it arrives in. */
enum sl_state {
	ST_FREE, ST_CONNECT, ST_TLS, ST_GREET, ST_EHLO, ST_STARTTLS, ST_AUTH,
	ST_MAIL, ST_RCPT, ST_DATA, ST_DOT, ST_QUIT, ST_IDLE, ST_CLOSING
};

/* Error kinds, one counter each; the step that failed names the kind. */
enum sl_err {
	E_CONNECT, E_TLS, E_GREET, E_EHLO, E_STARTTLS, E_AUTH, E_MAIL, E_RCPT,
	E_DATA, E_DOT, E_QUIT, E_CLOSED, E_TIMEOUT, E_IO, E_PROTO, E_COUNT
};
static const char *sl_err_name[E_COUNT] = {
	"connect", "tls", "greeting", "ehlo", "starttls", "auth", "mail",
	"rcpt", "data", "dot", "quit", "closed_by_server", "timeout", "io",
	"malformed_reply"
};

struct sl_opts {
	const char	*host;
	int		 port;
	enum sl_mode	 mode;
	enum sl_kind	 kind;
	int		 conc;
	int		 per_session;
	size_t		 size;
	double		 duration;	/* seconds; 0: use total */
	long		 total;		/* messages (mail) or sessions (handshake) */
	double		 warmup;
	const char	*auth_user;
	const char	*auth_pass;
	bool		 pipelining;
	const char	*from;
	const char	*rcpt;
	const char	*helo;
	int		 threads;
	int		 idle;
	double		 hold;
	double		 ramp_timeout;
	int		 max_inflight;	/* idle ramp: sessions being set up at once */
	double		 timeout;	/* per step */
	bool		 resume;
	bool		 json;
	const char	*label;
};

/* Latency samples in microseconds, growable. */
struct sl_lat {
	uint32_t	*v;
	size_t		 n, cap;
};

struct sl_stats {
	uint64_t	 accepted;	/* 250 after the dot, all of the run */
	uint64_t	 accepted_win;	/* ... inside the measurement window */
	uint64_t	 sessions;	/* ended with 221 (or idle: established) */
	uint64_t	 sessions_win;
	uint64_t	 handshakes;
	uint64_t	 resumed;
	uint64_t	 dropped;	/* idle sessions the server closed */
	uint64_t	 errors[E_COUNT];
	char		 sample[E_COUNT][160];	/* first reply/errno of each kind */
	struct sl_lat	 msg, hs, setup;
};

struct sl_worker;

struct sl_conn {
	struct sl_worker *w;
	int		 fd;
	SSL		*ssl;
	enum sl_state	 st;
	bool		 tls_on, cap_pipe, piped, want_write, idle_counted, ready;
	int		 msgs;		/* accepted in this session */
	int		 replies_left;	/* pipelined replies still expected */
	uint64_t	 t_conn, t_hs, t_msg, t_deadline;
	char		 rbuf[SL_REPLY_MAX];
	size_t		 rlen;
	char		 cmd[SL_CMD_MAX];
	size_t		 cmdlen;
	struct iovec	 out[2];	/* pending output: cmd and/or body */
	int		 nout;
};

struct sl_worker {
	const struct sl_opts *o;
	int		 id, ep, nconn;
	struct sl_conn	*conns;
	SSL_CTX		*ctx;
	SSL_SESSION	*sess;		/* for --resume */
	struct sl_stats	 st;
	long		 started;	/* sessions or messages started (budget) */
	long		 budget;	/* this worker's share of -N, -1: none */
	int		 active;
	int		 inflight;	/* idle ramp: sessions not yet idle */
	int		 opened;	/* idle: sessions opened */
	int		 failed_run;	/* connections failed since the last
					 * session that got ready */
	bool		 stopping;
	pthread_t	 tid;
};

static struct sl_opts	 opts;
static const char	*body;		/* the message, dot-terminated */
static size_t		 body_len;
static char		 auth_line[600];
static struct sockaddr_in srv_addr;
static uint64_t		 t_start, t_win0, t_win1, t_stop;
static volatile sig_atomic_t interrupted;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void	die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static void	conn_send(struct sl_conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("smtpload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void
lat_add(struct sl_lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL)
			die("out of memory");
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void
err_count(struct sl_conn *c, enum sl_err e, const char *what, size_t len)
{
	struct sl_stats *s = &c->w->st;

	s->errors[e]++;
	if (s->sample[e][0] != '\0' || what == NULL)
		return;
	/* Keep the first example printable: it ends up in a report. */
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < sizeof(s->sample[e]); i++) {
		unsigned char ch = (unsigned char)what[i];
		if (ch == '\r' || ch == '\n')
			ch = ' ';
		s->sample[e][j++] = (ch >= 32 && ch < 127 && ch != '"' &&
		    ch != '\\') ? (char)ch : '?';
	}
	while (j > 0 && s->sample[e][j - 1] == ' ')
		j--;
	s->sample[e][j] = '\0';
}

static bool	conn_start(struct sl_worker *);
static void	conn_close(struct sl_conn *, bool);
static void	conn_flush(struct sl_conn *);
static void	conn_read(struct sl_conn *);

/* Ask epoll for what the connection waits on now. */
static void
conn_watch(struct sl_conn *c, bool wr)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP |
	    (wr ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_write == wr)
		return;
	c->want_write = wr;
	epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Consecutive connection failures after which a worker gives up: the
 * server is down or refusing, and retrying at full speed measures
 * nothing (and burns a core). */
#define SL_FAILED_RUN_MAX	200

static void
conn_fail(struct sl_conn *c, enum sl_err e, const char *what, size_t len)
{
	err_count(c, e, what, len);
	/* Not for idle: a peer's ramp that stalls is its result. */
	if (opts.kind != SL_IDLE && !c->ready &&
	    ++c->w->failed_run == SL_FAILED_RUN_MAX) {
		fprintf(stderr, "smtpload: %d connections in a row failed "
		    "before the greeting; giving up\n", SL_FAILED_RUN_MAX);
		c->w->stopping = true;
	}
	conn_close(c, false);
}

static void
conn_fail_errno(struct sl_conn *c, enum sl_err e, const char *ctx)
{
	char m[160];

	snprintf(m, sizeof(m), "%s: %s", ctx, strerror(errno));
	conn_fail(c, e, m, strlen(m));
}

static void
conn_fail_ssl(struct sl_conn *c, enum sl_err e)
{
	char m[160];
	unsigned long code = ERR_get_error();

	if (code != 0)
		ERR_error_string_n(code, m, sizeof(m));
	else
		snprintf(m, sizeof(m), "ssl error, errno %s", strerror(errno));
	ERR_clear_error();
	conn_fail(c, e, m, strlen(m));
}

/* Queue a command (and optionally the body after it) and start sending. */
static void
conn_send(struct sl_conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->cmd, sizeof(c->cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->cmd))
		die("command too long");
	c->cmdlen = (size_t)n;
	c->out[0] = (struct iovec){ c->cmd, c->cmdlen };
	c->nout = 1;
	c->t_deadline = now_us() + (uint64_t)(opts.timeout * 1e6);
	conn_flush(c);
}

static void
conn_send_body(struct sl_conn *c)
{
	c->out[0] = (struct iovec){ (void *)body, body_len };
	c->nout = 1;
	c->t_deadline = now_us() + (uint64_t)(opts.timeout * 1e6);
	conn_flush(c);
}

/* Write what is pending; partial writes leave the rest for EPOLLOUT. */
static void
conn_flush(struct sl_conn *c)
{
	while (c->nout > 0) {
		ssize_t n;

		if (c->tls_on) {
			int r = SSL_write(c->ssl, c->out[0].iov_base,
			    (int)c->out[0].iov_len);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ) {
					conn_watch(c, e == SSL_ERROR_WANT_WRITE);
					return;
				}
				conn_fail_ssl(c, E_IO);
				return;
			}
			n = r;
		} else {
			n = writev(c->fd, c->out, c->nout);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					conn_watch(c, true);
					return;
				}
				conn_fail_errno(c, E_IO, "write");
				return;
			}
		}
		while (n > 0 && c->nout > 0) {
			size_t k = (size_t)n < c->out[0].iov_len ? (size_t)n :
			    c->out[0].iov_len;
			c->out[0].iov_base = (char *)c->out[0].iov_base + k;
			c->out[0].iov_len -= k;
			n -= (ssize_t)k;
			if (c->out[0].iov_len == 0) {
				c->out[0] = c->out[1];
				c->nout--;
			}
		}
	}
	conn_watch(c, false);
}

static bool
worker_may_start_msg(struct sl_worker *w)
{
	if (w->stopping)
		return false;
	if (w->budget >= 0 && w->started >= w->budget)
		return false;
	return true;
}

static void
msg_start(struct sl_conn *c)
{
	struct sl_worker *w = c->w;

	w->started++;
	c->t_msg = now_us();
	c->piped = opts.pipelining && c->cap_pipe;
	c->st = ST_MAIL;
	if (c->piped) {
		c->replies_left = 3;
		conn_send(c, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
		    opts.from, opts.rcpt);
	} else
		conn_send(c, "MAIL FROM:<%s>\r\n", opts.from);
}

/* After EHLO (and AUTH): what the session does next. */
static void
session_ready(struct sl_conn *c)
{
	struct sl_worker *w = c->w;

	c->ready = true;
	w->failed_run = 0;
	if (opts.kind == SL_IDLE) {
		c->st = ST_IDLE;
		c->idle_counted = true;
		w->inflight--;
		w->st.sessions++;
		c->t_deadline = 0;
		return;
	}
	if (opts.kind == SL_HANDSHAKE || !worker_may_start_msg(w)) {
		c->st = ST_QUIT;
		conn_send(c, "QUIT\r\n");
		return;
	}
	msg_start(c);
}

static void
tls_begin(struct sl_conn *c)
{
	c->ssl = SSL_new(c->w->ctx);
	if (c->ssl == NULL)
		die("SSL_new failed");
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	if (opts.resume && c->w->sess != NULL)
		SSL_set_session(c->ssl, c->w->sess);
	SSL_set_connect_state(c->ssl);
	c->st = ST_TLS;
	c->t_hs = now_us();
	c->t_deadline = c->t_hs + (uint64_t)(opts.timeout * 1e6);
}

static void
tls_step(struct sl_conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			conn_watch(c, e == SSL_ERROR_WANT_WRITE);
			return;
		}
		conn_fail_ssl(c, E_TLS);
		return;
	}
	struct sl_worker *w = c->w;
	uint64_t t = now_us();
	lat_add(&w->st.hs, t - c->t_hs);
	w->st.handshakes++;
	if (SSL_session_reused(c->ssl))
		w->st.resumed++;
	c->tls_on = true;
	conn_watch(c, false);
	if (opts.mode == SL_STARTTLS) {
		c->st = ST_EHLO;
		conn_send(c, "EHLO %s\r\n", opts.helo);
	} else {
		/* The greeting may already sit in OpenSSL's buffer, where
		 * epoll cannot see it. */
		c->st = ST_GREET;
		conn_read(c);
	}
}

/* One complete reply: code and the whole text (all lines). */
static void
on_reply(struct sl_conn *c, int code, const char *text, size_t len)
{
	struct sl_worker *w = c->w;

	switch (c->st) {
	case ST_GREET:
		if (code != 220)
			return conn_fail(c, E_GREET, text, len);
		lat_add(&w->st.setup, now_us() - c->t_conn);
		if (opts.kind == SL_HANDSHAKE && opts.mode == SL_TLS) {
			c->st = ST_QUIT;
			return conn_send(c, "QUIT\r\n");
		}
		c->st = ST_EHLO;
		return conn_send(c, "EHLO %s\r\n", opts.helo);
	case ST_EHLO:
		if (code != 250)
			return conn_fail(c, E_EHLO, text, len);
		c->cap_pipe = memmem(text, len, "PIPELINING", 10) != NULL;
		if (opts.mode == SL_STARTTLS && !c->tls_on) {
			if (memmem(text, len, "STARTTLS", 8) == NULL)
				return conn_fail(c, E_STARTTLS, text, len);
			c->st = ST_STARTTLS;
			return conn_send(c, "STARTTLS\r\n");
		}
		if (opts.auth_user != NULL && opts.kind == SL_MAIL) {
			c->st = ST_AUTH;
			return conn_send(c, "%s", auth_line);
		}
		return session_ready(c);
	case ST_STARTTLS:
		if (code != 220)
			return conn_fail(c, E_STARTTLS, text, len);
		if (c->rlen != 0)	/* RFC 3207 §4.2: nothing may follow */
			return conn_fail(c, E_PROTO, "data after 220", 14);
		tls_begin(c);
		return tls_step(c);
	case ST_AUTH:
		if (code != 235)
			return conn_fail(c, E_AUTH, text, len);
		return session_ready(c);
	case ST_MAIL:
		if (code != 250)
			return conn_fail(c, E_MAIL, text, len);
		c->st = ST_RCPT;
		if (!c->piped)
			conn_send(c, "RCPT TO:<%s>\r\n", opts.rcpt);
		return;
	case ST_RCPT:
		if (code != 250 && code != 251)
			return conn_fail(c, E_RCPT, text, len);
		c->st = ST_DATA;
		if (!c->piped)
			conn_send(c, "DATA\r\n");
		return;
	case ST_DATA:
		if (code != 354)
			return conn_fail(c, E_DATA, text, len);
		c->st = ST_DOT;
		return conn_send_body(c);
	case ST_DOT: {
		if (code != 250)
			return conn_fail(c, E_DOT, text, len);
		uint64_t t = now_us();
		lat_add(&w->st.msg, t - c->t_msg);
		w->st.accepted++;
		if (t >= t_win0 && t < t_win1)
			w->st.accepted_win++;
		c->msgs++;
		if (c->msgs < opts.per_session && worker_may_start_msg(w))
			return msg_start(c);
		c->st = ST_QUIT;
		return conn_send(c, "QUIT\r\n");
	}
	case ST_QUIT: {
		if (code != 221)
			return conn_fail(c, E_QUIT, text, len);
		uint64_t t = now_us();
		w->st.sessions++;
		if (t >= t_win0 && t < t_win1)
			w->st.sessions_win++;
		return conn_close(c, true);
	}
	case ST_IDLE:
		/* An idle session gets nothing unless the server gives up. */
		return conn_fail(c, E_CLOSED, text, len);
	default:
		return conn_fail(c, E_PROTO, text, len);
	}
}

/*
 * Pull complete replies out of rbuf. A reply ends with a line "ddd " or
 * "ddd\r\n"; "ddd-" continues it (RFC 5321 §4.2.1).
 */
static void
parse_replies(struct sl_conn *c)
{
	size_t start = 0;

	while (c->st != ST_FREE && c->st != ST_TLS) {
		char *p = c->rbuf + start;
		size_t avail = c->rlen - start, off = 0;
		bool done = false;
		int code = 0;

		while (off < avail) {
			char *nl = memchr(p + off, '\n', avail - off);
			if (nl == NULL)
				break;
			size_t ll = (size_t)(nl - (p + off)) + 1;
			if (ll < 4 || p[off] < '2' || p[off] > '5' ||
			    p[off + 1] < '0' || p[off + 1] > '9' ||
			    p[off + 2] < '0' || p[off + 2] > '9')
				return conn_fail(c, E_PROTO, p + off, ll);
			code = (p[off] - '0') * 100 + (p[off + 1] - '0') * 10 +
			    (p[off + 2] - '0');
			char sep = p[off + 3];
			off += ll;
			if (sep != '-') {
				done = true;
				break;
			}
		}
		if (!done) {
			if (avail == sizeof(c->rbuf))
				return conn_fail(c, E_PROTO, "reply too long", 14);
			break;
		}
		start += off;
		/* Let on_reply see what is left (STARTTLS injection check). */
		size_t rest = c->rlen - start;
		char text[SL_REPLY_MAX];
		memcpy(text, p, off);
		memmove(c->rbuf, c->rbuf + start, rest);
		c->rlen = rest;
		start = 0;
		on_reply(c, code, text, off);
	}
	if (start > 0 && c->st != ST_FREE) {
		memmove(c->rbuf, c->rbuf + start, c->rlen - start);
		c->rlen -= start;
	}
}

static void
conn_read(struct sl_conn *c)
{
	for (;;) {
		ssize_t n;
		size_t room = sizeof(c->rbuf) - c->rlen;

		if (room == 0)
			return conn_fail(c, E_PROTO, "reply too long", 14);
		if (c->tls_on) {
			int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE)
					return conn_watch(c, true);
				if (e == SSL_ERROR_ZERO_RETURN ||
				    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
					goto closed;
				return conn_fail_ssl(c, c->st == ST_IDLE ?
				    E_CLOSED : E_IO);
			}
			n = r;
		} else {
			n = read(c->fd, c->rbuf + c->rlen, room);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				return conn_fail_errno(c, c->st == ST_IDLE ?
				    E_CLOSED : E_IO, "read");
			}
			if (n == 0)
				goto closed;
		}
		c->rlen += (size_t)n;
		c->t_deadline = c->st == ST_IDLE ? 0 :
		    now_us() + (uint64_t)(opts.timeout * 1e6);
		parse_replies(c);
		if (c->st == ST_FREE || c->st == ST_TLS)
			return;
	}
closed:
	if (c->st == ST_IDLE)
		c->w->st.dropped++;
	conn_fail(c, E_CLOSED, "connection closed by server", 27);
}

static void
conn_event(struct sl_conn *c, uint32_t ev)
{
	if (c->st == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err != 0) {
			errno = err;
			return conn_fail_errno(c, E_CONNECT, "connect");
		}
		conn_watch(c, false);
		if (opts.mode == SL_TLS) {
			tls_begin(c);
			return tls_step(c);
		}
		c->st = ST_GREET;
		c->t_deadline = now_us() + (uint64_t)(opts.timeout * 1e6);
		return;
	}
	if (c->st == ST_TLS)
		return tls_step(c);
	if (c->nout > 0) {	/* TLS may want a read before it can write */
		conn_flush(c);
		if (c->st == ST_FREE)
			return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(c);
	else if ((ev & EPOLLOUT) && c->nout == 0)
		conn_watch(c, false);
}

/* ok: the session ended as planned (221 read); else it was cut short. */
static void
conn_close(struct sl_conn *c, bool ok)
{
	struct sl_worker *w = c->w;

	if (c->ssl != NULL) {
		if (ok && opts.resume && c->tls_on) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			/* SSL_free() of a session not shut down marks it
			 * not resumable; the server closed after 221. */
			SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN |
			    SSL_RECEIVED_SHUTDOWN);
			if (s != NULL) {
				SSL_SESSION_free(w->sess);
				w->sess = s;
			}
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (opts.kind == SL_IDLE && !c->idle_counted && c->st != ST_FREE)
		w->inflight--;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->st = ST_FREE;
	w->active--;
	/* No new session from here: the caller may still be walking this
	 * slot's buffers. worker_topup() refills from the loop. */
}

static struct sl_conn *
conn_slot(struct sl_worker *w)
{
	for (int i = 0; i < w->nconn; i++)
		if (w->conns[i].st == ST_FREE)
			return &w->conns[i];
	return NULL;
}

/* Open one more session if the run wants it; false if it does not. */
static bool
conn_start(struct sl_worker *w)
{
	if (w->stopping || interrupted)
		return false;
	if (opts.kind == SL_HANDSHAKE) {
		if (w->budget >= 0 && w->started >= w->budget)
			return false;
		w->started++;
	} else if (opts.kind == SL_MAIL && !worker_may_start_msg(w))
		return false;
	struct sl_conn *c = conn_slot(w);
	if (c == NULL)
		return false;
	memset(c, 0, offsetof(struct sl_conn, rbuf));
	c->rlen = 0;
	c->nout = 0;
	c->w = w;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	/* The 40 ms loopback stall the issue describes is Nagle + delayed
	 * ACK; a client that leaves Nagle on would measure itself. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t_conn = now_us();
	c->t_deadline = c->t_conn + (uint64_t)(opts.timeout * 1e6);
	c->st = ST_CONNECT;
	c->want_write = true;
	w->active++;
	if (opts.kind == SL_IDLE) {
		w->inflight++;
		w->opened++;
	}
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP,
	    .data.ptr = c };
	epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
	if (connect(c->fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		c->st = ST_CLOSING;
		errno = e;
		conn_fail_errno(c, E_CONNECT, "connect");
	}
	return true;
}

/* Keep C sessions open while the run wants more; a bounded number of
 * tries so that a server refusing at once cannot spin us forever. */
static void
worker_topup(struct sl_worker *w)
{
	for (int tries = w->nconn; tries > 0 && w->active < w->nconn; tries--)
		if (!conn_start(w))
			break;
}

static void
worker_timeouts(struct sl_worker *w, uint64_t t)
{
	for (int i = 0; i < w->nconn; i++) {
		struct sl_conn *c = &w->conns[i];
		if (c->st == ST_FREE || c->t_deadline == 0 || t < c->t_deadline)
			continue;
		char m[64];
		snprintf(m, sizeof(m), "no progress in state %d", (int)c->st);
		conn_fail(c, E_TIMEOUT, m, strlen(m));
	}
}

static void
worker_loop_once(struct sl_worker *w, int ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(w->ep, evs, 256, ms);

	for (int i = 0; i < n; i++) {
		struct sl_conn *c = evs[i].data.ptr;
		if (c->st != ST_FREE)
			conn_event(c, evs[i].events);
	}
}

static void
idle_ramp(struct sl_worker *w, uint64_t ramp_end)
{
	while (!interrupted) {
		uint64_t t = now_us();
		while (w->opened < w->nconn && w->inflight < opts.max_inflight)
			if (!conn_start(w))
				break;
		if (w->opened >= w->nconn && w->inflight == 0)
			break;
		if (t >= ramp_end)
			break;
		worker_loop_once(w, 10);
		worker_timeouts(w, now_us());
	}
}

static pthread_barrier_t ramp_barrier;

static void *
worker_main(void *arg)
{
	struct sl_worker *w = arg;
	uint64_t t;

	if (opts.kind == SL_IDLE) {
		idle_ramp(w, t_start + (uint64_t)(opts.ramp_timeout * 1e6));
		/* Sessions still being set up at the end of the ramp failed. */
		for (int i = 0; i < w->nconn; i++) {
			struct sl_conn *c = &w->conns[i];
			if (c->st != ST_FREE && c->st != ST_IDLE)
				conn_fail(c, E_TIMEOUT, "not ready at end of ramp", 24);
		}
		pthread_barrier_wait(&ramp_barrier);
		pthread_barrier_wait(&ramp_barrier);	/* main printed READY */
		uint64_t end = now_us() + (uint64_t)(opts.hold * 1e6);
		while (!interrupted && (t = now_us()) < end)
			worker_loop_once(w, SL_TICK_MS);
		for (int i = 0; i < w->nconn; i++)
			if (w->conns[i].st != ST_FREE)
				conn_close(&w->conns[i], true);
		return NULL;
	}
	worker_topup(w);
	uint64_t grace_end = 0;
	while (w->active > 0) {
		t = now_us();
		if (!w->stopping && (interrupted || (t_stop && t >= t_stop))) {
			w->stopping = true;
			grace_end = t + (uint64_t)(opts.timeout * 1e6);
		}
		if (w->stopping && t >= grace_end) {
			for (int i = 0; i < w->nconn; i++)
				if (w->conns[i].st != ST_FREE)
					conn_fail(&w->conns[i], E_TIMEOUT,
					    "still busy at end of run", 24);
			break;
		}
		worker_loop_once(w, SL_TICK_MS);
		worker_timeouts(w, now_us());
		worker_topup(w);
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile in ms of sorted samples (nearest rank). */
static double
pct(const struct sl_lat *l, double p)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)l->n);
	if (i >= l->n)
		i = l->n - 1;
	return l->v[i] / 1000.0;
}

static void
lat_merge(struct sl_lat *dst, const struct sl_lat *src)
{
	for (size_t i = 0; i < src->n; i++)
		lat_add(dst, src->v[i]);
}

static void
print_lat(FILE *f, const char *name, struct sl_lat *l, bool json)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
	if (json)
		fprintf(f, ", \"%s\": {\"n\": %zu, \"p50\": %.3f, \"p90\": %.3f,"
		    " \"p99\": %.3f, \"max\": %.3f}", name, l->n, pct(l, 50),
		    pct(l, 90), pct(l, 99), l->n ? l->v[l->n - 1] / 1000.0 : 0);
	else if (l->n > 0)
		fprintf(f, "  %-9s n=%zu p50=%.2fms p90=%.2fms p99=%.2fms "
		    "max=%.2fms\n", name, l->n, pct(l, 50), pct(l, 90),
		    pct(l, 99), l->v[l->n - 1] / 1000.0);
}

static void
report(struct sl_worker *ws, double wall, double window)
{
	struct sl_stats t = { 0 };
	struct rusage ru;

	for (int i = 0; i < opts.threads; i++) {
		struct sl_stats *s = &ws[i].st;
		t.accepted += s->accepted;
		t.accepted_win += s->accepted_win;
		t.sessions += s->sessions;
		t.sessions_win += s->sessions_win;
		t.handshakes += s->handshakes;
		t.resumed += s->resumed;
		t.dropped += s->dropped;
		for (int e = 0; e < E_COUNT; e++) {
			t.errors[e] += s->errors[e];
			if (t.sample[e][0] == '\0')
				memcpy(t.sample[e], s->sample[e], sizeof(t.sample[e]));
		}
		lat_merge(&t.msg, &s->msg);
		lat_merge(&t.hs, &s->hs);
		lat_merge(&t.setup, &s->setup);
	}
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	double cpu_pct = wall > 0 ? 100.0 * cpu / wall : 0;
	/* One thread that is busy nearly all of the time is the bottleneck. */
	bool bound = wall >= 2.0 && cpu_pct > 85.0 * opts.threads;
	uint64_t nerr = 0;
	for (int e = 0; e < E_COUNT; e++)
		nerr += t.errors[e];
	double mps = window > 0 ? t.accepted_win / window : 0;
	double sps = window > 0 ? (opts.kind == SL_IDLE ? t.sessions :
	    t.sessions_win) / window : 0;
	if (opts.kind == SL_HANDSHAKE)
		mps = 0;
	FILE *f = stdout;
	if (opts.json) {
		fprintf(f, "{\"label\": \"%s\", \"kind\": \"%s\", \"mode\": \"%s\","
		    " \"concurrency\": %d, \"per_session\": %d, \"size\": %zu,"
		    " \"wall_s\": %.3f, \"window_s\": %.3f, \"accepted\": %llu,"
		    " \"msgs_per_s\": %.1f, \"sessions\": %llu,"
		    " \"sessions_per_s\": %.1f, \"handshakes\": %llu,"
		    " \"resumed\": %llu, \"dropped\": %llu, \"errors_total\": %llu,"
		    " \"cpu_s\": %.3f, \"cpu_pct\": %.1f, \"client_bound\": %s",
		    opts.label, opts.kind == SL_MAIL ? "mail" : opts.kind ==
		    SL_HANDSHAKE ? "handshake" : "idle", opts.mode == SL_PLAIN ?
		    "plain" : opts.mode == SL_STARTTLS ? "starttls" : "tls",
		    opts.kind == SL_IDLE ? opts.idle : opts.conc,
		    opts.per_session, opts.size, wall, window,
		    (unsigned long long)t.accepted, mps,
		    (unsigned long long)t.sessions, sps,
		    (unsigned long long)t.handshakes,
		    (unsigned long long)t.resumed, (unsigned long long)t.dropped,
		    (unsigned long long)nerr, cpu, cpu_pct, bound ? "true" : "false");
		fprintf(f, ", \"errors\": {");
		bool first = true;
		for (int e = 0; e < E_COUNT; e++) {
			if (t.errors[e] == 0)
				continue;
			fprintf(f, "%s\"%s\": {\"n\": %llu, \"sample\": \"%s\"}",
			    first ? "" : ", ", sl_err_name[e],
			    (unsigned long long)t.errors[e], t.sample[e]);
			first = false;
		}
		fprintf(f, "}");
		print_lat(f, "msg_ms", &t.msg, true);
		print_lat(f, "handshake_ms", &t.hs, true);
		print_lat(f, "setup_ms", &t.setup, true);
		fprintf(f, "}\n");
	} else {
		fprintf(f, "%s: %llu accepted in %.2fs: %.1f msgs/s, %.1f "
		    "sessions/s (window %.2fs), %llu handshakes (%llu resumed)\n",
		    opts.label, (unsigned long long)t.accepted, wall, mps, sps,
		    window, (unsigned long long)t.handshakes,
		    (unsigned long long)t.resumed);
		print_lat(f, "message", &t.msg, false);
		print_lat(f, "handshake", &t.hs, false);
		print_lat(f, "setup", &t.setup, false);
		if (opts.kind == SL_IDLE)
			fprintf(f, "  idle: %llu established of %d, %llu dropped "
			    "while held\n", (unsigned long long)t.sessions,
			    opts.idle, (unsigned long long)t.dropped);
		for (int e = 0; e < E_COUNT; e++)
			if (t.errors[e] != 0)
				fprintf(f, "  error %-16s %llu  e.g. %s\n",
				    sl_err_name[e],
				    (unsigned long long)t.errors[e], t.sample[e]);
		fprintf(f, "  client cpu %.2fs = %.0f%% of %d thread(s)\n", cpu,
		    cpu_pct, opts.threads);
	}
	if (bound)
		fprintf(stderr, "smtpload: WARNING: the load generator used "
		    "%.0f%% CPU on %d thread(s): it may be the bottleneck\n",
		    cpu_pct, opts.threads);
}

static void
raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if ((long)rl.rlim_cur >= need)
		return;
	if ((long)rl.rlim_max < need)
		rl.rlim_max = (rlim_t)need;	/* works as root */
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		fprintf(stderr, "smtpload: warning: RLIMIT_NOFILE only %ld, "
		    "wanted %ld\n", (long)rl.rlim_cur, need);
	}
}

/* The message: a few header fields, then 76-character lines up to S. */
static void
build_body(void)
{
	size_t cap = opts.size + 1024;
	char *b = malloc(cap);
	int n;

	if (b == NULL)
		die("out of memory");
	n = snprintf(b, cap, "From: <%s>\r\nTo: <%s>\r\nSubject: smtpload "
	    "test message\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
	    "Message-ID: <smtpload.%ld@bench.invalid>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", opts.from,
	    opts.rcpt, (long)getpid());
	size_t len = (size_t)n;
	const char *alpha = "abcdefghijklmnopqrstuvwxyz0123456789";
	for (unsigned line = 0; len + 78 + 3 <= opts.size || line == 0; line++) {
		for (int i = 0; i < 76; i++)
			b[len++] = alpha[(line * 7 + (unsigned)i) % 36];
		b[len++] = '\r';
		b[len++] = '\n';
	}
	memcpy(b + len, ".\r\n", 3);
	body = b;
	body_len = len + 3;
}

static void
build_auth(void)
{
	unsigned char raw[400];
	size_t ul = strlen(opts.auth_user), pl = strlen(opts.auth_pass);

	if (ul + pl + 2 > sizeof(raw))
		die("credentials too long");
	raw[0] = '\0';
	memcpy(raw + 1, opts.auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, opts.auth_pass, pl);
	char b64[560];
	int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)(ul + pl + 2));
	snprintf(auth_line, sizeof(auth_line), "AUTH PLAIN %.*s\r\n", n, b64);
}

static void
usage(void)
{
	fprintf(stderr,
"usage: smtpload [options]\n"
"  -s HOST         server address (127.0.0.1)\n"
"  -p PORT         server port (25)\n"
"  -m MODE         plain | starttls | tls (implicit TLS) (tls)\n"
"  -k KIND         mail | handshake | idle (mail)\n"
"  -c N            concurrent sessions (8)\n"
"  -M N            messages per session (10)\n"
"  -S BYTES        message size (2048)\n"
"  -d SECONDS      run time (10); the run stops by itself\n"
"  -N COUNT        instead of -d: messages (mail) or sessions (handshake)\n"
"  -w SECONDS      warm-up excluded from the rates (-d only; 1)\n"
"  -a USER:PASS    AUTH PLAIN after EHLO\n"
"  -P              pipeline MAIL, RCPT and DATA when offered\n"
"  -f ADDR / -r ADDR  envelope sender / recipient\n"
"  -H NAME         EHLO name (smtpload.bench.invalid)\n"
"  -t N            threads, each with its own event loop (1)\n"
"  -K N / -T SEC   idle: sessions to open / seconds to hold them (1000 / 10)\n"
"  -R SEC          idle: bound on the ramp (60)\n"
"  -i N            idle: sessions being set up at once (64)\n"
"  -o SEC          per-step timeout (30)\n"
"  -e              resume TLS sessions (tickets/ids)\n"
"  -j              JSON result on stdout\n"
"  -l LABEL        label for the result\n");
	exit(2);
}

static void
parse_opts(int argc, char **argv)
{
	int ch;

	opts = (struct sl_opts){ .host = "127.0.0.1", .port = 25,
	    .mode = SL_TLS, .kind = SL_MAIL, .conc = 8, .per_session = 10,
	    .size = 2048, .duration = 10, .total = -1, .warmup = 1,
	    .from = "load@sender.test", .rcpt = "bench@example.test",
	    .helo = "smtpload.bench.invalid", .threads = 1, .idle = 1000,
	    .hold = 10, .ramp_timeout = 60, .max_inflight = 64, .timeout = 30,
	    .label = "smtpload" };
	while ((ch = getopt(argc, argv, "s:p:m:k:c:M:S:d:N:w:a:Pf:r:H:t:K:T:R:"
	    "i:o:ejl:h")) != -1) {
		switch (ch) {
		case 's': opts.host = optarg; break;
		case 'p': opts.port = atoi(optarg); break;
		case 'm':
			if (strcmp(optarg, "plain") == 0)
				opts.mode = SL_PLAIN;
			else if (strcmp(optarg, "starttls") == 0)
				opts.mode = SL_STARTTLS;
			else if (strcmp(optarg, "tls") == 0)
				opts.mode = SL_TLS;
			else
				usage();
			break;
		case 'k':
			if (strcmp(optarg, "mail") == 0)
				opts.kind = SL_MAIL;
			else if (strcmp(optarg, "handshake") == 0)
				opts.kind = SL_HANDSHAKE;
			else if (strcmp(optarg, "idle") == 0)
				opts.kind = SL_IDLE;
			else
				usage();
			break;
		case 'c': opts.conc = atoi(optarg); break;
		case 'M': opts.per_session = atoi(optarg); break;
		case 'S': opts.size = (size_t)atol(optarg); break;
		case 'd': opts.duration = atof(optarg); break;
		case 'N': opts.total = atol(optarg); opts.duration = 0; break;
		case 'w': opts.warmup = atof(optarg); break;
		case 'a': {
			char *col = strchr(optarg, ':');
			if (col == NULL)
				usage();
			*col = '\0';
			opts.auth_user = optarg;
			opts.auth_pass = col + 1;
			break;
		}
		case 'P': opts.pipelining = true; break;
		case 'f': opts.from = optarg; break;
		case 'r': opts.rcpt = optarg; break;
		case 'H': opts.helo = optarg; break;
		case 't': opts.threads = atoi(optarg); break;
		case 'K': opts.idle = atoi(optarg); break;
		case 'T': opts.hold = atof(optarg); break;
		case 'R': opts.ramp_timeout = atof(optarg); break;
		case 'i': opts.max_inflight = atoi(optarg); break;
		case 'o': opts.timeout = atof(optarg); break;
		case 'e': opts.resume = true; break;
		case 'j': opts.json = true; break;
		case 'l': opts.label = optarg; break;
		default: usage();
		}
	}
	if (opts.conc < 1 || opts.per_session < 1 || opts.threads < 1 ||
	    opts.threads > SL_MAX_THREADS || opts.idle < 1 ||
	    opts.max_inflight < 1 || opts.timeout <= 0 ||
	    (opts.duration <= 0 && opts.total <= 0))
		usage();
	if (opts.kind == SL_HANDSHAKE && opts.mode == SL_PLAIN)
		die("handshake mode needs -m tls or -m starttls");
	if (opts.kind == SL_IDLE && opts.mode == SL_PLAIN)
		die("idle mode opens TLS sessions: -m tls or -m starttls");
	if (opts.duration > 0 && opts.warmup >= opts.duration)
		opts.warmup = 0;
	if (strpbrk(opts.from, "\r\n<>") || strpbrk(opts.rcpt, "\r\n<>") ||
	    strpbrk(opts.helo, "\r\n") || strpbrk(opts.label, "\"\\"))
		die("bad address, EHLO name or label");
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (!opts.resume)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	return ctx;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int
main(int argc, char **argv)
{
	parse_opts(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	memset(&srv_addr, 0, sizeof(srv_addr));
	srv_addr.sin_family = AF_INET;
	srv_addr.sin_port = htons((uint16_t)opts.port);
	if (inet_pton(AF_INET, opts.host, &srv_addr.sin_addr) != 1)
		die("host must be an IPv4 address: %s", opts.host);
	build_body();
	if (opts.auth_user != NULL)
		build_auth();

	int total_conns = opts.kind == SL_IDLE ? opts.idle : opts.conc;
	raise_nofile(total_conns + 64);
	if (opts.threads > total_conns)
		opts.threads = total_conns;

	struct sl_worker *ws = calloc((size_t)opts.threads, sizeof(*ws));
	if (ws == NULL)
		die("out of memory");
	for (int i = 0; i < opts.threads; i++) {
		struct sl_worker *w = &ws[i];
		w->o = &opts;
		w->id = i;
		w->nconn = total_conns / opts.threads +
		    (i < total_conns % opts.threads);
		w->conns = calloc((size_t)w->nconn, sizeof(*w->conns));
		if (w->conns == NULL)
			die("out of memory");
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->ctx = make_ctx();
		w->budget = -1;
		if (opts.total > 0)
			w->budget = opts.total / opts.threads +
			    (i < opts.total % opts.threads);
	}

	t_start = now_us();
	if (opts.duration > 0) {
		t_stop = t_start + (uint64_t)(opts.duration * 1e6);
		t_win0 = t_start + (uint64_t)(opts.warmup * 1e6);
		t_win1 = t_stop;
	} else {
		t_win0 = t_start;
		t_win1 = UINT64_MAX;
	}
	pthread_barrier_init(&ramp_barrier, NULL, (unsigned)opts.threads + 1);
	for (int i = 0; i < opts.threads; i++)
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create failed");
	double ramp_s = 0;
	if (opts.kind == SL_IDLE) {
		pthread_barrier_wait(&ramp_barrier);
		ramp_s = (now_us() - t_start) / 1e6;
		uint64_t est = 0;
		for (int i = 0; i < opts.threads; i++)
			est += ws[i].st.sessions;
		/* The driver measures server memory between READY and exit. */
		printf("READY established=%llu wanted=%d ramp_s=%.2f\n",
		    (unsigned long long)est, opts.idle, ramp_s);
		fflush(stdout);
		pthread_barrier_wait(&ramp_barrier);
	}
	for (int i = 0; i < opts.threads; i++)
		pthread_join(ws[i].tid, NULL);
	uint64_t t_end = now_us();
	double wall = (t_end - t_start) / 1e6;
	double window;
	if (opts.kind == SL_IDLE)
		window = ramp_s;
	else if (opts.duration > 0)
		window = opts.duration - opts.warmup;
	else
		window = wall;
	report(ws, wall, window);
	for (int i = 0; i < opts.threads; i++)
		if (ws[i].failed_run >= SL_FAILED_RUN_MAX)
			return 1;	/* gave up: the numbers mean nothing */
	return 0;
}
