/* SPDX-License-Identifier: ISC */
/* One HTTPS request with libcurl loaded at run time (see https.h). */
#include "net/https.h"

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
#include <sys/socket.h>

#include "core/buf.h"
#include "core/ipclass.h"

#define DEFAULT_PORT		443
#define DEFAULT_CONNECT_MS	10000
#define DEFAULT_TIMEOUT_MS	60000

/* One address we allow curl to connect to. */
struct https_addr {
	int		 family;
	unsigned char	 a[16];
};

struct https_ctx {
	struct buf		 body;
	bool			 oversize;
	struct https_addr	 allowed[HTTPS_ADDRS_MAX];
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

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct https_ctx *c = arg;
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
	struct https_ctx *c = arg;
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
	struct https_ctx *c = arg;
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

/* Parse and filter addrs into c->allowed and the CURLOPT_RESOLVE entry:
 * the one address rule of every request we make for a remote domain. */
static int
build_addrs(struct https_ctx *c, const struct https_req *r,
    struct buf *resolve, char *detail, size_t dlen)
{
	size_t i, skipped = 0;
	const char *why = NULL;

	buf_printf(resolve, "%s:%u:", r->host, c->port);
	for (i = 0; i < r->naddrs && c->nallowed < HTTPS_ADDRS_MAX; i++) {
		struct https_addr *fa = &c->allowed[c->nallowed];
		enum ipclass cls;

		if (inet_pton(AF_INET, r->addrs[i], fa->a) == 1) {
			fa->family = AF_INET;
			cls = ipclass_v4(fa->a);
		} else if (inet_pton(AF_INET6, r->addrs[i], fa->a) == 1) {
			fa->family = AF_INET6;
			cls = ipclass_v6(fa->a);
		} else {
			skipped++;
			why = "not an IP address";
			continue;
		}
		if (!r->allow_private && !ipclass_is_public(cls)) {
			skipped++;
			why = ipclass_name(cls);
			continue;
		}
		if (buf_printf(resolve, fa->family == AF_INET6 ? "%s[%s]" :
		    "%s%s", c->nallowed > 0 ? "," : "", r->addrs[i]) == -1)
			break;
		c->nallowed++;
	}
	if (c->nallowed == 0) {
		if (skipped > 0)
			snprintf(detail, dlen, "%.180s has no usable address "
			    "(%zu refused: %.20s)", r->host, skipped, why);
		else
			snprintf(detail, dlen, "%.200s has no address",
			    r->host);
		return -1;
	}
	return 0;
}

static void
set_options(CURL *h, struct https_ctx *c, const char *url,
    struct curl_slist *resolve, struct curl_slist *headers,
    const struct https_req *r, char *errbuf)
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
	    (long)(r->connect_timeout_ms ? r->connect_timeout_ms :
	    DEFAULT_CONNECT_MS));
	lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(r->timeout_ms ?
	    r->timeout_ms : DEFAULT_TIMEOUT_MS));
	lc.easy_setopt(h, CURLOPT_MAXFILESIZE, (long)r->max_body);
	lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	lc.easy_setopt(h, CURLOPT_WRITEDATA, c);
	lc.easy_setopt(h, CURLOPT_USERAGENT, "sealmail");
	/* No HTTP caching or connection reuse (RFC 8461 §3.3). */
	lc.easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	lc.easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	if (r->content_type != NULL) {
		lc.easy_setopt(h, CURLOPT_POST, 1L);
		lc.easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
		lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
		lc.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	}
}

/* Map a failed transfer to a result and a detail line. */
static enum https_result
transfer_error(CURLcode rc, const struct https_ctx *c, size_t max,
    const char *errbuf, char *detail, size_t dlen)
{
	const char *msg = errbuf[0] != '\0' ? errbuf : lc.easy_strerror(rc);

	if (c->oversize || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(detail, dlen, "body larger than %zu bytes", max);
		return HTTPS_ERROR;
	}
	if (c->refused && rc == CURLE_COULDNT_CONNECT) {
		snprintf(detail, dlen, "connection to an address we did not "
		    "resolve refused");
		return HTTPS_ERROR;
	}
	if (c->ca_failed) {
		snprintf(detail, dlen, "cannot load CA file %s", c->ca_file);
		return HTTPS_ERROR;
	}
	snprintf(detail, dlen, "%s", msg);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return HTTPS_WEBPKI;
	return HTTPS_ERROR;
}

