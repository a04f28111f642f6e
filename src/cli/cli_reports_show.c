/* SPDX-License-Identifier: ISC */
/*
 * `sealmail reports dmarc|tls [--domain D] [--days N] [--json]`: the
 * reports received at our [reports] inbox addresses, as the store keeps
 * them (store/db_inreport.h). DMARC: per reporting organisation and
 * source IP, the message counts, DKIM/SPF results and alignment and the
 * disposition, sources failing alignment flagged; TLS: per sending
 * organisation, the sessions by result. Every stored field came from a
 * remote reporter: escaped for the terminal, made valid UTF-8 for JSON.
 */
#include "cli/cli.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/db_inreport.h"

#define CLI_REPORTS_USAGE "reports dmarc|tls [--domain D] [--days N] [--json]"
#define CLI_REPORTS_DAYS_DEFAULT	30
#define CLI_REPORTS_DAYS_MAX		36500

/* Escaped text for the terminal, in one of a few rotating buffers so a
 * printf may take several. */
static const char *
cli_reports_esc(const char *s)
{
	static char buf[4][4 * 1024 + 64];
	static unsigned k;

	k = (k + 1) % 4;
	return log_escape(s, strlen(s), buf[k], sizeof(buf[k]));
}

/* Length of the valid UTF-8 sequence at s, 0 if there is none. */
static size_t
cli_reports_utf8(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2 ?
	    2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 &&
	    s[0] <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string of s with bytes that are not UTF-8 as '?'. */
static json_object *
cli_reports_jstr(const char *s)
{
	char *c = xstrdup(s);
	json_object *o;

	for (unsigned char *p = (unsigned char *)c; *p != '\0';) {
		size_t n = cli_reports_utf8(p);
		if (n == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
	o = json_object_new_string(c);
	free(c);
	return o;
}

/* Unix seconds as RFC 3339 (iso) or "YYYY-MM-DD HH:MM" (UTC). */
static void
cli_reports_time(long long t, char *out, size_t outlen, bool iso)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, iso ?
	    "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(out, outlen, "%lld", t);
}

/* *sum += v, held at LLONG_MAX: counts are the reporters' (each up to
 * 10^18 or INT64_MAX), and a sum must not wrap. */
static void
cli_reports_add(long long *sum, long long v)
{
	*sum = v > 0 && *sum > LLONG_MAX - v ? LLONG_MAX : *sum + v;
}

/* Both policy_evaluated results other than pass: DMARC failed. */
static bool
cli_reports_unaligned(const struct in_dmarc_record *c)
{
	return strcasecmp(c->dkim, "pass") != 0 &&
	    strcasecmp(c->spf, "pass") != 0;
}

/* ---- DMARC ----------------------------------------------------------- */

static void
cli_reports_dmarc_json(const struct inreport *v, size_t n)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		const struct in_dmarc *d = &v[i].u.dmarc;
		json_object *o = json_object_new_object();
		json_object *recs = json_object_new_array();
		json_object_object_add(o, "org_name",
		    cli_reports_jstr(d->org_name));
		json_object_object_add(o, "report_id",
		    cli_reports_jstr(d->report_id));
		json_object_object_add(o, "begin",
		    json_object_new_int64(d->begin));
		json_object_object_add(o, "end", json_object_new_int64(d->end));
		json_object_object_add(o, "policy_domain",
		    cli_reports_jstr(d->policy_domain));
		json_object_object_add(o, "authenticated",
		    json_object_new_boolean(v[i].authenticated));
		for (size_t j = 0; j < d->nrec; j++) {
			const struct in_dmarc_record *c = &d->rec[j];
			json_object *r = json_object_new_object();
			json_object_object_add(r, "source_ip",
			    cli_reports_jstr(c->source_ip));
			json_object_object_add(r, "count",
			    json_object_new_int64(c->count));
			json_object_object_add(r, "disposition",
			    cli_reports_jstr(c->disposition));
			json_object_object_add(r, "header_from",
			    cli_reports_jstr(c->header_from));
			json_object_object_add(r, "dkim",
			    cli_reports_jstr(c->dkim));
			json_object_object_add(r, "spf",
			    cli_reports_jstr(c->spf));
			json_object_array_add(recs, r);
		}
		json_object_object_add(o, "records", recs);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "reports", arr);
	printf("%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* One source IP of one organisation, summed over its reports. */
struct cli_reports_src {
	const char	*org, *ip, *header_from;
	long long	 count, dkim_aligned, spf_aligned, dkim_pass, spf_pass;
	long long	 none, quarantine, reject, unaligned;
};

static struct cli_reports_src *
cli_reports_src_get(struct cli_reports_src **v, size_t *n, const char *org,
    const char *ip, const char *hfrom)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].org, org) == 0 && strcmp((*v)[i].ip,
		    ip) == 0 && strcasecmp((*v)[i].header_from, hfrom) == 0)
			return &(*v)[i];
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].org = org;
	(*v)[*n].ip = ip;
	(*v)[*n].header_from = hfrom;
	return &(*v)[(*n)++];
}

