/* SPDX-License-Identifier: ISC */
/*
 * SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms,
 * accepted only over TLS. Failures are answered 535 5.7.8 after a delay
 * that doubles with each recent failure from the client's address, shared
 * by all workers (net/connlimit). Passwords are never logged and are wiped
 * after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/passwd.h"
#include "auth/passwd_cache.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "net/connlimit.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_sasl.h"
#include "store/db.h"

#define SMTPD_AUTH_MAX_DELAY	30

/* base64 of "Username:" and "Password:", the customary LOGIN prompts. */
#define SMTPD_LOGIN_USER_PROMPT	"334 VXNlcm5hbWU6"
#define SMTPD_LOGIN_PASS_PROMPT	"334 UGFzc3dvcmQ6"

/*
 * Check credentials. An unknown user costs the same hash computation as a
 * known one, so response times do not reveal which accounts exist.
 */
static char *smtpd_auth_dummy;

void
smtpd_auth_prepare(void)
{
	if (smtpd_auth_dummy == NULL)
		smtpd_auth_dummy = passwd_hash("sealmail-dummy-password");
}

static bool
smtpd_auth_check(struct smtpd_session *s, const char *user, const char *pass)
{
	char *hash = NULL;
	bool ok;

	smtpd_auth_prepare();
	if (db_user_get_hash(s->ctx->db, user, &hash) == DB_OK) {
		ok = passwd_cache_hit(user, hash, pass);
		if (!ok && (ok = passwd_verify(pass, hash)))
			passwd_cache_store(user, hash, pass);
		free(hash);
		return ok;
	}
	if (smtpd_auth_dummy)
		(void)passwd_verify(pass, smtpd_auth_dummy);
	return false;
}

static void
smtpd_auth_finish(struct smtpd_session *s, const char *user, const char *pass)
{
	char esc[LOG_QUOTE_SIZE(LIMIT_SASL_FIELD)];
	const struct sockaddr *sa = (const struct sockaddr *)&s->peer;

	log_quote(user, strlen(user), esc, sizeof(esc));
	if (user[0] != '\0' && pass[0] != '\0' &&
	    smtpd_auth_check(s, user, pass)) {
		s->auth_user = xstrdup(user);
		for (char *p = s->auth_user; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		log_info("sid=%s smtp auth result=ok user=%s", s->sid, esc);
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		smtpd_enter(s, SMTPD_STATE_CMD);
		return;
	}
	connlimit_auth_failed(s->ctx->limits, sa);
	unsigned n = connlimit_auth_failures(s->ctx->limits, sa);
	unsigned delay = n >= 6 ? SMTPD_AUTH_MAX_DELAY : 1u << (n ? n - 1 : 0);
	if (delay > SMTPD_AUTH_MAX_DELAY)
		delay = SMTPD_AUTH_MAX_DELAY;
	log_info("sid=%s smtp auth result=fail user=%s addr=%s failures=%u "
	    "delay=%us", s->sid, esc, s->addr, n, delay);
	s->pause_reply = "535 5.7.8 Authentication credentials invalid";
	smtpd_pause(s, delay);
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
