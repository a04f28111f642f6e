/* SPDX-License-Identifier: ISC */
/*
 * The SMTP session shared by smtpd_session.c (connection, I/O, TLS,
 * timeouts), smtpd_verbs.c (commands), smtpd_auth.c (AUTH) and smtpd_txn.c
 * (the mail transaction and message data). Not for use outside smtpd/.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_INTERNAL_H
#define SEALMAIL_SMTPD_SMTPD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/ids.h"
#include "core/metrics.h"
#include "queue/envelope.h"
#include "smtpd/smtpd_cmd.h"
#include "smtpd/smtpd_session.h"
#include "store/db.h"
#include "store/db_pool.h"

enum smtpd_state {
	SMTPD_STATE_TLS_START,		/* STARTTLS: the 220 is going out */
	SMTPD_STATE_TLS_HANDSHAKE,	/* implicit TLS or after STARTTLS */
	SMTPD_STATE_CMD,		/* reading command lines */
	SMTPD_STATE_AUTH,		/* reading a SASL response line */
	SMTPD_STATE_DATA,		/* reading DATA until CRLF.CRLF */
	SMTPD_STATE_BDAT,		/* reading a BDAT chunk */
	SMTPD_STATE_PAUSED,		/* waiting (AUTH failure delay) */
	SMTPD_STATE_WAIT,		/* waiting for SPF/DKIM/DMARC results */
	SMTPD_STATE_CLOSING,		/* flushing the last reply */
	SMTPD_STATE_PREGREET,		/* between "220-" and "220 " */
};

/* Login names longer than this are not matched to addresses (useradd
 * allows 32). */
#define SMTPD_LOCAL_USER_MAX	32

enum smtpd_auth_step {
	SMTPD_AUTH_PLAIN,		/* waiting for the PLAIN response */
	SMTPD_AUTH_LOGIN_USER,
	SMTPD_AUTH_LOGIN_PASS,
};

struct smtpd_data;
struct spool_msg;
struct authcheck;
struct dkim_sign;
struct dkim_sign_key;
struct arc_sign;
struct spool_commit_job;
struct smtpd_auth_job;
struct tls_hs;
struct smtpd_dnsbl;
struct smtpd_rcpt_args;
struct smtpd_sign_job;
struct smtpd_store_job;
struct smtpd_store_senders;
struct smtpd_store_expand;
struct smtpd_session;

/* What a session does next once an answer it waited for is in (on the
 * loop). */
typedef void smtpd_next_fn(struct smtpd_session *s);

struct smtpd_session {
	struct smtpd_ctx	*ctx;
	struct smtpd_session	*next, *prev;	/* ctx->sessions list */
	const struct conf_listener *lst;
	char			 sid[IDS_SID_LEN + 1];
	int			 fd;
	struct bufferevent	*bev;
	SSL			*ssl;		/* owned; NULL before TLS */
	struct tls_hs		*hs;		/* during the handshake (bev
						 * is NULL then) */
	struct sockaddr_storage	 peer;
	char			 addr[64];	/* client IP text */
	enum smtpd_state	 state;
	struct event		*timer;		/* pause / closing deadline */
	/* One deadline that activity does not extend: the whole TLS
	 * handshake (from STARTTLS on), or the whole message (DATA, or the
	 * first BDAT to the last). */
	struct event		*deadline;
	bool			 deadline_tls;	/* else the message's */
	const char		*pause_reply;	/* sent when the pause ends */
	bool			 skip_line;	/* discarding an overlong line */
	bool			 proxy_own;	/* a PROXY header that names no
						 * client (a health check): the
						 * proxy's own session */
	unsigned		 errors;

	/* Session properties (reset by STARTTLS, RFC 3207 §4.2). */
	bool			 tls;
	bool			 esmtp;
	char			*helo;
	char			*auth_user;
	bool			 trusted;	/* client in trusted_networks */
	struct smtpd_dnsbl	*dnsbl;		/* lookups or a listing; NULL:
						 * none (smtpd_dnsbl.c) */

	/* A client of the local submission socket: the user the kernel
	 * named (SO_PEERCRED), never what the client says. */
	bool			 local;
	uid_t			 local_uid;
	char			 local_user[SMTPD_LOCAL_USER_MAX + 1]; /* "": none */

	/* AUTH exchange in progress. */
	enum smtpd_auth_step	 auth_step;
	struct smtpd_auth_job	*auth_job;	/* password being checked */
	char			 auth_login_user[LIMIT_SASL_FIELD + 1];

