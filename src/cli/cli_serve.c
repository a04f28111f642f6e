/* SPDX-License-Identifier: ISC */
/* `sealmail serve`: load the configuration and run the master process in
 * the foreground. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "core/log.h"
#include "daemon/master.h"

int
cli_serve(int argc, char **argv, const char *config)
{
	bool use_syslog = false, debug = false;
	struct conf *conf;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--syslog") == 0)
			use_syslog = true;
		else if (strcmp(argv[i], "--debug") == 0)
			debug = true;
		else {
			fprintf(stderr, "usage: sealmail serve [--syslog] "
			    "[--debug]\n");
			return 2;
		}
	}
	if (conf_load(config, &conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "sealmail: %s\n", err);
		return 1;
	}
	log_init("sealmail", use_syslog, debug);
	log_info("sealmail starting config=%s hostname=%s workers=%u",
	    config, conf->hostname, conf->workers);
	for (size_t i = 0; i < conf->nwarnings; i++)
		log_warn("config warning: %s", conf->warnings[i]);
	return master_main(conf);
}
