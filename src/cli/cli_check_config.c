/* SPDX-License-Identifier: ISC */
/*
 * `sealmail check-config`: load the configuration, then do what conf_load()
 * leaves to the daemon: load every [tls] cert/key pair with OpenSSL and check
 * that the key matches the certificate, and that each DKIM key (every
 * dkim_selector/dkim_key pair of every domain) is a private key the DKIM
 * signer accepts. Prints the effective configuration on success;
 * otherwise one line on stderr naming the file and the problem.
 */
#include "cli/cli.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "conf/conf.h"
#include "core/log.h"

/* The last OpenSSL error as text, and clear the queue. */
static const char *
cli_check_config_sslerr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

/* Load one pair as the daemon will (chain file, then key) and match them. */
static int
cli_check_config_pair(SSL_CTX *ctx, const struct conf_certpair *cp)
{
	char e[256], path[256], cpath[256];

	/* OpenSSL reports a missing file as "system lib"; say what it is. */
	for (int i = 0; i < 2; i++) {
		const char *f = i == 0 ? cp->cert : cp->key;

		if (access(f, R_OK) == -1) {
			fprintf(stderr, "sealmail: %s: %s\n", log_escape(f,
			    strlen(f), path, sizeof(path)), strerror(errno));
			return -1;
		}
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cp->cert) != 1) {
		fprintf(stderr, "sealmail: %s: cannot load certificate: %s\n",
		    log_escape(cp->cert, strlen(cp->cert), path, sizeof(path)),
		    cli_check_config_sslerr(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cp->key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "sealmail: %s: cannot load private key: %s\n",
		    log_escape(cp->key, strlen(cp->key), path, sizeof(path)),
		    cli_check_config_sslerr(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "sealmail: %s: key does not match certificate "
		    "%s\n", log_escape(cp->key, strlen(cp->key), path,
		    sizeof(path)), log_escape(cp->cert, strlen(cp->cert), cpath,
		    sizeof(cpath)));
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int
cli_check_config_tls(const struct conf *c)
{
	for (size_t i = 0; i < c->ncerts; i++) {
		/* A fresh context per pair: a context holds one key per
		 * type, so two ECDSA pairs in one would hide a mismatch. */
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
		int r;

		if (ctx == NULL) {
			fprintf(stderr, "sealmail: cannot create a TLS "
			    "context\n");
			return -1;
		}
		r = cli_check_config_pair(ctx, &c->certs[i]);
		SSL_CTX_free(ctx);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* One DKIM private key file: it opens and holds a PEM private key. */
static int
cli_check_config_dkim_key(const char *file)
{
	char e[256], path[256];
	EVP_PKEY *pk;
	FILE *fp;

	log_escape(file, strlen(file), path, sizeof(path));
	if ((fp = fopen(file, "re")) == NULL) {
		fprintf(stderr, "sealmail: %s: cannot open DKIM key: %s\n",
		    path, strerror(errno));
		return -1;
	}
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		fprintf(stderr, "sealmail: %s: cannot load DKIM key: %s\n",
		    path, cli_check_config_sslerr(e, sizeof(e)));
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
static int
cli_check_config_dkim(const struct conf *c)
{
	struct dkim_keys *k;
	char err[512];

	for (size_t i = 0; i < c->ndomains; i++)
		for (size_t j = 0; j < c->domains[i].ndkim; j++)
			if (cli_check_config_dkim_key(
			    c->domains[i].dkim[j].key) == -1)
				return -1;
	if ((k = dkim_keys_load(c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sealmail: %s\n", err);
		return -1;
	}
	dkim_keys_free(k);
	return 0;
}

int
cli_check_config(int argc, char **argv, const char *config)
{
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
	if (cli_check_config_tls(c) == -1 || cli_check_config_dkim(c) == -1) {
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
