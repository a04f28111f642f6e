/* SPDX-License-Identifier: ISC */
/*
 * The [milter] content filters of a session (smtpd_milter.c), asked at
 * each SMTP stage as Postfix asks them. Without a milter for the
 * listener each call is one test and returns false (no state, no cost).
 * Calls that return true took over the reply: the session waits (it is
 * resumed once the milters answered) or was answered.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_MILTER_H
#define SEALMAIL_SMTPD_SMTPD_MILTER_H

#include <stdbool.h>
#include <stddef.h>

struct smtpd_session;
struct smtpd_milter_run;

bool smtpd_milter_wanted(const struct smtpd_session *s);
/* Whether the session has milters (they check From: ownership then). */
bool smtpd_milter_active(const struct smtpd_session *s);
/* A command line, before it is dispatched: at the first one the milters
 * are connected and told of the client (the line waits and is read
 * again); after a connect-stage refusal every command but QUIT gets the
 * milter's reply. An unknown command goes to the milters (UNKNOWN) by
 * smtpd_milter_unknown, its 500 or their refusal the reply. */
bool smtpd_milter_command(struct smtpd_session *s, const char *line,
    size_t len);
bool smtpd_milter_unknown(struct smtpd_session *s, const char *line,
    size_t len);
/* HELO/EHLO accepted by us: true if the milters have the reply
 * (smtpd_verb_hello_reply is sent once they agree). */
bool smtpd_milter_helo(struct smtpd_session *s, bool esmtp);
/* MAIL's argument (its ESMTP parameters go to the milters) ... */
void smtpd_milter_mail_arg(struct smtpd_session *s, const char *arg,
    size_t len);
/* ... and MAIL accepted by us: true if the milters have the reply. */
bool smtpd_milter_mail(struct smtpd_session *s);
/* RCPT accepted by us, its recipients at s->env.rcpts[first...]: true
 * if the milters have the reply (a refusal removes only those). */
bool smtpd_milter_rcpt(struct smtpd_session *s, const char *arg, size_t len,
    size_t first);
/* The header section is in s->headers and in the spool, the body to
 * follow: the milters get DATA, the headers, then body chunks as they
 * are written (smtpd_milter_input, after each piece of input; reading
 * stops while the milters are far behind). */
void smtpd_milter_headers(struct smtpd_session *s);
void smtpd_milter_input(struct smtpd_session *s);
/* The message passed our own checks: true if the milters take it from
 * here (end of message; they end in a reply or in smtpd_checks_finish). */
bool smtpd_milter_eom(struct smtpd_session *s);
/* The transaction is over (RSET, refused, committed): ABORT to milters
 * in the middle of it. */
void smtpd_milter_reset(struct smtpd_session *s);
/* The session goes: QUIT, and the state with it. */
void smtpd_milter_cancel(struct smtpd_session *s);

#endif
