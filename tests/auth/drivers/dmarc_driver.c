/* SPDX-License-Identifier: ISC */
/*
 * Test driver for tests/auth/test_dmarc_dns.py: runs the real asynchronous
 * DMARC evaluation (dmarc_eval_sync) or BIMI discovery (bimi_lookup_sync)
 * against a resolver and prints one line of key=value results.
 *
 *   dmarc_driver RESOLVER UBCONF dmarc FROM_DOMAIN[,FROM_DOMAIN...]
 *       [spf=DOMAIN] [dkim=DOMAIN]... [dkimfail=DOMAIN]...
 *   dmarc_driver RESOLVER UBCONF bimi FROM_DOMAIN LOCALPART [SELECTOR]
 *
 * The bimi mode runs DMARC first (nothing authenticated but a DKIM pass
 * for the From domain), applies bimi_dmarc_eligible, then discovers.
 *
 * Built by the test (see test_dmarc_dns.py) with cc against
 * src/core, src/conf, src/dns, src/msg/{addr,idna}.c and
 * src/auth/{dmarc,dmarc_record,authres,bimi}.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/bimi.h"
#include "auth/dmarc.h"
#include "conf/conf.h"
#include "core/log.h"

static void
print_verdict(const struct dmarc_verdict *v)
{
	const struct dmarc_author *a = &v->author[0];

	printf("result=%s disposition=%s queries=%u", dmarc_result_name(
	    v->result), dmarc_disposition_name(v->disposition), v->nqueries);
	if (v->nauthors > 0)
		printf(" org=%s policy_domain=%s policy=%s source=%s "
		    "spf_aligned=%d dkim_aligned=%d testing=%d may_reject=%d",
		    a->org_domain[0] ? a->org_domain : "-",
		    a->policy_domain[0] ? a->policy_domain : "-",
		    dmarc_policy_name(a->policy),
		    a->source == DMARC_SOURCE_SP ? "sp" :
		    a->source == DMARC_SOURCE_NP ? "np" : "p",
		    a->spf_aligned, a->dkim_aligned, a->testing,
		    dmarc_verdict_may_reject(v));
	printf("\n");
}

static int
run_dmarc(const struct conf *c, int argc, char **argv)
{
	const char *from[DMARC_AUTHORS_MAX + 2];
	struct dmarc_dkim_input dk[8];
	struct dmarc_input in;
	struct dmarc_verdict *v;
	char *list = argv[0], *tok;
	int i;

	memset(&in, 0, sizeof(in));
	for (tok = strtok(list, ","); tok && in.nfrom < DMARC_AUTHORS_MAX + 2;
	    tok = strtok(NULL, ","))
		from[in.nfrom++] = tok;
	in.from_domains = from;
	in.dkim = dk;
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "spf=", 4) == 0) {
			in.spf_pass = true;
			in.spf_domain = argv[i] + 4;
		} else if (strncmp(argv[i], "dkim=", 5) == 0 && in.ndkim < 8) {
			dk[in.ndkim].domain = argv[i] + 5;
			dk[in.ndkim++].pass = true;
		} else if (strncmp(argv[i], "dkimfail=", 9) == 0 &&
		    in.ndkim < 8) {
			dk[in.ndkim].domain = argv[i] + 9;
			dk[in.ndkim++].pass = false;
		}
	}
	if (dmarc_eval_sync(c, &in, &v) == -1)
		return 1;
	print_verdict(v);
	dmarc_verdict_free(v);
	return 0;
}

static int
run_bimi(const struct conf *c, int argc, char **argv)
{
	const char *from = argv[0];
	struct dmarc_dkim_input dk = { from, true };
	struct dmarc_input in = { &from, 1, false, NULL, &dk, 1 };
	struct bimi_input bi;
	struct dmarc_verdict *v;
	struct bimi_outcome *o;
	const char *why;

	if (dmarc_eval_sync(c, &in, &v) == -1)
		return 1;
	if (!bimi_dmarc_eligible(v, 1, &why)) {
		printf("bimi=skipped reason=\"%s\"\n", why);
		dmarc_verdict_free(v);
		return 0;
	}
	bi.author_domain = from;
	bi.org_domain = v->author[0].org_domain;
	bi.local_part = argc > 1 ? argv[1] : NULL;
	bi.selector = argc > 2 ? argv[2] : NULL;
	if (bimi_lookup_sync(c, &bi, &o) == -1)
		return 1;
	printf("bimi=%s domain=%s selector=%s location=%s queries=%u\n",
	    bimi_result_name(o->result), o->domain[0] ? o->domain : "-",
	    o->selector[0] ? o->selector : "-",
	    o->record.l[0] ? o->record.l : "-", o->nqueries);
	bimi_outcome_free(o);
	dmarc_verdict_free(v);
	return 0;
}

int
main(int argc, char **argv)
{
	struct conf c;

	if (argc < 5) {
		fprintf(stderr, "usage: dmarc_driver RESOLVER UBCONF "
		    "dmarc|bimi ARGS...\n");
		return 2;
	}
	log_init("dmarc_driver", false, false);
	memset(&c, 0, sizeof(c));
	c.dns_resolver = argv[1];
	c.dns_unbound_config = argv[2];
	if (strcmp(argv[3], "dmarc") == 0)
		return run_dmarc(&c, argc - 4, argv + 4);
	if (strcmp(argv[3], "bimi") == 0)
		return run_bimi(&c, argc - 4, argv + 4);
	return 2;
}
