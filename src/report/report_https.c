/* SPDX-License-Identifier: ISC */
/*
 * report_https_post (report.h): the RFC 8460 §5.4 upload of a TLS-RPT
 * report. The host is resolved through our own resolver and the request
 * made by net/https.c, so the MTA-STS fetch's rules apply: no private
 * address unless fetch_private_addresses, certificate verified (system
 * CAs plus [delivery] tls_ca), no redirect, bounded answer.
 */
#include "report/report_https.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "dns/dns.h"
#include "net/https.h"
#include "report/report.h"
#include "report/report_mail.h"

#define REPORT_HTTPS_CONNECT_MS		10000
#define REPORT_HTTPS_TIMEOUT_MS		60000
#define REPORT_HTTPS_DNS_MS		10000
/* We read the answer only to end the exchange; its content is unused. */
#define REPORT_HTTPS_ANSWER_MAX		(64 * 1024)

int
report_https_url(const char *url, char *host, size_t hostlen,
    unsigned *port, char *path, size_t pathlen)
{
	const char *p, *h;
	size_t n;

	if (strncasecmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	n = strcspn(h, ":/?#");
	if (n == 0 || n >= hostlen || n > LIMIT_DOMAIN)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		/* Letters, digits, '-' and '.': no userinfo ('@'), no IP
		 * literal, nothing a resolver or libcurl reads otherwise. */
		if (!isalnum(c) && c != '-' && c != '.')
			return -1;
		host[i] = (char)tolower(c);
	}
	host[n] = '\0';
	p = h + n;
	*port = 443;
	if (*p == ':') {
		char *end;
		unsigned long v;

		if (!isdigit((unsigned char)p[1]))
			return -1;
		v = strtoul(p + 1, &end, 10);
		if (v == 0 || v > 65535 || (*end != '\0' && *end != '/' &&
		    *end != '?' && *end != '#'))
			return -1;
		*port = (unsigned)v;
		p = end;
	}
	n = strcspn(p, "#");
	if (n == 0) {
		p = "/";
		n = 1;
	}
	if (*p != '/' && *p != '?')
		return -1;
	if (n + (*p == '?') >= pathlen || n > REPORT_HTTPS_PATH_MAX)
		return -1;
	path[0] = '/';
	memcpy(path + (*p == '?'), p, n);
	path[n + (*p == '?')] = '\0';
	for (const char *q = path; *q != '\0'; q++)
		if (*q <= ' ' || *q >= 0x7f)
			return -1;
	return 0;
}

/* The A and AAAA addresses of host as text, at most HTTPS_ADDRS_MAX. */
static size_t
report_https_resolve(const struct conf *c, const char *host,
    char addrs[HTTPS_ADDRS_MAX][INET6_ADDRSTRLEN])
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA };
	size_t n = 0;

	for (size_t t = 0; t < 2; t++) {
		struct dns_answer *a = NULL;

		if (dns_query_sync(c, host, types[t], REPORT_HTTPS_DNS_MS,
		    &a) == -1)
			continue;
		/* Forged (bogus) records are not connected to. */
		for (size_t i = 0; a->rcode == DNS_RCODE_NOERROR &&
		    a->sec != DNS_SEC_BOGUS && i < a->nrr &&
		    n < HTTPS_ADDRS_MAX; i++) {
			const struct dns_rr *rr = &a->rr[i];
			if (rr->type != types[t])
				continue;
			inet_ntop(rr->type == DNS_T_A ? AF_INET : AF_INET6,
			    rr->type == DNS_T_A ? (const void *)rr->u.a :
			    (const void *)rr->u.aaaa, addrs[n], INET6_ADDRSTRLEN);
			n++;
		}
		dns_answer_free(a);
	}
	return n;
}

int
report_https_post(struct report_run *run, const char *url,
    const char *content_type, const char *filename, const void *data,
    size_t len, char *err, size_t errlen)
{
	char host[LIMIT_DOMAIN + 1], path[REPORT_HTTPS_PATH_MAX + 2];
	char addrs[HTTPS_ADDRS_MAX][INET6_ADDRSTRLEN];
	const char *ap[HTTPS_ADDRS_MAX];
	struct https_resp resp;
	unsigned port;
	size_t n;
	int rc = -1;

	if (report_https_url(url, host, sizeof(host), &port, path,
	    sizeof(path)) == -1) {
		snprintf(err, errlen, "not a usable https: URI");
		return -1;
	}
	if (run->to_dir != NULL) {
		if (report_mail_write_file(run->to_dir, filename, data, len,
		    err, errlen) == -1)
			return -1;
		run->written++;
		return 0;
	}
	if ((n = report_https_resolve(run->conf, host, addrs)) == 0) {
		snprintf(err, errlen, "%s has no address", host);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		ap[i] = addrs[i];
	struct https_req r = {
		.host = host, .port = port, .path = path,
		.addrs = ap, .naddrs = n,
		.allow_private = run->conf->fetch_private_addresses,
		.ca_file = run->conf->tls_ca,
		.connect_timeout_ms = REPORT_HTTPS_CONNECT_MS,
		.timeout_ms = REPORT_HTTPS_TIMEOUT_MS,
		.max_body = REPORT_HTTPS_ANSWER_MAX,
		.content_type = content_type, .body = data, .body_len = len,
	};
	if (https_request(&r, &resp) != HTTPS_OK)
		snprintf(err, errlen, "%s", resp.detail);
	else if (resp.status < 200 || resp.status > 299)
		snprintf(err, errlen, "HTTP status %ld", resp.status);
	else {
		run->sent++;
		rc = 0;
	}
	https_resp_clear(&resp);
	return rc;
}
