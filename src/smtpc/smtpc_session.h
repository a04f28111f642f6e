/* SPDX-License-Identifier: ISC */
/*
 * The outbound SMTP client: one connection to one address, driven by a
 * libevent loop. It connects (with a timeout), reads the greeting, says EHLO
 * (HELO when EHLO is refused with 5xx), upgrades with STARTTLS or starts with
 * implicit TLS as the parameters ask, authenticates with AUTH PLAIN (over TLS
 * only), then sends messages one after the other: MAIL FROM with the
 * extension parameters the server supports, RCPT TO per recipient
 * (pipelined when PIPELINING is offered), DATA with the message streamed
 * from a file descriptor in CRLF form with dot-stuffing, and QUIT.
 *
 * Everything the server sends is untrusted: replies are parsed by
 * smtpc_reply (bounded lines and line count) and each phase has a timeout
 * (RFC 5321 §4.5.3.2).
 *
 * With params.lmtp the same engine speaks LMTP (RFC 2033) to a local mail
 * store, over TCP or a unix socket: deliver/lmtp.c uses it.
 *
 * Usage: smtpc_session_new() starts connecting. The callback receives
 * SMTPC_EV_READY once the session can take a message: call
 * smtpc_session_send(). When the message is finished, SMTPC_EV_MESSAGE
 * reports per-recipient results: send another message or call
 * smtpc_session_quit(). SMTPC_EV_CLOSED is always the last event; a
 * connection-level failure (connect, TLS, greeting, EHLO, AUTH, timeout,
 * lost connection) first finishes the message in flight, if any, with an
 * SMTPC_EV_MESSAGE. smtpc_session_free() may be called at any time, also
 * from within the callback; no event is delivered after it.
 */
#ifndef SEALMAIL_SMTPC_SMTPC_SESSION_H
#define SEALMAIL_SMTPC_SMTPC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/ids.h"
#include "core/limits.h"
#include "queue/envelope.h"
#include "smtpc/smtpc_dane.h"
#include "smtpc/smtpc_reply.h"

struct smtpc_session;

enum smtpc_tls_mode {
	SMTPC_TLS_NONE,		/* never (tests, or a policy decision) */
	SMTPC_TLS_OPPORTUNISTIC,/* STARTTLS when offered, certificate only
				 * recorded (RFC 3207, RFC 7435) */
	SMTPC_TLS_STARTTLS,	/* STARTTLS required; fail without it */
	SMTPC_TLS_IMPLICIT,	/* TLS from the first byte (RFC 8314, 465) */
};

struct smtpc_params {
	const char	*sid;		/* log id (IDS_SID_LEN hex) or NULL: new */
	const char	*helo;		/* our name for EHLO/HELO (required) */
	const char	*peer_name;	/* server host name: SNI, verification,
					 * logs; NULL for an address literal */
	const struct sockaddr *addr;	/* where to connect (copied) */
	socklen_t	 addrlen;
	enum smtpc_tls_mode tls;
	/* The server must authenticate (chain and RFC 7817 host name against
	 * peer_name; or DANE when tlsa is given) or the session fails before
	 * MAIL. For STARTTLS and IMPLICIT; relayhost mode sets it. Without
	 * it the outcome is only recorded in smtpc_tls_info. */
	bool		 tls_verify;
	/* DANE (RFC 7672): the host's usable TLSA records (copied). With
	 * ntlsa > 0 the certificate is checked against them instead of the
	 * trust store; peer_name is the TLSA base domain (SNI, and the
	 * DANE-TA name with dane_nexthop, the next-hop domain: RFC 7672
	 * §3.2.2). The context must have had SSL_CTX_dane_enable. */
	const struct smtpc_tlsa *tlsa;
	size_t		 ntlsa;
	const char	*dane_nexthop;
	/* A client context to use (borrowed, reference taken), or NULL: the
	 * session builds one with the system store plus ca_file. */
	SSL_CTX		*tls_ctx;
	const char	*ca_file;	/* extra trust anchors, or NULL */
	/* AUTH PLAIN credentials (copied), or NULL: no AUTH. Sent only over
	 * TLS; without TLS or without AUTH PLAIN the session fails. */
	const char	*auth_user;
	const char	*auth_pass;
	/* If non-zero, every timeout is at most this many milliseconds
	 * (tests). The connect timeout is connect_timeout_ms (0: 30 s). */
	unsigned	 timeout_max_ms;
	unsigned	 connect_timeout_ms;
	/* Speak LMTP (RFC 2033) instead: LHLO (no HELO fallback), then
	 * after the final "." one reply per accepted recipient, each its
	 * recipient's outcome (§4.2). addr may then be AF_UNIX (peer_name
	 * NULL, tls SMTPC_TLS_NONE). */
	bool		 lmtp;
};

