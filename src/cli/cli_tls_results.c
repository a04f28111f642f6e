/* SPDX-License-Identifier: ISC */
/*
 * `sealmail tls-results [--day YYYY-MM-DD] [--json]`: the outbound TLS
 * sessions of one UTC day as the store counted them (db_tls_results_day),
 * per policy. The JSON is {"date", "policies"}, each element shaped as an
 * RFC 8460 §4.4 "policies" element, so a TLS-RPT report wraps it. Stored
 * fields come from remote servers (EHLO names) and are escaped for the
 * terminal, and made ASCII for JSON.
 */
#include "cli/cli.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "report/tlsrpt_json.h"
#include "store/db.h"

#define CLI_TLS_USAGE	"tls-results [--day YYYY-MM-DD] [--json]"

/* "YYYY-MM-DD" (a real date) to days since the epoch; -1 if it is not. */
static int
cli_tls_parse_day(const char *s, long long *day)
{
	struct tm tm, back;
	time_t t;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	back = tm;
	/* timegm normalises 02-30 to 03-02: a changed date was not one. */
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mon != back.tm_mon ||
	    tm.tm_mday != back.tm_mday)
		return -1;
	*day = db_tls_day((long long)t);
	return 0;
}

static void
cli_tls_day_text(long long day, char *out, size_t outlen)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%d", &tm);
}

static void
cli_tls_print_json(const char *date, const struct db_tls_day *d)
{
	json_object *o = json_object_new_object();
	json_object *pols = json_object_new_array();

	json_object_object_add(o, "date", json_object_new_string(date));
	for (size_t i = 0; i < d->npolicy; i++)
		json_object_array_add(pols, tlsrpt_json_policy(&d->policy[i]));
	json_object_object_add(o, "policies", pols);
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Escaped text of s on the terminal (one line). */
static const char *
cli_tls_esc(const char *s, char **buf)
{
	size_t n = strlen(s);

	free(*buf);
	*buf = xmalloc(n * 4 + 4);
	return log_escape(s, n, *buf, n * 4 + 4);
}

/* Each '\n'-separated line of s as "  <label>: <line>". */
static void
cli_tls_print_lines(const char *label, const char *s, char **buf)
{
	char *copy = xstrdup(s), *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		printf("  %s: %s\n", label, cli_tls_esc(line, buf));
	free(copy);
}

static void
cli_tls_print_text(const char *date, const struct db_tls_day *d)
{
	char *buf = NULL;

	printf("date: %s (UTC)\n", date);
	if (d->npolicy == 0)
		printf("no outbound TLS sessions recorded\n");
	for (size_t i = 0; i < d->npolicy; i++) {
		const struct db_tls_policy *p = &d->policy[i];
		printf("\npolicy-domain: %s\n", cli_tls_esc(p->policy_domain,
		    &buf));
		printf("  policy-type: %s\n", cli_tls_esc(p->policy_type,
		    &buf));
		cli_tls_print_lines("mx-host", p->mx_host, &buf);
		cli_tls_print_lines("policy-string", p->policy_string, &buf);
		printf("  successful: %lld\n  failed: %lld\n", p->successes,
		    p->failures);
		for (size_t j = 0; j < p->nfailure; j++) {
			const struct db_tls_failure *f = &p->failure[j];
			printf("  failure: %s count=%lld", cli_tls_esc(
			    f->result, &buf), f->count);
			printf(" receiving-mx-hostname=%s", cli_tls_esc(
			    f->receiving_mx, &buf));
			printf(" receiving-ip=%s", cli_tls_esc(f->receiving_ip,
			    &buf));
			printf(" sending-mta-ip=%s", cli_tls_esc(f->sending_ip,
			    &buf));
			if (f->receiving_helo[0] != '\0')
				printf(" receiving-mx-helo=%s", cli_tls_esc(
				    f->receiving_helo, &buf));
			if (f->failure_code[0] != '\0')
				printf(" failure-reason-code=\"%s\"",
				    cli_tls_esc(f->failure_code, &buf));
			printf("\n");
		}
	}
	free(buf);
}

int
cli_tls_results(int argc, char **argv, const char *config)
{
	long long day = db_tls_day((long long)time(NULL));
	struct db_tls_day d;
	struct conf *c;
	struct db *db;
	char date[16];
	bool json = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--day") == 0 && i + 1 < argc) {
			if (cli_tls_parse_day(argv[++i], &day) == -1) {
				char esc[64];
				cli_error("--day %s: must be a date "
				    "YYYY-MM-DD", cli_escape(argv[i], esc,
				    sizeof(esc)));
				return CLI_EXIT_USAGE;
			}
		} else
			return cli_usage(CLI_TLS_USAGE);
	}
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	db = cli_open_store(c, false);
	conf_free(c);
	if (db == NULL)
		return CLI_EXIT_FAIL;
	if (db_tls_results_day(db, day, &d) != DB_OK) {
		cli_error("store: %s", db_error(db));
		db_close(db);
		return CLI_EXIT_FAIL;
	}
	db_close(db);
	cli_tls_day_text(day, date, sizeof(date));
	if (json)
		cli_tls_print_json(date, &d);
	else
		cli_tls_print_text(date, &d);
	db_tls_day_clear(&d);
	rc = cli_list_done();
	return rc;
}
