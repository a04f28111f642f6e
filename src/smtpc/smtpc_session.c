/* SPDX-License-Identifier: ISC */
/*
 * The outbound SMTP client session: a table-driven state machine on a
 * libevent bufferevent (plain, or OpenSSL for implicit TLS and after
 * STARTTLS). Each state has a name (the "stage" in results and logs), a
 * timeout (RFC 5321 §4.5.3.2), an optional function that sends its command
 * on entry and a function that handles the reply. All server input is read
 * line by line with the length checked before it is copied; the message
 * body is read from the caller's fd in bounded chunks and queued only while
 * the output buffer is below a high-water mark.
 *
 * Ownership: the session owns its bufferevent (and so the socket and SSL),
 * its timers and copies of the parameters; messages are borrowed from the
 * caller until their result is reported. The user callback may free the
 * session; a busy counter defers the actual free until the libevent
 * callback that called it unwinds.
 */
#include "smtpc/smtpc_session.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "net/tlsname.h"

/* Body bytes queued in the output buffer before we wait for it to drain. */
#define SMTPC_BODY_HIGH		(64 * 1024)
#define SMTPC_BODY_CHUNK	(16 * 1024)
#define SMTPC_CONNECT_TIMEOUT_MS 30000

enum smtpc_state {
	SMTPC_S_CONNECT,	/* TCP connect, and the handshake if implicit */
	SMTPC_S_GREETING,
	SMTPC_S_EHLO,
	SMTPC_S_HELO,
	SMTPC_S_STARTTLS,
	SMTPC_S_TLS,		/* handshake after "220" to STARTTLS */
	SMTPC_S_AUTH,
	SMTPC_S_IDLE,		/* waiting for the caller */
	SMTPC_S_MAIL,
	SMTPC_S_RCPT,
	SMTPC_S_DATA,		/* waiting for 354 */
	SMTPC_S_BODY,		/* streaming the message */
	SMTPC_S_DOT,		/* waiting for the final reply */
	SMTPC_S_RSET,
	SMTPC_S_QUIT,
	SMTPC_S_CLOSED,
};

/* Per-recipient progress within a transaction. */
enum smtpc_rstate {
	SMTPC_R_PENDING,	/* RCPT not sent yet */
	SMTPC_R_SENT,		/* RCPT sent, reply outstanding */
	SMTPC_R_ACCEPTED,	/* 2xx to RCPT, outcome decided by DATA */
	SMTPC_R_FINAL,		/* outcome known */
};

struct smtpc_session {
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*timer;		/* phase timeout */
	struct event		*defer;		/* start, deferred finish */
	SSL_CTX			*ctx;
	enum smtpc_state	 state;
	bool			 started;
	char			 sid[IDS_SID_LEN + 1];
	char			*helo;
	char			*peer_name;
	char			*auth_user;
	char			*auth_pass;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 addr_text[INET6_ADDRSTRLEN + 8];
	enum smtpc_tls_mode	 tls_mode;
	bool			 tls_verify;
	struct smtpc_tlsa	 tlsa[SMTPC_DANE_MAX];
	size_t			 ntlsa;
	char			*dane_nexthop;
	char			 peer_helo[LIMIT_DOMAIN + 1];
	char			 local_text[INET6_ADDRSTRLEN];	/* our end */
	unsigned		 timeout_max_ms;
	unsigned		 connect_timeout_ms;
	bool			 lmtp;		/* RFC 2033 */
	smtpc_cb		*cb;
	void			*arg;

	struct smtpc_reply	 reply;
	struct smtpc_caps	 caps;
	struct smtpc_tls_info	 tls;
	bool			 esmtp;

	/* The message in flight (NULL when idle). */
	const struct smtpc_message *msg;
	struct smtpc_status	*rst;		/* per recipient */
	enum smtpc_rstate	*rstate;
	size_t			 naccepted;
	bool			 mail_ok;
	struct smtpc_status	 mst;		/* message outcome */
	uint64_t		 off;
	bool			 prepend_done;
	struct smtpc_stuffer	 stuff;

	struct smtpc_status	 close_st;	/* how the connection ends */
	bool			 aborting;
	int			 busy;
	bool			 freed;
};

struct smtpc_state_entry {
	const char	*name;
	unsigned	 timeout_s;	/* RFC 5321 §4.5.3.2 where it says */
	void		(*enter)(struct smtpc_session *);
	void		(*reply)(struct smtpc_session *);
};

static const char *smtpc_stage(const struct smtpc_session *);
static void smtpc_enter(struct smtpc_session *, enum smtpc_state);
static void smtpc_fail(struct smtpc_session *, enum smtpc_class,
    const char *, const char *, ...) __attribute__((format(printf, 4, 5)));
static void smtpc_abort_reply(struct smtpc_session *,
    const struct smtpc_status *);
static void smtpc_read_lines(struct smtpc_session *);
static bool smtpc_msg_finish(struct smtpc_session *);
static void smtpc_after_ehlo(struct smtpc_session *);
static void smtpc_ready(struct smtpc_session *);
static bool smtpc_tls_start(struct smtpc_session *);
static void smtpc_body_fill(struct smtpc_session *);
static void smtpc_destroy(struct smtpc_session *);
static void smtpc_close(struct smtpc_session *);

/* ---- small helpers ---- */

static void
smtpc_hold(struct smtpc_session *s)
{
	s->busy++;
}

/* Drop a hold; true if the session was freed and must not be touched. */
static bool
smtpc_release(struct smtpc_session *s)
{
	if (--s->busy == 0 && s->freed) {
		smtpc_destroy(s);
		return true;
	}
	return false;
}

/* Call the user; false if the session was freed meanwhile. */
static bool
smtpc_emit(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res)
{
	smtpc_hold(s);
	s->cb(s, ev, res, s->arg);
	s->busy--;
	return !s->freed;
}

/* Only a 2xx is success. A 3xx where a final answer belongs (to RCPT,
 * after the final dot) taken for one would report a recipient the server
 * never accepted as delivered: it is deferred like a 4xx. */
static enum smtpc_class
smtpc_class_of(int code)
{
	if (code >= 500)
		return SMTPC_PERM;
	if (code >= 200 && code < 300)
		return SMTPC_OK;
	return SMTPC_TEMP;
}

/* Fill st from a local reason. */
static void
smtpc_status_local(struct smtpc_status *st, enum smtpc_class klass,
    const char *stage, const char *enh, const char *text)
{
	memset(st, 0, sizeof(*st));
	st->klass = klass;
	st->stage = stage;
	snprintf(st->enhanced, sizeof(st->enhanced), "%s", enh);
	snprintf(st->text, sizeof(st->text), "%s", text);
}

/* Fill st from the reply just parsed; lines are joined by "; ". */
static void
smtpc_status_reply(struct smtpc_session *s, struct smtpc_status *st)
{
	const char *t = buf_cstr(&s->reply.text);
	size_t i, o = 0;

	memset(st, 0, sizeof(*st));
	st->code = s->reply.code;
	st->klass = smtpc_class_of(st->code);
	st->stage = smtpc_stage(s);
	memcpy(st->enhanced, s->reply.enhanced, sizeof(st->enhanced));
	for (i = 0; i < s->reply.text.len && o + 3 < sizeof(st->text); i++) {
		if (t[i] == '\n') {
			st->text[o++] = ';';
			st->text[o++] = ' ';
		} else
			st->text[o++] = t[i];
	}
	st->text[o] = '\0';
}

/* Queue one command line (CRLF added). The caller has validated every
 * untrusted piece, so no CR or LF can reach the wire from here. */
