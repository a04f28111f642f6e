/* SPDX-License-Identifier: ISC */
/* DNSBL query names and answer codes (see dnsbl.h). */
#include "dns/dnsbl.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int
dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *out,
    size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p;
	size_t o = 0;
	int n;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		p = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			p += 12;
			goto v4;
		}
		if (outlen < 64 + 1)
			return -1;
		for (int i = 15; i >= 0; i--) {
			out[o++] = hex[p[i] & 0xf];
			out[o++] = '.';
			out[o++] = hex[p[i] >> 4];
			out[o++] = '.';
		}
		n = snprintf(out + o, outlen - o, "%s", zone);
		return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
	}
	if (sa->sa_family != AF_INET)
		return -1;
	p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr;
v4:
	n = snprintf(out, outlen, "%u.%u.%u.%u.%s", p[3], p[2], p[1], p[0],
	    zone);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

enum dnsbl_verdict
dnsbl_classify(const struct conf_dnsbl *z, const uint32_t *a, size_t n,
    uint32_t *code)
{
	enum dnsbl_verdict v = DNSBL_NOT_LISTED;
	uint32_t hit = 0;

	for (size_t i = 0; i < n; i++) {
		if ((a[i] >> 24) != 127 || (a[i] >> 8) == 0x7fffff) {
			if (code != NULL)
				*code = a[i];
			return DNSBL_ERROR;
		}
		if (v == DNSBL_LISTED)
			continue;
		if (z->ncodes == 0) {
			if (a[i] != 0x7f000001) {
				v = DNSBL_LISTED;
				hit = a[i];
			}
			continue;
		}
		for (size_t j = 0; j < z->ncodes; j++)
			if (z->codes[j] == a[i]) {
				v = DNSBL_LISTED;
				hit = a[i];
			}
	}
	if (code != NULL)
		*code = hit;
	return v;
}
