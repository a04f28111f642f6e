/* SPDX-License-Identifier: ISC */
/*
 * The blocking HTTPS fetch of an MTA-STS policy, libcurl (see sts_fetch.h).
 * libcurl is loaded with dlopen on the first fetch: Debian's libcurl4 pulls
 * in GnuTLS, Kerberos, LDAP and more, about 3 MiB per process, and only
 * the queue runner (and check-domain) ever fetch a policy; the SMTP
 * workers and the master must not carry it.
 */
#include "sts/sts_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/ipclass.h"

#define DEFAULT_PORT		443
#define DEFAULT_CONNECT_MS	10000
#define DEFAULT_TIMEOUT_MS	60000
/* "mta-sts." + a 253-character domain. */
#define HOST_MAX		(8 + 253)

/* One address we allow curl to connect to. */
struct fetch_addr {
	int		 family;
	unsigned char	 a[16];
};

struct fetch_ctx {
	struct buf		 body;
	bool			 oversize;
	struct fetch_addr	 allowed[STS_FETCH_ADDRS_MAX];
	size_t			 nallowed;
	unsigned		 port;
	bool			 refused;	/* the socket callback refused */
	const char		*ca_file;
	bool			 ca_failed;
};

/* The libcurl functions we call, from the library loaded at run time. */
static struct {
	CURLcode	(*global_init)(long);
	CURL		*(*easy_init)(void);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_perform)(CURL *);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	void		(*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
} lc;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

/* dlsym into *slot; false if missing. A data pointer converted to a
 * function pointer is what POSIX dlsym requires to work. */
static bool
curl_sym(void *lib, const char *name, void *slot)
{
	void *f = dlsym(lib, name);

	memcpy(slot, &f, sizeof(f));
	return f != NULL;
}

static void
curl_setup(void)
{
	/* The soname of Debian's libcurl4 (ABI 4). */
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL)
		return;
	curl_ok = curl_sym(lib, "curl_global_init", &lc.global_init) &&
	    curl_sym(lib, "curl_easy_init", &lc.easy_init) &&
	    curl_sym(lib, "curl_easy_setopt", &lc.easy_setopt) &&
	    curl_sym(lib, "curl_easy_perform", &lc.easy_perform) &&
	    curl_sym(lib, "curl_easy_getinfo", &lc.easy_getinfo) &&
	    curl_sym(lib, "curl_easy_cleanup", &lc.easy_cleanup) &&
	    curl_sym(lib, "curl_easy_strerror", &lc.easy_strerror) &&
	    curl_sym(lib, "curl_slist_append", &lc.slist_append) &&
	    curl_sym(lib, "curl_slist_free_all", &lc.slist_free_all) &&
	    lc.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

const char *
sts_fetch_result_type(enum sts_fetch_result r)
{
	switch (r) {
	case STS_FETCH_OK:
		return NULL;
	case STS_FETCH_ERROR:
		return "sts-policy-fetch-error";
	case STS_FETCH_WEBPKI:
		return "sts-webpki-invalid";
	case STS_FETCH_INVALID:
		return "sts-policy-invalid";
	}
	return "sts-policy-fetch-error";
}

bool
sts_fetch_is_text_plain(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_ctx *c = arg;
	size_t n = size * nmemb;

	/* Beyond the bound the transfer is aborted (a short return makes
	 * curl fail with CURLE_WRITE_ERROR), not truncated. */
	if (buf_append(&c->body, data, n) == -1) {
		c->oversize = true;
		return 0;
	}
	return n;
}

/* Defence in depth behind CURLOPT_RESOLVE: curl may connect only to the
 * addresses we resolved and checked, on our port. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct fetch_ctx *c = arg;
	const unsigned char *a = NULL;
	unsigned port = 0;
	size_t i, alen = 0;

	if (purpose != CURLSOCKTYPE_IPCXN)
		goto refuse;
	if (sa->family == AF_INET &&
	    sa->addrlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)&sa->addr;

		a = (const unsigned char *)&s4->sin_addr;
		alen = 4;
		port = ntohs(s4->sin_port);
	} else if (sa->family == AF_INET6 &&
	    sa->addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)&sa->addr;

		a = s6->sin6_addr.s6_addr;
		alen = 16;
		port = ntohs(s6->sin6_port);
	}
	if (a == NULL || port != c->port)
		goto refuse;
	for (i = 0; i < c->nallowed; i++)
		if (c->allowed[i].family == sa->family &&
		    memcmp(c->allowed[i].a, a, alen) == 0)
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC,
			    sa->protocol);
refuse:
	c->refused = true;
	return CURL_SOCKET_BAD;
}

/* Add the extra CA file to the store curl set up from the system CAs
 * (libcurl >= 8.3 builds the store before this callback; 7.88 too, as it
 * does not cache stores when we disable the cache). */
