/* SPDX-License-Identifier: ISC */
/*
 * The configuration's public face: conf_load() (parse with conf_parse.c,
 * then the whole-file checks of conf_check.c), conf_free(), conf_print()
 * (the effective configuration as INI that conf_load() reads back to the
 * same values) and the lookups the daemon makes per connection. A loaded
 * struct conf is immutable; the caller owns it.
 */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/tls1.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_internal.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define CONF_DEFAULT_PATH	"/etc/sealmail/sealmail.conf"

int
conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	struct conf_parse p;
	char scratch[512], epath[256];

	*out = NULL;
	if (err == NULL || errlen == 0) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	p.c = xcalloc(1, sizeof(*p.c));
	p.c->path = xstrdup(path);
	conf_check_defaults(p.c);
	p.fp = fopen(path, "re");
	if (p.fp == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s",
		    log_escape(path, strlen(path), epath, sizeof(epath)),
		    strerror(errno));
		goto fail;
	}
	if (conf_parse_run(&p) == -1 || conf_check_all(&p) == -1)
		goto fail;
	fclose(p.fp);
	free(p.listener_line);
	*out = p.c;
	return 0;
fail:
	if (p.fp != NULL)
		fclose(p.fp);
	free(p.listener_line);
	conf_free(p.c);
	return -1;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->hostname);
	free(c->data_dir);
	free(c->user);
	free(c->submit_socket);
	free(c->trusted_networks);
	for (size_t i = 0; i < c->ndnsbl; i++)
		free(c->dnsbl[i].zone);
	free(c->dnsbl);
	for (size_t i = 0; i < c->ncerts; i++) {
		free(c->certs[i].cert);
		free(c->certs[i].key);
	}
	free(c->certs);
	for (size_t i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].addrs);
		free(c->listeners[i].password_file);
		free(c->listeners[i].proxy_from);
	}
	free(c->listeners);
	for (size_t i = 0; i < c->ndomains; i++) {
		free(c->domains[i].name);
		for (size_t j = 0; j < c->domains[i].ndkim; j++) {
			free(c->domains[i].dkim[j].selector);
			free(c->domains[i].dkim[j].key);
		}
		free(c->domains[i].dkim);
		for (size_t j = 0; j < c->domains[i].nmta_sts_mx; j++)
			free(c->domains[i].mta_sts_mx[j]);
		free(c->domains[i].mta_sts_mx);
	}
	free(c->domains);
	for (size_t i = 0; i < c->npolicies; i++) {
		free(c->policies[i].name);
		for (size_t j = 0; j < c->policies[i].nmx_match; j++)
			free(c->policies[i].mx_match[j]);
		free(c->policies[i].mx_match);
	}
	free(c->policies);
	conf_milter_free(c);
	conf_store_free(c);
	free(c->delivery_lmtp_target);
	free(c->relayhost);
	free(c->relayhost_credentials);
	free(c->relayhost_ca);
	free(c->passdb_socket);
	free(c->tls_ca);
	free(c->retry_schedule);
	free(c->dns_resolver);
	free(c->dns_trust_anchor);
	free(c->dns_unbound_config);
	free(c->reports_from);
	free(c->reports_org_name);
	for (size_t i = 0; i < c->nreports_inbox; i++)
		free(c->reports_inbox[i]);
	free(c->reports_inbox);
	for (size_t i = 0; i < c->nlookalike_protect; i++)
		free(c->lookalike_protect[i]);
	free(c->lookalike_protect);
	free(c);
}

void
conf_problem(char *out, size_t len, const char *file, unsigned line,
    const char *sec, const char *key, const char *problem)
{
	char path[256];

	log_escape(file, strlen(file), path, sizeof(path));
	if (sec != NULL && key != NULL)
		snprintf(out, len, "%s:%u: %s %s: %s", path, line, sec, key,
		    problem);
	else if (sec != NULL)
		snprintf(out, len, "%s:%u: %s: %s", path, line, sec, problem);
	else
		snprintf(out, len, "%s:%u: %s", path, line, problem);
}

/* ---- printing ----------------------------------------------------------- */