static void
smtpc_send(struct smtpc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
smtpc_send(struct smtpc_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* A path or DSN parameter we may put on a command line: no controls (the
 * CRLF injection this blocks would let a crafted address add commands),
 * no angle brackets or spaces, bounded length. */
static bool
smtpc_valid_word(const char *p, size_t max)
{
	size_t i, n = strnlen(p, max + 1);

	if (n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
			return false;
	}
	return true;
}

/* A reverse- or forward-path's mailbox for "<...>": a word as above, or
 * an RFC 5321 Mailbox whose quoted local part holds spaces (Quoted-string
 * has no control byte, and a space inside quotes is no parameter
 * separator). The queue keeps such a local part quoted (addr_to_text). */
static bool
smtpc_valid_path(const char *p)
{
	struct addr a;
	size_t n = strnlen(p, LIMIT_PATH - 1);

	return smtpc_valid_word(p, LIMIT_PATH - 2) || (p[0] == '"' &&
	    n <= LIMIT_PATH - 2 && addr_parse_mailbox(p, n, true, &a) ==
	    ADDR_OK);
}

static unsigned
smtpc_timeout_ms(const struct smtpc_session *s, unsigned secs)
{
	unsigned ms = secs * 1000;

	if (s->timeout_max_ms != 0 && ms > s->timeout_max_ms)
		ms = s->timeout_max_ms;
	return ms;
}

static void
smtpc_arm(struct smtpc_session *s, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

static const char *
smtpc_host(const struct smtpc_session *s)
{
	return s->peer_name ? s->peer_name : s->addr_text;
}

/* ---- connection setup: greeting, EHLO/HELO, STARTTLS, AUTH ---- */

static void
smtpc_greeting_reply(struct smtpc_session *s)
{
	if (s->reply.code == 220) {
		smtpc_enter(s, SMTPC_S_EHLO);
		return;
	}
	/* RFC 5321 §3.1: a 554 (or 4xx) greeting means no service here. */
	smtpc_abort_reply(s, NULL);
}

static void
smtpc_ehlo_enter(struct smtpc_session *s)
{
	memset(&s->caps, 0, sizeof(s->caps));
	smtpc_send(s, "%s %s", s->lmtp ? "LHLO" : "EHLO", s->helo);
}

/* The server's name: the first word of its EHLO/HELO reply, kept only
 * if it looks like a host name (it goes into reports and logs). */
static void
smtpc_note_helo(struct smtpc_session *s)
{
	const char *t = (const char *)s->reply.text.data;
	size_t n = 0;

	while (t != NULL && n < s->reply.text.len && t[n] != ' ' &&
	    t[n] != '\n')
		n++;
	s->peer_helo[0] = '\0';
	if (n == 0 || n > LIMIT_DOMAIN)
		return;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("-._[]:", t[i]))
			return;
	memcpy(s->peer_helo, t, n);
	s->peer_helo[n] = '\0';
}

static void
smtpc_ehlo_reply(struct smtpc_session *s)
{
	if (smtpc_reply_class(&s->reply) == 2)
		smtpc_note_helo(s);
	if (smtpc_reply_class(&s->reply) == 2) {
		s->esmtp = true;
		(void)smtpc_caps_from_reply(&s->reply, &s->caps);
		smtpc_after_ehlo(s);
	} else if (smtpc_reply_class(&s->reply) == 5 && !s->tls.active &&
	    !s->lmtp)	/* LMTP has no HELO (RFC 2033 §4.1) */
		smtpc_enter(s, SMTPC_S_HELO);	/* RFC 5321 §3.2 */
	else
		smtpc_abort_reply(s, NULL);
}

static void
smtpc_helo_enter(struct smtpc_session *s)
{
	s->esmtp = false;
	memset(&s->caps, 0, sizeof(s->caps));
	smtpc_send(s, "HELO %s", s->helo);
}

static void
smtpc_helo_reply(struct smtpc_session *s)
{
	if (smtpc_reply_class(&s->reply) == 2) {
		smtpc_note_helo(s);
		smtpc_after_ehlo(s);
	}
	else
		smtpc_abort_reply(s, NULL);
}

/* Decide what follows EHLO/HELO: STARTTLS, AUTH or the idle state. */
static void
smtpc_after_ehlo(struct smtpc_session *s)
{
	struct smtpc_status st;

	if (!s->tls.active && (s->tls_mode == SMTPC_TLS_OPPORTUNISTIC ||
	    s->tls_mode == SMTPC_TLS_STARTTLS)) {
		if (s->caps.starttls) {
			smtpc_enter(s, SMTPC_S_STARTTLS);
			return;
		}
		if (s->tls_mode == SMTPC_TLS_STARTTLS) {
			s->tls.failure = "starttls-not-supported";
			smtpc_status_local(&st, SMTPC_TEMP, "starttls", "4.7.10",
			    "TLS required but STARTTLS not offered");
			smtpc_abort_reply(s, &st);
			return;
		}
	}
	if (s->auth_user != NULL) {
		const char *why = NULL;

		if (!s->tls.active)
			why = "refusing to send credentials without TLS";
		else if (!(s->caps.auth & SMTPC_AUTH_PLAIN))
			why = "server does not offer AUTH PLAIN";
		if (why != NULL) {
			smtpc_status_local(&st, SMTPC_TEMP, "auth", "4.7.0",
			    why);
			smtpc_abort_reply(s, &st);
			return;
		}
		smtpc_enter(s, SMTPC_S_AUTH);
		return;
	}
	smtpc_ready(s);
}

static void
smtpc_starttls_enter(struct smtpc_session *s)
{
	smtpc_send(s, "STARTTLS");
}

static void
smtpc_starttls_reply(struct smtpc_session *s)
{
	if (s->reply.code != 220) {
		/* Opportunistic TLS may go on in clear (RFC 3207 §4). */
		if (s->tls_mode == SMTPC_TLS_OPPORTUNISTIC) {
			s->caps.starttls = false;
			smtpc_after_ehlo(s);
		} else
			smtpc_abort_reply(s, NULL);
		return;
	}
	/*
	 * RFC 3207 §4.2 and CVE-2011-0411 seen from the client: anything the
	 * server sent after its "220" arrived in clear and must not be taken
	 * as a reply inside TLS. A proper server sends nothing more.
	 */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) != 0) {
		smtpc_fail(s, SMTPC_TEMP, "starttls", "%s",
		    "data after the STARTTLS reply (injection attempt?)");
		return;
	}
	if (smtpc_tls_start(s))
		smtpc_enter(s, SMTPC_S_TLS);
}

/* AUTH PLAIN with an initial response (RFC 4954 §4, RFC 4616 §2). */
static void
smtpc_auth_enter(struct smtpc_session *s)
{
	size_t ul = strlen(s->auth_user), pl = strlen(s->auth_pass);
	uint8_t raw[2 * LIMIT_SASL_FIELD + 2];
	char b64[4 * ((sizeof(raw) + 2) / 3) + 1];

	/* Lengths were checked in smtpc_session_new. */
	raw[0] = '\0';
	memcpy(raw + 1, s->auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, s->auth_pass, pl);
	if (base64_encode(raw, ul + pl + 2, b64, sizeof(b64)) < 0)
		panic("smtpc: base64 buffer too small");
	smtpc_send(s, "AUTH PLAIN %s", b64);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(b64, sizeof(b64));
}

