/* SPDX-License-Identifier: ISC */
/*
 * `sealmail dkim keygen --domain D --selector S [--type ed25519|rsa]
 * [--bits N] [--out FILE]`: make a DKIM signing key (RFC 8463 Ed25519 by
 * default, or RSA, RFC 8301: 1024 bits at least, 2048 by default), write
 * it as a PEM file readable only by its owner (0600, never over an existing
 * file), give it to the [server] user when run as root, and print the DNS
 * TXT record to publish, split into 255-octet strings (RFC 6376 §3.6.2.2,
 * RFC 1035 §3.3.14). Trusts the command line and the configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim_key.h"
#include "check/dnsrec.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "proc/priv.h"

#define CLI_DKIM_USAGE	"dkim keygen --domain D --selector S " \
	"[--type ed25519|rsa] [--bits 2048] [--out FILE]"
/* RFC 8301 §3.2: signers MUST use at least 1024 bits, SHOULD 2048;
 * beyond 4096 the record no longer fits a DNS answer comfortably. */
#define CLI_DKIM_BITS_MIN	1024
#define CLI_DKIM_BITS_MAX	4096

struct cli_dkim {
	const char	*domain;
	const char	*selector;
	bool		 rsa;
	int		 bits;
	const char	*out;
};

/* Parse the arguments; on a usage error say what is wrong (the caller
 * adds the usage line) and return -1. */
static int
cli_dkim_args(int argc, char **argv, struct cli_dkim *a)
{
	char esc[128];

	memset(a, 0, sizeof(*a));
	a->bits = 2048;
	if (argc < 2 || strcmp(argv[1], "keygen") != 0) {
		cli_error("unknown dkim command %s (use keygen)", argc < 2 ?
		    "(none)" : cli_escape(argv[1], esc, sizeof(esc)));
		return -1;
	}
	for (int i = 2; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		long b;

		if (strcmp(argv[i], "--domain") != 0 &&
		    strcmp(argv[i], "--selector") != 0 &&
		    strcmp(argv[i], "--out") != 0 &&
		    strcmp(argv[i], "--type") != 0 &&
		    strcmp(argv[i], "--bits") != 0) {
			cli_error("unknown option %s", cli_escape(argv[i], esc,
			    sizeof(esc)));
			return -1;
		}
		if (v == NULL) {
			cli_error("%s needs a value", argv[i]);
			return -1;
		}
		if (strcmp(argv[i], "--domain") == 0)
			a->domain = v;
		else if (strcmp(argv[i], "--selector") == 0)
			a->selector = v;
		else if (strcmp(argv[i], "--out") == 0)
			a->out = v;
		else if (strcmp(argv[i], "--type") == 0) {
			if (strcmp(v, "rsa") != 0 && strcmp(v, "ed25519") != 0) {
				cli_error("--type %s: must be ed25519 or rsa",
				    cli_escape(v, esc, sizeof(esc)));
				return -1;
			}
			a->rsa = strcmp(v, "rsa") == 0;
		} else {
			b = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' ||
			    b < CLI_DKIM_BITS_MIN || b > CLI_DKIM_BITS_MAX) {
				cli_error("--bits %s: must be a number from %d "
				    "to %d (RFC 8301)", cli_escape(v, esc,
				    sizeof(esc)), CLI_DKIM_BITS_MIN,
				    CLI_DKIM_BITS_MAX);
				return -1;
			}
			a->bits = (int)b;
		}
	}
	if (a->domain == NULL || a->selector == NULL) {
		cli_error("--domain and --selector are required");
		return -1;
	}
	return 0;
}