static void
cli_reports_src_add(struct cli_reports_src *s, const struct in_dmarc_record *c)
{
	cli_reports_add(&s->count, c->count);
	if (strcasecmp(c->dkim, "pass") == 0)
		cli_reports_add(&s->dkim_aligned, c->count);
	if (strcasecmp(c->spf, "pass") == 0)
		cli_reports_add(&s->spf_aligned, c->count);
	if (strcasecmp(c->dkim_result, "pass") == 0)
		cli_reports_add(&s->dkim_pass, c->count);
	if (strcasecmp(c->spf_result, "pass") == 0)
		cli_reports_add(&s->spf_pass, c->count);
	if (strcasecmp(c->disposition, "reject") == 0)
		cli_reports_add(&s->reject, c->count);
	else if (strcasecmp(c->disposition, "quarantine") == 0)
		cli_reports_add(&s->quarantine, c->count);
	else
		cli_reports_add(&s->none, c->count);
	if (cli_reports_unaligned(c))
		cli_reports_add(&s->unaligned, c->count);
}

static int
cli_reports_src_cmp(const void *a, const void *b)
{
	const struct cli_reports_src *x = a, *y = b;
	int c = strcmp(x->org, y->org);

	if (c == 0)
		c = strcmp(x->ip, y->ip);
	return c != 0 ? c : strcasecmp(x->header_from, y->header_from);
}

static void
cli_reports_dmarc_text(const struct inreport *v, size_t n, int days)
{
	struct cli_reports_src *src = NULL;
	size_t nsrc = 0;
	char b[32], e[32];

	printf("DMARC aggregate reports received, periods ending in the last "
	    "%d days: %zu\n", days, n);
	for (size_t i = 0; i < n; i++) {
		const struct in_dmarc *d = &v[i].u.dmarc;
		cli_reports_time(d->begin, b, sizeof(b), false);
		cli_reports_time(d->end, e, sizeof(e), false);
		printf("  report %s from %s about %s, %s to %s UTC, %s\n",
		    cli_reports_esc(d->report_id),
		    cli_reports_esc(d->org_name),
		    cli_reports_esc(d->policy_domain), b, e,
		    v[i].authenticated ? "authenticated (DMARC pass)" :
		    "NOT authenticated (the report did not pass DMARC)");
		for (size_t j = 0; j < d->nrec; j++)
			cli_reports_src_add(cli_reports_src_get(&src, &nsrc,
			    d->org_name, d->rec[j].source_ip,
			    d->rec[j].header_from), &d->rec[j]);
	}
	if (nsrc > 0)
		qsort(src, nsrc, sizeof(*src), cli_reports_src_cmp);
	const char *org = NULL;
	for (size_t i = 0; i < nsrc; i++) {
		const struct cli_reports_src *s = &src[i];
		if (org == NULL || strcmp(org, s->org) != 0) {
			org = s->org;
			printf("\norganisation: %s\n", cli_reports_esc(org));
		}
		printf("  source %s header_from=%s messages=%lld "
		    "dkim_pass=%lld dkim_aligned=%lld spf_pass=%lld "
		    "spf_aligned=%lld none=%lld quarantine=%lld "
		    "reject=%lld\n", cli_reports_esc(s->ip),
		    cli_reports_esc(s->header_from), s->count, s->dkim_pass,
		    s->dkim_aligned, s->spf_pass, s->spf_aligned, s->none,
		    s->quarantine, s->reject);
		if (s->unaligned > 0)
			printf("    WARNING: %lld message(s) failed DKIM and "
			    "SPF alignment: possible spoofing of %s\n",
			    s->unaligned, cli_reports_esc(s->header_from));
	}
	free(src);
}