static void
smtpc_auth_reply(struct smtpc_session *s)
{
	if (s->reply.code == 235) {
		smtpc_ready(s);
		return;
	}
	/* A refused login is our configuration problem, not the message's:
	 * defer rather than bounce (Postfix's smtp_sasl_auth_soft_bounce). */
	struct smtpc_status st;

	smtpc_status_reply(s, &st);
	st.klass = SMTPC_TEMP;
	smtpc_abort_reply(s, &st);
}

/* Setup done: wait for the caller's first message. */
static void
smtpc_ready(struct smtpc_session *s)
{
	smtpc_enter(s, SMTPC_S_IDLE);
	(void)smtpc_emit(s, SMTPC_EV_READY, NULL);
}

/* ---- the mail transaction ---- */

static const char *
smtpc_notify_text(unsigned n, char *out, size_t outlen)
{
	if (n & ENVELOPE_NOTIFY_NEVER) {
		snprintf(out, outlen, "NEVER");
		return out;
	}
	snprintf(out, outlen, "%s%s%s%s%s",
	    n & ENVELOPE_NOTIFY_SUCCESS ? "SUCCESS" : "",
	    (n & ENVELOPE_NOTIFY_SUCCESS) && (n & 0xc) ? "," : "",
	    n & ENVELOPE_NOTIFY_FAILURE ? "FAILURE" : "",
	    (n & ENVELOPE_NOTIFY_FAILURE) && (n & ENVELOPE_NOTIFY_DELAY) ?
	    "," : "",
	    n & ENVELOPE_NOTIFY_DELAY ? "DELAY" : "");
	return out;
}

/* RCPT TO for recipient i, with DSN parameters when the server has DSN. */
static void
smtpc_send_rcpt(struct smtpc_session *s, size_t i)
{
	const struct smtpc_rcpt *r = &s->msg->rcpts[i];
	char notify[40] = "", orcpt[LIMIT_DSN_ORCPT + 8] = "", nt[32];

	if (s->caps.dsn && r->notify != 0)
		snprintf(notify, sizeof(notify), " NOTIFY=%s",
		    smtpc_notify_text(r->notify, nt, sizeof(nt)));
	if (s->caps.dsn && r->orcpt != NULL &&
	    smtpc_valid_word(r->orcpt, LIMIT_DSN_ORCPT))
		snprintf(orcpt, sizeof(orcpt), " ORCPT=%s", r->orcpt);
	smtpc_send(s, "RCPT TO:<%s>%s%s", r->address, notify, orcpt);
	s->rstate[i] = SMTPC_R_SENT;
}

/* The first recipient in the given state at or after i, or nrcpts. */
static size_t
smtpc_next_rcpt(const struct smtpc_session *s, enum smtpc_rstate want)
{
	size_t i;

	for (i = 0; i < s->msg->nrcpts; i++)
		if (s->rstate[i] == want)
			return i;
	return s->msg->nrcpts;
}

/* RFC 8689 §2: REQUIRETLS in the EHLO reply after TLS (caps are reset
 * at each EHLO, so a pre-TLS offer does not count). */
static bool
smtpc_requiretls_offered(const struct smtpc_session *s)
{
	return s->tls.active && s->caps.requiretls;
}

static void
smtpc_mail_enter(struct smtpc_session *s)
{
	const struct smtpc_message *m = s->msg;
	char size[32] = "", envid[LIMIT_DSN_ENVID + 8] = "";
	size_t i;

	if (s->caps.size && m->size > 0)
		snprintf(size, sizeof(size), " SIZE=%llu",
		    (unsigned long long)m->size);
	if (s->caps.dsn && m->envid != NULL &&
	    smtpc_valid_word(m->envid, LIMIT_DSN_ENVID))
		snprintf(envid, sizeof(envid), " ENVID=%s", m->envid);
	/* RFC 6152 §3 would have us downgrade 8-bit data for a server
	 * without 8BITMIME; like Postfix we send it unchanged (what such
	 * servers accept in practice) but only claim BODY= when allowed. */
	smtpc_send(s, "MAIL FROM:<%s>%s%s%s%s%s%s", m->mail_from, size,
	    s->caps.eightbitmime && m->body >= ENVELOPE_BODY_8BITMIME ?
	    " BODY=8BITMIME" : "", m->smtputf8 ? " SMTPUTF8" : "",
	    !s->caps.dsn || m->ret == ENVELOPE_RET_UNSPEC ? "" :
	    m->ret == ENVELOPE_RET_FULL ? " RET=FULL" : " RET=HDRS", envid,
	    m->requiretls && smtpc_requiretls_offered(s) ? " REQUIRETLS" :
	    "");
	/* RFC 2920 §3.1: MAIL and RCPT may go in one group; we wait for
	 * their replies before DATA so a fully rejected message costs no
	 * DATA round. */
	if (s->caps.pipelining)
		for (i = 0; i < m->nrcpts; i++)
			if (s->rstate[i] == SMTPC_R_PENDING)
				smtpc_send_rcpt(s, i);
}

static void
smtpc_mail_reply(struct smtpc_session *s)
{
	smtpc_status_reply(s, &s->mst);
	s->mst.stage = "mail";
	s->mail_ok = smtpc_reply_class(&s->reply) == 2;
	if (s->mail_ok || smtpc_next_rcpt(s, SMTPC_R_SENT) < s->msg->nrcpts) {
		/* Collect the pipelined RCPT replies even after a refused
		 * MAIL: they are on their way and must be read in order. */
		smtpc_enter(s, SMTPC_S_RCPT);
		return;
	}
	for (size_t i = 0; i < s->msg->nrcpts; i++)
		if (s->rstate[i] != SMTPC_R_FINAL) {
			s->rst[i] = s->mst;
			s->rstate[i] = SMTPC_R_FINAL;
		}
	smtpc_msg_finish(s);
}

static void
smtpc_rcpt_enter(struct smtpc_session *s)
{
	size_t i;

	if (!s->caps.pipelining &&
	    (i = smtpc_next_rcpt(s, SMTPC_R_PENDING)) < s->msg->nrcpts)
		smtpc_send_rcpt(s, i);
}

/* All RCPT replies are in: DATA, RSET or done. */
static void
smtpc_rcpt_done(struct smtpc_session *s)
{
	bool temp = false;
	size_t i;

	if (!s->mail_ok) {
		smtpc_msg_finish(s);
		return;
	}
	if (s->naccepted > 0) {
		smtpc_enter(s, SMTPC_S_DATA);
		return;
	}
	for (i = 0; i < s->msg->nrcpts; i++)
		temp |= s->rst[i].klass == SMTPC_TEMP;
	smtpc_status_local(&s->mst, temp ? SMTPC_TEMP : SMTPC_PERM, "rcpt",
	    "", "all recipients were rejected");
	smtpc_enter(s, SMTPC_S_RSET);
}

static void
smtpc_rcpt_reply(struct smtpc_session *s)
{
	size_t i = smtpc_next_rcpt(s, SMTPC_R_SENT);

	if (i == s->msg->nrcpts) {
		smtpc_fail(s, SMTPC_TEMP, "rcpt", "%s", "unexpected reply");
		return;
	}
	if (!s->mail_ok) {
		/* The 503 that follows a refused MAIL says nothing new. */
		s->rst[i] = s->mst;
		s->rstate[i] = SMTPC_R_FINAL;
	} else {
		smtpc_status_reply(s, &s->rst[i]);
		s->rst[i].stage = "rcpt";
		if (smtpc_reply_class(&s->reply) == 2) {
			s->rstate[i] = SMTPC_R_ACCEPTED;
			s->naccepted++;
		} else
			s->rstate[i] = SMTPC_R_FINAL;
	}
	if (smtpc_next_rcpt(s, SMTPC_R_SENT) < s->msg->nrcpts)
		return;
	if (s->mail_ok && smtpc_next_rcpt(s, SMTPC_R_PENDING) <
	    s->msg->nrcpts) {
		smtpc_rcpt_enter(s);	/* next one, not pipelined */
		smtpc_arm(s, smtpc_timeout_ms(s, 300));
		return;
	}
	smtpc_rcpt_done(s);
}

