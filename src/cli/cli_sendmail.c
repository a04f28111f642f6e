/* SPDX-License-Identifier: ISC */
/*
 * `sealmail sendmail` (also run when the binary is called as "sendmail"):
 * sendmail-compatible local injection for cron, PHP and scripts, for
 * every local user. The message is read from standard input, completed,
 * and handed to the daemon as SMTP over the local submission socket
 * ([server] submit_socket, net/localsock.h); exit 0 means it is queued
 * durably (the daemon answered 250 after its fsync).
 *
 *	sendmail [-t] [-i|-oi] [-f FROM|-r FROM] [-F NAME] [-C CONFIG]
 *	    [-N never|success,delay,failure] [-R full|hdrs] [-v] [-bm]
 *	    [-B TYPE] [-oX...] [--] [RCPT...]
 *	sendmail -bs | -bp | -q | -bi	(also as "mailq" = -bp and
 *					 "newaliases" = -bi)
 *
 * -t	  recipients from the To:, Cc: and Bcc: fields, added to any given
 *	  as arguments (Postfix's behaviour; Resent-* fields are not read).
 * -i, -oi a line holding only "." does not end the input (without them it
 *	  does, as in sendmail). Lines are never dot-unstuffed.
 * -f, -r the envelope sender; "" or "<>" is the null sender. Default: the
 *	  invoking user's login name at the first [domain] of the
 *	  configuration (at [server] hostname when there is none), so that
 *	  bounces of cron mail stay local and can be aliased
 *	  (`sealmail alias add root@example.org admin@example.org`).
 * -F	  the full name for a From: field we add (default: the user's GECOS
 *	  name, unless -f names another sender).
 * -C	  another configuration file (sendmail's -C); the default is -c,
 *	  $SEALMAIL_CONFIG or /etc/sealmail/sealmail.conf.
 * -N, -R the DSN NOTIFY and RET values (RFC 3461) for the envelope.
 * -bs	  SMTP on standard input and output, relayed to the daemon's local
 *	  socket (the session is the same as the one we open ourselves).
 * -bp	  the queue (`sealmail queue list`); -q[...] flushes it (`sealmail
 *	  queue flush`). Both read the spool, so need root or the [server]
 *	  user, as Postfix's need the queue's group.
 * -bi	  (newaliases) does nothing: aliases live in the store.
 * -v, -bm, -B TYPE, -oem, -odi, -odb, -om are accepted and ignored; any
 * other -oX is ignored with a warning; other -bX modes are refused.
 *
 * A recipient or sender without "@" is qualified like the default sender.
 * Recipients in a local domain are expanded by the daemon exactly as for
 * any SMTP client: an unknown local user is an error (exit 1), not a
 * bounce later.
 *
 * The message: LF or CRLF line ends (a bare CR too) become CRLF, and it
 * may hold at most [server] max_message_size bytes. Missing Date:,
 * Message-ID: and From: fields are added (RFC 6409 §8.1-8.3); Bcc: fields
 * are always removed; an mbox "From " first line is dropped; input that
 * does not start with a header section gets an empty line before it, so
 * it becomes the body.
 *
 * Who the sender is: the daemon asks the kernel (SO_PEERCRED) and writes
 * that uid and login name into Received ("from local user NAME (uid N)")
 * and the envelope; nothing this program says can change them. It DKIM-
 * signs the message only when the user owns its From: address (their
 * LOGIN@ a local domain, or an alias expanding to it; smtpd_local.c).
 *
 * Why a socket and not Postfix's setgid postdrop + maildrop folder: the
 * SMTP workers already accept connections, expand recipients, sign and
 * commit to the spool, so a unix listener reuses every one of those
 * paths, and the kernel's peer credentials cannot be forged, where a
 * setgid helper would be one more privileged program parsing input.
 *
 * Without a daemon (the socket is missing or refuses), root (which then
 * switches to the [server] user) and that user write the spool directly,
 * as before (unsigned; the queue runner takes the message when it
 * starts); anyone else gets a one-line error and exit 1.
 *
 * Exit codes (DESIGN.md §5): 0 queued, 1 failure (one line on stderr),
 * 2 usage error.
 */
#include "cli/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/cli_submit.h"
#include "conf/conf.h"
#include "core/datetime.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/rfc5322_headers.h"
#include "proc/priv.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "smtpd/smtpd_received.h"
#include "store/db.h"


#define SM_USAGE "sendmail [-t] [-i] [-f FROM] [-F NAME] [-C CONFIG] " \
	"[-N NOTIFY] [-R full|hdrs] [RCPT...] | -bs | -bp | -q | -bi"
/* A display name we put into From: (longer -F values are cut). */
#define SM_NAME_MAX	128