	/* The mail transaction (reset by RSET, HELO/EHLO, end of data). */
	bool			 has_mail;
	long long		 limit_msg_at;	/* when [limits] gave it a
						 * message slot (0: none) */
	char			 qid[IDS_QID_LEN + 1];
	struct envelope		 env;
	uint64_t		 declared_size;
	unsigned		 nrcpt;		/* RCPT commands accepted */
	struct spool_msg	*msg;
	struct smtpd_data	*data;
	struct buf		 headers;	/* header section as received */
	bool			 headers_done;
	bool			 headers_overflow;
	bool			 spool_failed;
	bool			 bdat_used;
	bool			 bdat_discard;	/* reading a chunk to throw away */
	bool			 bdat_last;
	const char		*bdat_reject;	/* reply after discarding */
	uint64_t		 bdat_left;

	/* Inbound checks (mx) and outbound signing (submission). */
	struct authcheck	*ac;
	struct dkim_sign	*signer;
	char			 sign_domain[LIMIT_DOMAIN + 1];
	/* A local session's signer chosen while the store was still asked
	 * whether its From: is the user's: settled by smtpd_checks_finish. */
	bool			 sign_provisional;
	/* ARC sealing of mail forwarded for an alias (smtpd_arc.c). */
	struct arc_sign		*arc;
	const struct dkim_sign_key *arc_key;	/* borrowed (ctx's keys) */
	char			 arc_domain[LIMIT_DOMAIN + 1];

	/* DKIM signing or ARC sealing under way (smtpd_sign.c). */
	struct smtpd_sign_job	*sign_job;

	/* A store lookup running off the loop, and an answer that came
	 * for the command read again (smtpd_store.c). */
	struct smtpd_store_job	*store_job;
	struct smtpd_store_job	*store_answer;
	struct smtpd_store_senders *senders;	/* header addresses' */
	struct smtpd_store_expand *expanded;	/* milters' recipients */

	/* The message being made durable (the session waits for it). */
	struct spool_commit_job	*commit_job;

	/* Replies of this loop turn, written together at its end. */
	struct buf		 out;
	struct smtpd_session	*flush_next;	/* ctx->flush list */
	bool			 flush_queued;
};

/* smtpd_session.c */
/* An address as text (IPv4-mapped IPv6 as IPv4). */
void smtpd_addr_text(const struct sockaddr *sa, char *out, size_t outlen);
/* Start a session on accepted fd for listener lst (a configured one, or
 * the local socket's); NULL when the connection limits refuse it (fd is
 * closed then). The greeting is sent by smtpd_session_greet. */
struct smtpd_session *smtpd_session_start(struct smtpd_ctx *ctx, int fd,
    const struct sockaddr *sa, socklen_t salen,
    const struct conf_listener *lst);
void smtpd_session_greet(struct smtpd_session *s);
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_close(struct smtpd_session *s, const char *reason);
/* The transaction is over (ended or dropped): its message deadline,
 * if one runs, goes with it, so the next message gets its own. */
void smtpd_deadline_message_end(struct smtpd_session *s);
void smtpd_enter(struct smtpd_session *s, enum smtpd_state st);
void smtpd_process(struct smtpd_session *s);
void smtpd_pause(struct smtpd_session *s, unsigned seconds);
/* Stop reading until smtpd_resume() (an asynchronous check is running). */
void smtpd_wait(struct smtpd_session *s);
void smtpd_resume(struct smtpd_session *s);
int smtpd_starttls(struct smtpd_session *s);

/* The final "220 " greeting line (smtpd_session.c). */
void smtpd_greeting(struct smtpd_session *s);

/* smtpd_proxy.c: [listen] proxy_protocol = yes. accept: read the PROXY
 * header of connection fd from sa (closed if sa is not in proxy_from),
 * then start the session as the client it names; stop: drop the
 * connections whose header is still awaited (shutdown). */
void smtpd_proxy_accept(struct smtpd_ctx *ctx, int fd,
    const struct sockaddr *sa, socklen_t salen,
    const struct conf_listener *lst);
void smtpd_proxy_stop(struct smtpd_ctx *ctx);

/* smtpd_pregreet.c */
/* Send "220-" and wait pregreet_wait for a client that should; false if
 * the test does not apply (the caller sends the whole greeting). */
bool smtpd_pregreet_start(struct smtpd_session *s);
/* Input arrived during the wait: 554 and close. */
void smtpd_pregreet_input(struct smtpd_session *s);

/* smtpd_dnsbl.c */
/* An mx client connected: look it up in the [server] dnsbl zones. */
void smtpd_dnsbl_start(struct smtpd_session *s);
/* At RCPT (arg, len: its argument): true once answered, with 550 5.7.1
 * for a listed client (postmaster excepted), or when the RCPT waits for
 * the lookups (it is read again then). */
