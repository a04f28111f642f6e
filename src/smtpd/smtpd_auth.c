/* SPDX-License-Identifier: ISC */
/*
 * SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms,
 * accepted only over TLS. Failures are answered 535 5.7.8 after a delay
 * that doubles with each recent failure from the client's address, and
 * after the longer queue of the name tried from that address (abusecalc.h),
 * both shared by all workers (net/connlimit). Passwords are checked against
 * the store by the keys process (keys/keys_client.h) or, with [auth]
 * passdb = dovecot:PATH, by Dovecot (account/dovecot_client),
 * through the same failure path. Passwords are never logged and are wiped
 * after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "account/dovecot_client.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/abusecalc.h"
#include "keys/keys_client.h"
#include "net/connlimit.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_sasl.h"
#include "store/db.h"

/* base64 of "Username:" and "Password:", the customary LOGIN prompts. */
#define SMTPD_LOGIN_USER_PROMPT	"334 VXNlcm5hbWU6"
#define SMTPD_LOGIN_PASS_PROMPT	"334 UGFzc3dvcmQ6"

/*
 * Check credentials. The keys process holds the read access to the
 * password hashes and computes yescrypt (~100 ms of CPU) on its threads
 * while the session waits (smtpd_wait); the worker never sees a hash. An
 * unknown user costs the same computation there as a known one, so
 * response times do not reveal which accounts exist. The failure delay
 * follows the answer.
 */

/* Checks pending per worker beyond which AUTH is refused for now (454):
 * a flood of attempts must not queue up minutes of hashing. */
#define SMTPD_AUTH_QUEUE_MAX	64

/* A password check under way (keys process or Dovecot); freed when its
 * answer comes or the session cancels it. */
struct smtpd_auth_job {
	struct smtpd_session	*s;
	char			 user[LIMIT_SASL_FIELD + 1];
	uint32_t		 dovecot;	/* Dovecot's request; 0: none */
	uint32_t		 keys;		/* the keys process's; 0: none */
};

static void smtpd_auth_result(struct smtpd_session *s, const char *given,
    const char *user, bool ok);
static void smtpd_auth_temp(struct smtpd_session *s);

/* The keys process's verdict on the job's login. */
static void
smtpd_auth_keys_cb(void *arg, enum keys_passwd_res r)
{
	struct smtpd_auth_job *j = arg;
	struct smtpd_session *s = j->s;
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];

	s->ctx->auth_jobs--;
	s->auth_job = NULL;
	/* A session closed meanwhile (421 on a timeout, its output still
	 * draining) takes no answer: one would revive it. */
	if (s->state == SMTPD_STATE_CLOSING) {
		free(j);
		return;
	}
	if (r == KEYS_PASSWD_TEMP) {
		log_warn("sid=%s smtp auth result=tempfail user=%s addr=%s: "
		    "no verdict from the keys process", s->sid,
		    log_quote(j->user, strlen(j->user), esc, sizeof(esc)),
		    s->addr);
		smtpd_auth_temp(s);
	} else
		smtpd_auth_result(s, j->user, j->user, r == KEYS_PASSWD_OK);
	free(j);
}

void
smtpd_auth_cancel(struct smtpd_session *s)
{
	struct smtpd_auth_job *j = s->auth_job;

	if (j == NULL)
		return;
	s->auth_job = NULL;
	if (j->dovecot != 0)
		dovecot_client_cancel(s->ctx->dovecot, j->dovecot);
	else {
		s->ctx->auth_jobs--;
		keys_client_cancel(s->ctx->keys, j->keys);
	}
	free(j);
}

/*
 * The name a Dovecot login authenticates as, which decides the addresses
 * it owns (db_user_owns). Dovecot's user names are usually addresses; a
 * bare name ("alice") is taken as alice@DOMAIN when there is exactly one
 * local domain, and with several it stays bare and owns no address.
 */
static const char *
smtpd_auth_qualify(struct smtpd_session *s, char *name, size_t size)
{
	const struct conf *c = s->ctx->conf;
	size_t n = strlen(name);

	if (strchr(name, '@') != NULL || c->ndomains != 1)
		return name;
	if (n + 1 + strlen(c->domains[0].name) >= size)
		return name;
	snprintf(name + n, size - n, "@%s", c->domains[0].name);
	return name;
}

