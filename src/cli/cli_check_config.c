/* SPDX-License-Identifier: ISC */
/*
 * `sealmail check-config`: load the configuration, then check what
 * conf_load() cannot see from the text alone and the daemon would meet
 * later: the [server] user exists and data_dir can be made; every [tls]
 * cert/key pair loads with OpenSSL, matches, is in date and names the
 * hostname; every DKIM key is a private key the signer accepts; with
 * [delivery] dane = yes, DNSSEC validation works (dns_dane_check); no private
 * key is readable by every user and the file itself is not writable by
 * others; each password_file parses; the certificates behind the MTA-STS
 * policies an https listener serves (cli_check_sts.h). Every problem is one line on stderr,
 * "FILE:LINE: [section] key: problem" like conf_load's; errors make the
 * exit status 1, warnings (conf_load's and ours) do not. The effective
 * configuration is printed when there is no error.
 */
#include "cli/cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "cli/cli_check_sts.h"
#include "conf/conf.h"
#include "core/log.h"
#include "keys/keys_provider.h"
#include "dns/dns.h"
#include "net/tlsname.h"
#include "web/web_users.h"

/* A certificate that ends this soon gets a warning (Let's Encrypt renews
 * 30 days ahead, so 14 days left means renewal is failing). */
#define CHECK_CONFIG_EXPIRY_WARN	(14 * 86400)

struct check {
	const struct conf	*c;
	unsigned		 errors;
};

