/* SPDX-License-Identifier: ISC */
/*
 * check-config's look at the MTA-STS policies we serve (RFC 8461 §3.3,
 * §4.1): when an https listener exists, each [domain]'s policy host
 * mta-sts.DOMAIN needs a [tls] certificate that names it, and a domain in
 * mode enforce needs certificates senders accept: not self-signed, and
 * naming each mta_sts_mx host that is this server ([server] hostname).
 * Every finding is a warning: SMTP works regardless, and a sender that
 * cannot fetch or validate a policy delivers as if there were none.
 */
#ifndef SEALMAIL_CLI_CLI_CHECK_STS_H
#define SEALMAIL_CLI_CLI_CHECK_STS_H

#include <stdbool.h>

struct conf;

/* One finding: error or warning, at line of sec/key (line 0: the file). */
typedef void cli_check_sts_report(void *arg, bool error, unsigned line,
    const char *sec, const char *key, const char *text);

/* Check c's domains against its [tls] certificates (files that do not
 * load are check_tls's to report, and are skipped here). */
void cli_check_sts(const struct conf *c, cli_check_sts_report *report,
    void *arg);

#endif
