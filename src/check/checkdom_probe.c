/* SPDX-License-Identifier: ISC */
/*
 * check-domain's SMTP probe of one MX address: blocking I/O on a
 * non-blocking socket, every wait bounded by poll(2) with the step
 * timeout, so a server that accepts and never speaks costs one timeout.
 * Replies go through the client's reply parser (smtpc_reply.h), bounded
 * per line and per reply. DANE matching is left to OpenSSL
 * (SSL_dane_enable, SSL_dane_tlsa_add, SSL_get0_dane_authority); PKIX
 * verification is a separate X509_verify_cert of the presented chain
 * against the system store plus tls_ca, with RFC 9525 name rules.
 */
#include "check/checkdom.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "net/spki.h"
#include "net/tlsname.h"
#include "smtpc/smtpc_reply.h"

/* An open connection, plain or TLS, with its unread input. */
struct probe_conn {
	int		 fd;
	SSL		*ssl;
	char		 in[LIMIT_REPLY_LINE + 2];
	size_t		 inlen;
	unsigned	 timeout_ms;
};

static long
probe_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static void
probe_deadline(struct timespec *d, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int
probe_wait(int fd, short events, const struct timespec *deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)probe_ms_left(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		return n > 0 ? 1 : n;
	}
}

static int
probe_connect(struct probe_conn *c, const char *address, unsigned port,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	struct timespec deadline;

	if (inet_pton(AF_INET, address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "bad address");
		return -1;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	probe_deadline(&deadline, c->timeout_ms);
	if (connect(c->fd, (struct sockaddr *)&ss, sl) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		return -1;
	}
	int w = probe_wait(c->fd, POLLOUT, &deadline);
	if (w <= 0) {
		snprintf(err, errlen, "connect: %s", w == 0 ?
		    "timed out" : strerror(errno));
		return -1;
	}
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 ||
	    soerr != 0) {
		snprintf(err, errlen, "connect: %s", strerror(soerr ? soerr :
		    errno));
		return -1;
	}
	return 0;
}

/* Wait as OpenSSL asks after a WANT_READ/WANT_WRITE: 1 go on, else stop. */
static int
probe_ssl_wait(struct probe_conn *c, int rc, const struct timespec *dl)
{
	int e = SSL_get_error(c->ssl, rc);

	if (e == SSL_ERROR_WANT_READ)
		return probe_wait(c->fd, POLLIN, dl);
	if (e == SSL_ERROR_WANT_WRITE)
		return probe_wait(c->fd, POLLOUT, dl);
	return -1;
}

/* Read some bytes: >0 count, 0 timeout, -1 closed or error. */
static ssize_t
probe_read(struct probe_conn *c, void *p, size_t n,
    const struct timespec *dl)
{
	for (;;) {
		if (c->ssl != NULL) {
			size_t got;
			int rc = SSL_read_ex(c->ssl, p, n, &got);
			if (rc == 1)
				return (ssize_t)got;
			int w = probe_ssl_wait(c, rc, dl);
			if (w <= 0)
				return w == 0 ? 0 : -1;
			continue;
		}
		ssize_t r = recv(c->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r == 0)
			return -1;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		int w = probe_wait(c->fd, POLLIN, dl);
		if (w <= 0)
			return w == 0 ? 0 : -1;
	}
}

static int
probe_write(struct probe_conn *c, const char *s)
{
	struct timespec dl;
	size_t off = 0, n = strlen(s);

	probe_deadline(&dl, c->timeout_ms);
	while (off < n) {
		if (c->ssl != NULL) {
			size_t put;
			int rc = SSL_write_ex(c->ssl, s + off, n - off, &put);
			if (rc == 1) {
				off += put;
				continue;
			}
			if (probe_ssl_wait(c, rc, &dl) <= 0)
				return -1;
			continue;
		}
		ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (probe_wait(c->fd, POLLOUT, &dl) <= 0)
			return -1;
	}
	return 0;
}

/* Read one whole reply into r within one step timeout. */
static int
probe_reply(struct probe_conn *c, struct smtpc_reply *r, char *err,
    size_t errlen)
{
	struct timespec dl;

	smtpc_reply_reset(r);
	probe_deadline(&dl, c->timeout_ms);
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		if (nl != NULL) {
			size_t len = (size_t)(nl - c->in);
			enum smtpc_reply_result res = smtpc_reply_push(r, c->in,
			    len);
			memmove(c->in, nl + 1, c->inlen - len - 1);
			c->inlen -= len + 1;
			if (res == SMTPC_REPLY_DONE)
				return 0;
			if (res != SMTPC_REPLY_MORE) {
				snprintf(err, errlen, "bad reply: %s",
				    smtpc_reply_result_text(res));
				return -1;
			}
			continue;
		}
		if (c->inlen == sizeof(c->in)) {
			snprintf(err, errlen, "bad reply: line too long");
			return -1;
		}
		ssize_t n = probe_read(c, c->in + c->inlen,
		    sizeof(c->in) - c->inlen, &dl);
		if (n <= 0) {
			snprintf(err, errlen, "%s", n == 0 ? "no reply within "
			    "the timeout" : "connection closed");
			return -1;
		}
		c->inlen += (size_t)n;
	}
}

