/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for auth/dmarc_record and the DMARC core. The input is
 * a DMARC record text. Invariants: the parse result agrees with
 * dmarc_record_is_dmarc; kept URIs are bounded, NUL-terminated and parse
 * again on their own; policy_invalid matches has_p and the error bits;
 * and a whole evaluation where every _dmarc name holds this record ends
 * within the query bounds with a consistent verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "core/xmalloc.h"
#include "dns/dns_rr.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uris(char uris[][DMARC_URI_MAX + 1], size_t n)
{
	struct dmarc_record r2;
	char txt[DMARC_URI_MAX + 32];
	size_t i;

	CHECK(n <= DMARC_URIS_MAX);
	for (i = 0; i < n; i++) {
		size_t l = strnlen(uris[i], DMARC_URI_MAX + 1);
		CHECK(l > 0 && l <= DMARC_URI_MAX);
		snprintf(txt, sizeof(txt), "v=DMARC1; rua=%s", uris[i]);
		CHECK(dmarc_record_parse(txt, strlen(txt), &r2) ==
		    DMARC_RECORD_OK);
		CHECK(r2.nrua == 1 && strcmp(r2.rua[0], uris[i]) == 0);
	}
}

static void
run_eval(const uint8_t *data, size_t size)
{
	const char *from = "a.b.c.d.e.f.g.h.i.example.com";
	struct dmarc_dkim_input dk = { "x.example.com", true };
	struct dmarc_input in = { &from, 1, true, "mail.example.com", &dk, 1 };
	struct dmarc_ctx *c = dmarc_ctx_new(&in);
	struct dmarc_need needs[4];
	struct dmarc_verdict *v;
	size_t n, i;
	int rounds = 0;

	while (dmarc_ctx_step(c, needs, 4, &n) == DMARC_STEP_NEED) {
		CHECK(n > 0 && ++rounds <= DMARC_QUERIES_MAX);
		for (i = 0; i < n; i++) {
			struct dns_answer *a = dns_answer_new();
			a->qtype = needs[i].type;
			if (needs[i].type == DNS_T_TXT) {
				a->rr = xcalloc(1, sizeof(*a->rr));
				a->rr[0].type = DNS_T_TXT;
				a->rr[0].u.txt.text = xmalloc(size + 1);
				memcpy(a->rr[0].u.txt.text, data, size);
				a->rr[0].u.txt.text[size] = '\0';
				a->rr[0].u.txt.len = size;
				a->nrr = 1;
			} else
				a->rcode = DNS_RCODE_NXDOMAIN;
			dmarc_ctx_feed(c, needs[i].name, needs[i].type, a);
			dns_answer_free(a);
		}
	}
	v = dmarc_ctx_take_verdict(c);
	CHECK(v != NULL && v->nauthors == 1);
	CHECK(v->nqueries <= DMARC_QUERIES_MAX);
	CHECK(v->result == v->author[0].result);
	if (v->result != DMARC_RESULT_FAIL)
		CHECK(v->disposition == DMARC_DISPOSITION_NONE);
	if (v->result == DMARC_RESULT_PASS || v->result == DMARC_RESULT_FAIL)
		CHECK(v->author[0].has_record);
	dmarc_verdict_free(v);
	dmarc_ctx_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	enum dmarc_record_result res;

	if (size > 4096)
		return 0;
	res = dmarc_record_parse((const char *)data, size, &r);
	CHECK((res == DMARC_RECORD_OK) ==
	    dmarc_record_is_dmarc((const char *)data, size));
	if (res != DMARC_RECORD_OK)
		return 0;
	check_uris(r.rua, r.nrua);
	check_uris(r.ruf, r.nruf);
	CHECK(r.pct >= -1 && r.pct <= 100);
	CHECK(r.fo != 0 && (r.fo & ~0xfu) == 0);
	if (!r.has_p)
		CHECK(r.policy_invalid);
	if (r.errors & (DMARC_ERR_SP | DMARC_ERR_NP))
		CHECK(r.policy_invalid);
	run_eval(data, size);
	return 0;
}
