/* SPDX-License-Identifier: ISC */
/* `sealmail dns-records`: placeholder until the records are printed. */
#include <stdio.h>

#include "cli/cli.h"

int
cli_dns_records(int argc, char **argv, const char *config)
{
	(void)argc;
	(void)argv;
	(void)config;
	fprintf(stderr, "sealmail: dns-records: not built yet\n");
	return 1;
}
