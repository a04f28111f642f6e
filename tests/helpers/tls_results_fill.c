/* SPDX-License-Identifier: ISC */
/*
 * Test helper (not installed): records outbound TLS results in a store
 * through the store's own API, as remote delivery does, so the CLI tests
 * (tests/integration/test_tls_results.py) can read them back.
 *
 *   tls_results_fill DB < rows
 *
 * Each input line is one session: 11 tab-separated fields in the order of
 * struct db_tls_result (time, policy_domain, policy_type, policy_string,
 * mx_host, sending_ip, receiving_mx, receiving_helo, receiving_ip, result,
 * failure_code); "\n" inside a field stands for a newline. Every row is
 * deferred; db_close flushes them in one transaction. The store is
 * created if missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

#define FIELDS	11

/* Turn each two-byte "\n" in s into a newline, in place. */
static void
unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r++;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

int
main(int argc, char **argv)
{
	char line[8192], err[512], *f[FIELDS];
	struct db_tls_result r;
	struct db *db;
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: tls_results_fill DB < rows\n");
		return 2;
	}
	if ((db = db_open(argv[1], true, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tls_results_fill: %s\n", err);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *p = line;
		int i;

		line[strcspn(line, "\n")] = '\0';
		for (i = 0; i < FIELDS; i++) {
			/* strsep keeps empty fields, strtok would not. */
			f[i] = strsep(&p, "\t");
			if (f[i] == NULL)
				break;
			unescape(f[i]);
		}
		if (i != FIELDS || p != NULL) {
			fprintf(stderr, "tls_results_fill: line %d: want %d "
			    "fields\n", n + 1, FIELDS);
			db_close(db);
			return 1;
		}
		r = (struct db_tls_result){ .time = atoll(f[0]),
		    .policy_domain = f[1], .policy_type = f[2],
		    .policy_string = f[3], .mx_host = f[4],
		    .sending_ip = f[5], .receiving_mx = f[6],
		    .receiving_helo = f[7], .receiving_ip = f[8],
		    .result = f[9], .failure_code = f[10] };
		if (db_tls_result_defer(db, &r) != DB_OK) {
			fprintf(stderr, "tls_results_fill: %s\n",
			    db_error(db));
			db_close(db);
			return 1;
		}
		n++;
	}
	if (db_tls_result_flush(db) != DB_OK) {
		fprintf(stderr, "tls_results_fill: %s\n", db_error(db));
		db_close(db);
		return 1;
	}
	db_close(db);
	return 0;
}