/* A recipient of a message (strings borrowed until SMTPC_EV_MESSAGE). */
struct smtpc_rcpt {
	const char	*address;	/* RCPT TO path, without brackets */
	const char	*orcpt;		/* RFC 3461 ORCPT "type;xtext" or NULL */
	unsigned	 notify;	/* ENVELOPE_NOTIFY_* bits, 0: none */
};

/* A message to send (borrowed until its SMTPC_EV_MESSAGE event). */
struct smtpc_message {
	const char		*qid;		/* for logs, or NULL */
	const char		*mail_from;	/* "" for the null path */
	const struct smtpc_rcpt	*rcpts;
	size_t			 nrcpts;
	int			 fd;	/* message, read from offset 0 with
					 * pread; LF or CRLF line ends */
	uint64_t		 len;	/* bytes of fd that are the message
					 * (the spool file goes on) */
	const char		*prepend;	/* sent first (trace headers) */
	size_t			 prepend_len;
	uint64_t		 size;		/* for SIZE=, 0: not given */
	enum envelope_body	 body;
	bool			 smtputf8;
	enum envelope_ret	 ret;
	const char		*envid;		/* RFC 3461 xtext or NULL */
	/* RFC 8689: MAIL carries REQUIRETLS, which needs TLS and the
	 * server's REQUIRETLS in its EHLO after TLS; otherwise the message
	 * finishes unsent, SMTPC_PERM, stage "requiretls", 5.7.10 (no TLS)
	 * or 5.7.30 (not offered). A bounce (null mail_from) goes out
	 * anyway, with the parameter only where offered (§5). Whether the
	 * server is authenticated enough is the caller's decision. */
	bool			 requiretls;
};

enum smtpc_class {
	SMTPC_OK,	/* accepted */
	SMTPC_TEMP,	/* try again later (4xx, timeouts, lost connection) */
	SMTPC_PERM,	/* bounce (5xx, or a local permanent reason) */
};

#define SMTPC_TEXT_MAX	512

/* One outcome: a server reply (code != 0) or a local reason (code 0). */
struct smtpc_status {
	enum smtpc_class klass;
	int		 code;
	char		 enhanced[SMTPC_ENH_MAX];	/* "5.1.1" or "" */
	char		 text[SMTPC_TEXT_MAX];	/* reply lines joined by "; " */
	const char	*stage;		/* static: "connect", "rcpt", "data"... */
};

/*
 * The outcome of a message (SMTPC_EV_MESSAGE) or of the connection
 * (SMTPC_EV_CLOSED). For a message, status is the deciding reply (the one
 * after the final ".", or the failure) and rcpt[i] the outcome of
 * message->rcpts[i]. For CLOSED, status is how the connection ended (OK
 * after QUIT) and rcpt is NULL. Borrowed for the duration of the callback.
 */
struct smtpc_result {
	struct smtpc_status	 status;
	const struct smtpc_status *rcpt;
	size_t			 nrcpts;
};