/* Send cmd and read its reply. */
static int
probe_cmd(struct probe_conn *c, const char *cmd, struct smtpc_reply *r,
    char *err, size_t errlen)
{
	if (probe_write(c, cmd) == -1) {
		snprintf(err, errlen, "write failed");
		return -1;
	}
	return probe_reply(c, r, err, errlen);
}

/* First line of a reply's text, escaped, after its code. */
static void
probe_reply_text(const struct smtpc_reply *r, char *out, size_t outlen)
{
	const char *t = buf_cstr(&r->text);
	const char *nl = strchr(t, '\n');
	char esc[CHECKDOM_TEXT];

	log_escape(t, nl ? (size_t)(nl - t) : strlen(t), esc, sizeof(esc));
	checkdom_text(out, outlen, "%d %s", r->code, esc);
}

static void
probe_name(X509_NAME *n, char *out, size_t outlen)
{
	char buf[CHECKDOM_TEXT * 2] = "";
	BIO *b = BIO_new(BIO_s_mem());

	if (b != NULL && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		int len = BIO_read(b, buf, (int)sizeof(buf) - 1);
		buf[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
	log_escape(buf, strlen(buf), out, outlen);
}

static void
probe_time(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, outlen,
	    "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "?");
}

/* PKIX: the presented chain against the system store plus tls_ca, for
 * host (RFC 9525: DNS-ID only, never the CN; a wildcard only as the
 * whole leftmost label). */
static void
probe_pkix(struct checkdom_probe *p, X509 *leaf, STACK_OF(X509) *chain,
    const char *host, const char *tls_ca)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *vc = X509_STORE_CTX_new();

	p->name_ok = tlsname_match(leaf, host);
	if (st == NULL || vc == NULL)
		goto out;
	X509_STORE_set_default_paths(st);
	if (tls_ca != NULL && tls_ca[0] != '\0' &&
	    X509_STORE_load_file(st, tls_ca) != 1) {
		snprintf(p->verify_error, sizeof(p->verify_error),
		    "cannot load tls_ca %s", tls_ca);
		goto out;
	}
	if (X509_STORE_CTX_init(vc, st, leaf, chain) != 1)
		goto out;
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(vc);
	(void)tlsname_set(vp, host);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(vc) == 1)
		p->verified = true;
	else
		snprintf(p->verify_error, sizeof(p->verify_error), "%s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(vc)));
out:
	X509_STORE_CTX_free(vc);
	X509_STORE_free(st);
}

/* What the handshake showed: version, cipher, chain, expiry, PKIX and
 * DANE results. */
static void
probe_tls_facts(struct checkdom_probe *p, SSL *ssl, const char *host,
    const char *tls_ca)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

	snprintf(p->tls_version, sizeof(p->tls_version), "%s",
	    SSL_get_version(ssl));
	snprintf(p->cipher, sizeof(p->cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	for (int i = 0; chain != NULL && i < sk_X509_num(chain) &&
	    p->nchain < CHECKDOM_CHAIN_MAX; i++) {
		X509 *x = sk_X509_value(chain, i);
		struct checkdom_cert *c = &p->chain[p->nchain++];
		probe_name(X509_get_subject_name(x), c->subject,
		    sizeof(c->subject));
		probe_name(X509_get_issuer_name(x), c->issuer,
		    sizeof(c->issuer));
		probe_time(X509_get0_notAfter(x), c->not_after,
		    sizeof(c->not_after));
	}
	if (leaf == NULL) {
		snprintf(p->verify_error, sizeof(p->verify_error),
		    "no certificate");
		return;
	}
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf))) {
		p->has_days = true;
		/* Round towards "already expired" for a partial day. */
		p->days_left = days - (days == 0 && secs < 0 ? 1 : 0);
	}
	spki_sha256_hex(leaf, p->spki_sha256);
	probe_pkix(p, leaf, chain, host, tls_ca);
	if (!p->dane_checked)
		return;
	uint8_t usage = 0;
	long vr = SSL_get_verify_result(ssl);
	if (vr == X509_V_OK && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0 &&
	    SSL_get0_dane_tlsa(ssl, &usage, NULL, NULL, NULL, NULL) >= 0) {
		p->dane_match = true;
		p->dane_usage = usage;
	} else
		snprintf(p->dane_error, sizeof(p->dane_error), "%s",
		    vr != X509_V_OK ? X509_verify_cert_error_string(vr) :
		    "no TLSA record matches");
}

/* Arm DANE on ssl with mx's usable records (usages 2, 3; RFC 7672
 * §3.1.3 makes 0 and 1 unusable). Reference names for DANE-TA: the TLSA
 * base domain (the MX host) and the next-hop domain (§3.2.2). */