struct sm_opts {
	char		 mode;		/* -bX: m(ail), s(mtp), p(rint queue),
					 * i(nit aliases); q: -q */
	bool		 extract;	/* -t */
	bool		 dot_ends;	/* no -i */
	bool		 verbose;
	const char	*from;		/* -f/-r, or NULL */
	const char	*fullname;	/* -F, or NULL */
	const char	*config;	/* -C, or NULL */
	unsigned	 notify;
	enum envelope_ret ret;
	char		**rcpts;
	int		 nrcpts;
};

/* One message being assembled. */
struct sm_msg {
	const struct conf *conf;
	struct buf	 in;		/* stdin, CRLF line ends */
	struct buf	 out;		/* the message to queue */
	char		 qid[IDS_QID_LEN + 1];
	char		 user[64];	/* login name (sanitised) */
	uid_t		 uid;		/* the real uid, before any switch */
	int		 sock_errno;	/* why the daemon's socket failed */
	char		 gecos[SM_NAME_MAX + 1];
	char		 sender[LIMIT_PATH + 1];	/* "" = null */
	char		 self[LIMIT_PATH + 1];	/* default address */
	char		**rcpts;	/* as given / extracted, normalised */
	size_t		 nrcpts;
	bool		 utf8;		/* a non-ASCII address */
};

