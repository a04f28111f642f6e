/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for dmarc_agg_xml (report/dmarc_agg.c): the values of
 * an aggregate report come from the network (MAIL FROM, DKIM d= and s=,
 * the DMARC record), stored as they came. The input is cut at NUL bytes
 * into the record's and the policy's fields. Invariant: the XML written
 * is well-formed (libxml2 parses it back, no network, no entities) and
 * holds one <record> per input record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "core/buf.h"
#include "report/dmarc_agg.h"
#include "store/db.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS	18

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *f[NFIELDS];
	size_t n = 0, start = 0;
	struct buf out;
	xmlDocPtr doc;

	if (size > 65536)
		return 0;
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && n < NFIELDS; i++)
		if (i == size || copy[i] == '\0') {
			copy[i] = '\0';
			f[n++] = copy + start;
			start = i + 1;
		}
	while (n < NFIELDS)
		f[n++] = "";
	struct db_dmarc_policy pol = { .domain = f[0], .p = f[1], .sp = f[2],
	    .np = f[3], .adkim = f[4], .aspf = f[5], .fo = f[6], .rua = "",
	    .testing = size & 1 };
	struct db_dmarc_record rec[2] = { {
		.source_ip = f[7], .disposition = f[8], .header_from = f[9],
		.envelope_from = f[10], .policy = f[11], .dkim_domain = f[12],
		.dkim_selector = f[13], .dkim_result = f[14],
		.spf_domain = f[15], .spf_result = f[16],
		.dkim_aligned = size & 2, .spf_aligned = size & 4,
		.testing = size & 8, .count = (long long)size,
	} };
	rec[1] = rec[0];
	rec[1].header_from = f[17];
	struct dmarc_agg_meta m = { .org_name = f[9], .email = f[10],
	    .report_id = f[0], .begin = 0, .end = 86400 };
	buf_init(&out, 1 << 22);
	CHECK(dmarc_agg_xml(&m, &pol, rec, 2, &out) == 0);
	doc = xmlReadMemory((const char *)out.data, (int)out.len, "r.xml",
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	CHECK(doc != NULL);
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int records = 0;
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, "record") == 0)
			records++;
	CHECK(records == 2);
	xmlFreeDoc(doc);
	buf_clear(&out);
	free(copy);
	return 0;
}
