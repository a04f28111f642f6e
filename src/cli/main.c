/* SPDX-License-Identifier: ISC */
/* Entry point: pulls out -c FILE and dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "core/log.h"

struct cli_entry {
	const char	*name;
	int		(*run)(int, char **, const char *);
	const char	*usage;
};

static const struct cli_entry cli_entries[] = {
	{ "serve", cli_serve, "serve [--syslog] [--debug]" },
	{ "init", cli_init,
	    "init -d DIR [--hostname H] [--domain D] [--dev]" },
	{ "check-config", cli_check_config, "check-config" },
	{ "user", cli_user,
	    "user add|del|passwd|list [ADDRESS] [--password-stdin]" },
	{ "alias", cli_alias, "alias add|del|list [ADDRESS] [TARGET...]" },
	{ "queue", cli_queue, "queue list|show ID|flush|delete ID" },
	{ "sendmail", cli_sendmail,
	    "sendmail [-t] [-i] [-f FROM] [-F NAME] [RCPT...]" },
	{ "check-auth", cli_check_auth, "check-auth --ip IP --helo NAME "
	    "--mail-from ADDR [--json] [FILE|-]" },
	{ "inspect", cli_inspect, "inspect FILE...|- [--json] [--verify]" },
	{ "dkim", cli_dkim, "dkim keygen --domain D --selector S "
	    "[--type ed25519|rsa] [--bits 2048] [--out FILE]" },
};

static int
usage(void)
{
	fprintf(stderr, "usage: sealmail [-c FILE] COMMAND [ARGS]\n");
	for (size_t i = 0; i < sizeof(cli_entries) / sizeof(cli_entries[0]);
	    i++)
		fprintf(stderr, "       sealmail %s\n", cli_entries[i].usage);
	return 2;
}

int
main(int argc, char **argv)
{
	const char *config = NULL;
	int n = 0;

	log_init("sealmail", false, false);
	/* Installed as "sendmail" (a link), behave as `sealmail sendmail`. */
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)
		return cli_sendmail(argc, argv, conf_default_path(NULL));
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
	for (size_t i = 0; i < sizeof(cli_entries) / sizeof(cli_entries[0]);
	    i++)
		if (strcmp(argv[0], cli_entries[i].name) == 0)
			return cli_entries[i].run(n, argv,
			    conf_default_path(config));
	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0) {
		usage();
		return 0;
	}
	fprintf(stderr, "sealmail: unknown command '%s'\n", argv[0]);
	return usage();
}