bool smtpd_dnsbl_rcpt(struct smtpd_session *s,
    const struct smtpd_rcpt_args *ra, const char *arg, size_t len);
void smtpd_dnsbl_free(struct smtpd_session *s);

/* smtpd_verbs.c */
void smtpd_verb_dispatch(struct smtpd_session *s, const char *line,
    size_t len);

/* The 250 to HELO (esmtp false) or EHLO, once it was accepted. */
void smtpd_verb_hello_reply(struct smtpd_session *s, bool esmtp);

/* smtpd_auth.c */
void smtpd_auth_start(struct smtpd_session *s, const char *arg,
    size_t len);
void smtpd_auth_line(struct smtpd_session *s, const char *line, size_t len);
/* The session is going away: drop its password check, if any. */
void smtpd_auth_cancel(struct smtpd_session *s);

/* smtpd_txn.c */
void smtpd_txn_reset(struct smtpd_session *s);
void smtpd_txn_mail(struct smtpd_session *s, const char *arg, size_t len);
/* MAIL passed our checks: the milters', then 250. */
void smtpd_txn_mail_ok(struct smtpd_session *s);
void smtpd_txn_rcpt(struct smtpd_session *s, const char *arg, size_t len);
void smtpd_txn_data(struct smtpd_session *s);
void smtpd_txn_bdat(struct smtpd_session *s, const char *arg, size_t len);
/* Feed message bytes from the input buffer (DATA or BDAT state). */
void smtpd_txn_input(struct smtpd_session *s);
/* Commit the message (asynchronously: the session waits) and answer 250
 * or 451; then back to commands. */
void smtpd_txn_commit(struct smtpd_session *s);
/* True if the message has exactly one From: field and every address in
 * it, in every Sender: and in the newest Resent-From: and Resent-Sender:
 * is owned by the session's user (AUTH user or local user). */
bool smtpd_txn_from_owned(struct smtpd_session *s);
/* On submission with AUTH: the refusal if those fields are not the
 * user's (smtpd_txn_from_owned), else NULL; NULL elsewhere. */
const char *smtpd_txn_senders_refusal(struct smtpd_session *s);
/* Answer reply to the end of the message and drop the transaction. */
void smtpd_txn_reject(struct smtpd_session *s, const char *reply,
    enum metrics_reject reason);

/* smtpd_checks.c: the authentication pipeline around the transaction. */
/* After MAIL FROM was accepted: start the inbound checks. Returns true if
 * the reply to MAIL is deferred until SPF is known (spf_reject_fail). */
bool smtpd_checks_mail(struct smtpd_session *s);
/* The header section is complete in s->headers: feed it to the checks,
 * remove forged Authentication-Results and BIMI fields (s->headers then
 * holds what goes into the spool) and prepare DKIM signing. */
void smtpd_checks_headers(struct smtpd_session *s);
void smtpd_checks_body(struct smtpd_session *s, const uint8_t *p, size_t n);
/* A milter changed the message (s->headers is the new header section):
 * the DKIM signer and the ARC sealer start again, chosen from it (the
 * From: domain, the recipients), and are fed the body written from now
 * on by smtpd_checks_sign_body, so no hash is of what the milters
 * replaced. The inbound checks keep what arrived. */
void smtpd_checks_resign(struct smtpd_session *s);
void smtpd_checks_sign_body(struct smtpd_session *s, const uint8_t *p,
    size_t n);
/* The message passed the session's own checks: finish the authentication
 * checks, apply DMARC, add our header fields, then smtpd_txn_commit(). */
void smtpd_checks_finish(struct smtpd_session *s);
void smtpd_checks_reset(struct smtpd_session *s);

/* smtpd_arc.c: the ARC set for the copies an alias forwards off-site.
 * headers: decide whether to seal (and with which key) once the header
 * section and recipients are known; body: feed its hash; seal: at the
 * end, from the inbound verdicts (ac) and our Authentication-Results
 * field ar, into s->env.arc; reset: drop it. */
struct authcheck;
void smtpd_arc_headers(struct smtpd_session *s);
void smtpd_arc_body(struct smtpd_session *s, const uint8_t *p, size_t n);
void smtpd_arc_seal(struct smtpd_session *s, const struct authcheck *ac,
    const struct buf *ar, smtpd_next_fn *next);
void smtpd_arc_reset(struct smtpd_session *s);

/* smtpd_sign.c: DKIM signing (s->signer moves into the job; the
 * signatures join the prepend block) and ARC sealing (s->arc moves in;
 * the set goes to s->env.arc), the keys process asked asynchronously and
 * the session waiting; next(s) continues on the loop when done, failed
 * (the message then goes unsigned, logged) or timed out (not when the
 * session went). cancel: the session goes, the answers are dropped. */