/* One problem at FILE:LINE (line 0: the file as a whole). */
static void
check_report(struct check *k, bool error, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
check_report(struct check *k, bool error, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
{
	char problem[768], text[1024], path[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	if (line == 0)
		snprintf(text, sizeof(text), "%s: %s", log_escape(k->c->path,
		    strlen(k->c->path), path, sizeof(path)), problem);
	else
		conf_problem(text, sizeof(text), k->c->path, line, sec, key,
		    problem);
	fprintf(stderr, "sealmail: %s%s\n", error ? "" : "warning: ", text);
	if (error)
		k->errors++;
}

/* The last OpenSSL error as text, and clear the queue. */
static const char *
check_sslerr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

/*
 * A private key file must exist and must not be readable by every user:
 * whoever reads a TLS key can impersonate the server, a DKIM key forge
 * the domain's mail. 0 if it is fine.
 */
static int
check_private_file(struct check *k, const char *file, unsigned line,
    const char *sec, const char *key)
{
	char path[256];
	struct stat st;

	log_escape(file, strlen(file), path, sizeof(path));
	if (stat(file, &st) == -1) {
		check_report(k, true, line, sec, key, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		check_report(k, true, line, sec, key, "%s is %s by every user "
		    "(chmod o-rwx)", path, st.st_mode & S_IROTH ? "readable" :
		    "writable");
		return -1;
	}
	return 0;
}

/* ASN1 time as "Dec  5 09:48:00 2026 GMT". */
static const char *
check_asn1_time(const ASN1_TIME *t, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b != NULL && ASN1_TIME_print(b, t) == 1)
		n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	return out;
}

/* Dates and names of the certificate in use (the chain's first). */
static void
check_cert_x509(struct check *k, const struct conf_certpair *cp, X509 *x)
{
	const ASN1_TIME *after = X509_get0_notAfter(x);
	const ASN1_TIME *before = X509_get0_notBefore(x);
	time_t soon = time(NULL) + CHECK_CONFIG_EXPIRY_WARN;
	char when[64];

	if (X509_cmp_current_time(after) <= 0)
		check_report(k, true, cp->cert_line, "[tls]", "cert",
		    "certificate expired on %s", check_asn1_time(after, when,
		    sizeof(when)));
	else if (X509_cmp_time(after, &soon) <= 0)
		check_report(k, false, cp->cert_line, "[tls]", "cert",
		    "certificate expires on %s, in less than 14 days",
		    check_asn1_time(after, when, sizeof(when)));
	if (X509_cmp_current_time(before) > 0)
		check_report(k, false, cp->cert_line, "[tls]", "cert",
		    "certificate is not valid before %s",
		    check_asn1_time(before, when, sizeof(when)));
	/* Clients verify the name they connected to: the MX name, which is
	 * what hostname says in EHLO. */
	if (!tlsname_match(x, k->c->hostname))
		check_report(k, false, cp->cert_line, "[tls]", "cert",
		    "certificate does not name hostname %s",
		    k->c->hostname);
}

/* Load one pair as the daemon will (chain file, then key) and match them. */
static void
check_cert_pair(struct check *k, SSL_CTX *ctx, const struct conf_certpair *cp)
{
	char e[256], path[256];
	int bad;

	bad = check_private_file(k, cp->key, cp->key_line, "[tls]", "key");
	log_escape(cp->cert, strlen(cp->cert), path, sizeof(path));
	if (access(cp->cert, R_OK) == -1) {
		check_report(k, true, cp->cert_line, "[tls]", "cert", "%s: %s",
		    path, strerror(errno));
		return;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cp->cert) != 1) {
		check_report(k, true, cp->cert_line, "[tls]", "cert", "%s: "
		    "cannot load certificate: %s", path, check_sslerr(e,
		    sizeof(e)));
		return;
	}
	check_cert_x509(k, cp, SSL_CTX_get0_certificate(ctx));
	/* The daemon signs through the keys provider, which knows these. */
	EVP_PKEY *ref = keys_provider_key_new(0,
	    X509_get0_pubkey(SSL_CTX_get0_certificate(ctx)));
	if (ref == NULL)
		check_report(k, true, cp->cert_line, "[tls]", "cert", "%s: "
		    "unsupported key type (RSA, RSA-PSS, EC or Ed25519)", path);
	EVP_PKEY_free(ref);
	ERR_clear_error();
	if (bad == -1 && access(cp->key, R_OK) == -1)
		return;
	log_escape(cp->key, strlen(cp->key), path, sizeof(path));
	if (SSL_CTX_use_PrivateKey_file(ctx, cp->key, SSL_FILETYPE_PEM) != 1) {
		check_report(k, true, cp->key_line, "[tls]", "key", "%s: cannot "
		    "load private key: %s", path, check_sslerr(e, sizeof(e)));
		return;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		check_report(k, true, cp->key_line, "[tls]", "key", "%s does "
		    "not match the certificate on line %u", path,
		    cp->cert_line);
		ERR_clear_error();
	}
}

static void
check_tls(struct check *k)
{
	for (size_t i = 0; i < k->c->ncerts; i++) {
		/* A fresh context per pair: a context holds one key per
		 * type, so two ECDSA pairs in one would hide a mismatch. */
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

		if (ctx == NULL) {
			check_report(k, true, 0, NULL, NULL, "cannot create a "
			    "TLS context");
			return;
		}
		check_cert_pair(k, ctx, &k->c->certs[i]);
		SSL_CTX_free(ctx);
	}
}

/* One DKIM private key file: it opens and holds a PEM private key. */
static int
check_dkim_key(struct check *k, const struct conf_domain *d,
    const struct conf_dkim *dk)
{
	char e[256], path[256], sec[300];
	EVP_PKEY *pk;
	FILE *fp;

	snprintf(sec, sizeof(sec), "[domain \"%s\"]", d->name);
	if (check_private_file(k, dk->key, dk->key_line, sec, "dkim_key") == -1)
		return -1;
	log_escape(dk->key, strlen(dk->key), path, sizeof(path));
	if ((fp = fopen(dk->key, "re")) == NULL) {
		check_report(k, true, dk->key_line, sec, "dkim_key", "%s: %s",
		    path, strerror(errno));
		return -1;
	}
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		check_report(k, true, dk->key_line, sec, "dkim_key", "%s: "
		    "cannot load DKIM key: %s", path, check_sslerr(e,
		    sizeof(e)));
		return -1;
	}
	EVP_PKEY_free(pk);
	return 0;
}

/*
 * Every key of every domain, so that a dual-signing domain's second key is
 * not found broken only when the daemon starts. Then load them all as the
 * master does, which also refuses keys OpenSSL reads but DKIM cannot use
 * (ECDSA, RSA under 1024 bits).
 */
static void
check_dkim(struct check *k)
{
	const struct conf *c = k->c;
	struct dkim_keys *keys;
	char err[512];
	int bad = 0;

	for (size_t i = 0; i < c->ndomains; i++)
		for (size_t j = 0; j < c->domains[i].ndkim; j++)
			bad |= check_dkim_key(k, &c->domains[i],
			    &c->domains[i].dkim[j]);
	if (bad)
		return;
	if ((keys = dkim_keys_load(c, err, sizeof(err))) == NULL) {
		check_report(k, true, 0, NULL, NULL, "%s", err);
		return;
	}
	dkim_keys_free(keys);
}

/* The daemon drops to [server] user and makes data_dir (one level). */
static void
check_server(struct check *k)
{
	const struct conf *c = k->c;
	char path[256], parent[PATH_MAX];
	struct stat st;

	if (c->user != NULL && *c->user != '\0' && getpwnam(c->user) == NULL)
		check_report(k, true, c->user_line, "[server]", "user",
		    "no such user %s (create it, e.g. adduser --system "
		    "--group %s)", c->user, c->user);
	log_escape(c->data_dir, strlen(c->data_dir), path, sizeof(path));
	if (stat(c->data_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			check_report(k, true, c->data_dir_line, "[server]",
			    "data_dir", "%s is not a folder", path);
		return;
	}
	snprintf(parent, sizeof(parent), "%s", c->data_dir);
	if (errno != ENOENT || stat(dirname(parent), &st) == -1 ||
	    !S_ISDIR(st.st_mode))
		check_report(k, true, c->data_dir_line, "[server]", "data_dir",
		    "%s cannot be created: its parent folder is missing",
		    path);
}

/* Each admin listener's password_file parses as the workers will read
 * it (they then run as [server] user, which must be able to read it). */
static void
check_password_files(struct check *k)
{
	char err[512], esc[600], sec[160];

	for (size_t i = 0; i < k->c->nlisteners; i++) {
		const struct conf_listener *l = &k->c->listeners[i];
		struct web_users *u;

		if (l->password_file == NULL)
			continue;
		snprintf(sec, sizeof(sec), "[listen \"%s\"]", l->name);
		if ((u = web_users_load(l->password_file, err,
		    sizeof(err))) == NULL)
			check_report(k, true, 0, NULL, NULL, "%s password_file "
			    "%s", sec, log_escape(err, strlen(err), esc,
			    sizeof(esc)));
		else if (web_users_count(u) == 0)
			check_report(k, false, 0, NULL, NULL, "%s "
			    "password_file %s has no users", sec,
			    log_escape(l->password_file,
			    strlen(l->password_file), esc, sizeof(esc)));
		web_users_free(u);
	}
}

/* One of [store]'s password files (key names it): readable, a first
 * line, not world-readable. */
static void
check_store_password(struct check *k, const char *key, const char *pw)
{
	char line[512], esc[300];
	struct stat st;
	FILE *fp;

	if (pw == NULL)
		return;
	log_escape(pw, strlen(pw), esc, sizeof(esc));
	if ((fp = fopen(pw, "re")) == NULL) {
		check_report(k, true, 0, NULL, NULL, "[store] %s %s: %s", key,
		    esc, strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), fp) == NULL || line[0] == '\n' ||
	    line[0] == '\0')
		check_report(k, true, 0, NULL, NULL, "[store] %s %s: empty "
		    "(the password is its first line)", key, esc);
	else if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IROTH))
		check_report(k, false, 0, NULL, NULL, "[store] %s %s: "
		    "readable by every user (chmod o-r)", key, esc);
	explicit_bzero(line, sizeof(line));
	fclose(fp);
}