/* "key = s" or "key =" for NULL/empty. */
static void
conf_print_str(FILE *fp, const char *key, const char *s)
{
	if (s == NULL || *s == '\0')
		fprintf(fp, "%s =\n", key);
	else
		fprintf(fp, "%s = %s\n", key, s);
}

/*
 * One item of a list value. Long lists wrap onto indented continuation
 * lines, which conf_load reads as more items of the same key; this keeps
 * every line inside inih's line buffer.
 */
static void
conf_print_item(FILE *fp, size_t *col, size_t i, const char *item)
{
	size_t n = strlen(item);

	if (i == 0) {
		fprintf(fp, " %s", item);
		*col += 1 + n;
	} else if (*col + 2 + n > CONF_PRINT_WRAP) {
		fprintf(fp, ",\n\t%s", item);
		*col = 8 + n;
	} else {
		fprintf(fp, ", %s", item);
		*col += 2 + n;
	}
}

void
conf_print_hostname(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_print_str(fp, k->name, ((const struct conf *)base)->hostname);
}

void
conf_print_recipient_delimiter(FILE *fp, const void *base,
    const struct conf_key *k)
{
	conf_print_str(fp, k->name,
	    ((const struct conf *)base)->recipient_delimiter);
}

void
conf_print_user(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_print_str(fp, k->name, ((const struct conf *)base)->user);
}

void
conf_print_workers(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %u\n", k->name, ((const struct conf *)base)->workers);
}

void
conf_print_network_list(FILE *fp, const char *name,
    const struct conf_network *nets, size_t n)
{
	size_t col = strlen(name) + 2;
	char text[64];

	fprintf(fp, "%s =", name);
	for (size_t i = 0; i < n; i++) {
		conf_network_to_text(&nets[i], text, sizeof(text));
		conf_print_item(fp, &col, i, text);
	}
	fputc('\n', fp);
}

void
conf_print_networks(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	conf_print_network_list(fp, k->name, c->trusted_networks,
	    c->ntrusted_networks);
}

void
conf_print_dnsbl(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	if (c->ndnsbl == 0)
		fprintf(fp, "%s =\n", k->name);
	for (size_t i = 0; i < c->ndnsbl; i++) {
		const struct conf_dnsbl *d = &c->dnsbl[i];
		size_t col = strlen(k->name) + 2;
		char text[300], a[INET_ADDRSTRLEN];

		fprintf(fp, "%s =", k->name);
		snprintf(text, sizeof(text), "%s", d->zone);
		for (size_t j = 0; j < d->ncodes; j++) {
			struct in_addr in = { htonl(d->codes[j]) };

			inet_ntop(AF_INET, &in, a, sizeof(a));
			if (j == 0) {
				size_t l = strlen(text);
				snprintf(text + l, sizeof(text) - l, "=%s", a);
				conf_print_item(fp, &col, 0, text);
			} else
				conf_print_item(fp, &col, j, a);
		}
		if (d->ncodes == 0)
			conf_print_item(fp, &col, 0, text);
		fputc('\n', fp);
	}
}

void
conf_print_bare_newline(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name,
	    ((const struct conf *)base)->bare_newline ==
	    CONF_BARE_NEWLINE_REJECT ? "reject" : "normalize");
}

void
conf_print_certs(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	(void)k;
	if (c->ncerts == 0)
		fprintf(fp, "; no cert/key pairs\n");
	for (size_t i = 0; i < c->ncerts; i++) {
		conf_print_str(fp, "cert", c->certs[i].cert);
		conf_print_str(fp, "key", c->certs[i].key);
	}
}

void
conf_print_min_version(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name,
	    ((const struct conf *)base)->min_version == TLS1_3_VERSION ?
	    "TLSv1.3" : "TLSv1.2");
}

void
conf_print_address(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_listener *l = base;
	size_t col = strlen(k->name) + 2;

	fprintf(fp, "%s =", k->name);
	for (size_t i = 0; i < l->naddrs; i++)
		conf_print_item(fp, &col, i, l->addrs[i].text);
	fputc('\n', fp);
}

void
conf_print_role(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name,
	    conf_role_name(((const struct conf_listener *)base)->role));
}