/* TLS state of the session, for logs and the delivery record. */
struct smtpc_tls_info {
	bool		 active;
	bool		 verified;	/* chain and host name verified, or a
					 * TLSA record matched (dane) */
	bool		 dane;		/* checked against TLSA records */
	/* Why it did not verify as an RFC 8460 §4.3 result type
	 * ("certificate-expired", "tlsa-invalid", ...), or NULL. Static. */
	const char	*failure;
	char		 version[16];	/* "TLSv1.3" */
	char		 cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	char		 verify_error[96];	/* why not verified, or "" */
};

enum smtpc_event {
	SMTPC_EV_READY,		/* idle: smtpc_session_send or _quit */
	SMTPC_EV_MESSAGE,	/* a message finished (result has rcpts) */
	SMTPC_EV_CLOSED,	/* connection over; last event */
};

typedef void smtpc_cb(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res, void *arg);

/*
 * Start a session on base; the params are copied. Returns NULL (err filled)
 * only for bad parameters (no helo, bad address, credentials with
 * SMTPC_TLS_NONE) or a TLS context that cannot be built; connection
 * failures are reported through the callback, never from within this call.
 */
struct smtpc_session *smtpc_session_new(struct event_base *base,
    const struct smtpc_params *p, smtpc_cb *cb, void *arg, char *err,
    size_t errlen);

/* Close at once (no QUIT) and free; NULL is a no-op. No callbacks after. */
void smtpc_session_free(struct smtpc_session *s);

/*
 * Send a message; only after SMTPC_EV_READY or SMTPC_EV_MESSAGE. msg and
 * everything it points to must stay valid until its SMTPC_EV_MESSAGE. A
 * message the server cannot take (SMTPUTF8 or SIZE not supported, bad
 * address syntax) finishes with SMTPC_PERM without being sent. Returns -1
 * if the session is not idle.
 */
int smtpc_session_send(struct smtpc_session *s,
    const struct smtpc_message *msg);

/* Say QUIT and close; SMTPC_EV_CLOSED follows. -1 if not idle. */
int smtpc_session_quit(struct smtpc_session *s);

/* What the server announced (valid after READY) and the TLS state. */
const struct smtpc_caps *smtpc_session_caps(const struct smtpc_session *s);
const struct smtpc_tls_info *smtpc_session_tls(const struct smtpc_session *s);
/* The name the server gave in its last EHLO/HELO reply ("" if none);
 * untrusted text, checked to be a plausible host name. */
const char *smtpc_session_peer_helo(const struct smtpc_session *s);
/* Our address of the connection once connected ("" before, or if it
 * cannot be read). */
const char *smtpc_session_local_addr(const struct smtpc_session *s);
/* The session id used in log lines. */
const char *smtpc_session_sid(const struct smtpc_session *s);

/*
 * A client TLS context: TLS 1.2 minimum, system trust store plus ca_file
 * (may be NULL). NULL with err filled on failure. Callers that open many
 * sessions share one and free it with SSL_CTX_free.
 */
SSL_CTX *smtpc_tls_ctx_new(const char *ca_file, char *err, size_t errlen);

/*
 * The DATA transformation, exposed for tests and fuzzing: converts a byte
 * stream with LF, CRLF or bare CR line ends into CRLF lines with a '.'
 * doubled at the start of every line (RFC 5321 §4.5.2). A bare CR or bare
 * LF is a line end like CRLF (never sent bare: STYLE.md §7), so a '.'
 * after it is doubled too. The one dot-stuffer of SMTP and LMTP. Push
 * chunks with smtpc_stuff_push, then smtpc_stuff_end, which ends the last
 * line and appends the ".\r\n" terminator.
 */
struct smtpc_stuffer {
	bool	 bol;		/* at the beginning of a line */
	bool	 cr;		/* a CR was seen, line end pending */
};
void smtpc_stuff_init(struct smtpc_stuffer *st);
int smtpc_stuff_push(struct smtpc_stuffer *st, const void *data, size_t len,
    struct evbuffer *out);
int smtpc_stuff_end(struct smtpc_stuffer *st, struct evbuffer *out);

#endif
