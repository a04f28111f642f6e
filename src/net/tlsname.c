/* SPDX-License-Identifier: ISC */
/* RFC 9525 name checks on top of OpenSSL's X509_check_host (tlsname.h). */
#include "net/tlsname.h"

#include <arpa/inet.h>
#include <string.h>

static bool
tlsname_is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* The length of host without a final dot (an FQDN's root label). */
static size_t
tlsname_len(const char *host)
{
	size_t n = strlen(host);

	return n > 1 && host[n - 1] == '.' ? n - 1 : n;
}

int
tlsname_set(X509_VERIFY_PARAM *vp, const char *host)
{
	/* RFC 5280 §4.2.1.6: an address is an IP SAN, never a DNS name. */
	if (tlsname_is_ip(host))
		return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -1;
	X509_VERIFY_PARAM_set_hostflags(vp, TLSNAME_FLAGS);
	return X509_VERIFY_PARAM_set1_host(vp, host, tlsname_len(host)) == 1 ?
	    0 : -1;
}

bool
tlsname_match(X509 *cert, const char *host)
{
	if (tlsname_is_ip(host))
		return X509_check_ip_asc(cert, host, 0) == 1;
	return X509_check_host(cert, host, tlsname_len(host), TLSNAME_FLAGS,
	    NULL) == 1;
}