const char *
conf_role_name(enum conf_role r)
{
	static const char *names[] = {
		[CONF_ROLE_MX] = "mx",
		[CONF_ROLE_SUBMISSION] = "submission",
		[CONF_ROLE_HTTPS] = "https",
		[CONF_ROLE_ADMIN] = "admin",
	};

	return names[r];
}

const char *
conf_sts_mode_name(enum conf_sts_mode m)
{
	static const char *names[] = {
		[CONF_STS_TESTING] = "testing",
		[CONF_STS_ENFORCE] = "enforce",
		[CONF_STS_NONE] = "none",
	};

	return names[m];
}

void
conf_print_domain_sts(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name,
	    conf_sts_mode_name(((const struct conf_domain *)base)->mta_sts));
}

void
conf_print_sts_mx(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_domain *d = base;
	size_t col = strlen(k->name) + 2;

	fprintf(fp, "%s =", k->name);
	for (size_t i = 0; i < d->nmta_sts_mx; i++)
		conf_print_item(fp, &col, i, d->mta_sts_mx[i]);
	if (d->nmta_sts_mx == 0)
		fprintf(fp, "\t; the [server] hostname");
	fputc('\n', fp);
}

void
conf_print_passdb(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	if (c->passdb == CONF_PASSDB_DOVECOT)
		fprintf(fp, "%s = dovecot:%s\n", k->name, c->passdb_socket);
	else
		fprintf(fp, "%s = internal\n", k->name);
}

void
conf_print_tls(FILE *fp, const void *base, const struct conf_key *k)
{
	static const char *names[] = {
		[CONF_TLS_STARTTLS] = "starttls",
		[CONF_TLS_IMPLICIT] = "implicit",
		[CONF_TLS_NONE] = "none",
	};

	fprintf(fp, "%s = %s\n", k->name,
	    names[((const struct conf_listener *)base)->tls]);
}

/* Every dkim_selector with its dkim_key right after it, in file order. */
void
conf_print_dkim(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_domain *d = base;

	(void)k;
	if (d->ndkim == 0)
		fprintf(fp, "; no dkim_selector/dkim_key pairs\n");
	for (size_t i = 0; i < d->ndkim; i++) {
		conf_print_str(fp, "dkim_selector", d->dkim[i].selector);
		conf_print_str(fp, "dkim_key", d->dkim[i].key);
	}
}

void
conf_print_local(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	switch (c->delivery_local) {
	case CONF_LOCAL_MAILDIR:
		fprintf(fp, "%s = maildir\n", k->name);
		break;
	case CONF_LOCAL_LMTP_UNIX:
		fprintf(fp, "%s = lmtp:unix:%s\n", k->name,
		    c->delivery_lmtp_target);
		break;
	case CONF_LOCAL_LMTP_INET:
		fprintf(fp, "%s = lmtp:%s\n", k->name,
		    c->delivery_lmtp_target);
		break;
	}
}

void
conf_print_relayhost(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_print_str(fp, k->name, ((const struct conf *)base)->relayhost);
}

void
conf_print_reports_from(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_print_str(fp, k->name, ((const struct conf *)base)->reports_from);
}

void
conf_print_org_name(FILE *fp, const void *base, const struct conf_key *k)
{
	conf_print_str(fp, k->name,
	    ((const struct conf *)base)->reports_org_name);
}

void
conf_print_inbox(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	conf_print_strv(fp, k->name, (const char *const *)c->reports_inbox,
	    c->nreports_inbox);
}

void
conf_print_strv(FILE *fp, const char *name, const char *const *items,
    size_t n)
{
	size_t col = strlen(name) + 2;

	fprintf(fp, "%s =", name);
	for (size_t i = 0; i < n; i++)
		conf_print_item(fp, &col, i, items[i]);
	fputc('\n', fp);
}

void
conf_print_protect(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf *c = base;

	conf_print_strv(fp, k->name, (const char *const *)c->lookalike_protect,
	    c->nlookalike_protect);
}

const char *
conf_lookalike_action_name(enum conf_lookalike_action a)
{
	switch (a) {
	case CONF_LOOKALIKE_HEADER: return "header";
	case CONF_LOOKALIKE_TAG: return "tag";
	case CONF_LOOKALIKE_JUNK: return "junk";
	}
	return "header";
}

