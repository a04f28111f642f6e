/* SPDX-License-Identifier: ISC */
/*
 * The mail transaction: MAIL and RCPT policy, then the message itself via
 * DATA or BDAT streamed through the smuggling-safe state machine
 * (smtpd_data.c) into the spool, and the commit that must succeed before
 * the 250 (DESIGN.md §6 step 4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/hops.h"
#include "msg/rfc5322_headers.h"
#include "msg/srs.h"
#include "net/connlimit.h"
#include "net/tls.h"
#include "queue/spool.h"
#include "queue/spool_commit.h"
#include "smtpd/smtpd_data.h"
#include "smtpd/smtpd_hdrsplit.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"
#include "smtpd/smtpd_received.h"
#include "store/db.h"

/* From: addresses we check at most (more is refused as not owned). */
#define SMTPD_FROM_MAX	8

void
smtpd_txn_reset(struct smtpd_session *s)
{
	if (s->limit_msg_at != 0 && s->auth_user != NULL)
		connlimit_acct_give_back(s->ctx->limits, s->auth_user,
		    CONNLIMIT_ACCT_MESSAGES, 1, s->limit_msg_at);
	s->limit_msg_at = 0;
	smtpd_milter_reset(s);
	smtpd_checks_reset(s);
	smtpd_store_txn_reset(s);
	spool_msg_abort(s->msg);
	s->msg = NULL;
	smtpd_data_free(s->data);
	s->data = NULL;
	envelope_clear(&s->env);
	envelope_init(&s->env);
	buf_reset(&s->headers);
	s->has_mail = false;
	s->qid[0] = '\0';
	s->declared_size = 0;
	s->nrcpt = 0;
	s->headers_done = s->headers_overflow = s->spool_failed = false;
	s->bdat_used = s->bdat_discard = s->bdat_last = false;
	smtpd_deadline_message_end(s);
	s->bdat_reject = NULL;
	s->bdat_left = 0;
}

/*
 * [limits] for an authenticated account: at MAIL a slot of the hour's
 * messages, at each RCPT one of its recipients, taken in the table all
 * workers share (checked and counted at once: parallel sessions of one
 * account cannot each pass the limit). The message slot is held by the
 * transaction and given back by smtpd_txn_reset unless the data got its
 * 250 (smtpd_txn_committed); a recipient's is given back if its RCPT is
 * refused, and stays counted once the RCPT got 250, also when the
 * transaction is then abandoned (probing costs). *taken gets the time of
 * the count (left alone if nothing was counted). True once answered
 * 451 4.7.1 and logged.
 */
static bool
smtpd_txn_over_limit(struct smtpd_session *s, enum connlimit_acct_kind kind,
    long long *taken)
{
	const struct conf *c = s->ctx->conf;
	char q[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];
	unsigned count, max = kind == CONNLIMIT_ACCT_MESSAGES ?
	    c->limits_messages_per_hour : c->limits_recipients_per_hour;
	long long at;

	if (s->auth_user == NULL || (c->limits_messages_per_hour == 0 &&
	    c->limits_recipients_per_hour == 0))
		return false;
	if (connlimit_acct_take(s->ctx->limits, s->auth_user, kind, 1, max,
	    &at, &count)) {
		*taken = at;
		return false;
	}
	log_warn("sid=%s smtp limit user=%s addr=%s limit=%s count=%u "
	    "max=%u", s->sid, log_quote(s->auth_user, strlen(s->auth_user),
	    q, sizeof(q)), s->addr, kind == CONNLIMIT_ACCT_MESSAGES ?
	    "messages_per_hour" : "recipients_per_hour", count, max);
	smtpd_reply(s, "451 4.7.1 Hourly %s limit of %s reached, try again "
	    "later", kind == CONNLIMIT_ACCT_MESSAGES ? "message" : "recipient",
	    s->auth_user);
	return true;
}