static void
smtpc_data_enter(struct smtpc_session *s)
{
	smtpc_send(s, "DATA");
}

/* Give every accepted recipient the outcome st. */
static void
smtpc_settle_accepted(struct smtpc_session *s, const struct smtpc_status *st)
{
	size_t i;

	for (i = 0; s->msg != NULL && i < s->msg->nrcpts; i++)
		if (s->rstate[i] != SMTPC_R_FINAL) {
			s->rst[i] = *st;
			s->rstate[i] = SMTPC_R_FINAL;
		}
}

static void
smtpc_data_reply(struct smtpc_session *s)
{
	if (s->reply.code == 354) {
		smtpc_enter(s, SMTPC_S_BODY);
		return;
	}
	smtpc_status_reply(s, &s->mst);
	s->mst.stage = "data";
	if (s->mst.klass == SMTPC_OK)	/* 2xx to DATA is nonsense */
		s->mst.klass = SMTPC_TEMP;
	smtpc_settle_accepted(s, &s->mst);
	smtpc_enter(s, SMTPC_S_RSET);
}

static void
smtpc_body_enter(struct smtpc_session *s)
{
	s->off = 0;
	s->prepend_done = false;
	smtpc_stuff_init(&s->stuff);
	bufferevent_setwatermark(s->bev, EV_WRITE, SMTPC_BODY_HIGH / 2, 0);
	smtpc_body_fill(s);
}

/* Queue body bytes until the high-water mark or the end of the message. */
static void
smtpc_body_fill(struct smtpc_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char chunk[SMTPC_BODY_CHUNK];
	ssize_t n;

	while (evbuffer_get_length(out) < SMTPC_BODY_HIGH) {
		if (!s->prepend_done) {
			s->prepend_done = true;
			if (s->msg->prepend != NULL)
				smtpc_stuff_push(&s->stuff, s->msg->prepend,
				    s->msg->prepend_len, out);
			continue;
		}
		n = 0;
		if (s->off < s->msg->len)
			n = pread(s->msg->fd, chunk, s->msg->len - s->off <
			    sizeof(chunk) ? (size_t)(s->msg->len - s->off) :
			    sizeof(chunk), (off_t)s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && s->off < s->msg->len) {
			errno = EIO;	/* the file ended early */
			n = -1;
		}
		if (n < 0) {
			/* Closing without the final "." makes the server
			 * drop the partial message (RFC 5321 §4.1.1.4). */
			smtpc_fail(s, SMTPC_TEMP, "data",
			    "cannot read the message: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			smtpc_stuff_end(&s->stuff, out);
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
			smtpc_enter(s, SMTPC_S_DOT);
			return;
		}
		smtpc_stuff_push(&s->stuff, chunk, (size_t)n, out);
		s->off += (uint64_t)n;
	}
	/* Progress: the data block timeout restarts (§4.5.3.2.5). */
	smtpc_arm(s, smtpc_timeout_ms(s, 180));
}

/* LMTP (RFC 2033 §4.2): one reply per accepted recipient, in RCPT order;
 * each is that recipient's outcome, and the last one the message's. */
static void
smtpc_dot_reply_lmtp(struct smtpc_session *s)
{
	size_t i = smtpc_next_rcpt(s, SMTPC_R_ACCEPTED);

	if (i == s->msg->nrcpts) {
		smtpc_fail(s, SMTPC_TEMP, "dot", "%s", "unexpected reply");
		return;
	}
	smtpc_status_reply(s, &s->rst[i]);
	s->rst[i].stage = "dot";
	s->rstate[i] = SMTPC_R_FINAL;
	s->mst = s->rst[i];
	if (smtpc_next_rcpt(s, SMTPC_R_ACCEPTED) < s->msg->nrcpts) {
		/* Each reply may take the store a while: the wait for the
		 * next one is bounded on its own. */
		smtpc_arm(s, smtpc_timeout_ms(s, 600));
		return;
	}
	smtpc_msg_finish(s);
}

static void
smtpc_dot_reply(struct smtpc_session *s)
{
	if (s->lmtp) {
		smtpc_dot_reply_lmtp(s);
		return;
	}
	smtpc_status_reply(s, &s->mst);
	s->mst.stage = "dot";
	smtpc_settle_accepted(s, &s->mst);
	smtpc_msg_finish(s);
}

static void
smtpc_rset_enter(struct smtpc_session *s)
{
	smtpc_send(s, "RSET");
}

static void
smtpc_rset_reply(struct smtpc_session *s)
{
	bool bad = smtpc_reply_class(&s->reply) != 2;

	if (bad) {
		/* The outcome of the message stands; the connection is in
		 * an unknown state and is closed after it is reported. */
		smtpc_status_reply(s, &s->close_st);
		s->close_st.stage = "rset";
		s->close_st.klass = SMTPC_TEMP;
		s->aborting = true;
	}
	if (smtpc_msg_finish(s) && bad)
		smtpc_enter(s, SMTPC_S_QUIT);
}

static void
smtpc_quit_enter(struct smtpc_session *s)
{
	smtpc_send(s, "QUIT");
}

static void
smtpc_quit_reply(struct smtpc_session *s)
{
	smtpc_close(s);
}

/* ---- the state table and transitions ---- */

static const struct smtpc_state_entry smtpc_states[] = {
	[SMTPC_S_CONNECT] = { "connect", 30, NULL, NULL },
	[SMTPC_S_GREETING] = { "greeting", 300, NULL, smtpc_greeting_reply },
	[SMTPC_S_EHLO] = { "ehlo", 300, smtpc_ehlo_enter, smtpc_ehlo_reply },
	[SMTPC_S_HELO] = { "helo", 300, smtpc_helo_enter, smtpc_helo_reply },
	[SMTPC_S_STARTTLS] = { "starttls", 120, smtpc_starttls_enter,
	    smtpc_starttls_reply },
	[SMTPC_S_TLS] = { "tls", 120, NULL, NULL },
	[SMTPC_S_AUTH] = { "auth", 300, smtpc_auth_enter, smtpc_auth_reply },
	[SMTPC_S_IDLE] = { "idle", 300, NULL, NULL },
	[SMTPC_S_MAIL] = { "mail", 300, smtpc_mail_enter, smtpc_mail_reply },
	[SMTPC_S_RCPT] = { "rcpt", 300, smtpc_rcpt_enter, smtpc_rcpt_reply },
	[SMTPC_S_DATA] = { "data", 120, smtpc_data_enter, smtpc_data_reply },
	[SMTPC_S_BODY] = { "data", 180, smtpc_body_enter, NULL },
	[SMTPC_S_DOT] = { "dot", 600, NULL, smtpc_dot_reply },
	[SMTPC_S_RSET] = { "rset", 300, smtpc_rset_enter, smtpc_rset_reply },
	[SMTPC_S_QUIT] = { "quit", 60, smtpc_quit_enter, smtpc_quit_reply },
	[SMTPC_S_CLOSED] = { "closed", 0, NULL, NULL },
};

/* The current state's name, the "stage" of results. */
static const char *
smtpc_stage(const struct smtpc_session *s)
{
	return smtpc_states[s->state].name;
}

/* The single transition function: arm the phase timeout, send the
 * state's command. */
static void
smtpc_enter(struct smtpc_session *s, enum smtpc_state st)
{
	const struct smtpc_state_entry *e = &smtpc_states[st];

	log_debug("sid=%s smtpc state %s -> %s", s->sid,
	    smtpc_states[s->state].name, e->name);
	s->state = st;
	evtimer_del(s->timer);
	if (st == SMTPC_S_CLOSED)
		return;
	smtpc_arm(s, st == SMTPC_S_CONNECT ? s->connect_timeout_ms :
	    smtpc_timeout_ms(s, e->timeout_s));
	if (e->enter != NULL)
		e->enter(s);
}

/* Free the connection and report CLOSED with close_st. */
static void
smtpc_close(struct smtpc_session *s)
{
	char esc[256];

	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	event_del(s->defer);
	smtpc_enter(s, SMTPC_S_CLOSED);
	log_info("sid=%s smtpc closed host=%s addr=%s result=%s stage=%s "
	    "reason=%s", s->sid, smtpc_host(s), s->addr_text,
	    s->close_st.klass == SMTPC_OK ? "ok" :
	    s->close_st.klass == SMTPC_TEMP ? "tempfail" : "permfail",
	    s->close_st.stage, log_quote(s->close_st.text,
	    strlen(s->close_st.text), esc, sizeof(esc)));
	struct smtpc_result res = { s->close_st, NULL, 0 };
	(void)smtpc_emit(s, SMTPC_EV_CLOSED, &res);
}

/*
 * End the session now (no QUIT): a broken connection, a timeout, a
 * malformed reply or a TLS failure. fmt NULL keeps close_st as it is (the
 * normal end after QUIT). A message in flight is finished first with this
 * status for every recipient whose outcome is still open.
 */
static void
smtpc_fail(struct smtpc_session *s, enum smtpc_class klass, const char *stage,
    const char *fmt, ...)
{
	va_list ap;

	if (s->state == SMTPC_S_CLOSED)
		return;
	if (fmt != NULL) {
		memset(&s->close_st, 0, sizeof(s->close_st));
		s->close_st.klass = klass;
		s->close_st.stage = stage ? stage : smtpc_states[s->state].name;
		/* RFC 3463: 4.7.5 is a cryptographic failure (RFC 7672
		 * §2.2 uses it for DANE). */
		snprintf(s->close_st.enhanced, sizeof(s->close_st.enhanced),
		    "%s", klass == SMTPC_PERM ? "5.4.0" :
		    strcmp(s->close_st.stage, "tls") == 0 ? "4.7.5" : "4.4.2");
		va_start(ap, fmt);
		vsnprintf(s->close_st.text, sizeof(s->close_st.text), fmt, ap);
		va_end(ap);
	}
	s->aborting = true;
	if (s->msg != NULL) {
		s->mst = s->close_st;
		smtpc_settle_accepted(s, &s->mst);
		if (!smtpc_msg_finish(s))
			return;
	}
	smtpc_close(s);
}

/* End the session politely (QUIT) after a refusal; st NULL: the reply. */
static void
smtpc_abort_reply(struct smtpc_session *s, const struct smtpc_status *st)
{
	if (st == NULL) {
		smtpc_status_reply(s, &s->close_st);
		s->close_st.stage = smtpc_states[s->state].name;
		if (s->close_st.klass == SMTPC_OK)
			s->close_st.klass = SMTPC_TEMP;
	} else
		s->close_st = *st;
	s->aborting = true;
	if (s->msg != NULL) {
		s->mst = s->close_st;
		smtpc_settle_accepted(s, &s->mst);
		if (!smtpc_msg_finish(s))
			return;
	}
	smtpc_enter(s, SMTPC_S_QUIT);
}

static size_t
smtpc_count_ok(const struct smtpc_session *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->msg->nrcpts; i++)
		n += s->rst[i].klass == SMTPC_OK;
	return n;
}