static void
sm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set by cli_sendmail_compose() only (the fuzz target's entry). */
static bool sm_silent;

/* "sendmail: <message>" on stderr. */
static void
sm_error(const char *fmt, ...)
{
	va_list ap;

	if (sm_silent)
		return;
	fputs("sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- options ------------------------------------------------------------ */

/* -N never | comma list of success, delay, failure (RFC 3461 §4.1). */
static int
sm_parse_notify(const char *s, unsigned *out)
{
	char *copy = xstrdup(s), *tok, *save = NULL;
	int rc = 0;

	*out = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(tok, "never") == 0)
			*out |= ENVELOPE_NOTIFY_NEVER;
		else if (strcasecmp(tok, "success") == 0)
			*out |= ENVELOPE_NOTIFY_SUCCESS;
		else if (strcasecmp(tok, "delay") == 0)
			*out |= ENVELOPE_NOTIFY_DELAY;
		else if (strcasecmp(tok, "failure") == 0)
			*out |= ENVELOPE_NOTIFY_FAILURE;
		else
			rc = -1;
	}
	if (*out == 0 || ((*out & ENVELOPE_NOTIFY_NEVER) &&
	    *out != ENVELOPE_NOTIFY_NEVER))
		rc = -1;
	free(copy);
	return rc;
}

/* -o options that scripts pass all the time and that mean nothing here
 * (error mode, delivery mode, "me too"). */
static bool
sm_quiet_option(const char *arg)
{
	static const char *const quiet[] = { "-oem", "-oee", "-oep", "-oeq",
	    "-oew", "-odi", "-odb", "-odq", "-om", NULL };

	for (size_t i = 0; quiet[i]; i++)
		if (strcmp(arg, quiet[i]) == 0)
			return true;
	return false;
}

/* The value of an option that takes one: "-fX" or "-f X". */
static const char *
sm_optarg(int argc, char **argv, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* Clustered flags such as -ti; false if arg is something else. */
static bool
sm_flags(const char *arg, struct sm_opts *o)
{
	if (arg[1] == '\0' || strspn(arg + 1, "tiv") != strlen(arg + 1))
		return false;
	for (const char *p = arg + 1; *p; p++) {
		if (*p == 't')
			o->extract = true;
		else if (*p == 'i')
			o->dot_ends = false;
		else
			o->verbose = true;
	}
	return true;
}

static int
sm_option(int argc, char **argv, int *i, struct sm_opts *o)
{
	const char *a = argv[*i], *v;
	char esc[128];

	if (sm_flags(a, o))
		return 0;
	if (strcmp(a, "-oi") == 0) {
		o->dot_ends = false;
		return 0;
	}
	if (strncmp(a, "-o", 2) == 0) {
		if (!sm_quiet_option(a))
			sm_error("ignoring option %s", cli_escape(a, esc,
			    sizeof(esc)));
		return 0;
	}
	if (strncmp(a, "-b", 2) == 0) {
		if (a[2] == '\0' || a[3] != '\0' || strchr("mspi", a[2]) ==
		    NULL) {
			sm_error("mode %s is not supported (only -bm, -bs, "
			    "-bp and -bi)", cli_escape(a, esc, sizeof(esc)));
			return -1;
		}
		o->mode = a[2];
		return 0;
	}
	if (a[1] == 'q') {		/* -q, -q30m, -qR...: flush now */
		o->mode = 'q';
		return 0;
	}
	if (strchr("frFCNRB", a[1]) == NULL || a[1] == '\0')
		goto bad;
	if ((v = sm_optarg(argc, argv, i)) == NULL)
		goto bad;
	switch (a[1]) {
	case 'f': case 'r':	o->from = v; break;
	case 'F':		o->fullname = v; break;
	case 'C':		o->config = v; break;
	case 'B':		break;	/* body type: we look at the bytes */
	case 'N':
		if (sm_parse_notify(v, &o->notify) == -1)
			goto bad;
		break;
	case 'R':
		if (strcasecmp(v, "full") == 0)
			o->ret = ENVELOPE_RET_FULL;
		else if (strcasecmp(v, "hdrs") == 0)
			o->ret = ENVELOPE_RET_HDRS;
		else
			goto bad;
		break;
	}
	return 0;
bad:
	sm_error("bad option %s", cli_escape(a, esc, sizeof(esc)));
	return -1;
}

/* Options first, then recipients (argv[0] is the command name). */
static int
sm_parse_args(int argc, char **argv, struct sm_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->mode = 'm';
	o->dot_ends = true;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0';
	    i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (sm_option(argc, argv, &i, o) == -1)
			return cli_usage(SM_USAGE);
	}
	o->rcpts = argv + i;
	o->nrcpts = argc - i;
	if (o->mode != 'm')
		return 0;
	if (o->nrcpts == 0 && !o->extract) {
		sm_error("no recipients given (and no -t)");
		return cli_usage(SM_USAGE);
	}
	return 0;
}

/* --- who may queue -------------------------------------------------------- */

/*
 * Root, the [server] user, or (without a [server] user) the owner of
 * data_dir: the only accounts that can write the spool, used when the
 * daemon's socket failed (sock_errno says why). The check is a courtesy
 * (clear message instead of EACCES); the file modes enforce it.
 */
static int
sm_check_user(const struct conf *c, int sock_errno)
{
	uid_t uid = getuid(), su;
	gid_t sg;
	struct stat sb;
	char err[256];

	if (uid == 0)
		return 0;
	if (c->user && c->user[0] != '\0') {
		if (priv_lookup(c->user, &su, &sg, err, sizeof(err)) &&
		    su == uid)
			return 0;
	} else if (stat(c->data_dir, &sb) == 0 && sb.st_uid == uid)
		return 0;
	sm_error("cannot reach the sealmail daemon at %s (%s), and without "
	    "it only root and the sealmail user (%s) can queue mail",
	    c->submit_socket ? c->submit_socket : "[server] submit_socket",
	    c->submit_socket ? strerror(sock_errno) : "off",
	    c->user && c->user[0] ? c->user : "the owner of data_dir");
	return -1;
}

/* Login name (made safe for a header comment), GECOS name, and the
 * default address LOGIN@first-domain (or @hostname). */
static int
sm_identity(struct sm_msg *m)
{
	const struct conf *c = m->conf;
	struct passwd *pw = getpwuid(m->uid = getuid());
	const char *dom = c->ndomains > 0 ? c->domains[0].name : c->hostname;
	size_t i;

	if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0') {
		sm_error("cannot find the name of user %u", (unsigned)getuid());
		return -1;
	}
	for (i = 0; pw->pw_name[i] && i + 1 < sizeof(m->user); i++) {
		char ch = pw->pw_name[i];

		m->user[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' &&
		    ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' ? ch : '?';
	}
	m->user[i] = '\0';
	snprintf(m->gecos, sizeof(m->gecos), "%.*s", (int)strcspn(
	    pw->pw_gecos ? pw->pw_gecos : "", ","), pw->pw_gecos ?
	    pw->pw_gecos : "");
	if (snprintf(m->self, sizeof(m->self), "%s@%s", m->user, dom) >=
	    (int)sizeof(m->self)) {
		sm_error("user name too long for an address");
		return -1;
	}
	return 0;
}

/* --- reading the message ------------------------------------------------- */

/* Append one input line (without its line end) plus CRLF; a bare CR
 * inside ends a line too, so each piece between them is a line, also for
 * the "." that ends the input. 1 at the terminating ".", -1 when too
 * large, else 0. */
static int
sm_line(struct sm_msg *m, const struct sm_opts *o, const uint8_t *p,
    size_t n)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	for (;;) {
		const uint8_t *cr = n > 0 ? memchr(p, '\r', n) : NULL;
		size_t len = cr != NULL ? (size_t)(cr - p) : n;

		if (o->dot_ends && len == 1 && p[0] == '.')
			return 1;
		if ((len > 0 && buf_append(&m->in, p, len) == -1) ||
		    buf_append(&m->in, "\r\n", 2) == -1)
			return -1;
		if (cr == NULL)
			return 0;
		p = cr + 1;
		n -= len + 1;
	}
}

