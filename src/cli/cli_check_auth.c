/* SPDX-License-Identifier: ISC */
/*
 * `sealmail check-auth --ip IP --helo NAME --mail-from ADDR [FILE|-]
 * [--json]`: run the inbound authentication pipeline (auth/authcheck, the
 * same code the mx listener runs) on a message file, with DNS from the
 * configuration's [dns], and print the Authentication-Results field it
 * would add as the first line, then the Sealmail-Warning of a lookalike
 * sender (auth/lookalike_from.h, against the configuration's domains and
 * the store's correspondents when the store can be read). The message is
 * untrusted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/arc.h"
#include "auth/authcheck.h"
#include "auth/bimi.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_verify.h"
#include "auth/lookalike_from.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_msg.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "msg/idna.h"
#include "store/db.h"
#include "store/db.h"

#define CHECK_AUTH_USAGE "check-auth --ip IP --helo NAME --mail-from ADDR " \
	"[--json] [FILE|-]"

struct check_auth {
	const char		*ip, *helo, *mail_from, *path;
	bool			 json;
	struct sockaddr_storage	 ss;
};

static int
check_auth_args(struct check_auth *a, int argc, char **argv)
{
	char esc[128];

	a->path = "-";
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--json") == 0)
			a->json = true;
		else if (i + 1 < argc && strcmp(o, "--ip") == 0)
			a->ip = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--helo") == 0)
			a->helo = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--mail-from") == 0)
			a->mail_from = argv[++i];
		else if (o[0] == '-' && o[1] != '\0') {
			cli_error("unknown option or missing value: %s",
			    cli_escape(o, esc, sizeof(esc)));
			return -1;
		} else
			a->path = o;
	}
	if (a->ip == NULL || a->helo == NULL || a->mail_from == NULL) {
		cli_error("--ip, --helo and --mail-from are required");
		return -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (inet_pton(AF_INET, a->ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, a->ip, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else {
		cli_error("--ip %s: not an IPv4 or IPv6 address",
		    cli_escape(a->ip, esc, sizeof(esc)));
		return -1;
	}
	return 0;
}

static void
check_auth_done(struct authcheck *ac, void *arg)
{
	(void)ac;
	*(bool *)arg = true;
}

/* Split msg at the empty line and run the pipeline to its end. */
static void
check_auth_run(struct authcheck *ac, struct dns_sync_env *env,
    const struct buf *msg)
{
	const char *p = (const char *)msg->data;
	size_t hlen = cli_msg_header_len(msg);
	bool done = false;

	authcheck_headers(ac, p, hlen);
	if (hlen + 2 <= msg->len)
		authcheck_body(ac, p + hlen + 2, msg->len - hlen - 2);
	authcheck_finish(ac, check_auth_done, &done);
	dns_sync_run(env, &done);
}

/* The lookalike check as the mx listener makes it, with the store's
 * correspondents when the store opens (no store: the configuration's
 * domains only). */
static bool
check_auth_lookalike(const struct conf *conf, const struct authcheck *ac,
    const struct buf *msg, struct lookalike_hit *hit)
{
	char path[4096];
	struct db *db = NULL;
	struct lookalike_set *set;
	bool found;

	/* A SQLite store that is not there yet is no error here. */
	if (conf->store_backend == CONF_STORE_POSTGRESQL ||
	    (conf->data_dir != NULL && (size_t)snprintf(path, sizeof(path),
	    "%s/sealmail.db", conf->data_dir) < sizeof(path) &&
	    access(path, R_OK) == 0))
		db = cli_open_store(conf, false);
	set = lookalike_protected_set(conf, db);
	db_close(db);
	found = lookalike_from_message(set, (const char *)msg->data,
	    cli_msg_header_len(msg), authcheck_dmarc(ac), false, hit);
	lookalike_set_free(set);
	return found;
}

/* Print header fields one per line (folding undone), so the
 * Authentication-Results field is the first line of the output. */
static void
check_auth_print(const char *h)
{
	for (const char *p = h; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' ||
		    p[2] == '\t')) {
			putchar(' ');
			p += 2;
		} else if (*p != '\r')
			putchar(*p);
	}
}

/* After the fields, each internationalized Author Domain in both forms
 * ("DMARC author domain: bücher.example (xn--bcher-kva.example)"), or as
 * written with the reason it is not valid IDNA. */
static void
check_auth_print_idn(const struct dmarc_verdict *v)
{
	char shown[IDNA_DISPLAY_MAX];
	const char *d;

	for (size_t i = 0; v != NULL && i < v->nauthors; i++) {
		d = v->author[i].domain;
		if (idna_is_plain(d, strlen(d)))
			continue;
		idna_display(d, shown, sizeof(shown));
		printf("DMARC author domain: ");
		cli_put_text(shown);
		if (v->author[i].result == DMARC_RESULT_PERMERROR &&
		    v->author[i].reason != NULL)
			printf(": %s", v->author[i].reason);
		putchar('\n');
	}
}

static void
check_auth_json_kv(const char *k, const char *v, bool comma)
{
	printf("%s\"%s\": ", comma ? ", " : "", k);
	cli_json_str(v);
}