/* Dovecot's verdict on the job's login. */
static void
smtpd_auth_dovecot_cb(void *arg, enum dovecot_client_result r,
    const char *user)
{
	struct smtpd_auth_job *j = arg;
	struct smtpd_session *s = j->s;
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];
	char name[LIMIT_SASL_FIELD + 1];

	s->auth_job = NULL;
	/* As for a pool check: a closed session takes no answer. */
	if (s->state == SMTPD_STATE_CLOSING) {
		free(j);
		return;
	}
	snprintf(name, sizeof(name), "%s", user != NULL ? user : j->user);
	if (r == DOVECOT_CLIENT_TEMP) {
		log_warn("sid=%s smtp auth result=tempfail user=%s addr=%s: "
		    "no verdict from dovecot", s->sid, log_quote(j->user,
		    strlen(j->user), esc, sizeof(esc)), s->addr);
		smtpd_auth_temp(s);
	} else if (r == DOVECOT_CLIENT_FAIL)
		smtpd_auth_result(s, j->user, j->user, false);
	else
		smtpd_auth_result(s, j->user,
		    smtpd_auth_qualify(s, name, sizeof(name)),
		    true);
	free(j);
}

/* Ask Dovecot; the session waits for smtpd_auth_dovecot_cb. */
static void
smtpd_auth_dovecot(struct smtpd_session *s, const char *user,
    const char *pass)
{
	struct smtpd_auth_job *j = xcalloc(1, sizeof(*j));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char lip[64] = "";
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];

	if (getsockname(s->fd, (struct sockaddr *)&ss, &sslen) == 0)
		smtpd_addr_text((struct sockaddr *)&ss, lip, sizeof(lip));
	j->s = s;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->dovecot = dovecot_client_auth(s->ctx->dovecot, user, pass, lip,
	    s->addr, smtpd_auth_dovecot_cb, j);
	if (j->dovecot == 0) {
		log_warn("sid=%s smtp auth result=tempfail user=%s addr=%s: "
		    "dovecot unavailable or busy", s->sid, log_quote(j->user,
		    strlen(j->user), esc, sizeof(esc)), s->addr);
		free(j);
		smtpd_auth_temp(s);
		return;
	}
	s->auth_job = j;
	smtpd_wait(s);
}

/* Start checking user/pass; the answer comes from smtpd_auth_result. */
static void
smtpd_auth_check(struct smtpd_session *s, const char *user, const char *pass)
{
	struct smtpd_ctx *ctx = s->ctx;

	if (ctx->dovecot != NULL) {
		smtpd_auth_dovecot(s, user, pass);
		return;
	}
	if (ctx->auth_jobs >= SMTPD_AUTH_QUEUE_MAX) {
		log_warn("sid=%s smtp auth refused addr=%s: %u checks queued",
		    s->sid, s->addr, ctx->auth_jobs);
		smtpd_auth_temp(s);
		return;
	}
	struct smtpd_auth_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->keys = keys_client_passwd(ctx->keys, KEYS_REALM_STORE, user, pass,
	    smtpd_auth_keys_cb, j);
	if (j->keys == 0) {
		log_warn("sid=%s smtp auth result=tempfail addr=%s: the keys "
		    "process is unavailable or busy", s->sid, s->addr);
		free(j);
		smtpd_auth_temp(s);
		return;
	}
	s->auth_job = j;
	ctx->auth_jobs++;
	smtpd_wait(s);
}

static void
smtpd_auth_finish(struct smtpd_session *s, const char *user, const char *pass)
{
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];
	unsigned wait = connlimit_auth_pair_wait(s->ctx->limits, user,
	    (const struct sockaddr *)&s->peer);

	/* This name from this address failed so often lately that its
	 * queue of delayed answers is long: not checked now. Nobody at
	 * another address can make the owner wait. */
	if (wait > AUTHPAIR_QUEUE_MAX) {
		log_warn("sid=%s smtp auth result=throttled user=%s addr=%s "
		    "wait=%us", s->sid, log_quote(user, strlen(user), esc,
		    sizeof(esc)), s->addr, wait);
		smtpd_auth_temp(s);
		return;
	}
	if (user[0] == '\0' || pass[0] == '\0') {
		smtpd_auth_result(s, user, user, false);
		return;
	}
	smtpd_auth_check(s, user, pass);
}

/* No verdict (checks queued, Dovecot down or slow): never 535, the
 * credentials may be right. */
static void
smtpd_auth_temp(struct smtpd_session *s)
{
	smtpd_reply(s, "454 4.7.0 Temporary authentication failure, "
	    "try again later");
	if (s->state == SMTPD_STATE_WAIT)
		smtpd_resume(s);
	else
		smtpd_enter(s, SMTPD_STATE_CMD);
}

/*
 * The verdict on the login `given` (authenticated as `user`). A failure
 * waits the longer of the delays per client address and per (name,
 * address); a success waits only while failures of the same name from
 * the same address are still being answered (never otherwise).
 */