/* [store]: the PostgreSQL passwords' files (the workers' role's and the
 * keys process's). */
static void
check_store(struct check *k)
{
	const struct conf *c = k->c;

	if (c->store_backend != CONF_STORE_POSTGRESQL)
		return;
	check_store_password(k, "postgresql_password_file",
	    c->store_postgresql_password_file);
	check_store_password(k, "keys_postgresql_password_file",
	    c->store_keys_postgresql_password_file);
}

static void
check_sts_report(void *arg, bool error, unsigned line, const char *sec,
    const char *key, const char *text)
{
	check_report(arg, error, line, sec, key, "%s", text);
}

/* DANE needs validated answers: the probe serve makes at start. */
static void
check_dnssec(struct check *k)
{
	char err[1536];

	if (dns_dane_check(k->c, err, sizeof(err)) == -1)
		check_report(k, true, 0, NULL, NULL, "%s", err);
}

/* Whoever may write the file decides what the root-started daemon does. */
static void
check_file_mode(struct check *k)
{
	struct stat st;

	if (stat(k->c->path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
		check_report(k, true, 0, NULL, NULL, "writable by %s (chmod "
		    "go-w): whoever can write it controls the server",
		    st.st_mode & S_IWOTH ? "every user" : "its group");
}

int
cli_check_config(int argc, char **argv, const char *config)
{
	struct check k;
	struct conf *c;
	char err[1024];

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: sealmail [-c FILE] check-config\n");
		return 2;
	}
	if (conf_load(config, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "sealmail: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < c->nwarnings; i++)
		fprintf(stderr, "sealmail: warning: %s\n", c->warnings[i]);
	memset(&k, 0, sizeof(k));
	k.c = c;
	check_file_mode(&k);
	check_server(&k);
	check_tls(&k);
	check_dkim(&k);
	check_password_files(&k);
	check_store(&k);
	cli_check_sts(c, check_sts_report, &k);
	check_dnssec(&k);
	if (k.errors > 0) {
		conf_free(c);
		return 1;
	}
	conf_print(c, stdout);
	conf_free(c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "sealmail: writing the configuration: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}