/* Take the next n input bytes: complete lines into m->in, the rest into
 * line. 0, 1 at the "." line, -1 when too large. */
static int
sm_take(struct sm_msg *m, const struct sm_opts *o, struct buf *line,
    const uint8_t *p, size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (p[i] != '\n') {
			if (buf_append(line, p + i, 1) == -1)
				rc = -1;
			continue;
		}
		rc = sm_line(m, o, line->data, line->len);
		buf_reset(line);
	}
	return rc;
}

/*
 * Read standard input into m->in with CRLF line ends, until EOF or the
 * "." line. The current line is kept in `line`, bounded like the whole
 * message, so the bound holds before anything is appended.
 */
static int
sm_read(struct sm_msg *m, const struct sm_opts *o, size_t max)
{
	uint8_t chunk[65536];
	struct buf line;
	ssize_t r;
	int rc = 0;

	buf_init(&m->in, max);
	buf_init(&line, max);
	while (rc == 0 && (r = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			sm_error("reading the message: %s", strerror(errno));
			buf_clear(&line);
			return -1;
		}
		rc = sm_take(m, o, &line, chunk, (size_t)r);
	}
	if (rc == 0 && line.len > 0)
		rc = sm_line(m, o, line.data, line.len);
	buf_clear(&line);
	if (rc == -1) {
		sm_error("message too large (max %zu bytes)", max);
		return -1;
	}
	return 0;
}

/* --- the header section ------------------------------------------------- */

/* "name:" or "name WSP:" at p (RFC 5322 §3.6.8 ftext, §4.5 obsolete). */
static bool
sm_is_field_line(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/*
 * Where the header section of in (CRLF lines) starts, ends and where the
 * body begins: the header section is the run of field lines (and their
 * continuations) at the top; the body starts after the empty line, or at
 * the first line that is not a field. An mbox "From " line is skipped.
 */
static void
sm_extent(const struct buf *in, size_t *hstart, size_t *hend, size_t *body)
{
	const char *p = (const char *)in->data;
	size_t pos = 0, len = in->len;

	if (len >= 5 && memcmp(p, "From ", 5) == 0 &&
	    !sm_is_field_line(p, len))
		pos = (size_t)((const char *)memmem(p, len, "\r\n", 2) - p) + 2;
	*hstart = pos;
	while (pos < len) {
		const char *e = memmem(p + pos, len - pos, "\r\n", 2);
		size_t n = (size_t)(e - (p + pos));

		if (n == 0) {
			*hend = pos;
			*body = pos + 2;
			return;
		}
		if (!((p[pos] == ' ' || p[pos] == '\t') ? pos > *hstart :
		    sm_is_field_line(p + pos, n)))
			break;
		pos += n + 2;
	}
	*hend = *body = pos;
}

/* m->in's bytes; "" for empty input, which left the buf without any. */
static const char *
sm_in(const struct sm_msg *m)
{
	return m->in.data != NULL ? (const char *)m->in.data : "";
}

/* What the header section holds. */
struct sm_fields {
	bool	has_from, has_date, has_msgid;
};

/* Add the unfolded value's addresses to m->rcpts (for -t). */
static int
sm_extract(struct sm_msg *m, const struct rfc5322_field *f)
{
	const struct conf *c = m->conf;
	struct buf v;
	struct addr *a = xcalloc(c->max_recipients + 1, sizeof(*a));
	char text[LIMIT_PATH + 1], esc[200];
	int n, rc = -1;

	buf_init(&v, LIMIT_HEADER_SECTION);
	if (rfc5322_field_unfold(f, &v) == -1 ||
	    (n = addr_parse_header_list(buf_cstr(&v), v.len, a,
	    c->max_recipients + 1)) == -1) {
		sm_error("cannot read the addresses in %.*s: %s",
		    (int)f->name_len, f->name, cli_escape(buf_cstr(&v), esc,
		    sizeof(esc)));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (m->nrcpts >= c->max_recipients) {
			sm_error("too many recipients (max %u)",
			    c->max_recipients);
			goto out;
		}
		if (addr_to_text(&a[i], text, sizeof(text)) == -1)
			goto out;
		m->rcpts[m->nrcpts++] = xstrdup(text);
	}
	rc = 0;
out:
	buf_clear(&v);
	free(a);
	return rc;
}

/* Copy the header section to m->out without Bcc: fields, noting which
 * fields exist and (with -t) collecting recipients. */
static int
sm_headers(struct sm_msg *m, const struct sm_opts *o, size_t hstart,
    size_t hend, struct sm_fields *fs)
{
	const char *p = sm_in(m) + hstart;
	struct rfc5322_headers h;
	struct rfc5322_field f;
	size_t copied = 0;
	enum rfc5322_headers_result r;

	memset(fs, 0, sizeof(*fs));
	rfc5322_headers_init(&h, p, hend - hstart);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		bool bcc = rfc5322_field_is(&f, "Bcc");

		fs->has_from |= rfc5322_field_is(&f, "From");
		fs->has_date |= rfc5322_field_is(&f, "Date");
		fs->has_msgid |= rfc5322_field_is(&f, "Message-ID");
		if (o->extract && (bcc || rfc5322_field_is(&f, "To") ||
		    rfc5322_field_is(&f, "Cc")) && sm_extract(m, &f) == -1)
			return -1;
		if (!bcc)
			continue;
		/* Drop the field and its CRLF; keep what came before. */
		if (buf_append(&m->out, p + copied, f.offset - copied) == -1)
			goto too_large;
		copied = f.offset + f.raw_len + 2;
	}
	if (r != RFC5322_HEADERS_END) {
		sm_error("header section too large (more than %d fields or "
		    "%d bytes)", RFC5322_HEADERS_MAX_FIELDS,
		    RFC5322_HEADERS_MAX_SECTION);
		return -1;
	}
	if (buf_append(&m->out, p + copied, hend - hstart - copied) == -1)
		goto too_large;
	return 0;
too_large:
	sm_error("message too large (max %zu bytes)", m->out.max);
	return -1;
}