void
smtpd_txn_mail(struct smtpd_session *s, const char *arg, size_t len)
{
	const struct conf *c = s->ctx->conf;
	struct smtpd_mail_args ma;
	char from[LIMIT_PATH + 1] = "", esc[LIMIT_PATH * 4 + 1];
	char q[LOG_QUOTE_SIZE(LIMIT_PATH)], qu[LOG_QUOTE_SIZE(LIMIT_PATH)];
	enum smtpd_cmd_result r;
	enum db_result owns = DB_OK;

	if (s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((r = smtpd_cmd_parse_mail(arg, len, &ma)) != SMTPD_CMD_OK) {
		smtpd_reply(s, "%s", smtpd_cmd_error_reply(r));
		return;
	}
	if (ma.body == ENVELOPE_BODY_BINARYMIME) {
		/* Not advertised (RFC 3030 §3). */
		smtpd_reply(s, "555 5.5.4 Unsupported MAIL parameter");
		return;
	}
	if (ma.requiretls && !s->tls) {
		/* RFC 8689 §2: only inside TLS (it names no reply for this;
		 * 5.7.10 "Encryption needed" is RFC 5248's code for it). */
		metrics_rejected(METRICS_REJECT_POLICY);
		smtpd_reply(s, "530 5.7.10 REQUIRETLS requires TLS");
		return;
	}
	if (s->lst->role == CONF_ROLE_SUBMISSION &&
	    s->auth_user == NULL && !s->trusted && !s->local) {
		metrics_rejected(METRICS_REJECT_AUTH);
		smtpd_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (ma.size > c->max_message_size) {
		metrics_rejected(METRICS_REJECT_SIZE);
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (!ma.is_null && addr_to_text(&ma.from, from, sizeof(from)) == -1) {
		smtpd_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (s->auth_user && !ma.is_null) {
		if (!smtpd_store_owns(s, s->auth_user, from, arg, len, &owns))
			return;		/* read again with the answer */
		if (owns == DB_ERROR) {
			log_escape(from, strlen(from), esc, sizeof(esc));
			smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup "
			    "failure", esc);
			return;
		}
	}
	if (s->auth_user && !ma.is_null && owns != DB_OK) {
		log_info("sid=%s smtp mail from=%s user=%s result=not-owned",
		    s->sid, log_quote(from, strlen(from), q, sizeof(q)),
		    log_quote(s->auth_user, strlen(s->auth_user), qu, sizeof(qu)));
		log_escape(from, strlen(from), esc, sizeof(esc));
		metrics_rejected(METRICS_REJECT_AUTH);
		smtpd_reply(s, "550 5.7.1 <%s>: Sender address not owned by "
		    "user %s", esc, s->auth_user);
		return;
	}
	if (smtpd_txn_over_limit(s, CONNLIMIT_ACCT_MESSAGES, &s->limit_msg_at))
		return;
	ids_qid_new(s->qid);
	memcpy(s->env.id, s->qid, sizeof(s->env.id));
	s->env.created = time(NULL);
	s->env.mail_from = xstrdup(from);
	s->env.body = ma.body;
	s->env.smtputf8 = ma.smtputf8;
	s->env.ret = ma.ret;
	/* RFC 8689 §4.1: the tag the queue keeps; a TLS-Required field in
	 * the message is then ignored (tlsrequired.h). */
	s->env.requiretls = ma.requiretls;
	s->env.envid = ma.has_envid ? xstrdup(ma.envid) : NULL;
	s->env.auth_user = s->auth_user ? xstrdup(s->auth_user) : NULL;
	s->env.helo = s->helo ? xstrdup(s->helo) : NULL;
	s->env.client_addr = s->local ? xasprintf(ENVELOPE_LOCAL_CLIENT "%s uid %lu",
	    s->local_user[0] ? s->local_user : "-",
	    (unsigned long)s->local_uid) : xstrdup(s->addr);
	s->declared_size = ma.size;
	s->has_mail = true;
	log_info("sid=%s qid=%s smtp mail from=%s size=%llu%s", s->sid,
	    s->qid, log_quote(from, strlen(from), q, sizeof(q)),
	    (unsigned long long)ma.size, ma.requiretls ? " requiretls=yes" :
	    "");
	smtpd_milter_mail_arg(s, arg, len);
	if (!smtpd_checks_mail(s))
		smtpd_txn_mail_ok(s);
}

void
smtpd_txn_mail_ok(struct smtpd_session *s)
{
	if (!smtpd_milter_mail(s))
		smtpd_reply(s, "250 2.1.0 Ok");
}

/* Add a recipient unless the same final address is already there. */
static void
smtpd_txn_add_rcpt(struct smtpd_session *s, const char *address,
    const char *orig, const struct smtpd_rcpt_args *ra)
{
	for (size_t i = 0; i < s->env.nrcpts; i++)
		if (addr_text_equal(s->env.rcpts[i].address, address))
			return;
	envelope_add_rcpt(&s->env, address, orig,
	    ra->has_orcpt ? ra->orcpt : NULL, ra->notify);
}

/* What became of a RCPT: its recipients added, refused (answered), or
 * waiting for the store (read again then: smtpd_store.c). */
enum smtpd_txn_rcpt {
	SMTPD_TXN_RCPT_ADDED,
	SMTPD_TXN_RCPT_REFUSED,
	SMTPD_TXN_RCPT_WAIT,
};

/* Local recipient: must be a user, an alias or under a catch-all (or
 * postmaster, which always is: db_rcpt_expand). `to` is the address,
 * `esc` its escaped form for replies, arg/len the RCPT's argument. A
 * 550 counts as a rejection, a 451 (the store unreadable or away) is a
 * delay and does not. */
static enum smtpd_txn_rcpt
smtpd_txn_rcpt_local(struct smtpd_session *s, const char *to,
    const char *esc, const struct smtpd_rcpt_args *ra, const char *arg,
    size_t len)
{
	char **targets = NULL;
	size_t n = 0;
	enum db_result r;

	if (!smtpd_store_rcpt(s, to, arg, len, &r, &targets, &n))
		return SMTPD_TXN_RCPT_WAIT;
	if (r == DB_NOTFOUND) {
		metrics_rejected(METRICS_REJECT_RECIPIENT);
		smtpd_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown", esc);
		return SMTPD_TXN_RCPT_REFUSED;
	}
	if (r != DB_OK) {
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", esc);
		return SMTPD_TXN_RCPT_REFUSED;
	}
	for (size_t i = 0; i < n; i++)
		smtpd_txn_add_rcpt(s, targets[i], to, ra);
	db_strv_free(targets, n);
	return SMTPD_TXN_RCPT_ADDED;
}

/*
 * RCPT TO an SRS address of a local domain (msg/srs.h): a bounce or reply
 * to mail we forwarded. It is relayed to the address it decodes to, so
 * only one whose hash and age verify is taken (else anyone could relay
 * through made-up SRS addresses). Any sender is accepted, as postsrsd
 * does: auto-replies (RFC 3834) go to the return path as well as DSNs,
 * and the hash is what keeps this from being an open relay.
 */
static enum smtpd_txn_rcpt
smtpd_txn_rcpt_srs(struct smtpd_session *s, const char *to,
    const char *esc, const struct smtpd_rcpt_args *ra, const char *arg,
    size_t len)
{
	const struct conf *c = s->ctx->conf;
	uint8_t key[SRS_SECRET_LEN];
	char dest[LIMIT_PATH + 1], desc[LIMIT_PATH * 4 + 1];
	char q[LOG_QUOTE_SIZE(LIMIT_PATH)], qd[LOG_QUOTE_SIZE(LIMIT_PATH)];
	enum srs_result r;
	enum db_result kr;

	if (!smtpd_store_srs_key(s, arg, len, key, &kr))
		return SMTPD_TXN_RCPT_WAIT;
	if (kr != DB_OK) {
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", esc);
		return SMTPD_TXN_RCPT_REFUSED;
	}
	r = srs_reverse(key, sizeof(key), to, (long long)time(NULL),
	    c->forward_srs_max_age / 86400, dest, sizeof(dest));
	OPENSSL_cleanse(key, sizeof(key));
	if (r != SRS_OK) {
		log_info("sid=%s qid=%s smtp rcpt to=%s srs=%s", s->sid,
		    s->qid, log_quote(to, strlen(to), q, sizeof(q)),
		    srs_result_text(r));
		metrics_rejected(METRICS_REJECT_RECIPIENT);
		smtpd_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "SRS address not valid (%s)", esc, srs_result_text(r));
		return SMTPD_TXN_RCPT_REFUSED;
	}
	log_info("sid=%s qid=%s smtp rcpt to=%s srs=ok relay-to=%s", s->sid,
	    s->qid, log_quote(to, strlen(to), q, sizeof(q)),
	    log_quote(dest, strlen(dest), qd, sizeof(qd)));
	/* Our own domain (a forwarded local sender is not rewritten, but
	 * the setting may have changed): an ordinary local recipient. */
	if (conf_is_local_domain(c, addr_text_domain(dest))) {
		log_escape(dest, strlen(dest), desc, sizeof(desc));
		return smtpd_txn_rcpt_local(s, dest, desc, ra, arg, len);
	}
	smtpd_txn_add_rcpt(s, dest, to, ra);
	return SMTPD_TXN_RCPT_ADDED;
}

/* The recipient of a RCPT (argument arg/len) that passed the syntax and
 * DNSBL checks: added to the envelope, answered, or waiting. */
static enum smtpd_txn_rcpt
smtpd_txn_rcpt_add(struct smtpd_session *s, struct smtpd_rcpt_args *ra,
    const char *arg, size_t len)
{
	const struct conf *c = s->ctx->conf;
	char to[LIMIT_PATH + 1], esc[LIMIT_PATH * 4 + 1];
	char q[LOG_QUOTE_SIZE(LIMIT_PATH)];

	if (ra->postmaster) {
		/* RFC 5321 §4.5.1: <Postmaster> must always be accepted. */
		if (c->ndomains == 0) {
			smtpd_reply(s, "550 5.1.1 <Postmaster>: no local "
			    "domain");
			return SMTPD_TXN_RCPT_REFUSED;
		}
		snprintf(ra->to.local, sizeof(ra->to.local), "postmaster");
		snprintf(ra->to.domain, sizeof(ra->to.domain), "%s",
		    c->domains[0].name);
	}
	if (addr_to_text(&ra->to, to, sizeof(to)) == -1) {
		smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		return SMTPD_TXN_RCPT_REFUSED;
	}
	log_escape(to, strlen(to), esc, sizeof(esc));
	if (conf_is_local_domain(c, ra->to.domain)) {
		enum smtpd_txn_rcpt how = c->forward_srs && srs_is_srs(to) ?
		    smtpd_txn_rcpt_srs(s, to, esc, ra, arg, len) :
		    smtpd_txn_rcpt_local(s, to, esc, ra, arg, len);

		if (how == SMTPD_TXN_RCPT_REFUSED)
			log_info("sid=%s qid=%s smtp rcpt to=%s "
			    "result=rejected", s->sid, s->qid,
			    log_quote(to, strlen(to), q, sizeof(q)));
		if (how != SMTPD_TXN_RCPT_ADDED)
			return how;
	} else if (s->trusted || s->local || (s->auth_user &&
	    s->lst->role == CONF_ROLE_SUBMISSION)) {
		/* Postfix's mynetworks rule: trusted networks (and local
		 * users on the submission socket) relay on every listener;
		 * anyone else only after AUTH on submission, so an mx
		 * listener never relays for the world. */
		smtpd_txn_add_rcpt(s, to, to, ra);
	} else {
		log_info("sid=%s qid=%s smtp rcpt to=%s result=relay-denied",
		    s->sid, s->qid, log_quote(to, strlen(to), q, sizeof(q)));
		metrics_rejected(METRICS_REJECT_POLICY);
		smtpd_reply(s, "550 5.7.1 <%s>: Relay access denied", esc);
		return SMTPD_TXN_RCPT_REFUSED;
	}
	log_info("sid=%s qid=%s smtp rcpt to=%s result=ok", s->sid, s->qid,
	    log_quote(to, strlen(to), q, sizeof(q)));
	return SMTPD_TXN_RCPT_ADDED;
}

void
smtpd_txn_rcpt(struct smtpd_session *s, const char *arg, size_t len)
{
	const struct conf *c = s->ctx->conf;
	struct smtpd_rcpt_args ra;
	enum smtpd_cmd_result r;
	long long at = 0;
	size_t first = s->env.nrcpts;

	if (!s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	r = smtpd_cmd_parse_rcpt(arg, len, s->env.smtputf8, &ra);
	if (r != SMTPD_CMD_OK) {
		smtpd_reply(s, "%s", smtpd_cmd_error_reply(r));
		return;
	}
	if (s->nrcpt >= c->max_recipients) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	/* After the DNSBL wait (it reads the RCPT again), before the
	 * recipient joins the envelope; given back if it does not. */
	if (smtpd_dnsbl_rcpt(s, &ra, arg, len) ||
	    smtpd_txn_over_limit(s, CONNLIMIT_ACCT_RCPTS, &at))
		return;
	/* Refused, or read again once the store answers: the recipient's
	 * slot is taken again then. */
	if (smtpd_txn_rcpt_add(s, &ra, arg, len) != SMTPD_TXN_RCPT_ADDED) {
		if (at != 0)
			connlimit_acct_give_back(s->ctx->limits, s->auth_user,
			    CONNLIMIT_ACCT_RCPTS, 1, at);
		return;
	}
	s->nrcpt++;
	if (!smtpd_milter_rcpt(s, arg, len, first))
		smtpd_reply(s, "250 2.1.5 Ok");
}

/* The header section is complete: hand it to the checks, write what is
 * kept of it, then the empty line that ends it. */
static void
smtpd_txn_headers_end(struct smtpd_session *s)
{
	s->headers_done = true;
	smtpd_checks_headers(s);
	/* An empty header section has no buffer (data NULL) to write. */
	if ((s->headers.len > 0 && spool_msg_write(s->msg, s->headers.data,
	    s->headers.len) == -1) || spool_msg_write(s->msg, "\r\n", 2) == -1)
		s->spool_failed = true;
	smtpd_milter_headers(s);
}

/*
 * Collect the header section (up to the empty line) in s->headers before
 * anything is written, so forged trace fields can be dropped and the
 * checks see it whole. Returns how many of the n bytes belong to it (the
 * empty line included); the rest is body.
 */
static size_t
smtpd_txn_capture(struct smtpd_session *s, const uint8_t *p, size_t n)
{
	enum smtpd_hdrsplit st;
	size_t used = smtpd_hdrsplit_push(&s->headers, p, n, &st);

	if (st == SMTPD_HDRSPLIT_OVERFLOW)
		s->headers_overflow = s->headers_done = true;
	else if (st == SMTPD_HDRSPLIT_END)
		smtpd_txn_headers_end(s);
	return used;
}

static int
smtpd_txn_out(const uint8_t *p, size_t n, void *arg)
{
	struct smtpd_session *s = arg;

	if (!s->headers_done) {
		size_t used = smtpd_txn_capture(s, p, n);
		p += used;
		n -= used;
		if (n == 0)
			return 0;
	}
	if (s->headers_overflow)
		return 0;
	smtpd_checks_body(s, p, n);
	if (s->spool_failed || spool_msg_write(s->msg, p, n) == -1) {
		s->spool_failed = true;
		return -1;
	}
	return 0;
}

static void
smtpd_txn_received(struct smtpd_session *s)
{
	struct smtpd_received_info ri = {
		.helo = s->helo,
		.esmtp = s->esmtp,
		.addr = s->addr,
		.by = s->ctx->conf->hostname,
		.qid = s->qid,
		.authenticated = s->auth_user != NULL,
		.smtputf8 = s->env.smtputf8,
		.when = time(NULL),
	};
	struct tls_info ti;
	struct buf b;

	if (s->tls) {
		tls_info_get(s->ssl, &ti);
		ri.tls_version = ti.version;
		ri.tls_cipher = ti.cipher;
		ri.tls_group = ti.group;
		ri.tls_bits = ti.bits;
	}
	if (s->nrcpt == 1 && s->env.nrcpts > 0)
		ri.for_rcpt = s->env.rcpts[0].orig;
	buf_init(&b, 8192);
	if ((s->local ? smtpd_received_format_local(&b, s->local_user,
	    (unsigned long)s->local_uid, ri.by, s->qid, ri.when) :
	    smtpd_received_format(&b, &ri)) == -1)
		panic("Received header does not fit");
	free(s->env.prepend);
	s->env.prepend = buf_take(&b);
}

/* Open the spool file and the data state machine; -1 if the spool
 * cannot be written (the caller answers 451). */
static int
smtpd_txn_begin(struct smtpd_session *s, enum smtpd_data_mode mode)
{
	const struct conf *c = s->ctx->conf;

	s->msg = spool_msg_new(c->data_dir, s->qid);
	if (s->msg == NULL) {
		log_warn("sid=%s qid=%s spool open failed: %s", s->sid, s->qid,
		    strerror(errno));
		return -1;
	}
	smtpd_txn_received(s);
	s->data = smtpd_data_new(mode, c->bare_newline ==
	    CONF_BARE_NEWLINE_REJECT ? SMTPD_DATA_BARE_REJECT :
	    SMTPD_DATA_BARE_NORMALIZE, c->max_line_length, c->max_message_size,
	    smtpd_txn_out, s);
	return 0;
}

void
smtpd_txn_data(struct smtpd_session *s)
{
	if (!s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (s->bdat_used) {
		smtpd_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (smtpd_txn_begin(s, SMTPD_DATA_MODE_DATA) == -1) {
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		smtpd_txn_reset(s);
		return;
	}
	smtpd_enter(s, SMTPD_STATE_DATA);
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* DB_OK if field f holds 1..SMTPD_FROM_MAX addresses, all the user's;
 * DB_ERROR when the store could not say. */
static enum db_result
smtpd_txn_field_owned(struct smtpd_session *s, const struct rfc5322_field *f)
{
	struct addr a[SMTPD_FROM_MAX];
	int n = addr_parse_header_list(f->value, f->value_len, a,
	    SMTPD_FROM_MAX);
	enum db_result r;

	if (n < 1 || n > SMTPD_FROM_MAX)
		return DB_NOTFOUND;
	for (int k = 0; k < n; k++) {
		char t[LIMIT_PATH + 1];
		if (addr_to_text(&a[k], t, sizeof(t)) == -1)
			return DB_NOTFOUND;
		if (s->local && smtpd_local_owns_quick(s->ctx->conf,
		    s->local_user, t, &r))
			;	/* no store needed */
		else if (!s->local && s->env.auth_user != NULL &&
		    s->env.mail_from != NULL && s->env.mail_from[0] != '\0' &&
		    addr_text_equal(t, s->env.mail_from))
			r = DB_OK;	/* checked at MAIL already */
		else
			r = smtpd_store_sender(s, t);
		if (r != DB_OK)
			return r;
	}
	return DB_OK;
}

/*
 * The fields that name the author or the sender of a submitted message
 * must name the user: exactly one From:, every Sender:, and the newest
 * Resent-From: and Resent-Sender: (RFC 5322 §3.6.6: resent blocks are
 * prepended, so older ones further down are other people's and stay).
 * Otherwise a user could have mail shown "sent by" another local user.
 * Returns the rejection, or NULL.
 */
static const char *
smtpd_txn_senders_owned(struct smtpd_session *s)
{
	static const char *const not_from = "550 5.7.1 Error: From: header "
	    "must be exactly one address owned by the authenticated user";
	static const char *const unknown = "451 4.3.0 Error: temporary "
	    "lookup failure checking the From: header";
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;
	size_t nfrom = 0;
	bool resent_from = false, resent_sender = false;

	rfc5322_headers_init(&h, s->headers.data, s->headers.len);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		bool *seen = rfc5322_field_is(&f, "Resent-From") ?
		    &resent_from : rfc5322_field_is(&f, "Resent-Sender") ?
		    &resent_sender : NULL;

		enum db_result owned;

		if (rfc5322_field_is(&f, "From")) {
			if (++nfrom > 1)
				return not_from;
			if ((owned = smtpd_txn_field_owned(s, &f)) != DB_OK)
				return owned == DB_ERROR ? unknown : not_from;
		} else if (rfc5322_field_is(&f, "Sender") ||
		    (seen != NULL && !*seen)) {
			if (seen != NULL)
				*seen = true;
			if ((owned = smtpd_txn_field_owned(s, &f)) == DB_ERROR)
				return unknown;
			if (owned != DB_OK)
				return "550 5.7.1 Error: Sender: and Resent-"
				    "From: headers must name an address owned "
				    "by the authenticated user";
		}
	}
	return r == RFC5322_HEADERS_END && nfrom == 1 ? NULL : not_from;
}

bool
smtpd_txn_from_owned(struct smtpd_session *s)
{
	return smtpd_txn_senders_owned(s) == NULL;
}

const char *
smtpd_txn_senders_refusal(struct smtpd_session *s)
{
	if (s->auth_user && s->lst->role == CONF_ROLE_SUBMISSION)
		return smtpd_txn_senders_owned(s);
	return NULL;
}

/* The reply to the end of the message: a rejection, or NULL to commit. */
static const char *
smtpd_txn_verdict(struct smtpd_session *s)
{
	unsigned errs = smtpd_data_errors(s->data);

	if (errs & SMTPD_DATA_ERR_TOO_BIG)
		return "552 5.3.4 Error: message exceeds fixed maximum size";
	if (errs & SMTPD_DATA_ERR_BARE_NEWLINE)
		return "550 5.6.0 Error: bare <LF> or <CR> in message data is "
		    "not allowed (RFC 5321 2.3.8)";
	if (errs & SMTPD_DATA_ERR_LINE_TOO_LONG)
		return "550 5.6.0 Error: message line too long";
	if (s->spool_failed)
		return "451 4.3.0 Error: queue file write error";
	if (s->headers_overflow)
		return "552 5.3.4 Error: header section too large";
	/* RFC 5321 §6.3: refused now rather than accepted and bounced
	 * (no backscatter); our own Received field counts. */
	if (hops_too_many(s->env.prepend, s->env.prepend ?
	    strlen(s->env.prepend) : 0, s->headers.data, s->headers.len,
	    s->ctx->conf->max_hops, NULL))
		return "554 5.4.6 Error: too many hops, mail loop suspected "
		    "(RFC 5321 6.3)";
	/* With milters, after their changes (smtpd_milter.c). */
	if (smtpd_milter_active(s))
		return NULL;
	return smtpd_txn_senders_refusal(s);
}

void
smtpd_txn_reject(struct smtpd_session *s, const char *reply,
    enum metrics_reject reason)
{
	if (reply[0] == '5')	/* a 4xx is a delay, not a rejection */
		metrics_rejected(reason);
	log_info("sid=%s qid=%s smtp message rejected reply=\"%.9s\"",
	    s->sid, s->qid, reply);
	smtpd_reply(s, "%s", reply);
	smtpd_txn_reset(s);
}

static void
smtpd_txn_committed(int rc, int err, const struct envelope *env, void *arg)
{
	struct smtpd_session *s = arg;

	s->commit_job = NULL;
	if (rc == -1) {
		log_warn("sid=%s qid=%s spool commit failed: %s", s->sid,
		    env->id, strerror(err));
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
	} else {
		metrics_accepted();
		s->limit_msg_at = 0;	/* the message slot is used */
		log_info("sid=%s qid=%s smtp accepted size=%zu nrcpt=%zu%s%s",
		    s->sid, env->id, env->size, env->nrcpts,
		    s->tls ? " tls=yes" : "",
		    env->quarantine ? " quarantine=yes" : "");
		/* The queue runner sees the commit (inotify on queue/,
		 * else spool_msg_commit's nudge). */
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", env->id);
	}
	smtpd_txn_reset(s);
	smtpd_resume(s);
}

void
smtpd_txn_commit(struct smtpd_session *s)
{
	struct spool_msg *m = s->msg;

	s->msg = NULL;
	smtpd_wait(s);
	/* The envelope moves into the job; the session keeps none. */
	s->commit_job = spool_commit_submit(s->ctx->committer, m, &s->env,
	    smtpd_txn_committed, s);
}

static void smtpd_txn_senders_known(struct smtpd_session *s);

static void
smtpd_txn_end(struct smtpd_session *s)
{
	const char *reject;

	if (!s->headers_done && !s->headers_overflow)
		smtpd_txn_headers_end(s);	/* the message was all header */
	/* With milters, after their changes (smtpd_milter.c). */
	if (!smtpd_milter_active(s) &&
	    !smtpd_store_senders(s, smtpd_txn_senders_known))
		return;
	reject = smtpd_txn_verdict(s);
	smtpd_enter(s, SMTPD_STATE_CMD);
	if (reject) {
		smtpd_txn_reject(s, reject, reject[2] == '2' ?
		    METRICS_REJECT_SIZE : METRICS_REJECT_POLICY);
		return;
	}
	if (smtpd_milter_eom(s))
		return;		/* then smtpd_checks_finish */
	smtpd_checks_finish(s);
}

/* The store's answers on the header senders are in: the end of the
 * message goes on. */
static void
smtpd_txn_senders_known(struct smtpd_session *s)
{
	smtpd_txn_end(s);
	/* Answered at once (a rejection): on to the commands that wait. */
	if (s->state == SMTPD_STATE_CMD)
		smtpd_resume(s);
}

/* Push input to the data machine; returns the bytes consumed. */
static size_t
smtpd_txn_push(struct smtpd_session *s, struct evbuffer *in, size_t max)
{
	struct evbuffer_iovec v[16];
	size_t total = 0;
	int n = evbuffer_peek(in, (ev_ssize_t)max, NULL, v, 16);

	for (int i = 0; i < n && i < 16 && total < max; i++) {
		size_t len = v[i].iov_len;
		if (len > max - total)
			len = max - total;
		size_t used = smtpd_data_push(s->data, v[i].iov_base, len);
		total += used;
		if (used < len || smtpd_data_done(s->data))
			break;
	}
	evbuffer_drain(in, total);
	return total;
}

static void
smtpd_txn_chunk_done(struct smtpd_session *s)
{
	if (s->bdat_discard) {
		smtpd_enter(s, SMTPD_STATE_CMD);
		smtpd_reply(s, "%s", s->bdat_reject);
		s->bdat_discard = false;
		if (s->bdat_reject[0] != '5' || s->has_mail)
			smtpd_txn_reset(s);
		return;
	}
	if (s->bdat_last) {
		smtpd_data_finish(s->data);
		smtpd_txn_end(s);
		return;
	}
	smtpd_enter(s, SMTPD_STATE_CMD);
	smtpd_reply(s, "250 2.0.0 %llu octets received",
	    (unsigned long long)smtpd_data_size(s->data));
}

void
smtpd_txn_input(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t avail = evbuffer_get_length(in);

	if (s->state == SMTPD_STATE_DATA) {
		smtpd_txn_push(s, in, avail);
		if (smtpd_data_done(s->data))
			smtpd_txn_end(s);
		else
			smtpd_milter_input(s);
		return;
	}
	size_t take = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
	if (s->bdat_discard)
		evbuffer_drain(in, take);
	else
		take = smtpd_txn_push(s, in, take);
	s->bdat_left -= take;
	if (!s->bdat_discard && !(s->bdat_left == 0 && s->bdat_last))
		smtpd_milter_input(s);
	if (s->bdat_left == 0)
		smtpd_txn_chunk_done(s);
}

void
smtpd_txn_bdat(struct smtpd_session *s, const char *arg, size_t len)
{
	uint64_t size;
	bool last;

	if (smtpd_cmd_parse_bdat(arg, len, &size, &last) != SMTPD_CMD_OK) {
		/* Without a size the chunk cannot be skipped: its bytes
		 * would be read as commands, so end the session. */
		smtpd_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtpd_close(s, "bad-bdat");
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	if (!s->has_mail || s->env.nrcpts == 0) {
		s->bdat_discard = true;
		s->bdat_reject = s->has_mail ?
		    "554 5.5.1 Error: no valid recipients" :
		    "503 5.5.1 Error: need MAIL command";
	} else if (!s->bdat_used) {
		s->bdat_used = true;
		if (smtpd_txn_begin(s, SMTPD_DATA_MODE_BDAT) == -1) {
			/* the chunk still has to be read past */
			s->bdat_discard = true;
			s->bdat_reject = "451 4.3.0 Error: queue file write "
			    "error";
		}
	}
	smtpd_enter(s, SMTPD_STATE_BDAT);
	smtpd_txn_input(s);
}
