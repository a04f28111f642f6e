/* SPDX-License-Identifier: ISC */
/*
 * SMTP commands: a table pairing each verb with its state check and its
 * action (OpenSMTPD's commands[] shape). Mail transaction verbs hand over
 * to smtpd_txn.c, AUTH to smtpd_auth.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"

/* What a verb needs before it may run. */
#define NEED_HELO	0x1	/* after HELO/EHLO */
#define NEED_NOTLS	0x2	/* only before TLS */

struct smtpd_verb_entry {
	enum smtpd_verb	 verb;
	unsigned	 needs;
	void		(*proceed)(struct smtpd_session *,
			    const struct smtpd_cmd *);
};

/* Returns false when the name was refused (the 501 is the reply: a
 * name from an earlier HELO/EHLO must not bring back its 250). */
static bool
smtpd_hello(struct smtpd_session *s, const struct smtpd_cmd *cmd, bool esmtp)
{
	char q[LOG_QUOTE_SIZE(LIMIT_HELO)];

	if (cmd->arglen == 0 || cmd->arglen > LIMIT_HELO) {
		smtpd_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return false;
	}
	/* RFC 5321 §4.1.4: HELO/EHLO also resets the transaction. */
	smtpd_txn_reset(s);
	free(s->helo);
	s->helo = xstrndup(cmd->arg, cmd->arglen);
	s->esmtp = esmtp;
	log_info("sid=%s smtp %s name=%s", s->sid, esmtp ? "ehlo" : "helo",
	    log_quote(cmd->arg, cmd->arglen, q, sizeof(q)));
	return true;
}

static void
smtpd_proceed_helo(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (smtpd_hello(s, cmd, false) && !smtpd_milter_helo(s, false))
		smtpd_verb_hello_reply(s, false);
}

static bool
smtpd_auth_offered(const struct smtpd_session *s)
{
	return s->tls && s->lst->role == CONF_ROLE_SUBMISSION;
}

static void
smtpd_proceed_ehlo(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (smtpd_hello(s, cmd, true) && !smtpd_milter_helo(s, true))
		smtpd_verb_hello_reply(s, true);
}

void
smtpd_verb_hello_reply(struct smtpd_session *s, bool esmtp)
{
	const struct conf *c = s->ctx->conf;

	if (!esmtp) {
		smtpd_reply(s, "250 %s", c->hostname);
		return;
	}
	smtpd_reply(s, "250-%s", c->hostname);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-SIZE %zu", c->max_message_size);
	if (!s->tls && s->lst->tls == CONF_TLS_STARTTLS)
		smtpd_reply(s, "250-STARTTLS");
	/* RFC 4954 §4 + RFC 8314: credentials only over TLS. */
	if (smtpd_auth_offered(s))
		smtpd_reply(s, "250-AUTH PLAIN LOGIN");
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-SMTPUTF8");
	smtpd_reply(s, "250-CHUNKING");
	/* RFC 8689 §2: a promise to relay such mail only over TLS, which a
	 * session without TLS cannot accept it under (smtpd_txn_mail). */
	if (s->tls)
		smtpd_reply(s, "250-REQUIRETLS");
	smtpd_reply(s, "250 DSN");
}

static void
smtpd_proceed_mail(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	smtpd_txn_mail(s, cmd->arg, cmd->arglen);
}

static void
smtpd_proceed_rcpt(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	smtpd_txn_rcpt(s, cmd->arg, cmd->arglen);
}