/* A display name as an RFC 5322 quoted-string, or as RFC 2047 encoded
 * words when it is not ASCII; control bytes are dropped. */
static int
sm_display_name(struct buf *out, const char *name)
{
	char clean[SM_NAME_MAX + 1], b64[80];
	size_t n = 0, i = 0;
	bool ascii = true;

	for (const unsigned char *p = (const unsigned char *)name;
	    *p && n < SM_NAME_MAX; p++)
		if (*p >= 0x20 && *p != 0x7f) {
			clean[n++] = (char)*p;
			ascii &= *p < 0x80;
		}
	clean[n] = '\0';
	if (ascii) {
		if (buf_append_str(out, "\"") == -1)
			return -1;
		for (i = 0; i < n; i++)
			if (((clean[i] == '"' || clean[i] == '\\') &&
			    buf_append_str(out, "\\") == -1) ||
			    buf_append(out, clean + i, 1) == -1)
				return -1;
		return buf_append_str(out, "\"");
	}
	/* RFC 2047 §2: encoded words of at most 75 characters, each holding
	 * whole UTF-8 characters (at most 45 bytes here). */
	while (i < n) {
		size_t take = n - i > 45 ? 45 : n - i;

		while (take < n - i && take > 0 &&
		    ((unsigned char)clean[i + take] & 0xc0) == 0x80)
			take--;
		if (take == 0)
			take = n - i > 45 ? 45 : n - i;
		if (base64_encode((const uint8_t *)clean + i, take, b64,
		    sizeof(b64)) == -1 || buf_printf(out, "%s=?UTF-8?B?%s?=",
		    i > 0 ? "\r\n " : "", b64) == -1)
			return -1;
		i += take;
	}
	return 0;
}

/* The fields RFC 6409 §8 lets a submission service add. */
static int
sm_add_fields(struct sm_msg *m, const struct sm_opts *o,
    const struct sm_fields *fs)
{
	/* The GECOS name belongs to the default address only: with -f the
	 * mail is sent for someone else, and only -F names them. */
	const char *name = o->fullname ? o->fullname : o->from ? "" :
	    m->gecos;
	char date[64];

	datetime_rfc5322(time(NULL), date, sizeof(date));
	if (!fs->has_date && buf_printf(&m->out, "Date: %s\r\n", date) == -1)
		return -1;
	if (!fs->has_msgid && buf_printf(&m->out, "Message-ID: <%s@%s>\r\n",
	    m->qid, m->conf->hostname) == -1)
		return -1;
	if (fs->has_from)
		return 0;
	if (buf_append_str(&m->out, "From: ") == -1 ||
	    (name[0] != '\0' && (sm_display_name(&m->out, name) == -1 ||
	    buf_append_str(&m->out, " ") == -1)))
		return -1;
	return buf_printf(&m->out, "<%s>\r\n", m->sender[0] ? m->sender :
	    m->self);
}

/* Build m->out: header section minus Bcc, added fields, body. */
static int
sm_compose(struct sm_msg *m, const struct sm_opts *o, size_t max)
{
	size_t hstart, hend, body;
	struct sm_fields fs;

	sm_extent(&m->in, &hstart, &hend, &body);
	buf_init(&m->out, max);
	if (sm_headers(m, o, hstart, hend, &fs) == -1)
		return -1;
	if (sm_add_fields(m, o, &fs) == -1 ||
	    buf_append_str(&m->out, "\r\n") == -1 ||
	    buf_append(&m->out, sm_in(m) + body, m->in.len - body) == -1) {
		sm_error("message too large (max %zu bytes)", max);
		return -1;
	}
	return 0;
}

