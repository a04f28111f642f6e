/* SPDX-License-Identifier: ISC */
/*
 * `sealmail reports`: the report job run by hand (send) and the summaries
 * of the reports we received (dmarc, tls).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
cli_reports(int argc, char **argv, const char *config)
{
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return cli_reports_send(argc - 1, argv + 1, config);
	if (argc >= 2 && (strcmp(argv[1], "dmarc") == 0 ||
	    strcmp(argv[1], "tls") == 0))
		return cli_reports_show(argc - 1, argv + 1, config);
	fprintf(stderr, "usage: sealmail reports send [--now] [--to-dir DIR]\n"
	    "       sealmail reports dmarc|tls [--domain D] [--days N] "
	    "[--json]\n");
	return 2;
}
