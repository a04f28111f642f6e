/* SPDX-License-Identifier: ISC */
/*
 * `sealmail reports send [--now] [--to-dir DIR]`: run the report job by
 * hand (report.h). Root loads the DKIM keys first, then works as the
 * [server] user, so what it queues belongs to the daemon, as `sendmail`
 * does.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "store/store_open.h"
#include "core/log.h"
#include "report/report.h"
#include "report/report_job.h"

#define CLI_REPORTS_USAGE	"reports send [--now] [--to-dir DIR]"

int
cli_reports_send(int argc, char **argv, const char *config)
{
	const char *to_dir = NULL;
	unsigned flags = 0;
	struct conf *c;
	struct dkim_keys *keys;
	char err[512], esc[600];
	struct stat sb;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--now") == 0)
			flags |= REPORT_JOB_NOW;
		else if (strcmp(argv[i], "--to-dir") == 0 && i + 1 < argc)
			to_dir = argv[++i];
		else
			return cli_usage(CLI_REPORTS_USAGE);
	}
	if (to_dir != NULL && (stat(to_dir, &sb) == -1 ||
	    !S_ISDIR(sb.st_mode))) {
		cli_error("--to-dir %s: not a folder", cli_escape(to_dir, esc,
		    sizeof(esc)));
		return CLI_EXIT_FAIL;
	}
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	/* The PostgreSQL password, as serve's master reads it (the job
	 * opens the store through store_open). */
	if (store_open_load(c, err, sizeof(err)) == -1) {
		cli_error("store: %s", cli_escape(err, esc, sizeof(esc)));
		conf_free(c);
		return CLI_EXIT_FAIL;
	}
	/* Keys are read while still root: they may be readable by root
	 * only. */
	if ((keys = dkim_keys_load(c, err, sizeof(err))) == NULL)
		log_warn("reports: DKIM keys not loaded, reports go unsigned: "
		    "%s", err);
	if (cli_spool_owner(c, err, sizeof(err)) == -1) {
		cli_error("spool: %s", cli_escape(err, esc, sizeof(esc)));
		dkim_keys_free(keys);
		conf_free(c);
		return CLI_EXIT_FAIL;
	}
	rc = report_job_run_keys(c, keys, (long long)time(NULL), flags,
	    to_dir, err, sizeof(err));
	if (rc == -1)
		cli_error("reports: %s", cli_escape(err, esc, sizeof(esc)));
	dkim_keys_free(keys);
	conf_free(c);
	return rc == -1 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