static void
smtpd_proceed_data(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (cmd->arglen) {
		smtpd_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	smtpd_txn_data(s);
}

static void
smtpd_proceed_bdat(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	smtpd_txn_bdat(s, cmd->arg, cmd->arglen);
}

static void
smtpd_proceed_rset(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	smtpd_txn_reset(s);
	smtpd_reply(s, "250 2.0.0 Ok");
}

static void
smtpd_proceed_noop(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	smtpd_reply(s, "250 2.0.0 Ok");
}

static void
smtpd_proceed_quit(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	smtpd_reply(s, "221 2.0.0 Bye");
	smtpd_close(s, "quit");
}

static void
smtpd_proceed_vrfy(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	/* RFC 5321 §3.5.3: 252 neither confirms nor denies (no harvesting). */
	smtpd_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
smtpd_proceed_expn(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	smtpd_reply(s, "502 5.5.1 EXPN not available");
}

static void
smtpd_proceed_help(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	(void)cmd;
	smtpd_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET");
	smtpd_reply(s, "214-2.0.0 NOOP QUIT VRFY HELP STARTTLS AUTH");
	smtpd_reply(s, "214 2.0.0 See RFC 5321");
}

static void
smtpd_proceed_starttls(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (cmd->arglen) {
		smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->lst->tls != CONF_TLS_STARTTLS) {
		smtpd_reply(s, "502 5.5.1 STARTTLS not available");
		return;
	}
	if (smtpd_starttls(s) == -1)
		smtpd_close(s, "starttls-failed");
}

static void
smtpd_proceed_auth(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (!s->tls) {
		/* RFC 4954 §4: 538 when the mechanism needs encryption. */
		smtpd_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (!smtpd_auth_offered(s)) {
		smtpd_reply(s, "503 5.5.1 AUTH not available on this port");
		return;
	}
	if (s->auth_user) {
		smtpd_reply(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (s->has_mail) {
		smtpd_reply(s, "503 5.5.1 AUTH not allowed during a mail "
		    "transaction");
		return;
	}
	smtpd_auth_start(s, cmd->arg, cmd->arglen);
}

static const struct smtpd_verb_entry smtpd_verbs[] = {
	{ SMTPD_VERB_HELO, 0, smtpd_proceed_helo },
	{ SMTPD_VERB_EHLO, 0, smtpd_proceed_ehlo },
	{ SMTPD_VERB_MAIL, NEED_HELO, smtpd_proceed_mail },
	{ SMTPD_VERB_RCPT, NEED_HELO, smtpd_proceed_rcpt },
	{ SMTPD_VERB_DATA, NEED_HELO, smtpd_proceed_data },
	/* No NEED_HELO: a refused BDAT must still read its chunk past, or
	 * the chunk's bytes are taken for commands (smtpd_txn_bdat refuses
	 * it without MAIL, which needs HELO). */
	{ SMTPD_VERB_BDAT, 0, smtpd_proceed_bdat },
	{ SMTPD_VERB_RSET, 0, smtpd_proceed_rset },
	{ SMTPD_VERB_NOOP, 0, smtpd_proceed_noop },
	{ SMTPD_VERB_QUIT, 0, smtpd_proceed_quit },
	{ SMTPD_VERB_VRFY, 0, smtpd_proceed_vrfy },
	{ SMTPD_VERB_EXPN, 0, smtpd_proceed_expn },
	{ SMTPD_VERB_HELP, 0, smtpd_proceed_help },
	{ SMTPD_VERB_STARTTLS, NEED_HELO | NEED_NOTLS, smtpd_proceed_starttls },
	{ SMTPD_VERB_AUTH, NEED_HELO, smtpd_proceed_auth },
};

void
smtpd_verb_dispatch(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtpd_cmd cmd;
	enum smtpd_cmd_result r;

	if (smtpd_milter_command(s, line, len))
		return;
	r = smtpd_cmd_parse(line, len, &cmd);
	if (r != SMTPD_CMD_OK) {
		if (r == SMTPD_CMD_ERR_UNKNOWN && smtpd_milter_unknown(s, line,
		    len))
			return;
		smtpd_reply(s, "%s", smtpd_cmd_error_reply(r));
		return;
	}
	for (size_t i = 0; i < sizeof(smtpd_verbs) / sizeof(smtpd_verbs[0]);
	    i++) {
		const struct smtpd_verb_entry *e = &smtpd_verbs[i];
		if (e->verb != cmd.verb)
			continue;
		if ((e->needs & NEED_HELO) && s->helo == NULL) {
			smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
			return;
		}
		if ((e->needs & NEED_NOTLS) && s->tls) {
			smtpd_reply(s, "503 5.5.1 Error: TLS already active");
			return;
		}
		e->proceed(s, &cmd);
		return;
	}
	if (!smtpd_milter_unknown(s, line, len))
		smtpd_reply(s, "500 5.5.2 Error: command not recognized");
}
