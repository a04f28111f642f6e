/* SPDX-License-Identifier: ISC */
/* Entry point: pulls out -c FILE and dispatches to a subcommand. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/version.h"

struct cli_entry {
	const char	*name;
	int		(*run)(int, char **, const char *);
	const char	*usage;
};

static const struct cli_entry cli_entries[] = {
	{ "serve", cli_serve, "serve [--syslog] [--debug]" },
	{ "init", cli_init,
	    "init -d DIR [--data-dir DATA] [--hostname H] [--domain D] "
	    "[--postmaster ADDR] [--dev]" },
	{ "check-config", cli_check_config, "check-config" },
	{ "user", cli_user,
	    "user add|del|passwd|list [ADDRESS] "
	    "[--password-stdin|--no-password]" },
	{ "alias", cli_alias, "alias add|del|list [ADDRESS] [TARGET...]" },
	{ "queue", cli_queue, "queue list|show ID|flush|delete ID" },
	{ "sendmail", cli_sendmail,
	    "sendmail [-t] [-i] [-f FROM] [-F NAME] [-C CONFIG] [-N NOTIFY] "
	    "[-R full|hdrs] [RCPT...] | -bs | -bp | -q | -bi" },
	{ "check-auth", cli_check_auth, "check-auth --ip IP --helo NAME "
	    "--mail-from ADDR [--json] [FILE|-]" },
	{ "check-domain", cli_check_domain, "check-domain DOMAIN "
	    "[--selector S]... [--port N] [--timeout SECONDS] [--json]" },
	{ "inspect", cli_inspect, "inspect FILE...|- [--json] [--verify]" },
	{ "dkim", cli_dkim, "dkim keygen --domain D --selector S "
	    "[--type ed25519|rsa] [--bits 2048] [--out FILE]" },
	{ "tls-results", cli_tls_results,
	    "tls-results [--day YYYY-MM-DD] [--json]" },
	{ "reports", cli_reports, "reports send [--now] [--to-dir DIR] | "
	    "reports dmarc|tls [--domain D] [--days N] [--json]" },
	{ "arc", cli_arc, "arc sign --domain D --selector S --key FILE "
	    "[--time T] [--authserv-id ID] [FILE|-]" },
	{ "store", cli_store, "store migrate | store copy "
	    "[--from sqlite:PATH] [--to postgresql:DSN] "
	    "[--password-file FILE]" },
	{ "cluster", cli_cluster,
	    "cluster status [--json] | cluster forget NODE" },
	{ "dns-records", cli_dns_records, "dns-records [--domain D] [--zone] "
	    "| dns-records --check-tlsa [--cert FILE]" },
};

static void
usage_to(FILE *fp)
{
	fprintf(fp, "usage: sealmail [-c FILE] COMMAND [ARGS]\n"
	    "       sealmail --help | --version\n");
	for (size_t i = 0; i < sizeof(cli_entries) / sizeof(cli_entries[0]);
	    i++)
		fprintf(fp, "       sealmail %s\n", cli_entries[i].usage);
}

static int
usage(void)
{
	usage_to(stderr);
	return 2;
}

/* Asked for help: the usage on stdout (it is the answer), exit 0. */
static int
help(const struct cli_entry *e)
{
	if (e == NULL)
		usage_to(stdout);
	else
		printf("usage: sealmail [-c FILE] %s\n", e->usage);
	return fflush(stdout) == 0 ? 0 : 1;
}

static bool
is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int
main(int argc, char **argv)
{
	const char *config = NULL;
	int n = 0;

	log_init("sealmail", false, false);
	/* Installed as "sendmail" (a link), behave as `sealmail sendmail`;
	 * "mailq" and "newaliases" are its -bp and -bi, as everywhere. */
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)
		return cli_sendmail(argc, argv, conf_default_path(NULL));
	if (strcmp(base, "mailq") == 0 || strcmp(base, "newaliases") == 0) {
		char mode[] = "-bp", *sargv[3] = { argv[0], mode, NULL };

		if (base[0] == 'n')
			mode[2] = 'i';
		/* -C CONFIG as for sendmail; nothing else applies. */
		if (argc == 3 && strcmp(argv[1], "-C") == 0)
			return cli_sendmail(2, sargv, argv[2]);
		return cli_sendmail(2, sargv, conf_default_path(NULL));
	}
	/* -c FILE may stand anywhere; remove it so subcommands see the rest. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc)
				return usage();
			config = argv[++i];
			continue;
		}
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	if (n == 0)
		return usage();
	if (strcmp(argv[0], "help") == 0 || is_help(argv[0]))
		return help(NULL);
	if (strcmp(argv[0], "--version") == 0) {
		printf("sealmail %s\n", SEALMAIL_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	for (size_t i = 0; i < sizeof(cli_entries) / sizeof(cli_entries[0]);
	    i++) {
		if (strcmp(argv[0], cli_entries[i].name) != 0)
			continue;
		/* "COMMAND --help" anywhere; sendmail's own flags are left
		 * alone (-h is its hop count elsewhere). */
		for (int j = 1; j < n; j++)
			if (strcmp(argv[j], "--help") == 0 || (is_help(argv[j]) &&
			    strcmp(argv[0], "sendmail") != 0))
				return help(&cli_entries[i]);
		return cli_entries[i].run(n, argv, conf_default_path(config));
	}
	fprintf(stderr, "sealmail: unknown command '%s'\n", argv[0]);
	return usage();
}
