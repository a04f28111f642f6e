/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the SMTP session's command state machine: the real
 * session code (smtpd_session/verbs/txn/auth) runs in this process on its
 * own event loop behind a socketpair, and the input picks a sequence of
 * commands from the verb table (with argument shapes that hit every
 * refusal), or a verb with input bytes as its argument or DATA with input
 * bytes as its message (dot-stuffed as a client does), each group sent
 * pipelined or one by one. Invariants:
 *  - every command gets exactly one reply (a multi-line reply counts
 *    once), in order: each group's replies arrive and nothing else, and
 *    QUIT's 221 is the reply right after the last command's;
 *  - every reply line is well-formed (3 digits, then ' ' or '-', a code
 *    that does not change inside a reply, at most 512 octets);
 *  - the session ends (closes) after QUIT.
 * The mx listener has no TLS and no DNS, so nothing waits on a timer;
 * messages are committed to a spool under a temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/log.h"
#include "net/connlimit.h"
#include "queue/spool.h"
#include "queue/spool_commit.h"
#include "smtpd/smtpd_session.h"
#include "store/db.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a command needs after its reply. */
enum follow {
	FOLLOW_NONE,
	FOLLOW_DATA,		/* 354: the message follows */
	FOLLOW_AUTH,		/* 334: "*" cancels */
};

struct cmd {
	const char	*text;	/* sent with CRLF (BDAT: its chunk included) */
	bool		 ends_group;
	enum follow	 follow;
};

