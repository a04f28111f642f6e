/* SPDX-License-Identifier: ISC */
/*
 * `sealmail check-domain DOMAIN [--selector S]... [--port N] [--timeout S]
 * [--json]`: does this domain's mail travel encrypted, and is it
 * protected? Gathers the facts (check/checkdom.h: DNS through [dns],
 * SMTP probes of every MX address on [delivery] mx_port or --port), then
 * prints one section each and the findings, or one JSON object (json-c).
 * Exit 0 without an error finding, 1 with one (or when the resolver
 * cannot be set up), 2 on a usage error.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check/checkdom.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/xmalloc.h"

#define CHECK_DOMAIN_USAGE "check-domain DOMAIN [--selector S]... " \
	"[--port N] [--timeout SECONDS] [--json]"

struct check_domain_args {
	const char	*domain;
	const char	*selectors[CHECKDOM_SELECTORS_MAX];
	size_t		 nselectors;
	unsigned	 port;		/* 0: mx_port */
	unsigned	 timeout_ms;
	bool		 json;
};

static int
check_domain_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	*out = strtoul(s, &end, 10);
	return *end == '\0' && *out > 0 && *out <= max ? 0 : -1;
}

static int
check_domain_parse(struct check_domain_args *a, int argc, char **argv)
{
	char esc[128];
	unsigned long n;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--json") == 0)
			a->json = true;
		else if (i + 1 < argc && strcmp(o, "--selector") == 0) {
			if (a->nselectors == CHECKDOM_SELECTORS_MAX) {
				cli_error("at most %d selectors",
				    CHECKDOM_SELECTORS_MAX);
				return -1;
			}
			a->selectors[a->nselectors++] = argv[++i];
		} else if (i + 1 < argc && strcmp(o, "--port") == 0) {
			if (check_domain_number(argv[++i], 65535, &n) == -1) {
				cli_error("--port needs 1..65535");
				return -1;
			}
			a->port = (unsigned)n;
		} else if (i + 1 < argc && strcmp(o, "--timeout") == 0) {
			if (check_domain_number(argv[++i], 300, &n) == -1) {
				cli_error("--timeout needs 1..300 seconds");
				return -1;
			}
			a->timeout_ms = (unsigned)n * 1000;
		} else if (o[0] == '-' || a->domain != NULL) {
			cli_error("unknown option, missing value or extra "
			    "argument: %s", cli_escape(o, esc, sizeof(esc)));
			return -1;
		} else
			a->domain = o;
	}
	if (a->domain == NULL) {
		cli_error("which domain?");
		return -1;
	}
	for (size_t i = 0; i < a->nselectors; i++)
		for (const char *p = a->selectors[i]; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
			    *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '_' || *p == '.') ||
			    strlen(a->selectors[i]) > 63) {
				cli_error("invalid selector: %s", cli_escape(
				    a->selectors[i], esc, sizeof(esc)));
				return -1;
			}
	return 0;
}

/* ---- text ------------------------------------------------------------- */

static const char *
yesno(bool b)
{
	return b ? "yes" : "no";
}

static void
text_tlsa(const struct checkdom_mx *m)
{
	printf("    TLSA %s: %s, DNSSEC %s\n", m->tlsa_name,
	    m->tlsa_rcode == DNS_RCODE_NOERROR ? (m->ntlsa ? "found" :
	    "none") : dns_rcode_name(m->tlsa_rcode), dns_sec_name(m->tlsa_sec));
	for (size_t i = 0; i < m->ntlsa; i++) {
		const struct checkdom_tlsa *t = &m->tlsa[i];
		printf("      %u %u %u ", t->usage, t->selector, t->mtype);
		for (size_t j = 0; j < t->len && j < 64; j++)
			printf("%02x", t->data[j]);
		printf("%s (%s)\n", t->len > 64 ? "..." : "",
		    checkdom_tlsa_usage_name(t->usage));
	}
}