static void
check_auth_json(const struct authcheck *ac, const char *header,
    const struct lookalike_hit *hit)
{
	const struct spf_outcome *spf = authcheck_spf(ac);
	const struct dkim_verify *dk = authcheck_dkim(ac);
	const struct dmarc_verdict *dm = authcheck_dmarc(ac);
	const struct bimi_outcome *bi = authcheck_bimi(ac);
	char u[IDNA_DISPLAY_MAX];

	printf("{");
	check_auth_json_kv("authentication_results", header, false);
	printf(", \"spf\": {");
	check_auth_json_kv("result", spf_result_name(spf->result), false);
	check_auth_json_kv("domain", spf->domain, true);
	check_auth_json_kv("mechanism", spf->mechanism, true);
	check_auth_json_kv("explanation", spf->explanation, true);
	check_auth_json_kv("problem", spf->problem, true);
	printf("}, \"dkim\": [");
	for (size_t i = 0; dk && i < dkim_verify_count(dk); i++) {
		const struct dkim_result *r = dkim_verify_result(dk, i);
		printf("%s{", i ? ", " : "");
		check_auth_json_kv("result", dkim_res_name(r->res), false);
		check_auth_json_kv("reason", r->detail, true);
		check_auth_json_kv("d", r->d, true);
		check_auth_json_kv("s", r->s, true);
		check_auth_json_kv("a", dkim_alg_name(r->alg), true);
		printf("}");
	}
	const struct arc_verify *arc = authcheck_arc(ac);
	printf("], \"arc\": {");
	check_auth_json_kv("result", arc ? arc_result_name(
	    arc_verify_result(arc)) : "none", false);
	printf(", \"instances\": %u}", arc ? arc_verify_count(arc) : 0);
	printf(", \"dmarc\": {");
	check_auth_json_kv("result", dm ? dmarc_result_name(dm->result) :
	    "none", false);
	check_auth_json_kv("disposition", dmarc_disposition_name(
	    authcheck_disposition(ac)), true);
	printf(", \"authors\": [");
	for (size_t i = 0; dm && i < dm->nauthors; i++) {
		const struct dmarc_author *au = &dm->author[i];
		printf("%s{", i ? ", " : "");
		check_auth_json_kv("domain", au->domain, false);
		check_auth_json_kv("domain_unicode", idna_to_ulabels(
		    au->domain, u, sizeof(u), NULL) == 0 ? u : NULL, true);
		check_auth_json_kv("result", dmarc_result_name(au->result),
		    true);
		check_auth_json_kv("policy", au->has_record ?
		    dmarc_policy_name(au->policy) : NULL, true);
		check_auth_json_kv("org_domain", au->org_domain, true);
		check_auth_json_kv("reason", au->reason, true);
		printf(", \"spf_aligned\": %s, \"dkim_aligned\": %s}",
		    au->spf_aligned ? "true" : "false",
		    au->dkim_aligned ? "true" : "false");
	}
	printf("]}, \"bimi\": {");
	check_auth_json_kv("result", bi ? bimi_result_name(bi->result) :
	    "skipped", false);
	check_auth_json_kv("domain", bi ? bi->domain : NULL, true);
	printf("}, \"lookalike\": ");
	if (hit == NULL)
		printf("null");
	else {
		printf("{");
		check_auth_json_kv("from", hit->from, false);
		check_auth_json_kv("resembles", hit->resembles, true);
		check_auth_json_kv("reason", lookalike_reason_name(hit->reason),
		    true);
		printf("}");
	}
	printf("}\n");
}

int
cli_check_auth(int argc, char **argv, const char *config)
{
	struct check_auth a = { 0 };
	struct conf *conf;
	struct buf msg, hdr;
	char err[512];
	int rc = CLI_EXIT_FAIL;

	if (check_auth_args(&a, argc, argv) == -1)
		return cli_usage(CHECK_AUTH_USAGE);
	if (cli_load_conf(config, &conf) == -1)
		return CLI_EXIT_FAIL;
	struct dns_sync_env env;
	if (dns_sync_open(&env, conf, err, sizeof(err)) == -1) {
		cli_error("%s", err);
		conf_free(conf);
		return CLI_EXIT_FAIL;
	}
	if (cli_read_message(a.path, conf->max_message_size, &msg) == -1)
		goto out;
	struct authcheck_params p = {
		.authserv_id = conf->hostname,
		.ip = (const struct sockaddr *)&a.ss,
		.helo = a.helo,
		.mail_from = a.mail_from,
	};
	struct authcheck *ac = authcheck_new(env.base, env.res, &p);
	check_auth_run(ac, &env, &msg);
	struct lookalike_hit hit;
	bool lookalike = check_auth_lookalike(conf, ac, &msg, &hit);
	buf_init(&hdr, 64 * 1024);
	if (authcheck_format(ac, &hdr) == 0) {
		if (a.json)
			check_auth_json(ac, buf_cstr(&hdr), lookalike ? &hit :
			    NULL);
		else {
			if (lookalike)
				(void)lookalike_from_field(&hit, false, &hdr);
			check_auth_print(buf_cstr(&hdr));
			check_auth_print_idn(authcheck_dmarc(ac));
		}
		rc = CLI_EXIT_OK;
	} else
		cli_error("Authentication-Results does not fit");
	buf_clear(&hdr);
	authcheck_free(ac);
	buf_clear(&msg);
out:
	dns_sync_close(&env);
	conf_free(conf);
	return rc;
}
