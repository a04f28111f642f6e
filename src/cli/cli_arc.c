/* SPDX-License-Identifier: ISC */
/* PLACEHOLDER on the issue-12 branches only: replaced by its helper. */
#include <stdio.h>

#include "cli/cli.h"

int
cli_arc(int argc, char **argv, const char *config)
{
	(void)argc;
	(void)argv;
	(void)config;
	fprintf(stderr, "sealmail: not built yet\n");
	return 1;
}