static const struct cmd cmds[] = {
	{ "EHLO client.example.test", false, FOLLOW_NONE },
	{ "HELO client.example.test", false, FOLLOW_NONE },
	{ "EHLO", false, FOLLOW_NONE },
	{ NULL /* EHLO with a 300-octet name */, false, FOLLOW_NONE },
	{ NULL /* HELO with a 300-octet name */, false, FOLLOW_NONE },
	{ "MAIL FROM:<sender@client.example>", false, FOLLOW_NONE },
	{ "MAIL FROM:<>", false, FOLLOW_NONE },
	{ "MAIL FROM:<a@b.example> SIZE=999999999", false, FOLLOW_NONE },
	{ "MAIL FROM:<a@b.example> NOSUCH=1", false, FOLLOW_NONE },
	{ "MAIL FROM:bad", false, FOLLOW_NONE },
	{ "RCPT TO:<alice@example.test>", false, FOLLOW_NONE },
	{ "RCPT TO:<nobody@example.test>", false, FOLLOW_NONE },
	{ "RCPT TO:<x@elsewhere.example>", false, FOLLOW_NONE },
	{ "RCPT TO:<Postmaster>", false, FOLLOW_NONE },
	{ "RCPT TO:<>", false, FOLLOW_NONE },
	{ "DATA", true, FOLLOW_DATA },
	{ "DATA x", false, FOLLOW_NONE },
	{ "BDAT 6 LAST\r\nabcd", true, FOLLOW_NONE },
	{ "BDAT 5\r\nxyz", true, FOLLOW_NONE },
	{ "BDAT 0 LAST", true, FOLLOW_NONE },
	{ "RSET", false, FOLLOW_NONE },
	{ "RSET now", false, FOLLOW_NONE },
	{ "NOOP", false, FOLLOW_NONE },
	{ "NOOP with args", false, FOLLOW_NONE },
	{ "VRFY alice", false, FOLLOW_NONE },
	{ "VRFY", false, FOLLOW_NONE },
	{ "EXPN list", false, FOLLOW_NONE },
	{ "HELP", false, FOLLOW_NONE },
	{ "STARTTLS", true, FOLLOW_NONE },
	{ "AUTH PLAIN", true, FOLLOW_AUTH },
	{ "AUTH PLAIN =", true, FOLLOW_AUTH },
	{ "AUTH", false, FOLLOW_NONE },
	{ "FOO bar", false, FOLLOW_NONE },
	{ "", false, FOLLOW_NONE },
	{ "mail from:<lower@client.example>", false, FOLLOW_NONE },
	{ "EHLO \xc3\xa9.example", false, FOLLOW_NONE },
	{ NULL /* NOOP with a NUL */, false, FOLLOW_NONE },
	{ NULL /* an overlong line */, false, FOLLOW_NONE },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

/* A byte with bit 6 set: one of these with the next byte's count (mod
 * 48) of input bytes as the argument (a LF in it becomes a space, so it
 * stays one line), or, for DATA, as the message. */
static const struct cmd raw_cmds[] = {
	{ "MAIL FROM:<", false, FOLLOW_NONE },
	{ "RCPT TO:<", false, FOLLOW_NONE },
	{ "EHLO ", false, FOLLOW_NONE },
	{ "HELO ", false, FOLLOW_NONE },
	{ "VRFY ", false, FOLLOW_NONE },
	{ "NOOP ", false, FOLLOW_NONE },
	{ "AUTH PLAIN ", true, FOLLOW_AUTH },
	{ "DATA", true, FOLLOW_DATA },
};

/* One command of a group: a row of cmds, or of raw_cmds with its bytes. */
struct pick {
	const struct cmd	*cmd;
	size_t			 k;		/* row of cmds */
	const uint8_t		*raw;		/* NULL for a cmds row */
	size_t			 rawlen;
};

static struct smtpd_ctx ctx;
static char queue_dir[4200];
static unsigned runs;

/* The bytes of command i (for the NULL rows: made here). */
static size_t
cmd_bytes(size_t i, char *out, size_t cap)
{
	if (cmds[i].text != NULL)
		return (size_t)snprintf(out, cap, "%s\r\n", cmds[i].text);
	switch (i) {
	case 3:
	case 4:
		memcpy(out, i == 3 ? "EHLO " : "HELO ", 5);
		memset(out + 5, 'h', 300);
		memcpy(out + 305, ".example\r\n", 10);
		return 315;
	case NCMDS - 2:
		memcpy(out, "NOOP\0x\r\n", 8);
		return 8;
	default:
		memcpy(out, "NOOP ", 5);
		memset(out + 5, 'x', 1200);
		memcpy(out + 1205, "\r\n", 2);
		return 1207;
	}
}

/* The bytes of a pick: a raw verb's argument, LF made a space. */
static size_t
pick_bytes(const struct pick *p, char *out, size_t cap)
{
	size_t n;

	if (p->raw == NULL)
		return cmd_bytes(p->k, out, cap);
	n = (size_t)snprintf(out, cap, "%s", p->cmd->text);
	if (p->cmd->follow != FOLLOW_DATA)
		for (size_t i = 0; i < p->rawlen; i++)
			out[n++] = p->raw[i] == '\n' ? ' ' : (char)p->raw[i];
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

static void
setup(void)
{
	char dir[] = "/tmp/fuzz-smtpd-session-XXXXXX", path[4200];
	char err[512];
	struct conf *c;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/sealmail.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f, "[server]\nhostname = mail.example.test\n"
	    "data_dir = %s/data\nuser =\nworkers = 1\nmax_errors = 1000\n"
	    "max_recipients = 5\nmax_message_size = 100000\n\n"
	    "[listen \"mx\"]\naddress = 127.0.0.1:25\nrole = mx\n"
	    "tls = none\n\n[domain \"example.test\"]\n", dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/data", dir);
	if (mkdir(path, 0700) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/sealmail.conf", dir);
	if (conf_load(path, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	if (spool_init(c->data_dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	snprintf(queue_dir, sizeof(queue_dir), "%s/spool/queue",
	    c->data_dir);
	snprintf(path, sizeof(path), "%s/sealmail.db", c->data_dir);
	ctx.db = db_open(path, true, NULL, err, sizeof(err));
	if (ctx.db == NULL ||
	    db_user_add(ctx.db, "alice@example.test", NULL) != DB_OK)
		abort();
	/* The session logs a line per command: to syslog, which drops them
	 * without a log socket, rather than into the fuzzer's output. */
	log_init("fuzz", true, false);
	ctx.conf = c;
	ctx.base = event_base_new();
	ctx.limits = connlimit_new(1);
	ctx.committer = spool_committer_new(ctx.base, 1);
	/* No keys process (ctx.keys NULL): AUTH with a password is answered
	 * 454 at once, which still tests one reply per command. */
}

/* Committed messages pile up in the spool: empty it now and then. */
static void
clean_queue(void)
{
	DIR *d = opendir(queue_dir);
	struct dirent *e;
	char path[4500];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", queue_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

struct client {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	bool	 eof;
	int	 last_code;	/* of the last complete reply */
	size_t	 last_lines;
};

/* Run the server's loop once (waiting at most ms) and take what it
 * wrote. */
static void
pump(struct client *cl, int ms)
{
	struct timeval tv = { 0, ms * 1000 };
	ssize_t n;

	event_base_loopexit(ctx.base, &tv);
	event_base_loop(ctx.base, EVLOOP_ONCE);
	while (!cl->eof && cl->len < sizeof(cl->buf)) {
		n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);
		if (n > 0)
			cl->len += (size_t)n;
		else {
			if (n == 0)
				cl->eof = true;
			break;
		}
	}
}

/* Take one complete reply off the buffer: 1 if there was one, 0 if not
 * yet. Aborts on a malformed one. */
static int
take_reply(struct client *cl)
{
	size_t off = 0, lines = 0;
	int code = -1;

	for (;;) {
		char *eol = memmem(cl->buf + off, cl->len - off, "\r\n", 2);
		if (eol == NULL)
			return 0;
		size_t n = (size_t)(eol - (cl->buf + off));
		const char *l = cl->buf + off;
		CHECK(n >= 3 && n <= 510);
		CHECK(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' &&
		    l[1] <= '9' && l[2] >= '0' && l[2] <= '9');
		CHECK(n == 3 || l[3] == ' ' || l[3] == '-');
		int c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		CHECK(code == -1 || c == code);
		code = c;
		lines++;
		off += n + 2;
		if (n == 3 || l[3] == ' ')
			break;
	}
	memmove(cl->buf, cl->buf + off, cl->len - off);
	cl->len -= off;
	cl->last_code = code;
	cl->last_lines = lines;
	return 1;
}

/* Wait for the next reply; aborts if none comes (a command left
 * unanswered). Threads (spool commits) answer within the wait. */
static void
expect_reply(struct client *cl)
{
	for (int i = 0; i < 400; i++) {
		if (take_reply(cl))
			return;
		CHECK(!cl->eof);
		pump(cl, 10);
	}
	CHECK(!"a command got no reply");
}

static void
send_all(struct client *cl, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(cl->fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else {
			CHECK(w == -1 && errno == EAGAIN);
			pump(cl, 1);
		}
	}
}

/* The reply's follow-up exchange (counted as one more command); the
 * message is body (dot-stuffed here) when not NULL. */
static void
follow_up(struct client *cl, enum follow f, const uint8_t *body,
    size_t bodylen)
{
	static const char msg[] = "Subject: fuzz\r\n\r\nbody\r\n.\r\n";
	char stuffed[2 * 256 + 8];
	size_t n = 0;

	if (f == FOLLOW_DATA && cl->last_code == 354) {
		if (body == NULL)
			send_all(cl, msg, sizeof(msg) - 1);
		else {
			/* RFC 5321 §4.5.2: a "." after CRLF is doubled. */
			for (size_t i = 0; i < bodylen; i++) {
				if (body[i] == '.' && (i == 0 || (i >= 2 &&
				    body[i - 2] == '\r' && body[i - 1] == '\n')))
					stuffed[n++] = '.';
				stuffed[n++] = (char)body[i];
			}
			memcpy(stuffed + n, "\r\n.\r\n", 5);
			send_all(cl, stuffed, n + 5);
		}
		expect_reply(cl);
		CHECK(cl->last_code != 354);
	} else if (f == FOLLOW_AUTH && cl->last_code == 334) {
		send_all(cl, "*\r\n", 3);
		expect_reply(cl);
		CHECK(cl->last_code == 501);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 16];
	struct client cl = { .fd = -1 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int sv[2];

	if (ctx.base == NULL)
		setup();
	if (++runs % 500 == 0)
		clean_queue();
	if (size > 200)
		size = 200;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	cl.fd = sv[1];
	sin.sin_addr.s_addr = htonl(0x7f000001);
	smtpd_session_accept(&ctx, sv[0], (struct sockaddr *)&sin,
	    sizeof(sin), 0);
	expect_reply(&cl);
	CHECK(cl.last_code == 220);

	/* Each byte: low 6 bits pick a command, bit 6 a raw_cmds row
	 * (low 3 bits) with bytes of the input, the top bit says "send
	 * what is gathered now" (one by one when always set). */
	struct pick group[16];
	size_t ng = 0;
	for (size_t i = 0; i <= size; i++) {
		bool flush = i == size;
		if (i < size) {
			struct pick *p = &group[ng++];
			uint8_t b = data[i];
			size_t k = (b & 0x3f) % NCMDS;
			*p = (struct pick){ .cmd = &cmds[k], .k = k };
			if (b & 0x40) {
				p->cmd = &raw_cmds[b & 7];
				p->raw = data + i + 1;
				p->rawlen = i + 1 < size ? data[i + 1] % 48 : 0;
				if (p->rawlen > size - i - 2)
					p->rawlen = size - i - 2;
				p->raw += i + 1 < size ? 1 : 0;
				i += i + 1 < size ? 1 + p->rawlen : 0;
			}
			flush = (b & 0x80) || p->cmd->ends_group ||
			    ng == sizeof(group) / sizeof(group[0]);
		}
		if (!flush || ng == 0)
			continue;
		size_t len = 0;
		for (size_t j = 0; j < ng; j++)
			len += pick_bytes(&group[j], out + len,
			    sizeof(out) - len);
		send_all(&cl, out, len);
		for (size_t j = 0; j < ng; j++) {
			expect_reply(&cl);
			/* A refused command never looks like the answer to
			 * another: 421 would mean the session ended. */
			CHECK(cl.last_code != 421 && cl.last_code != 221);
			follow_up(&cl, group[j].cmd->follow, group[j].raw,
			    group[j].rawlen);
		}
		ng = 0;
	}
	send_all(&cl, "QUIT\r\n", 6);
	expect_reply(&cl);
	CHECK(cl.last_code == 221);
	/* Nothing after the 221, then the close. */
	for (int i = 0; i < 400 && !cl.eof; i++)
		pump(&cl, 10);
	CHECK(cl.eof);
	CHECK(cl.len == 0);
	close(cl.fd);
	/* The session frees itself on a later loop turn. */
	for (int i = 0; i < 100 && ctx.nsessions > 0; i++)
		pump(&cl, 1);
	CHECK(ctx.nsessions == 0);
	return 0;
}
