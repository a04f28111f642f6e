/* SPDX-License-Identifier: ISC */
/*
 * The [milter] content filters at the end of a message (smtpd_milter.c).
 * wanted: whether any applies to the session's listener (cheap: no
 * milter configured, no cost). start: with the message in the spool and
 * its own verdict passed, the session waits while the milters run; they
 * end in a reply (refused, tempfailed, discarded) or in
 * smtpd_checks_finish. cancel: the session goes, its run with it.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_MILTER_H
#define SEALMAIL_SMTPD_SMTPD_MILTER_H

#include <stdbool.h>

struct smtpd_session;
struct smtpd_milter_run;

bool smtpd_milter_wanted(const struct smtpd_session *s);
void smtpd_milter_start(struct smtpd_session *s);
void smtpd_milter_cancel(struct smtpd_session *s);

#endif