/* ---- TLS ------------------------------------------------------------- */

static json_object *
cli_reports_tls_policy(const struct in_tls_policy *p)
{
	json_object *o = json_object_new_object();
	json_object *pol = json_object_new_object();
	json_object *sum = json_object_new_object();

	json_object_object_add(pol, "policy-type",
	    cli_reports_jstr(p->policy_type));
	json_object_object_add(pol, "policy-string",
	    cli_json_lines(p->policy_string, cli_reports_jstr));
	json_object_object_add(pol, "policy-domain",
	    cli_reports_jstr(p->policy_domain));
	if (p->mx_host[0] != '\0')
		json_object_object_add(pol, "mx-host",
		    cli_json_lines(p->mx_host, cli_reports_jstr));
	json_object_object_add(o, "policy", pol);
	json_object_object_add(sum, "total-successful-session-count",
	    json_object_new_int64(p->successful));
	json_object_object_add(sum, "total-failure-session-count",
	    json_object_new_int64(p->failed));
	json_object_object_add(o, "summary", sum);
	if (p->nfail == 0)
		return o;
	json_object *fd = json_object_new_array();
	for (size_t i = 0; i < p->nfail; i++) {
		const struct in_tls_failure *f = &p->fail[i];
		json_object *x = json_object_new_object();
		/* RFC 8460 §4.4's optional members, left out when empty. */
		const char *const opt[][2] = {
			{ "sending-mta-ip", f->sending_mta_ip },
			{ "receiving-mx-hostname", f->receiving_mx_hostname },
			{ "receiving-mx-helo", f->receiving_mx_helo },
			{ "receiving-ip", f->receiving_ip },
			{ "additional-information",
			    f->additional_information },
			{ "failure-reason-code", f->failure_reason_code },
		};
		json_object_object_add(x, "result-type",
		    cli_reports_jstr(f->result_type));
		json_object_object_add(x, "failed-session-count",
		    json_object_new_int64(f->failed_session_count));
		for (size_t k = 0; k < sizeof(opt) / sizeof(opt[0]); k++)
			cli_json_opt(x, opt[k][0], opt[k][1],
			    cli_reports_jstr);
		json_object_array_add(fd, x);
	}
	json_object_object_add(o, "failure-details", fd);
	return o;
}

