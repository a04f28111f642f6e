/* SPDX-License-Identifier: ISC */
/*
 * Test driver for the SPF module (tests/auth/test_spf_crosscheck.py):
 * reads scenarios from stdin, one per line, tab-separated:
 *
 *     IP <TAB> HELO <TAB> MAIL_FROM <TAB> MODE [<TAB> TIMEOUT_MS]
 *
 * MODE is "mailfrom" or "helo"; MAIL_FROM "-" is the null sender. For each
 * line it runs spf_check_sync() with a fresh resolver (so a black-holed
 * server marked down by one case does not leak into the next) and prints
 *
 *     RESULT <TAB> MECHANISM <TAB> EXPLANATION <TAB> PROBLEM
 *
 * Usage: spf_driver RESOLVER UNBOUND_CONFIG [RECEIVER]
 *
 * Built by the pytest file with cc against the SPF, DNS and core sources
 * (not their tests); see DRIVER_SOURCES there for the command.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "conf/conf.h"
#include "core/log.h"

static int
driver_ip(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

static void
driver_line(const struct conf *c, char *line, const char *receiver)
{
	char *f[5] = { NULL }, *save = NULL, *p;
	struct sockaddr_storage ss;
	struct spf_request req;
	struct spf_outcome out;
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	for (p = strtok_r(line, "\t", &save); p != NULL && n < 5;
	    p = strtok_r(NULL, "\t", &save))
		f[n++] = p;
	if (n < 4 || driver_ip(f[0], &ss) == -1) {
		printf("error\t\t\tbad scenario line\n");
		return;
	}
	memset(&req, 0, sizeof(req));
	req.ip = (struct sockaddr *)&ss;
	req.helo = f[1];
	req.mail_from = strcmp(f[2], "-") == 0 ? "" : f[2];
	req.receiver = receiver;
	req.timeout_ms = f[4] != NULL ? (unsigned)strtoul(f[4], NULL, 10) : 0;
	if (spf_check_sync(c, &req, strcmp(f[3], "helo") == 0, &out) == -1) {
		printf("error\t\t\tspf_check_sync failed\n");
		return;
	}
	printf("%s\t%s\t%s\t%s\n", spf_result_name(out.result), out.mechanism,
	    out.explanation, out.problem);
}

int
main(int argc, char **argv)
{
	struct conf c;
	char line[2048];

	if (argc < 3) {
		fprintf(stderr, "usage: spf_driver RESOLVER UNBOUND_CONFIG "
		    "[RECEIVER] < scenarios\n");
		return 2;
	}
	log_init("spf_driver", false, false);
	memset(&c, 0, sizeof(c));
	c.dns_resolver = argv[1];
	c.dns_unbound_config = argv[2];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		driver_line(&c, line, argc > 3 ? argv[3] : NULL);
		fflush(stdout);
	}
	return 0;
}
