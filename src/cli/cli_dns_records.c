/* SPDX-License-Identifier: ISC */
/*
 * `sealmail dns-records [--domain D] [--zone]`: gather the facts the
 * records need (interface addresses, DKIM public keys, certificate key
 * digests) and print check/dnsrec.c's lines. A key or certificate that
 * cannot be read is named in one line on stderr; the rest is still
 * printed (that record as a comment) and the exit code is 1. The other
 * nodes of a cluster (the store's registry, store/db_node.h) add their MX
 * and TLSA records and their MX names to the MTA-STS policy's id.
 *
 * `sealmail dns-records --check-tlsa [--cert FILE]`: look up
 * _25._tcp.HOSTNAME TLSA through [dns] and say whether a record matches
 * the key of FILE (default: every [tls] cert); the certbot deploy hook
 * runs it on the renewed chain before reloading.
 */
#include "cli/cli.h"

#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim_sign.h"
#include "check/dnsrec.h"
#include "check/tlsamatch.h"
#include "cluster/cluster_node.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "net/spki.h"
#include "store/db.h"
#include "store/db_node.h"
#include "store/store_open.h"

#define DNS_RECORDS_USAGE	"dns-records [--domain D] [--zone] | " \
	"dns-records --check-tlsa [--cert FILE]"
/* Certificates read from one chain file. */
#define DNS_RECORDS_CHAIN_MAX	8

struct dns_records_args {
	const char	*domain;
	bool		 zone;
	bool		 check_tlsa;
	const char	*cert;
};

static int
dns_records_parse(struct dns_records_args *a, int argc, char **argv)
{
	char esc[128];

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--zone") == 0)
			a->zone = true;
		else if (strcmp(argv[i], "--check-tlsa") == 0)
			a->check_tlsa = true;
		else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			a->domain = argv[++i];
		else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
			a->cert = argv[++i];
		else {
			cli_error("unknown option or missing value: %s",
			    cli_escape(argv[i], esc, sizeof(esc)));
			return -1;
		}
	}
	if (a->check_tlsa ? a->domain != NULL || a->zone : a->cert != NULL) {
		cli_error("--check-tlsa takes only --cert; --cert needs "
		    "--check-tlsa");
		return -1;
	}
	return 0;
}

/* ---- the records ------------------------------------------------------ */