/* --- addresses ------------------------------------------------------------ */

/*
 * Normalise a command-line address into out: "<>" or "" is the null
 * address (only when null_ok), "<a@b>" loses its brackets, "user" gets
 * "@" and the default domain. Checked with addr_parse_mailbox.
 */
static int
sm_address(struct sm_msg *m, const char *in, bool null_ok, char *out,
    size_t outlen)
{
	const struct conf *c = m->conf;
	const char *dom = c->ndomains > 0 ? c->domains[0].name : c->hostname;
	size_t len = strlen(in);
	char tmp[LIMIT_PATH * 2], esc[LIMIT_PATH * 4 + 1];
	struct addr a;

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len == 0 && null_ok) {
		out[0] = '\0';
		return 0;
	}
	if (memchr(in, '@', len) == NULL)
		snprintf(tmp, sizeof(tmp), "%.*s@%s", (int)len, in, dom);
	else
		snprintf(tmp, sizeof(tmp), "%.*s", (int)len, in);
	if (strlen(tmp) >= LIMIT_PATH || addr_parse_mailbox(tmp, strlen(tmp),
	    true, &a) != ADDR_OK || addr_to_text(&a, out, outlen) == -1) {
		sm_error("bad address <%s>", cli_escape(tmp, esc,
		    sizeof(esc)));
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		m->utf8 |= *p >= 0x80;
	return 0;
}

/* Sender and command-line recipients into m. */
static int
sm_addresses(struct sm_msg *m, const struct sm_opts *o)
{
	char text[LIMIT_PATH + 1];

	if (sm_address(m, o->from ? o->from : m->self, true, m->sender,
	    sizeof(m->sender)) == -1)
		return -1;
	if ((unsigned)o->nrcpts > m->conf->max_recipients) {
		sm_error("too many recipients (max %u)",
		    m->conf->max_recipients);
		return -1;
	}
	for (int i = 0; i < o->nrcpts; i++) {
		if (sm_address(m, o->rcpts[i], false, text,
		    sizeof(text)) == -1)
			return -1;
		m->rcpts[m->nrcpts++] = xstrdup(text);
	}
	return 0;
}

/* Header recipients from -t go through the same checks. */
static int
sm_check_extracted(struct sm_msg *m, size_t from)
{
	char text[LIMIT_PATH + 1];

	for (size_t i = from; i < m->nrcpts; i++) {
		if (sm_address(m, m->rcpts[i], false, text,
		    sizeof(text)) == -1)
			return -1;
		free(m->rcpts[i]);
		m->rcpts[i] = xstrdup(text);
	}
	if (m->nrcpts == 0) {
		sm_error("no recipients found in the To:, Cc: or Bcc: fields");
		return -1;
	}
	return 0;
}

static bool
sm_is_local_cb(const char *domain, void *arg)
{
	return conf_is_local_domain(arg, domain);
}

/* Add address (as given: orig) unless its final form is there already. */
static void
sm_add_rcpt(struct envelope *env, const char *address, const char *orig,
    unsigned notify)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		if (addr_text_equal(env->rcpts[i].address, address))
			return;
	envelope_add_rcpt(env, address, orig, NULL, notify);
}

/*
 * Recipients into env: local ones expanded through the store as the SMTP
 * server does at RCPT time, others kept. An unknown local user fails.
 */
static int
sm_expand(struct sm_msg *m, const struct sm_opts *o, struct envelope *env)
{
	const struct conf *c = m->conf;
	struct db *db = NULL;
	char esc[LIMIT_PATH * 4 + 1];
	int rc = -1;

	for (size_t i = 0; i < m->nrcpts; i++) {
		const char *to = m->rcpts[i];
		char **targets = NULL;
		size_t n = 0;
		enum db_result r;

		if (!conf_is_local_domain(c, addr_text_domain(to))) {
			sm_add_rcpt(env, to, to, o->notify);
			continue;
		}
		if (db == NULL && (db = cli_open_store(c, false)) == NULL)
			goto out;
		r = db_rcpt_expand(db, to, sm_is_local_cb, (void *)c, &targets,
		    &n);
		if (r == DB_NOTFOUND) {
			sm_error("unknown user <%s>", cli_escape(to, esc,
			    sizeof(esc)));
			goto out;
		}
		if (r != DB_OK) {
			sm_error("looking up <%s>: %s", cli_escape(to, esc,
			    sizeof(esc)), db_error(db));
			goto out;
		}
		for (size_t j = 0; j < n; j++)
			sm_add_rcpt(env, targets[j], to, o->notify);
		db_strv_free(targets, n);
	}
	rc = 0;
out:
	db_close(db);
	return rc;
}

