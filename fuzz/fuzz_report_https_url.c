/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for report_https_url (report/report_https.c): TLS-RPT
 * https: rua URIs come from DNS. Invariants: an accepted URI gives a
 * lower-case host of letters, digits, '-' and '.', a port in 1..65535
 * and a path starting with '/' of printable ASCII without spaces, and
 * "https://HOST:PORT" + path parses to the same parts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_https.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[2048], host[256], path[REPORT_HTTPS_PATH_MAX + 2];
	char host2[256], path2[REPORT_HTTPS_PATH_MAX + 2];
	char again[sizeof(host) + sizeof(path) + 16];
	unsigned port, port2;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (report_https_url(in, host, sizeof(host), &port, path,
	    sizeof(path)) == -1)
		return 0;
	CHECK(host[0] != '\0');
	for (const char *p = host; *p; p++)
		CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.');
	CHECK(port >= 1 && port <= 65535);
	CHECK(path[0] == '/');
	for (const char *p = path; *p; p++)
		CHECK((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f &&
		    *p != '#');
	snprintf(again, sizeof(again), "https://%s:%u%s", host, port, path);
	CHECK(report_https_url(again, host2, sizeof(host2), &port2, path2,
	    sizeof(path2)) == 0);
	CHECK(strcmp(host, host2) == 0 && port == port2 &&
	    strcmp(path, path2) == 0);
	return 0;
}