/* The machine's addresses, loopback left out (dnsrec picks the rest). */
static size_t
gather_ifaddrs(struct dnsrec_ifaddr **out)
{
	struct ifaddrs *all, *i;
	size_t n = 0;

	*out = NULL;
	if (getifaddrs(&all) == -1)
		return 0;
	for (i = all; i != NULL; i = i->ifa_next) {
		struct dnsrec_ifaddr *a;
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
		if ((fam != AF_INET && fam != AF_INET6) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		a = &(*out)[n++];
		memset(a, 0, sizeof(*a));
		a->family = fam;
		if (fam == AF_INET)
			memcpy(a->addr, &((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr, 4);
		else
			memcpy(a->addr, &((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr, 16);
		snprintf(a->ifname, sizeof(a->ifname), "%s", i->ifa_name);
	}
	freeifaddrs(all);
	return n;
}

/* Every [domain] key's public record, loaded as the daemon loads it. */
static size_t
gather_dkim(const struct conf *c, const char *domain,
    struct dnsrec_dkim **out, int *failed)
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < c->ndomains; i++) {
		const struct conf_domain *d = &c->domains[i];
		if (domain != NULL && strcasecmp(domain, d->name) != 0)
			continue;
		for (size_t j = 0; j < d->ndkim; j++) {
			struct dnsrec_dkim *k;
			struct dkim_sign_key *sk;
			char err[512], esc[256];

			*out = xreallocarray(*out, n + 1, sizeof(**out));
			k = &(*out)[n++];
			memset(k, 0, sizeof(*k));
			k->domain = d->name;
			k->selector = d->dkim[j].selector;
			sk = dkim_sign_key_load(d->name, k->selector,
			    d->dkim[j].key, err, sizeof(err));
			if (sk != NULL && (k->record =
			    dkim_sign_key_record(sk)) == NULL)
				snprintf(err, sizeof(err), "cannot encode the "
				    "public key");
			dkim_sign_key_free(sk);
			if (k->record == NULL) {
				k->error = xstrdup(cli_escape(err, esc,
				    sizeof(esc)));
				cli_error("DKIM key %s (domain %s, selector "
				    "%s): %s", cli_escape(d->dkim[j].key, esc,
				    sizeof(esc)), d->name, k->selector,
				    k->error);
				*failed = 1;
			}
		}
	}
	return n;
}

static struct dnsrec_cert *
gather_certs(const struct conf *c, int *failed)
{
	struct dnsrec_cert *certs = xcalloc(c->ncerts + 1, sizeof(*certs));
	char hex[SPKI_SHA256_HEX_LEN + 1], err[512];

	for (size_t i = 0; i < c->ncerts; i++) {
		certs[i].path = c->certs[i].cert;
		if (spki_sha256_file(c->certs[i].cert, hex, err, sizeof(err))
		    == 0)
			certs[i].spki = xstrdup(hex);
		else {
			certs[i].error = xstrdup(err);
			cli_error("%s", err);
			*failed = 1;
		}
	}
	return certs;
}

/*
 * The nodes of the store's registry into *out (their strings owned by
 * rows, freed by the caller with db_node_list_free). No store yet (init,
 * a fresh install): no nodes, silently. A store that cannot be read is an
 * error, said here: the records printed then miss the other nodes.
 */
static size_t
gather_nodes(const struct conf *c, struct db_node **rows,
    struct dnsrec_node **out, int *failed)
{
	char path[PATH_MAX];
	size_t n = 0;
	struct db *db;
	long long now = (long long)time(NULL);

	*rows = NULL;
	*out = NULL;
	/* A single node that never served has no registry; a shared
	 * store has no file here and always has one. */
	snprintf(path, sizeof(path), "%s/sealmail.db", c->data_dir);
	if (!store_open_is_remote(c) && access(path, F_OK) != 0)
		return 0;
	if ((db = cli_open_store(c, false)) == NULL) {
		*failed = 1;
		return 0;
	}
	if (db_node_list(db, rows, &n) != DB_OK) {
		cli_error("cluster nodes not read: %s", db_error(db));
		*failed = 1;
	}
	db_close(db);
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		(*out)[i].name = (*rows)[i].name;
		(*out)[i].mx = (*rows)[i].mx;
		(*out)[i].spki = (*rows)[i].spki;
		(*out)[i].stale = cluster_node_is_stale(now,
		    (*rows)[i].heartbeat, (*rows)[i].every);
	}
	return n;
}

int
cli_dns_records_print(const struct conf *c, const char *domain, bool zone)
{
	struct db_node *rows;
	struct dnsrec_node *nodes;
	struct dnsrec_ifaddr *ifa;
	struct dnsrec_dkim *dkim;
	struct dnsrec_facts f = { 0 };
	struct dnsrec_out out = { 0 };
	int failed = 0;

	f.nifaddrs = gather_ifaddrs(&ifa);
	f.ifaddrs = ifa;
	f.ndkim = gather_dkim(c, domain, &dkim, &failed);
	f.dkim = dkim;
	f.certs = gather_certs(c, &failed);
	f.ncerts = c->ncerts;
	f.nnodes = gather_nodes(c, &rows, &nodes, &failed);
	f.nodes = nodes;
	dnsrec_build(c, &f, domain, zone, &out);
	for (size_t i = 0; i < out.n; i++)
		printf("%s\n", out.line[i]);
	dnsrec_out_clear(&out);
	for (size_t i = 0; i < f.ndkim; i++) {
		free((char *)dkim[i].record);
		free((char *)dkim[i].error);
	}
	for (size_t i = 0; i < f.ncerts; i++) {
		free((char *)f.certs[i].spki);
		free((char *)f.certs[i].error);
	}
	free((void *)f.certs);
	free(nodes);
	db_node_list_free(rows, f.nnodes);
	free(dkim);
	free(ifa);
	if (fflush(stdout) != 0) {
		cli_error("cannot write the records");
		return -1;
	}
	return failed ? -1 : 0;
}

/* ---- --check-tlsa ----------------------------------------------------- */

/* A chain file's certificates as DER, leaf first. */
struct chain {
	uint8_t			*der[2 * DNS_RECORDS_CHAIN_MAX];
	struct tlsamatch_cert	 c[DNS_RECORDS_CHAIN_MAX];
	size_t			 n;
};

static void
chain_clear(struct chain *ch)
{
	for (size_t i = 0; i < 2 * ch->n; i++)
		OPENSSL_free(ch->der[i]);
	ch->n = 0;
}

static int
chain_read(const char *path, struct chain *ch)
{
	FILE *fp = fopen(path, "r");
	char esc[256];
	X509 *x;

	memset(ch, 0, sizeof(*ch));
	if (fp == NULL) {
		cli_error("cannot open %s", cli_escape(path, esc,
		    sizeof(esc)));
		return -1;
	}
	while (ch->n < DNS_RECORDS_CHAIN_MAX &&
	    (x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		uint8_t *cd = NULL, *sd = NULL;
		int cl = i2d_X509(x, &cd);
		int sl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &sd);
		X509_free(x);
		if (cl <= 0 || sl <= 0) {
			OPENSSL_free(cd);
			OPENSSL_free(sd);
			break;
		}
		ch->der[2 * ch->n] = cd;
		ch->der[2 * ch->n + 1] = sd;
		ch->c[ch->n] = (struct tlsamatch_cert){ cd, (size_t)cl, sd,
		    (size_t)sl };
		ch->n++;
	}
	fclose(fp);
	ERR_clear_error();
	if (ch->n == 0) {
		cli_error("%s: no PEM certificate", cli_escape(path, esc,
		    sizeof(esc)));
		return -1;
	}
	return 0;
}

static void
print_tlsa(FILE *fp, const struct dns_rr *rr)
{
	fprintf(fp, "%u %u %u ", rr->u.tlsa.usage, rr->u.tlsa.selector,
	    rr->u.tlsa.mtype);
	for (size_t i = 0; i < rr->u.tlsa.len; i++)
		fprintf(fp, "%02x", rr->u.tlsa.data[i]);
}

/*
 * One chain file against the records: 0 if one matches, or if none does
 * but DANE senders do not use these records (dane_used false: an answer
 * that is not DNSSEC-validated, or only usages 0 and 1), which is then a
 * note on stdout; -1 (one loud line) when DANE senders would defer.
 */
static int
check_one(const char *owner, const char *path,
    const struct dns_answer *ans, bool dane_used)
{
	struct chain ch;
	char hex[SPKI_SHA256_HEX_LEN + 1], err[512], esc[256];
	int r = -1;

	if (chain_read(path, &ch) == -1)
		return -1;
	cli_escape(path, esc, sizeof(esc));
	for (size_t i = 0; i < ans->nrr && r == -1; i++) {
		const struct dns_rr *rr = &ans->rr[i];
		if (!tlsamatch_rr(rr->u.tlsa.usage, rr->u.tlsa.selector,
		    rr->u.tlsa.mtype, rr->u.tlsa.data, rr->u.tlsa.len, ch.c,
		    ch.n))
			continue;
		printf("%s: ", owner);
		print_tlsa(stdout, rr);
		printf(" matches %s\n", esc);
		r = 0;
	}
	chain_clear(&ch);
	if (r == 0)
		return 0;
	if (spki_sha256_file(path, hex, err, sizeof(err)) == -1) {
		cli_error("%s", err);
		return -1;
	}
	if (!dane_used) {
		printf("%s: note: no record matches the key of %s (SHA-256 "
		    "%s); DANE senders do not use these records today, but "
		    "publish %s. IN TLSA 3 1 1 %s before they do\n", owner,
		    esc, hex, owner, hex);
		return 0;
	}
	cli_error("WARNING: no TLSA record at %s matches the key of %s "
	    "(SHA-256 %s): DANE senders will not deliver to this server with "
	    "it; publish %s. IN TLSA 3 1 1 %s", owner, esc, hex, owner, hex);
	return -1;
}

static int
check_tlsa(const struct conf *c, const char *cert)
{
	struct dns_answer *ans = NULL;
	char *owner = xasprintf("_25._tcp.%s", c->hostname);
	int r = CLI_EXIT_FAIL;

	if (dns_query_sync(c, owner, DNS_T_TLSA, 0, &ans) == -1) {
		cli_error("cannot look up %s TLSA (see [dns])", owner);
		goto out;
	}
	if (ans->rcode == DNS_RCODE_SERVFAIL || ans->rcode ==
	    DNS_RCODE_TIMEOUT || ans->sec == DNS_SEC_BOGUS) {
		cli_error("TLSA lookup of %s failed: %s", owner,
		    ans->sec == DNS_SEC_BOGUS ? "bogus (DNSSEC validation "
		    "failed)" : dns_rcode_name(ans->rcode));
		goto out;
	}
	if (ans->nrr == 0) {
		printf("%s: no TLSA record published, nothing to check "
		    "(DANE is not in use for %s)\n", owner, c->hostname);
		r = CLI_EXIT_OK;
		goto out;
	}
	if (ans->sec != DNS_SEC_SECURE)
		printf("%s: note: the answer is not DNSSEC-validated, so DANE "
		    "senders ignore these records\n", owner);
	/* RFC 7672 §2.2, §3.1.3: senders use only validated records, and
	 * treat usages 0 and 1 as unusable; a key no record matches then
	 * costs nothing yet, so it is a note, not a failure. */
	bool usable = false;
	for (size_t i = 0; i < ans->nrr; i++)
		if (tlsamatch_supported(ans->rr[i].u.tlsa.usage,
		    ans->rr[i].u.tlsa.selector, ans->rr[i].u.tlsa.mtype))
			usable = true;
		else {
			printf("%s: not checked (usages 0 and 1 are not used "
			    "for SMTP, RFC 7672 §3.1.3): ", owner);
			print_tlsa(stdout, &ans->rr[i]);
			printf("\n");
		}
	bool dane_used = usable && ans->sec == DNS_SEC_SECURE;
	r = CLI_EXIT_OK;
	if (cert != NULL)
		r = check_one(owner, cert, ans, dane_used) == 0 ? r :
		    CLI_EXIT_FAIL;
	for (size_t i = 0; cert == NULL && i < c->ncerts; i++)
		if (check_one(owner, c->certs[i].cert, ans, dane_used) == -1)
			r = CLI_EXIT_FAIL;
out:
	dns_answer_free(ans);
	free(owner);
	return r;
}

int
cli_dns_records(int argc, char **argv, const char *config)
{
	struct dns_records_args a;
	struct conf *c;
	char esc[128];
	int r;

	if (dns_records_parse(&a, argc, argv) == -1)
		return cli_usage(DNS_RECORDS_USAGE);
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	if (a.domain != NULL && !conf_is_local_domain(c, a.domain)) {
		cli_error("%s is not a [domain] of the config",
		    cli_escape(a.domain, esc, sizeof(esc)));
		r = CLI_EXIT_FAIL;
	} else if (a.check_tlsa)
		r = check_tlsa(c, a.cert);
	else
		r = cli_dns_records_print(c, a.domain, a.zone) == 0 ?
		    CLI_EXIT_OK : CLI_EXIT_FAIL;
	conf_free(c);
	return r;
}