/* --- the spool ------------------------------------------------------------- */

/* Run as the spool's owner from here on (cli_spool_owner). */
static int
sm_spool_setup(const struct conf *c)
{
	char err[512], esc[600];

	if (cli_spool_owner(c, err, sizeof(err)) == -1) {
		sm_error("spool: %s", cli_escape(err, esc, sizeof(esc)));
		return -1;
	}
	return 0;
}

/* The trace field for the envelope's prepend (RFC 5321 §4.4): the same
 * as the daemon writes for the local socket. */
static char *
sm_received(const struct sm_msg *m)
{
	struct buf b;

	buf_init(&b, 1024);
	if (smtpd_received_format_local(&b, m->user, (unsigned long)m->uid,
	    m->conf->hostname, m->qid, time(NULL)) == -1)
		panic("Received field does not fit");
	return buf_take(&b);
}

/* Write m->out with env and commit it durably; then nudge the runner. */
static int
sm_queue(struct sm_msg *m, const struct sm_opts *o, struct envelope *env)
{
	const struct conf *c = m->conf;
	struct spool_msg *sp;

	memcpy(env->id, m->qid, sizeof(env->id));
	env->created = time(NULL);
	env->mail_from = xstrdup(m->sender);
	env->body = ENVELOPE_BODY_7BIT;
	for (size_t i = 0; i < m->out.len; i++)
		if (m->out.data[i] >= 0x80)
			env->body = ENVELOPE_BODY_8BITMIME;
	env->smtputf8 = m->utf8;
	env->ret = o->ret;
	env->prepend = sm_received(m);
	if ((sp = spool_msg_new(c->data_dir, m->qid)) == NULL) {
		sm_error("cannot queue the message: %s", strerror(errno));
		return -1;
	}
	if (spool_msg_write(sp, m->out.data, m->out.len) == -1) {
		sm_error("cannot queue the message: %s", strerror(errno));
		spool_msg_abort(sp);
		return -1;
	}
	if (spool_msg_commit(sp, env) == -1) {
		sm_error("cannot queue the message: %s", strerror(errno));
		return -1;
	}
	/* A running queue runner sees the commit (inotify on queue/, or
	 * the nudge spool_msg_commit sends); without one the message
	 * waits, queued. */
	if (o->verbose)
		printf("queued as %s\n", m->qid);
	return 0;
}