static CURLcode
on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
	struct fetch_ctx *c = arg;
	X509_STORE *st = SSL_CTX_get_cert_store((SSL_CTX *)sslctx);

	(void)curl;
	if (c->ca_file == NULL)
		return CURLE_OK;
	if (st == NULL || X509_STORE_load_file(st, c->ca_file) != 1) {
		c->ca_failed = true;
		return CURLE_SSL_CACERT_BADFILE;
	}
	return CURLE_OK;
}

/* Parse and filter addrs into c->allowed and the CURLOPT_RESOLVE entry. */
static int
build_addrs(struct fetch_ctx *c, const char *host, const char *const *addrs,
    size_t naddrs, bool allow_private, struct buf *resolve, char *detail,
    size_t dlen)
{
	size_t i, skipped = 0;
	const char *why = NULL;

	buf_printf(resolve, "%s:%u:", host, c->port);
	for (i = 0; i < naddrs && c->nallowed < STS_FETCH_ADDRS_MAX; i++) {
		struct fetch_addr *fa = &c->allowed[c->nallowed];
		enum ipclass cls;

		if (inet_pton(AF_INET, addrs[i], fa->a) == 1) {
			fa->family = AF_INET;
			cls = ipclass_v4(fa->a);
		} else if (inet_pton(AF_INET6, addrs[i], fa->a) == 1) {
			fa->family = AF_INET6;
			cls = ipclass_v6(fa->a);
		} else {
			skipped++;
			why = "not an IP address";
			continue;
		}
		if (!allow_private && !ipclass_is_public(cls)) {
			skipped++;
			why = ipclass_name(cls);
			continue;
		}
		if (buf_printf(resolve, fa->family == AF_INET6 ? "%s[%s]" :
		    "%s%s", c->nallowed > 0 ? "," : "", addrs[i]) == -1)
			break;
		c->nallowed++;
	}
	if (c->nallowed == 0) {
		if (skipped > 0)
			snprintf(detail, dlen, "%.180s has no usable address "
			    "(%zu refused: %.20s)", host, skipped, why);
		else
			snprintf(detail, dlen, "%.200s has no address", host);
		return -1;
	}
	return 0;
}

static void
set_options(CURL *h, struct fetch_ctx *c, const char *url,
    struct curl_slist *resolve, const struct sts_fetch_params *p,
    char *errbuf)
{
	lc.easy_setopt(h, CURLOPT_URL, url);
	lc.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(h, CURLOPT_RESOLVE, resolve);
	lc.easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	lc.easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
#if LIBCURL_VERSION_NUM >= 0x075500
	lc.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	lc.easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	lc.easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	lc.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* An empty proxy and "*" for no-proxy override http_proxy,
	 * https_proxy and ALL_PROXY from the environment. */
	lc.easy_setopt(h, CURLOPT_PROXY, "");
	lc.easy_setopt(h, CURLOPT_NOPROXY, "*");
	lc.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	lc.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	lc.easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#if LIBCURL_VERSION_NUM >= 0x075700
	lc.easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
	lc.easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	lc.easy_setopt(h, CURLOPT_SSL_CTX_DATA, c);
	lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(p->connect_timeout_ms ? p->connect_timeout_ms :
	    DEFAULT_CONNECT_MS));
	lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(p->timeout_ms ?
	    p->timeout_ms : DEFAULT_TIMEOUT_MS));
	lc.easy_setopt(h, CURLOPT_MAXFILESIZE, (long)STS_POLICY_BODY_MAX);
	lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	lc.easy_setopt(h, CURLOPT_WRITEDATA, c);
	lc.easy_setopt(h, CURLOPT_USERAGENT, "sealmail");
	/* RFC 8461 §3.3: HTTP caching must not be used. */
	lc.easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	lc.easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
}

/* Map a failed transfer to a result type and a detail line. */
static enum sts_fetch_result
transfer_error(CURLcode rc, const struct fetch_ctx *c, const char *errbuf,
    char *detail, size_t dlen)
{
	const char *msg = errbuf[0] != '\0' ? errbuf : lc.easy_strerror(rc);

	if (c->oversize || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(detail, dlen, "policy body larger than %u bytes",
		    (unsigned)STS_POLICY_BODY_MAX);
		return STS_FETCH_ERROR;
	}
	if (c->refused && rc == CURLE_COULDNT_CONNECT) {
		snprintf(detail, dlen, "connection to an address we did not "
		    "resolve refused");
		return STS_FETCH_ERROR;
	}
	if (c->ca_failed) {
		snprintf(detail, dlen, "cannot load CA file %s", c->ca_file);
		return STS_FETCH_ERROR;
	}
	snprintf(detail, dlen, "%s", msg);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return STS_FETCH_WEBPKI;
	return STS_FETCH_ERROR;
}