static void
cli_reports_tls_json(const struct inreport *v, size_t n)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	char b[32], e[32];

	for (size_t i = 0; i < n; i++) {
		const struct in_tls *t = &v[i].u.tls;
		json_object *o = json_object_new_object();
		json_object *dr = json_object_new_object();
		json_object *pols = json_object_new_array();
		json_object_object_add(o, "organization-name",
		    cli_reports_jstr(t->org_name));
		cli_reports_time(t->begin, b, sizeof(b), true);
		cli_reports_time(t->end, e, sizeof(e), true);
		json_object_object_add(dr, "start-datetime",
		    json_object_new_string(b));
		json_object_object_add(dr, "end-datetime",
		    json_object_new_string(e));
		json_object_object_add(o, "date-range", dr);
		json_object_object_add(o, "contact-info",
		    cli_reports_jstr(t->contact_info));
		json_object_object_add(o, "report-id",
		    cli_reports_jstr(t->report_id));
		for (size_t j = 0; j < t->npol; j++)
			json_object_array_add(pols,
			    cli_reports_tls_policy(&t->pol[j]));
		json_object_object_add(o, "policies", pols);
		/* Not an RFC 8460 member: whether the report mail passed
		 * DMARC at our server. */
		json_object_object_add(o, "authenticated",
		    json_object_new_boolean(v[i].authenticated));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "reports", arr);
	printf("%s\n", json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* Sessions of one sending organisation, failures per result type. */
struct cli_reports_org {
	const char	*org;
	long long	 ok, failed;
	const char	**type;
	long long	*tcount;
	size_t		 ntype;
};

static void
cli_reports_org_add(struct cli_reports_org *o, const struct in_tls *t)
{
	for (size_t i = 0; i < t->npol; i++) {
		cli_reports_add(&o->ok, t->pol[i].successful);
		cli_reports_add(&o->failed, t->pol[i].failed);
		for (size_t j = 0; j < t->pol[i].nfail; j++) {
			const struct in_tls_failure *f = &t->pol[i].fail[j];
			size_t k;
			for (k = 0; k < o->ntype; k++)
				if (strcmp(o->type[k], f->result_type) == 0)
					break;
			if (k == o->ntype) {
				o->type = xreallocarray(o->type, k + 1,
				    sizeof(*o->type));
				o->tcount = xreallocarray(o->tcount, k + 1,
				    sizeof(*o->tcount));
				o->type[k] = f->result_type;
				o->tcount[k] = 0;
				o->ntype++;
			}
			cli_reports_add(&o->tcount[k],
			    f->failed_session_count);
		}
	}
}

static void
cli_reports_tls_text(const struct inreport *v, size_t n, int days)
{
	struct cli_reports_org *orgs = NULL;
	size_t norg = 0;
	char b[32], e[32];

	printf("TLS-RPT reports received, periods ending in the last %d "
	    "days: %zu\n", days, n);
	for (size_t i = 0; i < n; i++) {
		const struct in_tls *t = &v[i].u.tls;
		size_t k;
		cli_reports_time(t->begin, b, sizeof(b), false);
		cli_reports_time(t->end, e, sizeof(e), false);
		printf("  report %s from %s, %s to %s UTC, %s\n",
		    cli_reports_esc(t->report_id),
		    cli_reports_esc(t->org_name), b, e,
		    v[i].authenticated ? "authenticated (DMARC pass)" :
		    "NOT authenticated (the report did not pass DMARC)");
		for (k = 0; k < norg; k++)
			if (strcmp(orgs[k].org, t->org_name) == 0)
				break;
		if (k == norg) {
			orgs = xreallocarray(orgs, norg + 1, sizeof(*orgs));
			memset(&orgs[norg], 0, sizeof(*orgs));
			orgs[norg++].org = t->org_name;
		}
		cli_reports_org_add(&orgs[k], t);
	}
	for (size_t i = 0; i < norg; i++) {
		printf("\norganisation: %s\n  successful sessions: %lld\n"
		    "  failed sessions: %lld\n", cli_reports_esc(orgs[i].org),
		    orgs[i].ok, orgs[i].failed);
		for (size_t k = 0; k < orgs[i].ntype; k++)
			printf("    %s: %lld\n",
			    cli_reports_esc(orgs[i].type[k]),
			    orgs[i].tcount[k]);
		free(orgs[i].type);
		free(orgs[i].tcount);
	}
	free(orgs);
}

int
cli_reports_show(int argc, char **argv, const char *config)
{
	enum inreport_kind kind = strcmp(argv[0], "tls") == 0 ? INREPORT_TLS :
	    INREPORT_DMARC;
	const char *domain = NULL;
	int days = CLI_REPORTS_DAYS_DEFAULT;
	struct inreport *v;
	struct conf *c;
	struct db *db;
	bool json = false;
	size_t n;
	char *end;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			domain = argv[++i];
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
			long d = strtol(argv[++i], &end, 10);
			if (end == argv[i] || *end != '\0' || d < 1 ||
			    d > CLI_REPORTS_DAYS_MAX)
				return cli_usage(CLI_REPORTS_USAGE);
			days = (int)d;
		} else
			return cli_usage(CLI_REPORTS_USAGE);
	}
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	db = cli_open_store(c, false);
	conf_free(c);
	if (db == NULL)
		return CLI_EXIT_FAIL;
	if (db_inreport_list(db, kind, domain, (long long)time(NULL) -
	    (long long)days * 86400, &v, &n) != DB_OK) {
		cli_error("%s", db_error(db));
		db_close(db);
		return CLI_EXIT_FAIL;
	}
	db_close(db);
	if (kind == INREPORT_DMARC && json)
		cli_reports_dmarc_json(v, n);
	else if (kind == INREPORT_DMARC)
		cli_reports_dmarc_text(v, n, days);
	else if (json)
		cli_reports_tls_json(v, n);
	else
		cli_reports_tls_text(v, n, days);
	db_inreport_list_free(v, n);
	return cli_list_done();
}