static void
text_probe(const struct checkdom_probe *p)
{
	printf("    %s: PTR %s%s\n", p->address, p->ptr_found ? p->ptr :
	    "(none)", p->ptr_found ? (p->fcrdns ? " (forward-confirmed)" :
	    " (not forward-confirmed)") : "");
	if (p->greeting_code)
		printf("      greeting: %s\n", p->greeting);
	if (p->ehlo_ok)
		printf("      STARTTLS: %s\n", p->starttls ? "offered" :
		    "NOT offered");
	if (p->tls) {
		printf("      TLS: %s, %s\n", p->tls_version, p->cipher);
		for (size_t i = 0; i < p->nchain; i++)
			printf("      chain %zu: %s\n        issuer %s, not "
			    "after %s\n", i, p->chain[i].subject,
			    p->chain[i].issuer, p->chain[i].not_after);
		printf("      certificate: verified %s%s%s, name %s", yesno(
		    p->verified), p->verified ? "" : " - ", p->verify_error,
		    p->name_ok ? "matches" : "does not match");
		if (p->has_days)
			printf(", %ld days left", p->days_left);
		printf("\n");
		printf("      TLSA match: %s%s%s\n", p->dane_checked ?
		    yesno(p->dane_match) : "not checked (no usable record)",
		    p->dane_match ? ", " : "", p->dane_match ?
		    checkdom_tlsa_usage_name((uint8_t)p->dane_usage) : "");
		printf("      SPKI SHA-256: %s\n", p->spki_sha256);
		printf("      REQUIRETLS: %s\n", p->requiretls ? "offered" :
		    "not offered");
	}
	if (p->error[0])
		printf("      stopped: %s\n", p->error);
}

static void
text_mx(const struct checkdom *cd)
{
	printf("MX (DNSSEC %s)\n", dns_sec_name(cd->mx_sec));
	if (cd->mx_rcode != DNS_RCODE_NOERROR)
		printf("  lookup failed: %s\n", dns_rcode_name(cd->mx_rcode));
	if (cd->null_mx)
		printf("  null MX: the domain accepts no mail\n");
	if (cd->implicit_mx)
		printf("  no MX records: the domain itself (implicit MX)\n");
	for (size_t i = 0; i < cd->nmx; i++) {
		const struct checkdom_mx *m = &cd->mx[i];
		printf("  %u %s (addresses: %s, DNSSEC %s)\n", m->pref, m->host,
		    m->naddr ? "found" : dns_rcode_name(m->addr_rcode),
		    dns_sec_name(m->addr_sec));
		text_tlsa(m);
		for (size_t j = 0; j < m->naddr; j++)
			text_probe(&m->addr[j]);
	}
}

static void
text_rest(const struct checkdom *cd)
{
	const struct checkdom_sts *s = &cd->sts;
	printf("\nMTA-STS\n  TXT: %s\n", s->nrecords ? s->txt :
	    s->txt_error[0] ? s->txt_error : "(none)");
	if (s->fetched) {
		printf("  policy: mode %s, max_age %ld\n", s->mode, s->max_age);
		for (size_t i = 0; i < s->nmx; i++)
			printf("    mx: %s\n", s->mx[i]);
	} else if (s->fetch_tried)
		printf("  policy: not fetched (%s)\n", s->fetch_error);
	printf("\nTLS-RPT\n  %s\n", cd->tlsrpt.nrecords ? cd->tlsrpt.record :
	    "(none)");
	printf("\nSPF\n  %s\n", cd->spf.nrecords ? cd->spf.record : "(none)");
	if (cd->spf.nrecords)
		printf("  DNS lookups: %u%s (limit %d)\n", cd->spf.lookups,
		    cd->spf.incomplete ? "+" : "", CHECKDOM_SPF_LOOKUPS_MAX);
	const struct checkdom_dmarc *d = &cd->dmarc;
	printf("\nDMARC\n");
	if (d->found) {
		printf("  policy at _dmarc.%s: p=%s%s%s%s\n", d->policy_domain,
		    d->p[0] ? d->p : "(invalid)", d->sp[0] ? " sp=" : "", d->sp,
		    d->testing ? " (test mode)" : "");
		for (size_t i = 0; i < d->nrua; i++)
			printf("  rua: %s\n", d->rua[i]);
	} else
		printf("  %s\n", d->dns_error ? "(lookup failed)" : "(none)");
	if (d->org_domain[0])
		printf("  organizational domain: %s\n", d->org_domain);
	printf("\nDKIM\n");
	if (cd->ndkim == 0)
		printf("  (no --selector given)\n");
	for (size_t i = 0; i < cd->ndkim; i++) {
		const struct checkdom_dkim *k = &cd->dkim[i];
		if (k->valid && !k->revoked)
			printf("  %s: %s %u bits%s\n", k->selector, k->type,
			    k->bits, k->testing ? " (test mode)" : "");
		else
			printf("  %s: %s\n", k->selector, !k->found ?
			    "(no record)" : k->revoked ? "revoked" : k->error);
	}
	printf("\nBIMI\n  %s%s%s%s%s\n", cd->bimi.result,
	    cd->bimi.l[0] ? " l=" : "", cd->bimi.l, cd->bimi.reason[0] ?
	    ": " : "", cd->bimi.reason);
}