void
conf_print_lookalike_action(FILE *fp, const void *base,
    const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name, conf_lookalike_action_name(
	    ((const struct conf *)base)->lookalike_action));
}

void
conf_print_retry_schedule(FILE *fp, const void *base,
    const struct conf_key *k)
{
	const struct conf *c = base;
	size_t col = strlen(k->name) + 2;
	char text[32];

	fprintf(fp, "%s =", k->name);
	for (size_t i = 0; i < c->nretry_schedule; i++) {
		conf_duration_to_text(c->retry_schedule[i], text, sizeof(text));
		conf_print_item(fp, &col, i, text);
	}
	fputc('\n', fp);
}

void
conf_print_resolver(FILE *fp, const void *base, const struct conf_key *k)
{
	const char *s = ((const struct conf *)base)->dns_resolver;
	size_t col = strlen(k->name) + 2, i = 0;
	char item[128];

	fprintf(fp, "%s =", k->name);
	/* dns_resolver is ", "-joined by the parser; rewrap it. */
	while (s != NULL && *s != '\0') {
		size_t n = strcspn(s, ",");

		snprintf(item, sizeof(item), "%.*s", (int)n, s);
		conf_print_item(fp, &col, i++, item);
		s += n;
		s += strspn(s, ", ");
	}
	fputc('\n', fp);
}

const char *
conf_tls_policy_name(enum conf_tls_policy p)
{
	static const char *const names[] = {
		[CONF_TLSPOL_AUTO] = "auto",
		[CONF_TLSPOL_NONE] = "none",
		[CONF_TLSPOL_MAY] = "may",
		[CONF_TLSPOL_ENCRYPT] = "encrypt",
		[CONF_TLSPOL_VERIFY] = "verify",
		[CONF_TLSPOL_DANE] = "dane",
		[CONF_TLSPOL_DANE_ONLY] = "dane-only",
	};

	return names[p];
}

void
conf_print_policy_tls(FILE *fp, const void *base, const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name, conf_tls_policy_name(
	    ((const struct conf_policy *)base)->tls));
}

void
conf_print_mx_match(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_policy *pol = base;
	size_t col = strlen(k->name) + 2;

	fprintf(fp, "%s =", k->name);
	for (size_t i = 0; i < pol->nmx_match; i++)
		conf_print_item(fp, &col, i, pol->mx_match[i]);
	fputc('\n', fp);
}

/* Keys of a generic type. */
static void
conf_print_key(FILE *fp, const void *base, const struct conf_key *k)
{
	const void *field = (const char *)base + k->off;
	char text[32];

	switch (k->type) {
	case CONF_T_UINT:
		fprintf(fp, "%s = %u\n", k->name, *(const unsigned *)field);
		break;
	case CONF_T_SIZE:
		fprintf(fp, "%s = %zu\n", k->name, *(const size_t *)field);
		break;
	case CONF_T_DURATION:
		conf_duration_to_text(*(const unsigned *)field, text,
		    sizeof(text));
		fprintf(fp, "%s = %s\n", k->name, text);
		break;
	case CONF_T_BOOL:
		fprintf(fp, "%s = %s\n", k->name,
		    *(const bool *)field ? "yes" : "no");
		break;
	case CONF_T_PATH:
		conf_print_str(fp, k->name, *(char *const *)field);
		break;
	case CONF_T_CUSTOM:
		if (k->print != NULL)
			k->print(fp, base, k);
		break;
	}
}

static void
conf_print_section(FILE *fp, const struct conf_section *s, const char *name,
    const void *base)
{
	if (name != NULL)
		fprintf(fp, "\n[%s \"%s\"]\n", s->name, name);
	else
		fprintf(fp, "\n[%s]\n", s->name);
	for (size_t i = 0; i < s->nkeys; i++)
		conf_print_key(fp, base, &s->keys[i]);
}

