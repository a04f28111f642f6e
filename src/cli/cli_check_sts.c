/* SPDX-License-Identifier: ISC */
/* check-config: the certificates behind our MTA-STS policy (see
 * cli_check_sts.h). */
#include "cli/cli_check_sts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "core/xmalloc.h"
#include "net/tlsname.h"

#define CHECK_STS_PREFIX	"mta-sts."

struct check_sts {
	const struct conf	*c;
	X509			**certs;	/* per [tls] pair; NULL: unread */
	cli_check_sts_report	*report;
	void			*arg;
};

static void
check_sts_say(struct check_sts *k, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
check_sts_say(struct check_sts *k, unsigned line, const char *sec,
    const char *key, const char *fmt, ...)
{
	char text[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	k->report(k->arg, false, line, sec, key, text);
}

/* The [tls] pair the daemon presents for SNI name (net/tls.c: the first
 * whose certificate names it), or -1 when none names it. */
static int
check_sts_pair_for(const struct check_sts *k, const char *name)
{
	for (size_t i = 0; i < k->c->ncerts; i++)
		if (k->certs[i] != NULL && tlsname_match(k->certs[i], name))
			return (int)i;
	return -1;
}

static bool
check_sts_has_https(const struct conf *c)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].role == CONF_ROLE_HTTPS)
			return true;
	return false;
}

/* Which certificate serves name, and whether senders can accept it. */
static void
check_sts_name(struct check_sts *k, const struct conf_domain *d,
    const char *sec, const char *name, const char *what, bool enforce)
{
	int i = check_sts_pair_for(k, name);

	if (i == -1) {
		check_sts_say(k, 0, sec, NULL, "no [tls] certificate names %s "
		    "(%s)%s", name, what, enforce ? ": senders cannot "
		    "validate it, and mode enforce fails for them" : "");
		return;
	}
	if (enforce && X509_self_signed(k->certs[i], 0) == 1)
		check_sts_say(k, k->c->certs[i].cert_line, "[tls]", "cert",
		    "the certificate for %s (%s of %s, mta_sts = enforce) is "
		    "self-signed: senders will not accept it", name, what,
		    d->name);
}

static void
check_sts_domain(struct check_sts *k, const struct conf_domain *d)
{
	const struct conf *c = k->c;
	bool enforce = d->mta_sts == CONF_STS_ENFORCE;
	char sec[300], *host;

	snprintf(sec, sizeof(sec), "[domain \"%s\"]", d->name);
	host = xasprintf("%s%s", CHECK_STS_PREFIX, d->name);
	check_sts_name(k, d, sec, host, "the MTA-STS policy host", enforce);
	free(host);
	if (!enforce)
		return;
	/* The mx hosts that are this server: their SMTP certificate must
	 * pass the sender's checks too (RFC 8461 §4.1). */
	if (d->nmta_sts_mx == 0)
		check_sts_name(k, d, sec, c->hostname, "an mx of its policy",
		    true);
	for (size_t i = 0; i < d->nmta_sts_mx; i++) {
		const char *mx = d->mta_sts_mx[i];
		bool ours = strcasecmp(mx, c->hostname) == 0 ||
		    (strncmp(mx, "*.", 2) == 0 &&
		    (c->hostname[0] != '\0' && strchr(c->hostname, '.') &&
		    strcasecmp(strchr(c->hostname, '.') + 1, mx + 2) == 0));
		if (ours)
			check_sts_name(k, d, sec, c->hostname,
			    "an mx of its policy", true);
	}
}

void
cli_check_sts(const struct conf *c, cli_check_sts_report *report, void *arg)
{
	struct check_sts k = { .c = c, .report = report, .arg = arg };

	if (!check_sts_has_https(c))
		return;
	k.certs = xcalloc(c->ncerts ? c->ncerts : 1, sizeof(*k.certs));
	for (size_t i = 0; i < c->ncerts; i++) {
		FILE *fp = fopen(c->certs[i].cert, "re");
		if (fp == NULL)
			continue;
		k.certs[i] = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
		ERR_clear_error();
	}
	for (size_t i = 0; i < c->ndomains; i++)
		check_sts_domain(&k, &c->domains[i]);
	for (size_t i = 0; i < c->ncerts; i++)
		X509_free(k.certs[i]);
	free(k.certs);
}