static void
smtpd_auth_result(struct smtpd_session *s, const char *given,
    const char *user, bool ok)
{
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;
	struct connlimit *cl = s->ctx->limits;

	log_quote(user, strlen(user), esc, sizeof(esc));
	if (ok) {
		unsigned wait = connlimit_auth_pair_wait(cl, given, sa);

		connlimit_auth_pair_ok(cl, given, sa);
		s->auth_user = xstrdup(user);
		for (char *p = s->auth_user; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		log_info("sid=%s smtp auth result=ok user=%s%s", s->sid, esc,
		    wait ? " delayed=yes" : "");
		if (wait > 0) {
			s->pause_reply = "235 2.7.0 Authentication successful";
			smtpd_pause(s, wait);
			return;
		}
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		if (s->state == SMTPD_STATE_WAIT)
			smtpd_resume(s);
		else
			smtpd_enter(s, SMTPD_STATE_CMD);
		return;
	}
	unsigned n, pn;
	unsigned delay = connlimit_auth_fail_delay(cl, sa, &n);
	unsigned pdelay = connlimit_auth_pair_failed(cl, given, sa, &pn);
	metrics_auth_failure();
	log_info("sid=%s smtp auth result=fail user=%s addr=%s failures=%u "
	    "delay=%us user_failures=%u", s->sid, esc, s->addr, n,
	    pdelay > delay ? pdelay : delay, pn);
	s->pause_reply = "535 5.7.8 Authentication credentials invalid";
	smtpd_pause(s, pdelay > delay ? pdelay : delay);
}

static void
smtpd_auth_plain(struct smtpd_session *s, const char *b64, size_t len)
{
	struct smtpd_sasl_creds cr;
	enum smtpd_sasl_result r = smtpd_sasl_plain(b64, len, &cr);

	if (r != SMTPD_SASL_OK) {
		smtpd_reply(s, "501 5.5.2 Cannot decode AUTH PLAIN response");
		smtpd_enter(s, SMTPD_STATE_CMD);
		return;
	}
	/* No proxy authorisation: authzid must be empty or the user. */
	if (cr.authzid[0] != '\0' && strcasecmp(cr.authzid, cr.authcid) != 0)
		cr.passwd[0] = '\0';
	smtpd_auth_finish(s, cr.authcid, cr.passwd);
	explicit_bzero(&cr, sizeof(cr));
}

void
smtpd_auth_start(struct smtpd_session *s, const char *arg, size_t len)
{
	const char *sp = memchr(arg, ' ', len);
	size_t mlen = sp ? (size_t)(sp - arg) : len;
	const char *ir = sp ? sp + 1 : NULL;
	size_t irlen = sp ? len - mlen - 1 : 0;

	if (mlen == 5 && strncasecmp(arg, "PLAIN", 5) == 0) {
		s->auth_step = SMTPD_AUTH_PLAIN;
		if (ir == NULL) {
			smtpd_enter(s, SMTPD_STATE_AUTH);
			smtpd_reply(s, "334 ");
			return;
		}
		smtpd_auth_plain(s, ir, irlen);
		return;
	}
	if (mlen == 5 && strncasecmp(arg, "LOGIN", 5) == 0) {
		smtpd_enter(s, SMTPD_STATE_AUTH);
		if (ir == NULL) {
			s->auth_step = SMTPD_AUTH_LOGIN_USER;
			smtpd_reply(s, SMTPD_LOGIN_USER_PROMPT);
			return;
		}
		s->auth_step = SMTPD_AUTH_LOGIN_USER;
		smtpd_auth_line(s, ir, irlen);
		return;
	}
	smtpd_reply(s, "504 5.5.4 Unrecognized authentication type");
}

void
smtpd_auth_line(struct smtpd_session *s, const char *line, size_t len)
{
	char pass[LIMIT_SASL_FIELD + 1];

	if (len == 1 && line[0] == '*') {
		smtpd_reply(s, "501 5.0.0 Authentication cancelled");
		smtpd_enter(s, SMTPD_STATE_CMD);
		return;
	}
	switch (s->auth_step) {
	case SMTPD_AUTH_PLAIN:
		smtpd_auth_plain(s, line, len);
		return;
	case SMTPD_AUTH_LOGIN_USER:
		if (smtpd_sasl_login_field(line, len, s->auth_login_user,
		    sizeof(s->auth_login_user)) != SMTPD_SASL_OK)
			break;
		s->auth_step = SMTPD_AUTH_LOGIN_PASS;
		smtpd_reply(s, SMTPD_LOGIN_PASS_PROMPT);
		return;
	case SMTPD_AUTH_LOGIN_PASS:
		if (smtpd_sasl_login_field(line, len, pass, sizeof(pass)) !=
		    SMTPD_SASL_OK)
			break;
		smtpd_auth_finish(s, s->auth_login_user, pass);
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(s->auth_login_user, sizeof(s->auth_login_user));
		return;
	}
	smtpd_reply(s, "501 5.5.2 Cannot decode AUTH response");
	smtpd_enter(s, SMTPD_STATE_CMD);
}