void
conf_print(const struct conf *c, FILE *fp)
{
	char path[256];

	fprintf(fp, "; sealmail configuration loaded from %s, with defaults\n",
	    log_escape(c->path, strlen(c->path), path, sizeof(path)));
	for (size_t i = 0; i < CONF_SEC_COUNT; i++) {
		const struct conf_section *s = &conf_sections[i];

		if (s->kind == CONF_SEC_LISTEN) {
			for (size_t j = 0; j < c->nlisteners; j++)
				conf_print_section(fp, s, c->listeners[j].name,
				    &c->listeners[j]);
		} else if (s->kind == CONF_SEC_DOMAIN) {
			for (size_t j = 0; j < c->ndomains; j++)
				conf_print_section(fp, s, c->domains[j].name,
				    &c->domains[j]);
		} else if (s->kind == CONF_SEC_POLICY) {
			for (size_t j = 0; j < c->npolicies; j++)
				conf_print_section(fp, s, c->policies[j].name,
				    &c->policies[j]);
		} else if (s->kind == CONF_SEC_MILTER) {
			for (size_t j = 0; j < c->nmilters; j++)
				conf_print_section(fp, s, c->milters[j].name,
				    &c->milters[j]);
		} else {
			conf_print_section(fp, s, NULL, c);
		}
	}
}

/* ---- lookups ------------------------------------------------------------ */

bool
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < c->ndomains; i++)
		if (strlen(c->domains[i].name) == n &&
		    strncasecmp(c->domains[i].name, domain, n) == 0)
			return true;
	return false;
}

bool
conf_network_match(const struct conf_network *n, const unsigned char *addr)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (memcmp(n->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (n->addr[full] & mask) == (addr[full] & mask);
}

const struct conf_policy *
conf_policy_for(const struct conf *c, const char *domain)
{
	const struct conf_policy *best = NULL;
	size_t n = strlen(domain), bestlen = 0;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < c->npolicies; i++) {
		const struct conf_policy *p = &c->policies[i];
		size_t pl = strlen(p->name);

		if (p->name[0] != '.') {
			if (pl == n && strncasecmp(p->name, domain, n) == 0)
				return p;
			continue;
		}
		/* ".example.com" ends "a.example.com", not "example.com". */
		if (pl < n && strncasecmp(p->name, domain + n - pl, pl) == 0 &&
		    pl > bestlen) {
			best = p;
			bestlen = pl;
		}
	}
	return best;
}

bool
conf_is_reports_inbox(const struct conf *c, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL)
		return false;
	for (size_t i = 0; i < c->nreports_inbox; i++) {
		const char *in = c->reports_inbox[i];
		const char *iat = strrchr(in, '@');

		if ((size_t)(iat - in) == (size_t)(at - address) &&
		    memcmp(in, address, (size_t)(at - address)) == 0 &&
		    strcasecmp(iat + 1, at + 1) == 0)
			return true;
	}
	return false;
}

bool
conf_is_trusted(const struct conf *c, const struct sockaddr *sa)
{
	return conf_networks_match(c->trusted_networks, c->ntrusted_networks,
	    sa);
}

bool
conf_networks_match(const struct conf_network *nets, size_t nnets,
    const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};
	unsigned char v6[16];
	const unsigned char *v4 = v6 + 12;
	bool has4 = false, has6 = false;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		memcpy(v6, mapped, sizeof(mapped));
		memcpy(v6 + 12, &sin.sin_addr, 4);
		has4 = has6 = true;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(v6, &sin6.sin6_addr, 16);
		has6 = true;
		/* A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d;
		 * they must match the IPv4 networks an admin writes. */
		has4 = memcmp(v6, mapped, sizeof(mapped)) == 0;
	}
	for (size_t i = 0; i < nnets; i++) {
		const struct conf_network *n = &nets[i];

		if ((n->family == AF_INET && has4 && conf_network_match(n, v4)) ||
		    (n->family == AF_INET6 && has6 &&
		    conf_network_match(n, v6)))
			return true;
	}
	return false;
}

const char *
conf_default_path(const char *opt)
{
	const char *env;

	if (opt != NULL && *opt != '\0')
		return opt;
	env = getenv("SEALMAIL_CONFIG");
	if (env != NULL && *env != '\0')
		return env;
	return CONF_DEFAULT_PATH;
}