/* Check status and media type, then parse the body. */
static enum sts_fetch_result
check_response(CURL *h, struct fetch_ctx *c, struct sts_fetch_out *out)
{
	long status = 0;
	char *ct = NULL, why[160];

	lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(out->detail, sizeof(out->detail), "HTTP status %ld%s",
		    status, status >= 300 && status < 400 ?
		    " (redirects are not followed)" : "");
		return STS_FETCH_ERROR;
	}
	lc.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (!sts_fetch_is_text_plain(ct)) {
		/* The value is the server's: only printable bytes go out. */
		char safe[64];
		size_t i;

		snprintf(safe, sizeof(safe), "%s", ct != NULL ? ct : "none");
		for (i = 0; safe[i] != '\0'; i++)
			if ((unsigned char)safe[i] < 0x20 ||
			    (unsigned char)safe[i] > 0x7e)
				safe[i] = '?';
		snprintf(out->detail, sizeof(out->detail),
		    "media type is %s, not text/plain", safe);
		return STS_FETCH_ERROR;
	}
	out->len = c->body.len;
	out->body = buf_take(&c->body);
	if (out->body == NULL)
		out->body = calloc(1, 1);
	if (out->body == NULL) {
		snprintf(out->detail, sizeof(out->detail), "out of memory");
		return STS_FETCH_ERROR;
	}
	if (sts_policy_parse(out->body, out->len, &out->policy, why,
	    sizeof(why)) == -1) {
		snprintf(out->detail, sizeof(out->detail), "invalid policy: %s",
		    why);
		return STS_FETCH_INVALID;
	}
	return STS_FETCH_OK;
}

enum sts_fetch_result
sts_fetch(const char *domain, const char *const *addrs, size_t naddrs,
    const struct sts_fetch_params *p, struct sts_fetch_out *out)
{
	struct fetch_ctx c;
	struct buf resolve;
	struct curl_slist *rl = NULL;
	char host[HOST_MAX + 1], url[HOST_MAX + 64];
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = NULL;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	out->result = STS_FETCH_ERROR;
	buf_init(&c.body, STS_POLICY_BODY_MAX);
	buf_init(&resolve, 4096);
	c.port = p->port != 0 ? p->port : DEFAULT_PORT;
	c.ca_file = p->ca_file != NULL && p->ca_file[0] != '\0' ?
	    p->ca_file : NULL;
	errbuf[0] = '\0';
	if ((size_t)snprintf(host, sizeof(host), "mta-sts.%s", domain) >=
	    sizeof(host) || strpbrk(domain, ":/[]@ ") != NULL) {
		snprintf(out->detail, sizeof(out->detail),
		    "invalid policy domain");
		goto done;
	}
	if (build_addrs(&c, host, addrs, naddrs, p->allow_private, &resolve,
	    out->detail, sizeof(out->detail)) == -1)
		goto done;
	pthread_once(&curl_once, curl_setup);
	if (!curl_ok || (h = lc.easy_init()) == NULL ||
	    (rl = lc.slist_append(NULL, buf_cstr(&resolve))) == NULL) {
		snprintf(out->detail, sizeof(out->detail),
		    "cannot set up libcurl (libcurl.so.4)");
		goto done;
	}
	if (c.port == DEFAULT_PORT)
		snprintf(url, sizeof(url),
		    "https://%s/.well-known/mta-sts.txt", host);
	else
		snprintf(url, sizeof(url),
		    "https://%s:%u/.well-known/mta-sts.txt", host, c.port);
	set_options(h, &c, url, rl, p, errbuf);
	rc = lc.easy_perform(h);
	if (rc != CURLE_OK)
		out->result = transfer_error(rc, &c, errbuf, out->detail,
		    sizeof(out->detail));
	else
		out->result = check_response(h, &c, out);
done:
	if (out->result == STS_FETCH_OK)
		out->detail[0] = '\0';
	if (rl != NULL)		/* NULL: libcurl may not even be loaded */
		lc.slist_free_all(rl);
	if (h != NULL)
		lc.easy_cleanup(h);
	buf_clear(&resolve);
	buf_clear(&c.body);
	return out->result;
}

void
sts_fetch_out_clear(struct sts_fetch_out *out)
{
	free(out->body);
	sts_policy_clear(&out->policy);
	memset(out, 0, sizeof(*out));
}