static void
sm_msg_clear(struct sm_msg *m)
{
	for (size_t i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	buf_clear(&m->in);
	buf_clear(&m->out);
}

/*
 * Hand the message to the daemon over the local socket. 1 when there is
 * no daemon to talk to (the caller may write the spool itself), 0 when
 * it was queued, -1 on an error already reported.
 */
static int
sm_submit(struct sm_msg *m, const struct sm_opts *o)
{
	struct submit_msg sm = {
		.sender = m->sender,
		.rcpts = m->rcpts,
		.nrcpts = m->nrcpts,
		.data = m->out.data,
		.len = m->out.len,
		.smtputf8 = m->utf8,
		.notify = o->notify,
		.ret = o->ret,
	};
	char qid[IDS_QID_LEN + 1], err[512], esc[LIMIT_PATH * 4 + 1];
	char eerr[sizeof(err) * 4];
	size_t bad;
	int fd = submit_connect(m->conf->submit_socket);

	if (fd == -1) {
		m->sock_errno = errno;
		return 1;
	}
	for (size_t i = 0; i < m->out.len && !sm.eightbit; i++)
		sm.eightbit = m->out.data[i] >= 0x80;
	switch (submit_send(fd, &sm, qid, &bad, err, sizeof(err))) {
	case SUBMIT_OK:
		close(fd);
		if (o->verbose)
			printf("queued as %s\n", qid);
		return 0;
	case SUBMIT_RCPT_UNKNOWN:
		sm_error("unknown user <%s>", cli_escape(m->rcpts[bad], esc,
		    sizeof(esc)));
		break;
	case SUBMIT_REFUSED:
		if (bad != SIZE_MAX)
			sm_error("<%s>: %s", cli_escape(m->rcpts[bad], esc,
			    sizeof(esc)), cli_escape(err, eerr, sizeof(eerr)));
		else
			sm_error("refused: %s", cli_escape(err, eerr,
			    sizeof(eerr)));
		break;
	case SUBMIT_ERROR:
		sm_error("%s", cli_escape(err, eerr, sizeof(eerr)));
		break;
	}
	close(fd);
	return -1;
}

/* Without a daemon: root and the [server] user write the spool
 * themselves (the runner takes the message when it starts); anyone else
 * is told why nothing was queued. */
static int
sm_direct(struct sm_msg *m, const struct sm_opts *o, struct envelope *env)
{
	const struct conf *c = m->conf;

	if (sm_check_user(c, m->sock_errno) == -1)
		return -1;
	return sm_expand(m, o, env) == -1 || sm_spool_setup(c) == -1 ||
	    sm_queue(m, o, env) == -1 ? -1 : 0;
}

/* -bs: SMTP on standard input and output, relayed to the daemon. */
static int
sm_smtp(const struct conf *c)
{
	int fd = submit_connect(c->submit_socket), rc;

	if (fd == -1) {
		sm_error("-bs needs the running daemon: %s: %s",
		    c->submit_socket ? c->submit_socket : "(no submit_socket)",
		    strerror(errno));
		return CLI_EXIT_FAIL;
	}
	rc = submit_relay(fd);
	close(fd);
	if (rc == -1) {
		sm_error("-bs: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* -bp (mailq), -q and -bi (newaliases): the queue and alias commands. */
static int
sm_other_mode(const struct sm_opts *o, const char *config)
{
	char cmd[] = "queue", list[] = "list", flush[] = "flush";
	char *qargv[3] = { cmd, o->mode == 'p' ? list : flush, NULL };

	if (o->mode == 'i') {
		/* Aliases live in the store (`sealmail alias`) and take
		 * effect at once: there is no file to rebuild. */
		fprintf(stderr, "newaliases: nothing to do: sealmail keeps "
		    "aliases in its store (see `sealmail alias list`)\n");
		return CLI_EXIT_OK;
	}
	return cli_queue(2, qargv, config);
}

static void
sm_msg_init(struct sm_msg *m, struct conf *c)
{
	memset(m, 0, sizeof(*m));
	m->conf = c;
	m->rcpts = xcalloc(c->max_recipients + 1, sizeof(*m->rcpts));
	buf_init(&m->in, 0);
	buf_init(&m->out, 0);
	ids_qid_new(m->qid);
}

int
cli_sendmail_compose(const void *in, size_t len, bool extract,
    bool dot_ends, struct buf *out, void (*rcpt)(const char *, void *),
    void *arg)
{
	struct conf c = {
		.hostname = (char *)"localhost.example",
		.max_recipients = 50,
	};
	struct sm_opts o = { .extract = extract, .dot_ends = dot_ends };
	struct sm_msg m;
	struct buf line;
	size_t max = 1 << 20;
	int rc;

	sm_silent = true;
	sm_msg_init(&m, &c);
	snprintf(m.user, sizeof(m.user), "fuzz");
	snprintf(m.self, sizeof(m.self), "fuzz@%s", c.hostname);
	buf_init(&m.in, max);
	buf_init(&line, max);
	rc = sm_take(&m, &o, &line, in, len);
	if (rc == 0 && line.len > 0)
		rc = sm_line(&m, &o, line.data, line.len);
	buf_clear(&line);
	rc = rc == -1 || sm_addresses(&m, &o) == -1 ||
	    sm_compose(&m, &o, max) == -1 ||
	    (extract && sm_check_extracted(&m, 0) == -1) ? -1 : 0;
	for (size_t i = 0; rc == 0 && i < m.nrcpts; i++)
		rcpt(m.rcpts[i], arg);
	*out = m.out;
	buf_init(&m.out, 0);
	sm_msg_clear(&m);
	sm_silent = false;
	return rc;
}

int
cli_sendmail(int argc, char **argv, const char *config)
{
	struct sm_opts o;
	struct sm_msg m;
	struct conf *c = NULL;
	struct envelope env;
	size_t max;
	int rc;

	if ((rc = sm_parse_args(argc, argv, &o)) != 0)
		return rc;
	if (o.config)
		config = o.config;
	if (o.mode == 'p' || o.mode == 'q' || o.mode == 'i')
		return sm_other_mode(&o, config);
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	if (o.mode == 's') {
		rc = sm_smtp(c);
		conf_free(c);
		return rc;
	}
	sm_msg_init(&m, c);
	envelope_init(&env);
	max = c->max_message_size > 0 ? c->max_message_size : SIZE_MAX / 2;
	rc = CLI_EXIT_FAIL;
	if (sm_identity(&m) == -1 || sm_addresses(&m, &o) == -1 ||
	    sm_read(&m, &o, max) == -1 || sm_compose(&m, &o, max) == -1 ||
	    (o.extract && sm_check_extracted(&m, (size_t)o.nrcpts) == -1))
		goto out;
	switch (sm_submit(&m, &o)) {
	case 0:
		rc = CLI_EXIT_OK;
		break;
	case 1:
		if (sm_direct(&m, &o, &env) == 0)
			rc = CLI_EXIT_OK;
		break;
	}
out:
	envelope_clear(&env);
	sm_msg_clear(&m);
	conf_free(c);
	return rc;
}