/* The headers of a POST; NULL on failure (then *err is set). */
static struct curl_slist *
post_headers(const struct https_req *r)
{
	struct curl_slist *l;
	char ct[256];

	if ((size_t)snprintf(ct, sizeof(ct), "Content-Type: %s",
	    r->content_type) >= sizeof(ct) || strpbrk(ct, "\r\n") != NULL)
		return NULL;
	if ((l = lc.slist_append(NULL, ct)) == NULL)
		return NULL;
	/* No "100-continue" round trip for a small report. */
	return lc.slist_append(l, "Expect:");
}

/* After a completed transfer: status, media type and body into out. */
static void
take_response(CURL *h, struct https_ctx *c, struct https_resp *out)
{
	char *ct = NULL;

	lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	lc.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(out->content_type, sizeof(out->content_type), "%s",
	    ct != NULL ? ct : "");
	out->len = c->body.len;
	out->body = buf_take(&c->body);
}

enum https_result
https_request(const struct https_req *r, struct https_resp *out)
{
	struct https_ctx c;
	struct buf resolve;
	struct curl_slist *rl = NULL, *hl = NULL;
	char url[HTTPS_HOST_MAX + 4096];
	char errbuf[CURL_ERROR_SIZE];
	enum https_result res = HTTPS_ERROR;
	CURL *h = NULL;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	buf_init(&c.body, r->max_body);
	buf_init(&resolve, 4096);
	c.port = r->port != 0 ? r->port : DEFAULT_PORT;
	c.ca_file = r->ca_file != NULL && r->ca_file[0] != '\0' ?
	    r->ca_file : NULL;
	errbuf[0] = '\0';
	if (strlen(r->host) > HTTPS_HOST_MAX || r->host[0] == '\0' ||
	    strpbrk(r->host, ":/[]@ ,\r\n") != NULL || r->path[0] != '/' ||
	    strpbrk(r->path, " \r\n") != NULL ||
	    (size_t)(c.port == DEFAULT_PORT ? snprintf(url, sizeof(url),
	    "https://%s%s", r->host, r->path) : snprintf(url, sizeof(url),
	    "https://%s:%u%s", r->host, c.port, r->path)) >= sizeof(url)) {
		snprintf(out->detail, sizeof(out->detail), "invalid URL");
		goto done;
	}
	if (build_addrs(&c, r, &resolve, out->detail,
	    sizeof(out->detail)) == -1)
		goto done;
	pthread_once(&curl_once, curl_setup);
	if (!curl_ok || (h = lc.easy_init()) == NULL ||
	    (rl = lc.slist_append(NULL, buf_cstr(&resolve))) == NULL ||
	    (r->content_type != NULL && (hl = post_headers(r)) == NULL)) {
		snprintf(out->detail, sizeof(out->detail),
		    "cannot set up libcurl (libcurl.so.4)");
		goto done;
	}
	set_options(h, &c, url, rl, hl, r, errbuf);
	rc = lc.easy_perform(h);
	if (rc != CURLE_OK)
		res = transfer_error(rc, &c, r->max_body, errbuf, out->detail,
		    sizeof(out->detail));
	else {
		take_response(h, &c, out);
		res = HTTPS_OK;
	}
done:
	if (rl != NULL)		/* NULL: libcurl may not even be loaded */
		lc.slist_free_all(rl);
	if (hl != NULL)
		lc.slist_free_all(hl);
	if (h != NULL)
		lc.easy_cleanup(h);
	buf_clear(&resolve);
	buf_clear(&c.body);
	return res;
}

void
https_resp_clear(struct https_resp *out)
{
	free(out->body);
	memset(out, 0, sizeof(*out));
}