/* Report the message in flight; the session is idle again (unless it is
 * ending). Returns false if the callback freed the session. */
static bool
smtpc_msg_finish(struct smtpc_session *s)
{
	struct smtpc_result res;
	struct smtpc_status *rst = s->rst;
	enum smtpc_rstate *rstate = s->rstate;
	char esc[256];
	bool alive;

	log_info("sid=%s qid=%s smtpc message host=%s result=%s stage=%s "
	    "rcpts=%zu accepted=%zu code=%d reply=%s", s->sid,
	    s->msg->qid ? s->msg->qid : "-", smtpc_host(s),
	    s->mst.klass == SMTPC_OK ? "ok" : s->mst.klass == SMTPC_TEMP ?
	    "tempfail" : "permfail", s->mst.stage, s->msg->nrcpts,
	    smtpc_count_ok(s), s->mst.code, log_quote(s->mst.text,
	    strlen(s->mst.text), esc, sizeof(esc)));
	res.status = s->mst;
	res.rcpt = rst;
	res.nrcpts = s->msg->nrcpts;
	s->msg = NULL;
	s->rst = NULL;
	s->rstate = NULL;
	if (!s->aborting)
		smtpc_enter(s, SMTPC_S_IDLE);
	alive = smtpc_emit(s, SMTPC_EV_MESSAGE, &res);
	free(rst);
	free(rstate);
	return alive;
}

/* ---- I/O callbacks ---- */

/* Hand a complete reply to the state's handler. */
static void
smtpc_dispatch(struct smtpc_session *s)
{
	const struct smtpc_state_entry *e = &smtpc_states[s->state];
	char esc[128];

	log_debug("sid=%s smtpc reply state=%s code=%d", s->sid, e->name,
	    s->reply.code);
	if (e->reply != NULL) {
		e->reply(s);
		return;
	}
	/* A reply nobody asked for: typically "421 timeout" while idle. */
	struct smtpc_status st;
	smtpc_status_reply(s, &st);
	smtpc_fail(s, SMTPC_TEMP, NULL, "unexpected reply: %d %s", st.code,
	    log_escape(st.text, strlen(st.text), esc, sizeof(esc)));
}

/* Whether replies are read in the current state. */
static bool
smtpc_reading(const struct smtpc_session *s)
{
	return s->bev != NULL && s->state != SMTPC_S_CONNECT &&
	    s->state != SMTPC_S_TLS && s->state != SMTPC_S_CLOSED;
}

/* Consume complete lines; the line length is checked before any copy,
 * since evbuffer_readln has no bound of its own. */
static void
smtpc_read_lines(struct smtpc_session *s)
{
	char line[LIMIT_REPLY_LINE + 2];
	struct evbuffer *in;
	struct evbuffer_ptr p;
	enum smtpc_reply_result res;
	size_t eol;

	while (smtpc_reading(s) && !s->freed) {
		in = bufferevent_get_input(s->bev);
		p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			if (evbuffer_get_length(in) > LIMIT_REPLY_LINE)
				smtpc_fail(s, SMTPC_TEMP, NULL, "%s",
				    "reply line too long");
			return;
		}
		if ((size_t)p.pos > LIMIT_REPLY_LINE) {
			smtpc_fail(s, SMTPC_TEMP, NULL, "%s",
			    "reply line too long");
			return;
		}
		evbuffer_remove(in, line, (size_t)p.pos + eol);
		res = smtpc_reply_push(&s->reply, line, (size_t)p.pos);
		if (res == SMTPC_REPLY_MORE)
			continue;
		if (res != SMTPC_REPLY_DONE) {
			smtpc_fail(s, SMTPC_TEMP, NULL, "%s",
			    smtpc_reply_result_text(res));
			return;
		}
		smtpc_dispatch(s);
	}
}