static void
text_print(const struct checkdom *cd)
{
	printf("Domain %s (port %u)\n\n", cd->domain, cd->port);
	text_mx(cd);
	text_rest(cd);
	printf("\nFindings\n");
	for (size_t i = 0; i < cd->nfindings; i++)
		printf("  %s: %s\n", checkdom_level_name(cd->findings[i].level),
		    cd->findings[i].text);
	if (cd->nfindings == 0)
		printf("  none\n");
}

/* ---- JSON ------------------------------------------------------------- */

static void
jstr(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL && v[0] != '\0' ?
	    json_object_new_string(v) : NULL);
}

static void
jbool(json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static void
jint(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *
jstrings(const char (*v)[CHECKDOM_TEXT], size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *
json_cert(const struct checkdom_probe *p)
{
	json_object *c = json_object_new_object(), *chain;

	jbool(c, "verified", p->verified);
	jstr(c, "error", p->verified ? NULL : p->verify_error);
	json_object_object_add(c, "days_left", p->has_days ?
	    json_object_new_int64(p->days_left) : NULL);
	jbool(c, "name_matches", p->name_ok);
	jstr(c, "spki_sha256", p->spki_sha256);
	chain = json_object_new_array();
	for (size_t i = 0; i < p->nchain; i++) {
		json_object *x = json_object_new_object();
		jstr(x, "subject", p->chain[i].subject);
		jstr(x, "issuer", p->chain[i].issuer);
		jstr(x, "not_after", p->chain[i].not_after);
		json_object_array_add(chain, x);
	}
	json_object_object_add(c, "chain", chain);
	return c;
}

static json_object *
json_probe(const struct checkdom_probe *p)
{
	json_object *o = json_object_new_object();

	jstr(o, "address", p->address);
	jstr(o, "ptr", p->ptr_found ? p->ptr : NULL);
	jbool(o, "forward_confirmed", p->fcrdns);
	jbool(o, "connected", p->connected);
	jstr(o, "greeting", p->greeting);
	jbool(o, "starttls", p->starttls);
	jstr(o, "tls_version", p->tls ? p->tls_version : NULL);
	jstr(o, "cipher", p->tls ? p->cipher : NULL);
	json_object_object_add(o, "certificate", p->tls ? json_cert(p) : NULL);
	jbool(o, "requiretls", p->requiretls);
	jbool(o, "tlsa_match", p->dane_match);
	jstr(o, "tlsa_match_usage", p->dane_match ?
	    checkdom_tlsa_usage_name((uint8_t)p->dane_usage) : NULL);
	jstr(o, "error", p->error);
	return o;
}

/* The host-level view the issue asks for: the first address that
 * completed a handshake speaks for the certificate and TLS version; the
 * booleans hold only if they hold for every address that answered. */
static void
json_mx_summary(json_object *o, const struct checkdom_mx *m)
{
	const struct checkdom_probe *tls = NULL;
	bool starttls = false, requiretls = false, match = false, any = false;

	for (size_t i = 0; i < m->naddr; i++) {
		const struct checkdom_probe *p = &m->addr[i];
		if (!p->ehlo_ok)
			continue;
		starttls = any ? starttls && p->starttls : p->starttls;
		requiretls = any ? requiretls && p->requiretls :
		    p->requiretls;
		match = any ? match && p->dane_match : p->dane_match;
		any = true;
		if (tls == NULL && p->tls)
			tls = p;
	}
	jbool(o, "starttls", starttls);
	jstr(o, "tls_version", tls ? tls->tls_version : NULL);
	jstr(o, "cipher", tls ? tls->cipher : NULL);
	json_object *c = json_object_new_object();
	jbool(c, "verified", tls ? tls->verified : false);
	jstr(c, "error", tls == NULL ? "no TLS session" : tls->verified ?
	    NULL : tls->verify_error);
	json_object_object_add(c, "days_left", tls && tls->has_days ?
	    json_object_new_int64(tls->days_left) : NULL);
	json_object_object_add(o, "certificate", c);
	jbool(o, "requiretls", requiretls);
	json_object *t = json_object_new_object(), *recs;
	recs = json_object_new_array();
	for (size_t i = 0; i < m->ntlsa; i++) {
		const struct checkdom_tlsa *r = &m->tlsa[i];
		json_object *x = json_object_new_object();
		/* Bounded: a TLSA RDATA is at most 64 KiB. */
		char *hex = xmalloc(2 * r->len + 1);
		hex[0] = '\0';
		for (size_t j = 0; j < r->len; j++)
			snprintf(hex + 2 * j, 3, "%02x", r->data[j]);
		jint(x, "usage", r->usage);
		jint(x, "selector", r->selector);
		jint(x, "matching_type", r->mtype);
		jstr(x, "data", hex);
		free(hex);
		json_object_array_add(recs, x);
	}
	jstr(t, "name", m->tlsa_name);
	json_object_object_add(t, "records", recs);
	jstr(t, "rcode", dns_rcode_name(m->tlsa_rcode));
	jstr(t, "dnssec", dns_sec_name(m->tlsa_sec));
	jbool(t, "match", any && match);
	json_object_object_add(o, "tlsa", t);
}

static json_object *
json_mx(const struct checkdom *cd)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < cd->nmx; i++) {
		const struct checkdom_mx *m = &cd->mx[i];
		json_object *o = json_object_new_object(), *addrs, *probes;
		jstr(o, "host", m->host);
		jint(o, "preference", m->pref);
		jstr(o, "mx_dnssec", dns_sec_name(cd->mx_sec));
		jstr(o, "addresses_dnssec", dns_sec_name(m->addr_sec));
		addrs = json_object_new_array();
		probes = json_object_new_array();
		for (size_t j = 0; j < m->naddr; j++) {
			json_object_array_add(addrs, json_object_new_string(
			    m->addr[j].address));
			json_object_array_add(probes, json_probe(&m->addr[j]));
		}
		json_object_object_add(o, "addresses", addrs);
		json_mx_summary(o, m);
		json_object_object_add(o, "probes", probes);
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *
json_sts(const struct checkdom *cd)
{
	const struct checkdom_sts *s = &cd->sts;
	json_object *o = json_object_new_object(), *p = NULL;

	jstr(o, "txt", s->nrecords ? s->txt : NULL);
	jstr(o, "id", s->id);
	if (s->fetched) {
		p = json_object_new_object();
		jstr(p, "mode", s->mode);
		jint(p, "max_age", s->max_age);
		json_object *mx = json_object_new_array();
		for (size_t i = 0; i < s->nmx; i++)
			json_object_array_add(mx, json_object_new_string(
			    s->mx[i]));
		json_object_object_add(p, "mx", mx);
	}
	json_object_object_add(o, "policy", p);
	jstr(o, "error", s->txt_error[0] ? s->txt_error : s->fetch_error);
	bool all = s->fetched;
	for (size_t i = 0; i < cd->nmx; i++)
		all = all && cd->mx[i].sts_match;
	json_object_object_add(o, "mx_match", s->fetched ?
	    json_object_new_boolean(all) : NULL);
	return o;
}

static json_object *
json_auth(const struct checkdom *cd, json_object *root)
{
	json_object *o = json_object_new_object();
	jstr(o, "record", cd->tlsrpt.nrecords ? cd->tlsrpt.record : NULL);
	jbool(o, "valid", cd->tlsrpt.valid);
	json_object_object_add(o, "rua", jstrings(cd->tlsrpt.rua,
	    cd->tlsrpt.nrua));
	json_object_object_add(root, "tls_rpt", o);

	o = json_object_new_object();
	jstr(o, "record", cd->spf.nrecords ? cd->spf.record : NULL);
	jbool(o, "valid", cd->spf.parsed && cd->spf.error[0] == '\0');
	jint(o, "lookups", cd->spf.lookups);
	jbool(o, "lookups_incomplete", cd->spf.incomplete);
	jint(o, "lookup_limit", CHECKDOM_SPF_LOOKUPS_MAX);
	jstr(o, "all", cd->spf.all);
	jstr(o, "error", cd->spf.error);
	json_object_object_add(root, "spf", o);

	const struct checkdom_dmarc *d = &cd->dmarc;
	o = json_object_new_object();
	jbool(o, "found", d->found);
	jstr(o, "policy_domain", d->policy_domain);
	jstr(o, "org_domain", d->org_domain);
	jstr(o, "p", d->p);
	jstr(o, "sp", d->sp);
	jbool(o, "testing", d->testing);
	json_object_object_add(o, "rua", jstrings(d->rua, d->nrua));
	json_object_object_add(root, "dmarc", o);

	json_object *a = json_object_new_array();
	for (size_t i = 0; i < cd->ndkim; i++) {
		const struct checkdom_dkim *k = &cd->dkim[i];
		o = json_object_new_object();
		jstr(o, "selector", k->selector);
		jbool(o, "found", k->found);
		jbool(o, "valid", k->valid);
		jstr(o, "type", k->type);
		json_object_object_add(o, "bits", k->bits ?
		    json_object_new_int64(k->bits) : NULL);
		jbool(o, "revoked", k->revoked);
		jstr(o, "error", k->error);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "dkim", a);

	o = json_object_new_object();
	jstr(o, "result", cd->bimi.result);
	jstr(o, "domain", cd->bimi.domain);
	jstr(o, "l", cd->bimi.l);
	jstr(o, "a", cd->bimi.a);
	jstr(o, "reason", cd->bimi.reason);
	json_object_object_add(root, "bimi", o);
	return root;
}

static int
json_print(const struct checkdom *cd)
{
	json_object *root = json_object_new_object(), *f;

	jstr(root, "domain", cd->domain);
	jint(root, "port", cd->port);
	jbool(root, "null_mx", cd->null_mx);
	jbool(root, "implicit_mx", cd->implicit_mx);
	json_object_object_add(root, "mx", json_mx(cd));
	json_object_object_add(root, "mta_sts", json_sts(cd));
	json_auth(cd, root);
	f = json_object_new_array();
	for (size_t i = 0; i < cd->nfindings; i++) {
		json_object *x = json_object_new_object();
		jstr(x, "level", checkdom_level_name(cd->findings[i].level));
		jstr(x, "text", cd->findings[i].text);
		json_object_array_add(f, x);
	}
	json_object_object_add(root, "findings", f);
	printf("%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

int
cli_check_domain(int argc, char **argv, const char *config)
{
	struct check_domain_args a = { 0 };
	struct conf *conf;
	char err[512], esc[LIMIT_DOMAIN * 4 + 1];
	int rc = CLI_EXIT_FAIL;

	if (check_domain_parse(&a, argc, argv) == -1)
		return cli_usage(CHECK_DOMAIN_USAGE);
	if (cli_load_conf(config, &conf) == -1)
		return CLI_EXIT_FAIL;
	struct checkdom *cd = checkdom_new(a.domain, a.port ? a.port :
	    conf->mx_port, a.timeout_ms);
	if (cd == NULL) {
		cli_error("not a domain name: %s", cli_escape(a.domain, esc,
		    sizeof(esc)));
		conf_free(conf);
		return CLI_EXIT_USAGE;
	}
	if (checkdom_collect(cd, conf, a.selectors, a.nselectors, err,
	    sizeof(err)) == -1) {
		cli_error("%s", err);
		goto out;
	}
	checkdom_findings(cd);
	if (a.json)
		json_print(cd);
	else
		text_print(cd);
	rc = cli_list_done();
	if (rc == CLI_EXIT_OK && checkdom_has_error(cd))
		rc = CLI_EXIT_FAIL;
out:
	checkdom_free(cd);
	conf_free(conf);
	return rc;
}