struct arc_sign_chain;
void smtpd_sign_dkim(struct smtpd_session *s, smtpd_next_fn *next);
void smtpd_sign_arc(struct smtpd_session *s, const struct arc_sign_chain *c,
    const struct buf *authres, smtpd_next_fn *next);
void smtpd_sign_cancel(struct smtpd_session *s);
/* Append header text to the envelope's prepend block (after Received). */
void smtpd_checks_prepend(struct smtpd_session *s, struct buf *add);

/* smtpd_lookalike.c: lookalike senders on mx listeners (msg/lookalike.h).
 * strip_ranges: the Sealmail-Warning fields of header section h (len
 * bytes), as bimi_strip_ranges finds BIMI's (up to max into out; the
 * count is returned). headers: with the header section in s->headers,
 * [lookalike] action = tag prefixes Subject: of a message whose verdict
 * cannot depend on DMARC. verdict: at the end, with DMARC known, add the
 * Sealmail-Warning field and apply action = junk. */
struct authres_field;
struct dmarc_verdict;
size_t smtpd_lookalike_strip_ranges(const char *h, size_t len,
    struct authres_field *out, size_t max);
void smtpd_lookalike_headers(struct smtpd_session *s);
void smtpd_lookalike_verdict(struct smtpd_session *s,
    const struct dmarc_verdict *v);

/* smtpd_store.c: the store's answers (see there). Each is false when
 * the session now waits for it off the loop: the command (verb and
 * arg/len) is read again once it is in, and the same call then answers.
 * rcpt: db_rcpt_expand of `to` (*v: the caller frees); owns:
 * db_user_owns_check; srs_key: the SRS secret. DB_ERROR is a temporary
 * failure (logged here). cancel: the session goes. dmarc_room: whether
 * a DMARC row (or failure report) may be deferred on ctx->db now. */
bool smtpd_store_rcpt(struct smtpd_session *s, const char *to,
    const char *arg, size_t len, enum db_result *r, char ***v, size_t *n);
bool smtpd_store_owns(struct smtpd_session *s, const char *user,
    const char *address, const char *arg, size_t len, enum db_result *r);
bool smtpd_store_srs_key(struct smtpd_session *s, const char *arg,
    size_t len, uint8_t *key, enum db_result *r);
void smtpd_store_cancel(struct smtpd_session *s);
/* The header senders of a submission (an AUTH user's From:, Sender: and
 * Resent- fields; a local user's From:, for signing), whose ownership a
 * store over the network is asked about off the loop (SQLite: at once,
 * when checked). senders: true when every answer is in; false when the
 * session now waits, and next(s) follows, which calls senders again (a
 * job started earlier may not have asked about a milter's From:).
 * senders_start: ask now without waiting (the message still streams in);
 * true while answers are pending. sender: the answer for address (one
 * being asked, for a local user: owned for now). expand: db_rcpt_expand
 * of each address (true: done at once; false: the session waits and
 * next(s) follows); expanded: the answer for the i-th, *v the caller's.
 * txn_reset: the transaction ends, its jobs and answers go. */
bool smtpd_store_senders(struct smtpd_session *s, smtpd_next_fn *next);
bool smtpd_store_senders_start(struct smtpd_session *s);
enum db_result smtpd_store_sender(struct smtpd_session *s,
    const char *address);
bool smtpd_store_expand(struct smtpd_session *s, const char *const *address,
    size_t n, smtpd_next_fn *next);
enum db_result smtpd_store_expanded(struct smtpd_session *s, size_t i,
    char ***v, size_t *n);
void smtpd_store_txn_reset(struct smtpd_session *s);
bool smtpd_store_dmarc_room(struct smtpd_ctx *ctx, bool failure);
/* Run run(db, arg) on a store thread, done(arg, cancelled) back on the
 * loop (ctx->store must be set). */
void smtpd_store_submit(struct smtpd_ctx *ctx, db_pool_run_fn *run,
    workpool_done_fn *done, void *arg);

/* smtpd_local.c: sessions on the local submission socket. */
/* Whether local user login owns address (the rule in smtpd_local.c):
 * DB_OK owned, DB_NOTFOUND not, DB_ERROR the store could not say. Reads
 * conf and db only, so a store thread may call it. quick: true with *r
 * set when the answer needs no store (the login's own address, or no
 * usable login). */
enum db_result smtpd_local_owns(struct db *db, const struct conf *conf,
    const char *login, const char *address);
bool smtpd_local_owns_quick(const struct conf *conf, const char *login,
    const char *address, enum db_result *r);

#endif