static void
smtpc_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc_session *s = arg;

	(void)bev;
	smtpc_hold(s);
	smtpc_read_lines(s);
	(void)smtpc_release(s);
}

static void
smtpc_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc_session *s = arg;

	(void)bev;
	if (s->state != SMTPC_S_BODY)
		return;
	smtpc_hold(s);
	smtpc_body_fill(s);
	(void)smtpc_release(s);
}

/* RFC 8460 §4.3 result type of a verification error. */
static const char *
smtpc_verify_failure(long vr, bool dane)
{
	switch (vr) {
	case X509_V_ERR_DANE_NO_MATCH:
		return "tlsa-invalid";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return dane ? "tlsa-invalid" : "certificate-not-trusted";
	default:
		return "validation-failure";
	}
}

/* Why the certificate did not verify, for logs and results. */
static void
smtpc_verify_text(struct smtpc_session *s, long vr)
{
	char *e = s->tls.verify_error;
	size_t n = sizeof(s->tls.verify_error);

	if (vr == X509_V_ERR_DANE_NO_MATCH)
		snprintf(e, n, "certificate matches no TLSA record of %s",
		    smtpc_host(s));
	else if (vr == X509_V_ERR_HOSTNAME_MISMATCH)
		snprintf(e, n, "certificate is not for %s", smtpc_host(s));
	else
		snprintf(e, n, "%s", X509_verify_cert_error_string(vr));
}

/* Record what the handshake gave; false (session failed) if verification
 * was required and did not succeed. */
static bool
smtpc_tls_done(struct smtpc_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	long vr = SSL_get_verify_result(ssl);
	char esc[128];

	s->tls.active = true;
	s->tls.dane = s->ntlsa > 0;
	snprintf(s->tls.version, sizeof(s->tls.version), "%s",
	    SSL_get_version(ssl));
	snprintf(s->tls.cipher, sizeof(s->tls.cipher), "%s",
	    SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl)));
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		snprintf(s->tls.verify_error, sizeof(s->tls.verify_error),
		    "no certificate");
		s->tls.failure = "validation-failure";
	} else if (vr != X509_V_OK) {
		smtpc_verify_text(s, vr);
		s->tls.failure = smtpc_verify_failure(vr, s->tls.dane);
	} else if (s->tls.dane && SSL_get0_dane_authority(ssl, NULL,
	    NULL) < 0) {
		/* Cannot happen with X509_V_OK and records added; kept so
		 * a DANE session never passes without a match. */
		snprintf(s->tls.verify_error, sizeof(s->tls.verify_error),
		    "no TLSA record matched");
		s->tls.failure = "tlsa-invalid";
	} else if (s->peer_name == NULL) {
		snprintf(s->tls.verify_error, sizeof(s->tls.verify_error),
		    "no host name to verify");
		s->tls.failure = "validation-failure";
	} else
		s->tls.verified = true;
	log_info("sid=%s smtpc tls host=%s version=%s cipher=%s verified=%s"
	    "%s%s%s", s->sid, smtpc_host(s), s->tls.version, s->tls.cipher,
	    s->tls.verified ? "yes" : "no",
	    s->tls.dane ? " dane=yes" : "",
	    s->tls.verified ? "" : " error=", s->tls.verified ? "" :
	    log_quote(s->tls.verify_error, strlen(s->tls.verify_error), esc,
	    sizeof(esc)));
	if (s->tls_verify && !s->tls.verified) {
		smtpc_fail(s, SMTPC_TEMP, "tls", "%s%s",
		    s->tls.dane ? "dane: " : "certificate verification "
		    "failed: ", s->tls.verify_error);
		return false;
	}
	return true;
}

static void
smtpc_connected(struct smtpc_session *s)
{
	if (s->state == SMTPC_S_CONNECT) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockname(bufferevent_getfd(s->bev),
		    (struct sockaddr *)&ss, &sl) == -1 ||
		    getnameinfo((struct sockaddr *)&ss, sl, s->local_text,
		    sizeof(s->local_text), NULL, 0, NI_NUMERICHOST) != 0)
			s->local_text[0] = '\0';
		log_info("sid=%s smtpc connected host=%s addr=%s", s->sid,
		    smtpc_host(s), s->addr_text);
		if (s->tls_mode == SMTPC_TLS_IMPLICIT && !smtpc_tls_done(s))
			return;
		smtpc_enter(s, SMTPC_S_GREETING);
	} else if (s->state == SMTPC_S_TLS) {
		if (!smtpc_tls_done(s))
			return;
		/* RFC 3207 §4.2: forget everything learnt before TLS. */
		smtpc_enter(s, SMTPC_S_EHLO);
	}
	smtpc_read_lines(s);
}

/* Describe a connection error: socket errno, or the OpenSSL queue. */
static void
smtpc_io_error(struct smtpc_session *s, short what)
{
	unsigned long e = bufferevent_get_openssl_error(s->bev);
	char ebuf[160];
	int err = EVUTIL_SOCKET_ERROR();

	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	else if (what & BEV_EVENT_EOF)
		snprintf(ebuf, sizeof(ebuf), "connection closed by server");
	else
		snprintf(ebuf, sizeof(ebuf), "%s",
		    err ? strerror(err) : "connection error");
	smtpc_fail(s, SMTPC_TEMP, NULL, "%s", ebuf);
}

static void
smtpc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc_session *s = arg;

	(void)bev;
	smtpc_hold(s);
	if (what & BEV_EVENT_CONNECTED)
		smtpc_connected(s);
	else if (s->state == SMTPC_S_QUIT)
		smtpc_close(s);		/* the server closed after QUIT */
	else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* A reply may sit in the buffer (e.g. 421 then close). */
		smtpc_read_lines(s);
		if (!s->freed)
			smtpc_io_error(s, what);
	}
	(void)smtpc_release(s);
}

static void
smtpc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;

	(void)fd;
	(void)what;
	smtpc_hold(s);
	if (s->state == SMTPC_S_QUIT)
		smtpc_close(s);
	else if (s->state == SMTPC_S_IDLE && s->msg == NULL) {
		/* The caller left us idle too long: end politely. */
		smtpc_status_local(&s->close_st, SMTPC_OK, "idle", "",
		    "idle timeout");
		s->aborting = true;
		smtpc_enter(s, SMTPC_S_QUIT);
	} else
		smtpc_fail(s, SMTPC_TEMP, NULL, "timeout in state %s",
		    smtpc_states[s->state].name);
	(void)smtpc_release(s);
}

/* ---- TLS ---- */

/* A client SSL for this peer: SNI and the RFC 7817 §3 reference identity
 * (the MX or relay host name, wildcards only as a whole left-most label;
 * or the relay's IP address).
 * Verification never aborts the handshake: opportunistic TLS encrypts
 * anyway, and required TLS is checked in smtpc_tls_done with a clear
 * reason. */
