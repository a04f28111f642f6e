/* SPDX-License-Identifier: ISC */
/*
 * The subcommands of the sealmail binary. Each takes the arguments after its
 * name (argv[0] is the subcommand) and the configuration path from -c, and
 * returns the exit code: 0 success, 1 failure explained in one line on
 * stderr, 2 usage error.
 */
#ifndef SEALMAIL_CLI_CLI_H
#define SEALMAIL_CLI_CLI_H

#include <stddef.h>

int cli_serve(int argc, char **argv, const char *config);
int cli_init(int argc, char **argv, const char *config);
int cli_check_config(int argc, char **argv, const char *config);
int cli_user(int argc, char **argv, const char *config);
int cli_alias(int argc, char **argv, const char *config);
int cli_queue(int argc, char **argv, const char *config);
int cli_dkim(int argc, char **argv, const char *config);
int cli_inspect(int argc, char **argv, const char *config);
/* inspect's report on a message in memory (any line ends; --json when
 * json) on stdout, without --verify: for the fuzz target. 0 or 1. */
int cli_inspect_message(const void *msg, size_t len, _Bool json);
int cli_check_auth(int argc, char **argv, const char *config);
int cli_sendmail(int argc, char **argv, const char *config);
/* For the fuzz target: sendmail's handling of the message on its stdin,
 * here in[0..len) (line ends, the "." line unless -i, the header section
 * with the fields it adds and Bcc: removed, and with -t the recipients
 * of To:, Cc: and Bcc: checked as command-line ones are), without
 * identity, daemon or spool, errors not printed: the message into out
 * (initialised here; the caller buf_clear()s it), each recipient to
 * rcpt(address, arg). 0, or -1 where sendmail exits 1. */
struct buf;
int cli_sendmail_compose(const void *in, size_t len, _Bool extract,
    _Bool dot_ends, struct buf *out, void (*rcpt)(const char *, void *),
    void *arg);
int cli_check_domain(int argc, char **argv, const char *config);
int cli_tls_results(int argc, char **argv, const char *config);
/* `reports`: dispatches to the two below (cli_reports.c). */
int cli_reports(int argc, char **argv, const char *config);
/* `reports send` (cli_reports_send.c); argv[0] is "send". */
int cli_reports_send(int argc, char **argv, const char *config);
/* `reports dmarc|tls` (cli_reports_show.c); argv[0] is the kind. */
int cli_reports_show(int argc, char **argv, const char *config);
int cli_arc(int argc, char **argv, const char *config);
/* `store migrate|copy` (cli_store.c). */
int cli_store(int argc, char **argv, const char *config);
/* `cluster status|forget` (cli_cluster.c). */
int cli_cluster(int argc, char **argv, const char *config);
/* `dns-records` (cli_dns_records.c). */
int cli_dns_records(int argc, char **argv, const char *config);
/* Its records for c on stdout (init prints them too): 0, or -1 when a
 * key or certificate could not be read (said on stderr; that record is
 * printed as a comment) or stdout fails. */
struct conf;
int cli_dns_records_print(const struct conf *c, const char *domain,
    _Bool zone);

#endif