/* The names go into a file name and a DNS owner: LDH labels only. */
static bool
cli_dkim_valid_label(const char *s)
{
	if (*s == '\0' || strlen(s) > 63)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* At least two labels, each valid, no trailing dot. */
static bool
cli_dkim_valid_domain(const char *d)
{
	char *copy, *label, *save = NULL;
	bool ok = strlen(d) <= 253 && strchr(d, '.') != NULL &&
	    d[0] != '.' && d[strlen(d) - 1] != '.' && strstr(d, "..") == NULL;

	if (!ok)
		return false;
	copy = xstrdup(d);
	for (label = strtok_r(copy, ".", &save); label != NULL && ok;
	    label = strtok_r(NULL, ".", &save))
		ok = cli_dkim_valid_label(label);
	free(copy);
	return ok;
}

/* Print the TXT record in zone-file form, 255-octet strings. */
static void
cli_dkim_print(const struct cli_dkim *a, const char *rec)
{
	char *rd = dnsrec_txt_rdata(rec);

	printf("%s._domainkey.%s. IN TXT %s\n", a->selector, a->domain, rd);
	free(rd);
}

/* Write pk to path, 0600, refusing to replace a file; chown to user. */
static int
cli_dkim_write(const char *path, EVP_PKEY *pk, const char *user)
{
	char esc[256], err[256];
	uid_t uid;
	gid_t gid;
	FILE *fp;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		cli_error("cannot create %s: %s", cli_escape(path, esc,
		    sizeof(esc)), strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && user != NULL && *user != '\0') {
		if (!priv_lookup(user, &uid, &gid, err, sizeof(err)) ||
		    fchown(fd, uid, gid) == -1) {
			cli_error("cannot give %s to %s", cli_escape(path, esc,
			    sizeof(esc)), user);
			close(fd);
			unlink(path);
			return -1;
		}
	}
	if ((fp = fdopen(fd, "w")) == NULL || PEM_write_PrivateKey(fp, pk,
	    NULL, NULL, 0, NULL, NULL) != 1 || fflush(fp) != 0 ||
	    fsync(fileno(fp)) == -1 || fclose(fp) != 0) {
		cli_error("cannot write %s", cli_escape(path, esc,
		    sizeof(esc)));
		unlink(path);
		return -1;
	}
	return 0;
}

/* DATA_DIR/keys (0700, owned by the service user) and the key's path. */
static char *
cli_dkim_default_path(const struct conf *c, const struct cli_dkim *a)
{
	char *dir = xasprintf("%s/keys", c->data_dir), *path, err[256];
	uid_t uid;
	gid_t gid;

	if (cli_mkdirs(dir, 0700) == -1) {
		free(dir);
		return NULL;
	}
	if (geteuid() == 0 && c->user != NULL && *c->user != '\0' &&
	    priv_lookup(c->user, &uid, &gid, err, sizeof(err)))
		(void)chown(dir, uid, gid);
	path = xasprintf("%s/%s.%s.key", dir, a->domain, a->selector);
	free(dir);
	return path;
}

static EVP_PKEY *
cli_dkim_keygen(const struct cli_dkim *a)
{
	if (a->rsa)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)a->bits);
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

int
cli_dkim(int argc, char **argv, const char *config)
{
	struct cli_dkim a;
	struct conf *c = NULL;
	EVP_PKEY *pk = NULL;
	char *path = NULL, *rec = NULL, esc[PATH_MAX];
	int r = CLI_EXIT_FAIL;

	if (cli_dkim_args(argc, argv, &a) == -1)
		return cli_usage(CLI_DKIM_USAGE);
	if (!cli_dkim_valid_domain(a.domain) ||
	    !cli_dkim_valid_label(a.selector)) {
		cli_error("bad --domain or --selector");
		return CLI_EXIT_USAGE;
	}
	/* --out needs no configuration; the default path and the owner do. */
	if (a.out == NULL || access(config, R_OK) == 0)
		if (cli_load_conf(config, &c) == -1)
			return CLI_EXIT_FAIL;
	if (a.out == NULL && (path = cli_dkim_default_path(c, &a)) == NULL)
		goto out;
	if ((pk = cli_dkim_keygen(&a)) == NULL ||
	    (rec = dkim_key_record(pk)) == NULL) {
		cli_error("cannot make the key: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	if (cli_dkim_write(a.out ? a.out : path, pk, c ? c->user : NULL) == -1)
		goto out;
	/* A zone-file comment, so the output can still be pasted whole. */
	printf("; private key written to %s\n", cli_escape(a.out ? a.out :
	    path, esc, sizeof(esc)));
	cli_dkim_print(&a, rec);
	r = CLI_EXIT_OK;
out:
	free(rec);
	free(path);
	EVP_PKEY_free(pk);
	conf_free(c);
	return r;
}