static SSL *
smtpc_ssl_new(struct smtpc_session *s)
{
	struct in6_addr a6;
	X509_VERIFY_PARAM *vp;
	SSL *ssl;

	if ((ssl = SSL_new(s->ctx)) == NULL)
		return NULL;
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (s->peer_name == NULL)
		return ssl;
	if (s->ntlsa > 0) {
		if (smtpc_dane_apply(ssl, s->tlsa, s->ntlsa, s->peer_name,
		    s->dane_nexthop) == -1) {
			SSL_free(ssl);
			return NULL;
		}
		return ssl;
	}
	vp = SSL_get0_param(ssl);
	/* RFC 6066 §3 keeps an address literal (relayhost = smtps://
	 * 192.0.2.10) out of SNI; it is matched against IP SANs. */
	if (inet_pton(AF_INET, s->peer_name, &a6) != 1 &&
	    inet_pton(AF_INET6, s->peer_name, &a6) != 1)
		SSL_set_tlsext_host_name(ssl, s->peer_name);
	if (tlsname_set(vp, s->peer_name) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* Put TLS over the plain connection after "220" to STARTTLS. */
static bool
smtpc_tls_start(struct smtpc_session *s)
{
	struct bufferevent *f;
	SSL *ssl;

	if ((ssl = smtpc_ssl_new(s)) == NULL) {
		smtpc_fail(s, SMTPC_TEMP, "tls", "%s", "cannot create SSL");
		return false;
	}
	f = bufferevent_openssl_filter_new(s->base, s->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(ssl);
		smtpc_fail(s, SMTPC_TEMP, "tls", "%s", "cannot start TLS");
		return false;
	}
	s->bev = f;
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	bufferevent_setcb(f, smtpc_read_cb, smtpc_write_cb, smtpc_event_cb, s);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	return true;
}

SSL_CTX *
smtpc_tls_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_warn("smtpc: cannot load the system trust store");
	if (ca_file != NULL && *ca_file != '\0' &&
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA file %s", ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- lifecycle and public entry points ---- */

static void
smtpc_start(struct smtpc_session *s)
{
	SSL *ssl;

	s->started = true;
	if (s->tls_mode == SMTPC_TLS_IMPLICIT) {
		if ((ssl = smtpc_ssl_new(s)) == NULL) {
			smtpc_fail(s, SMTPC_TEMP, "tls", "%s",
			    "cannot create SSL");
			return;
		}
		s->bev = bufferevent_openssl_socket_new(s->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL)
			SSL_free(ssl);
		else
			bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	} else
		s->bev = bufferevent_socket_new(s->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		smtpc_fail(s, SMTPC_TEMP, NULL, "%s", "cannot create socket");
		return;
	}
	bufferevent_setcb(s->bev, smtpc_read_cb, smtpc_write_cb,
	    smtpc_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	smtpc_enter(s, SMTPC_S_CONNECT);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&s->addr,
	    (int)s->addrlen) < 0)
		smtpc_fail(s, SMTPC_TEMP, NULL, "connect: %s",
		    strerror(errno));
}

/* Zero-delay event: the first connect, or a message refused before it
 * was sent (reported from the loop, not from within smtpc_session_send). */
static void
smtpc_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;

	(void)fd;
	(void)what;
	smtpc_hold(s);
	if (!s->started)
		smtpc_start(s);
	else if (s->msg != NULL && s->state == SMTPC_S_IDLE)
		(void)smtpc_msg_finish(s);
	(void)smtpc_release(s);
}

static void
smtpc_destroy(struct smtpc_session *s)
{
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	event_free(s->timer);
	event_free(s->defer);
	SSL_CTX_free(s->ctx);
	if (s->auth_pass != NULL)
		explicit_bzero(s->auth_pass, strlen(s->auth_pass));
	free(s->auth_pass);
	free(s->auth_user);
	free(s->helo);
	free(s->peer_name);
	free(s->dane_nexthop);
	smtpc_dane_clear(s->tlsa, s->ntlsa);
	smtpc_reply_clear(&s->reply);
	free(s->rst);
	free(s->rstate);
	free(s);
}

void
smtpc_session_free(struct smtpc_session *s)
{
	if (s == NULL)
		return;
	if (s->busy == 0) {
		smtpc_destroy(s);
		return;
	}
	/* Called from our own callback: stop everything now, free when
	 * the libevent callback on the stack returns. */
	s->freed = true;
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->timer);
	event_del(s->defer);
}

/* Validate the parameters of smtpc_session_new; NULL if fine. */
static const char *
smtpc_params_check(const struct smtpc_params *p)
{
	if (p->helo == NULL || *p->helo == '\0' ||
	    !smtpc_valid_word(p->helo, LIMIT_HELO))
		return "missing or invalid HELO name";
	if (p->peer_name != NULL && !smtpc_valid_word(p->peer_name,
	    LIMIT_DOMAIN))
		return "invalid peer name";
	if (p->addr == NULL || p->addrlen > sizeof(struct sockaddr_storage) ||
	    (p->addr->sa_family != AF_INET && p->addr->sa_family != AF_INET6 &&
	    (p->addr->sa_family != AF_UNIX || !p->lmtp ||
	    p->tls != SMTPC_TLS_NONE || p->peer_name != NULL)))
		return "invalid address";
	if (p->ntlsa > SMTPC_DANE_MAX || (p->ntlsa > 0 &&
	    (p->peer_name == NULL || p->tls == SMTPC_TLS_NONE)))
		return "DANE needs a host name, TLS and at most 8 records";
	if ((p->auth_user == NULL) != (p->auth_pass == NULL))
		return "AUTH needs both user and password";
	if (p->auth_user != NULL && (p->tls == SMTPC_TLS_NONE ||
	    strlen(p->auth_user) > LIMIT_SASL_FIELD ||
	    strlen(p->auth_pass) > LIMIT_SASL_FIELD))
		return "AUTH needs TLS and fields of at most 255 octets";
	return NULL;
}

/* Copy the parameters into s. */
static void
smtpc_params_copy(struct smtpc_session *s, const struct smtpc_params *p)
{
	char host[INET6_ADDRSTRLEN];
	size_t n;

	if (p->sid != NULL)
		snprintf(s->sid, sizeof(s->sid), "%s", p->sid);
	else
		ids_sid_new(s->sid);
	s->helo = xstrdup(p->helo);
	if (p->peer_name != NULL) {
		s->peer_name = xstrdup(p->peer_name);
		n = strlen(s->peer_name);
		if (n > 1 && s->peer_name[n - 1] == '.')
			s->peer_name[n - 1] = '\0';	/* FQDN form */
	}
	if (p->auth_user != NULL) {
		s->auth_user = xstrdup(p->auth_user);
		s->auth_pass = xstrdup(p->auth_pass);
	}
	memcpy(&s->addr, p->addr, p->addrlen);
	s->addrlen = p->addrlen;
	if (p->addr->sa_family == AF_UNIX)
		snprintf(s->addr_text, sizeof(s->addr_text), "unix");
	else {
		if (getnameinfo(p->addr, p->addrlen, host, sizeof(host), NULL,
		    0, NI_NUMERICHOST) != 0)
			snprintf(host, sizeof(host), "?");
		snprintf(s->addr_text, sizeof(s->addr_text), "%s", host);
	}
	s->lmtp = p->lmtp;
	smtpc_dane_copy(s->tlsa, p->tlsa, p->ntlsa);
	s->ntlsa = p->ntlsa;
	if (p->dane_nexthop != NULL)
		s->dane_nexthop = xstrdup(p->dane_nexthop);
	s->tls_mode = p->tls;
	s->tls_verify = p->tls_verify && p->tls != SMTPC_TLS_NONE &&
	    p->tls != SMTPC_TLS_OPPORTUNISTIC;
	s->timeout_max_ms = p->timeout_max_ms;
	s->connect_timeout_ms = p->connect_timeout_ms ?
	    p->connect_timeout_ms : SMTPC_CONNECT_TIMEOUT_MS;
	if (s->timeout_max_ms != 0 && s->connect_timeout_ms > s->timeout_max_ms)
		s->connect_timeout_ms = s->timeout_max_ms;
}

