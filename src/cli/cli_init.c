/* SPDX-License-Identifier: ISC */
/*
 * `sealmail init -d DIR [--data-dir DATA] [--hostname H] [--domain D]
 * [--postmaster ADDR] [--dev]`: write a starter installation into DIR: a commented
 * sealmail.conf, a self-signed ECDSA P-256 certificate (DIR/tls/), an
 * Ed25519 DKIM key (DIR/dkim/) and the data folder; with --postmaster,
 * the store with postmaster@, abuse@ and root@ D as aliases of ADDR.
 * Never overwrites: every file is created with O_EXCL, and
 * an existing DIR/sealmail.conf stops it before anything is written,
 * unless it sets nothing (only comments, as the Debian package ships
 * it: then it is replaced). The
 * config is written last (through a temporary file and link(2)), so its
 * presence means the rest is complete, and it is loaded back with
 * conf_load() before init reports success.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/db.h"

#define CLI_INIT_CERT_DAYS	825	/* the CA/Browser Forum's old maximum */
#define CLI_INIT_SELECTOR	"s1"
#define CLI_INIT_USAGE \
	"usage: sealmail init -d DIR [--data-dir DATA] [--hostname H] " \
	"[--domain D] [--postmaster ADDR] [--dev]\n"

struct cli_init {
	const char	*dir_arg;
	const char	*data_dir_arg;	/* --data-dir, or NULL: DIR/data */
	char		*hostname;
	char		*domain;
	const char	*postmaster;	/* --postmaster ADDR, or NULL */
	char		 postmaster_addr[DB_ADDRESS_MAX + 1];	/* normalized */
	bool		 dev;

	char		*dir;		/* realpath of dir_arg */
	char		*conf_path;
	bool		 conf_replace;	/* conf_path exists but sets nothing */
	char		*data_dir;
	char		*tls_cert;
	char		*tls_key;
	char		*dkim_key;
};

static int
cli_init_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, OpenSSL's error queue cleared; returns -1. */
static int
cli_init_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sealmail: init: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_clear_error();
	return -1;
}

/* ---- arguments and names ------------------------------------------------ */