static void
probe_dane(struct checkdom_probe *p, SSL *ssl, const struct checkdom_mx *mx,
    const char *domain)
{
	int usable = 0;

	if (mx->ntlsa == 0 || SSL_dane_enable(ssl, mx->host) <= 0)
		return;
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_add1_host(ssl, domain);
	for (size_t i = 0; i < mx->ntlsa; i++) {
		const struct checkdom_tlsa *t = &mx->tlsa[i];
		if (t->usage != 2 && t->usage != 3)
			continue;
		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype,
		    t->data, t->len) > 0)
			usable++;
	}
	ERR_clear_error();
	p->dane_checked = usable > 0;
}

static int
probe_handshake(struct probe_conn *c, struct checkdom_probe *p,
    const struct checkdom_mx *mx, const char *domain, const char *tls_ca,
    SSL_CTX *ctx)
{
	struct timespec dl;

	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL) {
		checkdom_text(p->error, sizeof(p->error), "TLS: out of memory");
		return -1;
	}
	SSL_set_tlsext_host_name(c->ssl, mx->host);
	probe_dane(p, c->ssl, mx, domain);
	SSL_set_fd(c->ssl, c->fd);
	probe_deadline(&dl, c->timeout_ms);
	for (;;) {
		int rc = SSL_connect(c->ssl);
		if (rc == 1)
			break;
		int w = probe_ssl_wait(c, rc, &dl);
		if (w > 0)
			continue;
		unsigned long e = ERR_peek_last_error();
		char buf[200];
		ERR_error_string_n(e, buf, sizeof(buf));
		checkdom_text(p->error, sizeof(p->error), "TLS handshake: %s",
		    w == 0 ? "timed out" : e ? buf : "connection closed");
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	p->tls = true;
	probe_tls_facts(p, c->ssl, mx->host, tls_ca);
	return 0;
}

/* The SMTP conversation up to QUIT. */
static void
probe_session(struct probe_conn *c, struct checkdom_probe *p,
    const struct checkdom_mx *mx, const char *domain, const char *helo,
    const char *tls_ca, SSL_CTX *ctx)
{
	struct smtpc_reply r;
	struct smtpc_caps caps;
	char cmd[LIMIT_DOMAIN + 16], err[CHECKDOM_TEXT];

	smtpc_reply_init(&r);
	if (probe_reply(c, &r, err, sizeof(err)) == -1) {
		checkdom_text(p->error, sizeof(p->error), "greeting: %s", err);
		goto out;
	}
	p->greeting_code = r.code;
	probe_reply_text(&r, p->greeting, sizeof(p->greeting));
	if (r.code != 220) {
		checkdom_text(p->error, sizeof(p->error), "greeting refused: %s",
		    p->greeting);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", helo);
	if (probe_cmd(c, cmd, &r, err, sizeof(err)) == -1 ||
	    smtpc_caps_from_reply(&r, &caps) == -1) {
		checkdom_text(p->error, sizeof(p->error), "EHLO: %s", r.done ?
		    "refused" : err);
		goto out;
	}
	p->ehlo_ok = true;
	p->starttls = caps.starttls;
	if (!caps.starttls)
		goto quit;
	if (probe_cmd(c, "STARTTLS\r\n", &r, err, sizeof(err)) == -1 ||
	    r.code != 220) {
		checkdom_text(p->error, sizeof(p->error), "STARTTLS: %s", r.done ?
		    "refused" : err);
		goto out;
	}
	/* Bytes sent before the handshake are not part of the TLS session
	 * (STARTTLS command injection, CVE-2011-0411): drop them. */
	c->inlen = 0;
	if (probe_handshake(c, p, mx, domain, tls_ca, ctx) == -1)
		goto out;
	if (probe_cmd(c, cmd, &r, err, sizeof(err)) == -1 ||
	    smtpc_caps_from_reply(&r, &caps) == -1) {
		checkdom_text(p->error, sizeof(p->error), "EHLO after TLS: %s",
		    r.done ? "refused" : err);
		goto out;
	}
	p->requiretls = caps.requiretls;
quit:
	/* QUIT is a courtesy: its reply does not change a result. */
	(void)probe_cmd(c, "QUIT\r\n", &r, err, sizeof(err));
out:
	smtpc_reply_clear(&r);
}

void
checkdom_probe(struct checkdom_probe *p, const struct checkdom_mx *mx,
    const char *domain, unsigned port, const char *helo,
    const char *tls_ca, unsigned timeout_ms)
{
	struct probe_conn c = { .fd = -1, .timeout_ms = timeout_ms };
	char err[CHECKDOM_TEXT];

	p->probed = true;
	if (probe_connect(&c, p->address, port, err, sizeof(err)) == -1) {
		checkdom_text(p->error, sizeof(p->error), "%s", err);
		goto out;
	}
	p->connected = true;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		checkdom_text(p->error, sizeof(p->error), "TLS: no context");
		goto out;
	}
	/* Verification is reported, not enforced: the probe must see the
	 * certificate whatever it is. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_dane_enable(ctx) <= 0)
		ERR_clear_error();
	probe_session(&c, p, mx, domain, helo, tls_ca, ctx);
	if (c.ssl != NULL) {
		(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	SSL_CTX_free(ctx);
	ERR_clear_error();
out:
	if (c.fd != -1)
		close(c.fd);
}