struct smtpc_session *
smtpc_session_new(struct event_base *base, const struct smtpc_params *p,
    smtpc_cb *cb, void *arg, char *err, size_t errlen)
{
	struct smtpc_session *s;
	const char *why;
	struct timeval now = { 0, 0 };

	if ((why = smtpc_params_check(p)) != NULL) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	if (p->tls != SMTPC_TLS_NONE) {
		if (p->tls_ctx != NULL && SSL_CTX_up_ref(p->tls_ctx) == 1)
			s->ctx = p->tls_ctx;
		else if ((s->ctx = smtpc_tls_ctx_new(p->ca_file, err,
		    errlen)) == NULL) {
			free(s);
			return NULL;
		}
	}
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->state = SMTPC_S_CONNECT;
	smtpc_params_copy(s, p);
	smtpc_reply_init(&s->reply);
	smtpc_status_local(&s->close_st, SMTPC_OK, "quit", "", "");
	s->timer = evtimer_new(base, smtpc_timer_cb, s);
	s->defer = evtimer_new(base, smtpc_defer_cb, s);
	if (s->timer == NULL || s->defer == NULL)
		fatal("smtpc: cannot create timers");
	evtimer_add(s->defer, &now);
	return s;
}

/* Checks that make the message unsendable to this server; NULL if none. */
static const char *
smtpc_msg_check(struct smtpc_session *s, const struct smtpc_message *m,
    const char **enh)
{
	*enh = "5.1.7";
	if (*m->mail_from != '\0' && !smtpc_valid_path(m->mail_from))
		return "invalid sender address";
	/* RFC 6531 §3.5: a UTF-8 envelope cannot go to a server without
	 * SMTPUTF8; the message is bounced. */
	*enh = "5.6.7";
	if (m->smtputf8 && !s->caps.smtputf8)
		return "server does not support SMTPUTF8";
	*enh = "5.3.4";	/* RFC 1870 §6 */
	if (s->caps.size_max != 0 && m->size > s->caps.size_max)
		return "message larger than the server's SIZE limit";
	return NULL;
}

/* RFC 8689 §4.2.1 step 5 and its status codes: a REQUIRETLS message the
 * session cannot carry; NULL if it can. A bounce (null reverse-path) is
 * never held back for it (§5): it goes without the parameter. */
static const char *
smtpc_msg_requiretls(const struct smtpc_session *s,
    const struct smtpc_message *m, const char **enh)
{
	if (!m->requiretls || *m->mail_from == '\0' ||
	    smtpc_requiretls_offered(s))
		return NULL;
	if (!s->tls.active) {
		*enh = "5.7.10";
		return "Encryption needed: the message requires TLS "
		    "(REQUIRETLS) and the session is not encrypted";
	}
	*enh = "5.7.30";
	return "REQUIRETLS support required: the server does not offer "
	    "REQUIRETLS after STARTTLS";
}

/* Set up per-recipient state; false if no recipient is sendable. */
static bool
smtpc_msg_rcpts(struct smtpc_session *s, const struct smtpc_message *m)
{
	size_t i, ok = 0;

	for (i = 0; i < m->nrcpts; i++) {
		if (m->rcpts[i].address == NULL ||
		    *m->rcpts[i].address == '\0' ||
		    !smtpc_valid_path(m->rcpts[i].address)) {
			smtpc_status_local(&s->rst[i], SMTPC_PERM, "rcpt",
			    "5.1.3", "invalid recipient address");
			s->rstate[i] = SMTPC_R_FINAL;
		} else
			ok++;
	}
	return ok > 0;
}

int
smtpc_session_send(struct smtpc_session *s, const struct smtpc_message *m)
{
	const char *why, *enh, *stage = "mail";
	struct timeval now = { 0, 0 };

	if (s->state != SMTPC_S_IDLE || s->msg != NULL || s->aborting ||
	    m->nrcpts == 0)
		return -1;
	s->msg = m;
	s->rst = xcalloc(m->nrcpts, sizeof(*s->rst));
	s->rstate = xcalloc(m->nrcpts, sizeof(*s->rstate));
	s->naccepted = 0;
	s->mail_ok = false;
	smtpc_status_local(&s->mst, SMTPC_OK, "mail", "", "");
	if ((why = smtpc_msg_requiretls(s, m, &enh)) != NULL)
		stage = "requiretls";
	else
		why = smtpc_msg_check(s, m, &enh);
	if (why == NULL && !smtpc_msg_rcpts(s, m)) {
		why = "no valid recipient";
		enh = "5.1.3";
	}
	if (why != NULL) {
		smtpc_status_local(&s->mst, SMTPC_PERM, stage, enh, why);
		smtpc_settle_accepted(s, &s->mst);
		evtimer_add(s->defer, &now);
		return 0;
	}
	smtpc_enter(s, SMTPC_S_MAIL);
	return 0;
}

int
smtpc_session_quit(struct smtpc_session *s)
{
	if (s->state != SMTPC_S_IDLE || s->msg != NULL || s->aborting)
		return -1;
	smtpc_status_local(&s->close_st, SMTPC_OK, "quit", "", "");
	s->aborting = true;
	smtpc_enter(s, SMTPC_S_QUIT);
	return 0;
}

const struct smtpc_caps *
smtpc_session_caps(const struct smtpc_session *s)
{
	return &s->caps;
}

const struct smtpc_tls_info *
smtpc_session_tls(const struct smtpc_session *s)
{
	return &s->tls;
}

const char *
smtpc_session_local_addr(const struct smtpc_session *s)
{
	return s->local_text;
}

const char *
smtpc_session_peer_helo(const struct smtpc_session *s)
{
	return s->peer_helo;
}

const char *
smtpc_session_sid(const struct smtpc_session *s)
{
	return s->sid;
}

/* ---- DATA transformation (RFC 5321 §4.5.2, §2.3.8) ---- */

void
smtpc_stuff_init(struct smtpc_stuffer *st)
{
	st->bol = true;
	st->cr = false;
}

/*
 * Every line end in the input (CRLF, LF, or a bare CR) becomes CRLF: a bare
 * CR or LF passed through could be read as a line end by one receiver and
 * not by another, which is what SMTP smuggling exploits ("\n.\n" ending
 * DATA early somewhere down the line). A '.' starting a line is doubled.
 */
int
smtpc_stuff_push(struct smtpc_stuffer *st, const void *data, size_t len,
    struct evbuffer *out)
{
	const unsigned char *p = data;
	size_t i, run = 0;
	int rc = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (st->cr || c == '\r' || c == '\n' || (st->bol && c == '.')) {
			rc |= evbuffer_add(out, p + i - run, run);
			run = 0;
		}
		if (st->cr) {
			st->cr = false;
			rc |= evbuffer_add(out, "\r\n", 2);
			st->bol = true;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			st->cr = true;
			continue;
		}
		if (c == '\n') {
			rc |= evbuffer_add(out, "\r\n", 2);
			st->bol = true;
			continue;
		}
		if (st->bol && c == '.')
			rc |= evbuffer_add(out, ".", 1);
		st->bol = false;
		run++;
	}
	rc |= evbuffer_add(out, p + len - run, run);
	return rc == 0 ? 0 : -1;
}

int
smtpc_stuff_end(struct smtpc_stuffer *st, struct evbuffer *out)
{
	int rc = 0;

	if (st->cr || !st->bol)
		rc |= evbuffer_add(out, "\r\n", 2);
	st->cr = false;
	st->bol = true;
	rc |= evbuffer_add(out, ".\r\n", 3);
	return rc == 0 ? 0 : -1;
}