/* "--opt VALUE" or "--opt=VALUE"; advances *i past what it used. */
static const char *
cli_init_optarg(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (strcmp(argv[*i], opt) == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int
cli_init_args(struct cli_init *in, int argc, char **argv)
{
	const char *v;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dev") == 0)
			in->dev = true;
		else if ((v = cli_init_optarg(argc, argv, &i, "-d")) != NULL ||
		    (v = cli_init_optarg(argc, argv, &i, "--dir")) != NULL)
			in->dir_arg = v;
		else if ((v = cli_init_optarg(argc, argv, &i, "--data-dir")))
			in->data_dir_arg = v;
		else if ((v = cli_init_optarg(argc, argv, &i, "--hostname")))
			in->hostname = xstrdup(v);
		else if ((v = cli_init_optarg(argc, argv, &i, "--domain")))
			in->domain = xstrdup(v);
		else if ((v = cli_init_optarg(argc, argv, &i,
		    "--postmaster")))
			in->postmaster = v;
		else
			return -1;
	}
	return in->dir_arg == NULL || *in->dir_arg == '\0' ? -1 : 0;
}

/* Fill in and check the host and domain names. */
static int
cli_init_names(struct cli_init *in)
{
	char name[256], e[80];
	const char *dot;

	if (in->hostname == NULL && in->dev) {
		in->hostname = xstrdup("localhost");
	} else if (in->hostname == NULL) {
		if (gethostname(name, sizeof(name)) == -1)
			return cli_init_fail("gethostname: %s", strerror(errno));
		name[sizeof(name) - 1] = '\0';
		in->hostname = xstrdup(name);
	}
	if (!conf_valid_hostname(in->hostname))
		return cli_init_fail("bad host name %s (use --hostname)",
		    log_escape(in->hostname, strlen(in->hostname), e,
		    sizeof(e)));
	if (in->domain == NULL && in->dev) {
		in->domain = xstrdup("example.test");
	} else if (in->domain == NULL) {
		if ((dot = strchr(in->hostname, '.')) == NULL ||
		    strchr(dot + 1, '.') == NULL)
			return cli_init_fail("cannot guess the mail domain "
			    "from host name %s: use --domain", in->hostname);
		in->domain = xstrdup(dot + 1);
	}
	for (char *q = in->domain; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!conf_valid_hostname(in->domain))
		return cli_init_fail("bad domain %s", log_escape(in->domain,
		    strlen(in->domain), e, sizeof(e)));
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* mkdir -p; existing directories are fine. */
static int
cli_init_mkdirs(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	struct stat st;

	for (char *q = copy + 1; ; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char saved = *q;
		*q = '\0';
		if (mkdir(copy, mode) == -1 && (errno != EEXIST ||
		    stat(copy, &st) == -1 || !S_ISDIR(st.st_mode))) {
			cli_init_fail("mkdir %s: %s", copy, errno == EEXIST ?
			    "not a directory" : strerror(errno));
			free(copy);
			return -1;
		}
		if ((*q = saved) == '\0')
			break;
	}
	free(copy);
	return 0;
}

/* Create a new file (never an existing one) with exactly `mode`. */
static FILE *
cli_init_create(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *fp;

	if (fd == -1) {
		cli_init_fail("%s: %s", path, errno == EEXIST ?
		    "already exists; not overwriting it" : strerror(errno));
		return NULL;
	}
	if (fchmod(fd, mode) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		cli_init_fail("%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return fp;
}

/* Flush to disk and close; reports write errors. */
static int
cli_init_close(FILE *fp, const char *path)
{
	int bad = fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1;

	if (fclose(fp) == EOF)
		bad = 1;
	if (bad)
		return cli_init_fail("writing %s: %s", path, strerror(errno));
	return 0;
}

static int
cli_init_write_key(const char *path, EVP_PKEY *pk)
{
	FILE *fp = cli_init_create(path, 0600);

	if (fp == NULL)
		return -1;
	if (PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		fclose(fp);
		return cli_init_fail("writing %s: OpenSSL error", path);
	}
	return cli_init_close(fp, path);
}

/* ---- the certificate -------------------------------------------------- */

static int
cli_init_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* Subject, issuer, validity and a random 127-bit serial. */
static int
cli_init_cert_fields(X509 *x, const char *host)
{
	X509_NAME *name = X509_get_subject_name(x);
	BIGNUM *bn = BN_new();
	int ok;

	/* RFC 5280 Appendix A: a CN is at most 64 characters; the name that
	 * counts is in the subjectAltName anyway. */
	ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_set_version(x, X509_VERSION_3) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), CLI_INIT_CERT_DAYS, 0,
	    NULL) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)(strlen(host) <= 64 ? host :
	    "sealmail self-signed"), -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* A self-signed server certificate for `host`, valid 825 days. */
static X509 *
cli_init_cert(EVP_PKEY *pk, const char *host, bool dev)
{
	X509 *x = X509_new();
	char san[600];

	if (dev && strcmp(host, "localhost") != 0)
		snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1",
		    host);
	else if (dev)
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1");
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
	if (x == NULL || cli_init_cert_fields(x, host) == -1 ||
	    X509_set_pubkey(x, pk) != 1 ||
	    cli_init_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    cli_init_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    cli_init_ext(x, NID_ext_key_usage, "serverAuth") ||
	    cli_init_ext(x, NID_subject_key_identifier, "hash") ||
	    cli_init_ext(x, NID_subject_alt_name, san) ||
	    X509_sign(x, pk, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
cli_init_tls(struct cli_init *in)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = NULL;
	FILE *fp = NULL;
	int r = -1;

	if (pk == NULL || (x = cli_init_cert(pk, in->hostname, in->dev)) ==
	    NULL) {
		cli_init_fail("cannot make the TLS certificate: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	if (cli_init_write_key(in->tls_key, pk) == -1 ||
	    (fp = cli_init_create(in->tls_cert, 0644)) == NULL)
		goto out;
	if (PEM_write_X509(fp, x) != 1) {
		fclose(fp);
		cli_init_fail("writing %s: OpenSSL error", in->tls_cert);
		goto out;
	}
	r = cli_init_close(fp, in->tls_cert);
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return r;
}

/* ---- the DKIM key ----------------------------------------------------- */

static int
cli_init_dkim(struct cli_init *in)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	int r = -1;

	/* Its public record is printed with the others (dns-records). */
	if (pk == NULL) {
		cli_init_fail("cannot make the DKIM key: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	r = cli_init_write_key(in->dkim_key, pk);
out:
	EVP_PKEY_free(pk);
	return r;
}

/* ---- the configuration ------------------------------------------------ */

static void
cli_init_conf_server(FILE *fp, const struct cli_init *in)
{
	fprintf(fp,
	    "; [server]: who this server is, where it keeps its data, and the\n"
	    "; limits of one SMTP session.\n"
	    "[server]\n"
	    "hostname = %s\t; greeting, EHLO and Received name\n"
	    "data_dir = %s\t; queue, mailboxes, account database\n",
	    in->hostname, in->data_dir);
	if (in->dev)
		fprintf(fp,
		    "user =\t\t\t; empty: keep running as whoever starts it\n"
		    "workers = 2\t\t; SMTP worker processes\n");
	else
		fprintf(fp,
		    "user = sealmail\t\t; drop to this user after binding ports\n"
		    "workers = auto\t\t; SMTP worker processes (auto: one per "
		    "CPU)\n");
	fprintf(fp,
	    "max_message_size = 52428800\t; bytes (50 MiB)\n"
	    "max_recipients = 100\n"
	    "trusted_networks =\t; CIDRs that may relay without AUTH (keep "
	    "it empty)\n"
	    "bare_newline = normalize\t; bare LF/CR in DATA: normalize | "
	    "reject\n\n");
}

static void
cli_init_conf_tls(FILE *fp, const struct cli_init *in)
{
	fprintf(fp,
	    "; [tls]: certificates for STARTTLS and implicit TLS. Repeat cert "
	    "and key\n"
	    "; (each key right after its cert) to serve RSA and ECDSA side by "
	    "side.\n"
	    "; This one is self-signed: replace it with one from a CA for "
	    "real use.\n"
	    "[tls]\n"
	    "cert = %s\n"
	    "key = %s\n"
	    "min_version = TLSv1.2\n\n", in->tls_cert, in->tls_key);
}

static void
cli_init_conf_listen(FILE *fp, const struct cli_init *in)
{
	static const struct {
		const char *name, *role, *tls, *what;
		unsigned port, devport;
	} l[] = {
		{ "mx", "mx", "starttls", "mail from the Internet for the local "
		    "domains; relays only for trusted_networks", 25, 2525 },
		{ "submission", "submission", "starttls", "your users send "
		    "mail (STARTTLS, then AUTH)", 587, 5870 },
		{ "submissions", "submission", "implicit", "the same with TLS "
		    "from the first byte (RFC 8314)", 465, 4650 },
		{ "alt", "submission", "starttls", "submission for networks "
		    "that block 25 and 587", 2525, 0 },
	};

	fprintf(fp,
	    "; [listen \"NAME\"]: where to accept SMTP. role mx receives; role "
	    "submission\n"
	    "; needs AUTH. tls: starttls | implicit | none.\n");
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		if (in->dev && l[i].devport == 0)
			continue;
		fprintf(fp, "[listen \"%s\"]\t; %s\n", l[i].name, l[i].what);
		if (in->dev)
			fprintf(fp, "address = 127.0.0.1:%u\n", l[i].devport);
		else
			fprintf(fp, "address = 0.0.0.0:%u, [::]:%u\n", l[i].port,
			    l[i].port);
		fprintf(fp, "role = %s\ntls = %s\n\n", l[i].role, l[i].tls);
	}
	/* HTTP listeners stay commented: an https one needs a certificate
	 * for mta-sts.DOMAIN, and both are choices the operator makes. */
	fprintf(fp,
	    "; Our MTA-STS policy over HTTPS (needs a [tls] certificate for "
	    "mta-sts.DOMAIN;\n"
	    "; sealmail dns-records prints the DNS records that go with it):\n"
	    "; [listen \"https\"]\n"
	    "; address = 0.0.0.0:443, [::]:443\n"
	    "; role = https\n"
	    "; tls = implicit\n"
	    ";\n"
	    "; /metrics and the status page, for loopback and "
	    "trusted_networks\n"
	    "; (or add password_file = FILE for basic auth, with tls = "
	    "implicit):\n"
	    "; [listen \"admin\"]\n"
	    "; address = 127.0.0.1:8025\n"
	    "; role = admin\n"
	    "; tls = none\n\n");
}

static void
cli_init_conf_rest(FILE *fp, const struct cli_init *in)
{
	fprintf(fp,
	    "; [domain \"NAME\"]: a domain whose mail is delivered here; mail "
	    "sent from\n"
	    "; it is DKIM-signed with this key (publish the record init "
	    "printed).\n"
	    "[domain \"%s\"]\n"
	    "dkim_selector = " CLI_INIT_SELECTOR "\n"
	    "dkim_key = %s\n\n"
	    "; [delivery]: how mail leaves the queue.\n"
	    "[delivery]\n"
	    "local = maildir\t\t; maildir | lmtp:unix:/PATH | lmtp:HOST:PORT\n"
	    "relayhost =\t\t; empty: straight to each domain's MX\n"
	    "relayhost_credentials =\t; file with user:password for the "
	    "relayhost\n"
	    "relayhost_ca =\t\t; extra CA file for the relayhost\n"
	    "mx_port = 25\n"
	    "retry_schedule = 5m, 10m, 30m, 1h, 4h\t; the last one repeats\n"
	    "queue_lifetime = 5d\t; then the message bounces\n"
	    "%s"
	    "; [auth]: what inbound SPF and DMARC results do.\n"
	    "[auth]\n"
	    "spf_reject_fail = no\t; yes: reject SPF fail at MAIL FROM\n"
	    "dmarc_enforce = yes\t; honour p=reject and p=quarantine\n\n"
	    "; [dns]: the validating resolver (DNSSEC is needed for DANE).\n"
	    "[dns]\n"
	    "resolver = recursive\t; recursive | system | ADDR[@PORT], ...\n"
	    "trust_anchor = /usr/share/dns/root.key\t; empty: no DNSSEC\n"
	    "unbound_config =\t; extra libunbound config, read last\n\n"
	    "; [reports]: DMARC aggregate and TLS-RPT reports about the mail "
	    "we exchange,\n"
	    "; and our own addresses that receive reports (publish them in "
	    "rua=).\n"
	    "[reports]\n"
	    "from = noreply-reports@%s\n"
	    "org_name = %s\n"
	    "inbox =\t\t\t; e.g. dmarc-reports@%s (a user or alias)\n"
	    "dmarc_aggregate = yes\n"
	    "tlsrpt = yes\n"
	    "dmarc_failure_reports = no\t; RFC 9991, redacted headers\n\n"
	    "; [forwarding]: mail an alias sends on to another domain.\n"
	    "[forwarding]\n"
	    "srs = yes\t\t; SRS sender, so SPF passes at the next hop\n"
	    "arc = yes\t\t; ARC seal with the alias domain's DKIM key\n",
	    in->domain, in->dkim_key, in->dev ?
	    /* A development instance may run where DNSSEC cannot be
	     * checked (offline): with DANE on, serve would refuse. */
	    "dane = no\t\t; --dev: yes needs working DNSSEC (serve checks "
	    "it)\n\n" :
	    "dane = yes\t\t; RFC 7672; serve checks that DNSSEC "
	    "validates\n\n", in->domain, in->domain, in->domain);
}

/* Write the config to a temporary file, then link it into place: link(2)
 * fails rather than replace a sealmail.conf that appeared meanwhile. */
static int
cli_init_conf(const struct cli_init *in)
{
	char *tmp = xasprintf("%s/.sealmail.conf.XXXXXX", in->dir);
	int fd = mkstemp(tmp), r = -1;
	FILE *fp;

	if (fd == -1 || fchmod(fd, 0644) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		cli_init_fail("%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out;
	}
	fprintf(fp, "; sealmail configuration, written by `sealmail init`%s.\n"
	    "; INI: ';' or '#' starts a comment. See sealmail.conf(5); check "
	    "it with\n;   sealmail -c %s check-config\n\n",
	    in->dev ? " --dev" : "", in->conf_path);
	cli_init_conf_server(fp, in);
	cli_init_conf_tls(fp, in);
	cli_init_conf_listen(fp, in);
	cli_init_conf_rest(fp, in);
	if (cli_init_close(fp, tmp) == -1)
		goto out;
	if (in->conf_replace ? rename(tmp, in->conf_path) == -1 :
	    link(tmp, in->conf_path) == -1)
		cli_init_fail("%s: %s", in->conf_path, strerror(errno));
	else
		r = 0;
out:
	if (fd != -1)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ---- putting it together ---------------------------------------------- */

/* Whether the config at path sets nothing: only comments, blank lines and
 * section headers (the commented defaults a package ships). */
static bool
cli_init_conf_blank(const char *path)
{
	char line[1024];
	FILE *fp = fopen(path, "r");
	bool blank = fp != NULL;
	size_t lines = 0;

	while (blank && fgets(line, sizeof(line), fp) != NULL) {
		const char *p = line + strspn(line, " \t\r\n");

		/* Bounded: a long file is someone's configuration. */
		if (++lines > 10000 || (*p != '\0' && *p != ';' && *p != '#' &&
		    *p != '['))
			blank = false;
	}
	if (fp != NULL && ferror(fp))
		blank = false;
	if (fp != NULL)
		fclose(fp);
	return blank;
}

/* The folders, and every path the config will name (absolute). */
static int
cli_init_paths(struct cli_init *in)
{
	char real[PATH_MAX];
	struct stat st;

	if (cli_init_mkdirs(in->dir_arg, 0755) == -1)
		return -1;
	if (realpath(in->dir_arg, real) == NULL)
		return cli_init_fail("%s: %s", in->dir_arg, strerror(errno));
	in->dir = xstrdup(real);
	in->conf_path = xasprintf("%s/sealmail.conf", real);
	if (in->data_dir_arg != NULL && in->data_dir_arg[0] != '/')
		return cli_init_fail("--data-dir %s: must be an absolute path",
		    in->data_dir_arg);
	in->data_dir = in->data_dir_arg != NULL ? xstrdup(in->data_dir_arg) :
	    xasprintf("%s/data", real);
	in->tls_cert = xasprintf("%s/tls/ecdsa.pem", real);
	in->tls_key = xasprintf("%s/tls/ecdsa.key", real);
	in->dkim_key = xasprintf("%s/dkim/%s." CLI_INIT_SELECTOR ".key", real,
	    in->domain);
	if (strlen(in->dkim_key) > CONF_VALUE_MAX ||
	    strlen(in->conf_path) > CONF_VALUE_MAX ||
	    strlen(in->data_dir) > CONF_VALUE_MAX)
		return cli_init_fail("%s: path too long for the config (at "
		    "most %d bytes per path)", real, CONF_VALUE_MAX);
	if (lstat(in->conf_path, &st) == 0 && S_ISREG(st.st_mode) &&
	    cli_init_conf_blank(in->conf_path))
		in->conf_replace = true;
	else if (lstat(in->conf_path, &st) == 0)
		return cli_init_fail("%s already exists; not overwriting it",
		    in->conf_path);
	char *tls = xasprintf("%s/tls", real), *dkim = xasprintf("%s/dkim",
	    real);
	int r = cli_init_mkdirs(tls, 0755) == -1 ||
	    cli_init_mkdirs(dkim, 0700) == -1 ||
	    cli_init_mkdirs(in->data_dir, 0700) == -1 ? -1 : 0;
	free(tls);
	free(dkim);
	return r;
}

/*
 * Run as root for a real install: the daemon drops to the user
 * "sealmail", which must own the data folder and read the DKIM key. The TLS
 * key stays root's: the master loads it before dropping privileges.
 */
static void
cli_init_owner(const struct cli_init *in)
{
	struct passwd *pw;
	char *dkim;

	if (in->dev || geteuid() != 0)
		return;
	if ((pw = getpwnam("sealmail")) == NULL) {
		printf("\nThe user 'sealmail' does not exist yet. Create it and "
		    "give it the data:\n"
		    "  adduser --system --group --home %s sealmail\n"
		    "  chown -R sealmail:sealmail %s %s/dkim\n", in->data_dir,
		    in->data_dir, in->dir);
		return;
	}
	dkim = xasprintf("%s/dkim", in->dir);
	if (chown(in->data_dir, pw->pw_uid, pw->pw_gid) == -1 ||
	    chown(dkim, pw->pw_uid, pw->pw_gid) == -1 ||
	    chown(in->dkim_key, pw->pw_uid, pw->pw_gid) == -1)
		printf("warning: chown to sealmail failed: %s\n",
		    strerror(errno));
	free(dkim);
}

static void
cli_init_report(const struct cli_init *in)
{
	char self[PATH_MAX];

	/* The binary that is running, by its full path: right after `make`
	 * no "sealmail" is on PATH, and these lines must work as printed. */
	cli_self_path(self, sizeof(self));
	printf("Created in %s:\n"
	    "  sealmail.conf      the configuration (see sealmail.conf(5))\n"
	    "  tls/ecdsa.pem      self-signed certificate for %s (825 days)\n"
	    "  tls/ecdsa.key      its private key (0600)\n"
	    "  dkim/%s." CLI_INIT_SELECTOR ".key  DKIM Ed25519 key for %s "
	    "(0600)\n"
	    "Data (queue, mailboxes and accounts) in %s\n\n"
	    "Next steps:\n"
	    "  %s -c %s user add you@%s\n"
	    "  %s -c %s serve\n",
	    in->dir, in->hostname, in->domain, in->domain, in->data_dir,
	    self, in->conf_path, in->domain, self, in->conf_path);
	if (in->dev)	/* the sender must be owned by the AUTH user */
		printf("  swaks --server 127.0.0.1:5870 --tls --auth-user "
		    "you@%s --from you@%s --to you@%s\n", in->domain,
		    in->domain, in->domain);
}

/*
 * The role aliases of the domain (cli_role_aliases): to --postmaster
 * ADDR now, or else to the domain's first user when `user add` makes it.
 */
static int
cli_init_roles(const struct cli_init *in, const struct conf *c)
{
	struct db *db;
	int r;

	if (in->postmaster == NULL) {
		printf("\npostmaster@, abuse@ and root@%s: aliases of the first "
		    "user you add (or use init --postmaster ADDR)\n",
		    in->domain);
		return 0;
	}
	if ((db = cli_open_store(c, true)) == NULL)
		return -1;
	r = cli_role_aliases(db, in->domain, in->postmaster_addr);
	db_close(db);
	return r;
}

/* At the end, what to publish in DNS: dns-records for the new config. */
static void
cli_init_records(const struct cli_init *in, const struct conf *c)
{
	char self[PATH_MAX];

	cli_self_path(self, sizeof(self));
	printf("\nPublish these DNS records (print them again with\n"
	    "  %s -c %s dns-records):\n\n", self, in->conf_path);
	fflush(stdout);
	(void)cli_dns_records_print(c, NULL, false);
}

static void
cli_init_free(struct cli_init *in)
{
	free(in->hostname);
	free(in->domain);
	free(in->dir);
	free(in->conf_path);
	free(in->data_dir);
	free(in->tls_cert);
	free(in->tls_key);
	free(in->dkim_key);
}

int
cli_init(int argc, char **argv, const char *config)
{
	struct cli_init in;
	struct conf *c;
	char err[1024];
	int r = 1;

	(void)config;		/* init writes DIR/sealmail.conf, not -c */
	memset(&in, 0, sizeof(in));
	if (cli_init_args(&in, argc, argv) == -1) {
		fputs(CLI_INIT_USAGE, stderr);
		cli_init_free(&in);
		return 2;
	}
	if (in.postmaster != NULL && cli_address(in.postmaster, false,
	    "--postmaster address", in.postmaster_addr) == -1)
		goto out;
	if (cli_init_names(&in) == -1 || cli_init_paths(&in) == -1 ||
	    cli_init_tls(&in) == -1 || cli_init_dkim(&in) == -1 ||
	    cli_init_conf(&in) == -1)
		goto out;
	if (conf_load(in.conf_path, &c, err, sizeof(err)) == -1) {
		cli_init_fail("the config just written does not load (a bug): "
		    "%s", err);
		goto out;
	}
	cli_init_report(&in);
	if (cli_init_roles(&in, c) == 0)
		r = 0;
	cli_init_owner(&in);
	cli_init_records(&in, c);
	conf_free(c);
out:
	cli_init_free(&in);
	return r;
}
