/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the MTA-STS policy we serve with a cluster's node
 * registry (sts/sts_serve.c): the input is the registry's MX names, one
 * per line, as other nodes wrote them into the shared store. Invariants:
 * the policy parses with our own reader (sts/sts_policy.h), in the mode
 * configured; its mx lines are this node's hostname and exactly the
 * names that are host names (cluster/cluster_node.h), lower-cased, each
 * once, sorted; so no name can add a line of another kind; the order of
 * the names does not change the text (every node serves the same).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster_node.h"
#include "sts/sts_policy.h"
#include "sts/sts_serve.h"
#include "fuzz_check.h"

/* Names taken from one input: fewer than a policy's mx maximum. */
#define FUZZ_NAMES	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c = { .hostname = "mx1.example.org" };
	struct conf_domain d = { .name = "example.org",
	    .mta_sts = CONF_STS_ENFORCE, .mta_sts_max_age = 86400 };
	char *copy = malloc(size + 1), *names[FUZZ_NAMES], *rev[FUZZ_NAMES];
	char *text, *text2, *line, *save = NULL;
	size_t n = 0, valid = 0;
	struct sts_policy p;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL && n < FUZZ_NAMES;
	    line = strtok_r(NULL, "\n", &save))
		names[n++] = line;
	text = sts_serve_policy(&c, &d, (const char *const *)names, n);
	CHECK(sts_policy_parse(text, strlen(text), &p, NULL, 0) == 0);
	CHECK(p.mode == STS_MODE_ENFORCE && p.max_age == 86400);
	CHECK(p.nmx >= 1);
	for (size_t i = 0; i < p.nmx; i++) {
		bool known = strcmp(p.mx[i], "mx1.example.org") == 0;

		for (size_t j = 0; !known && j < n; j++)
			known = cluster_valid_mx(names[j]) &&
			    strcasecmp(names[j], p.mx[i]) == 0;
		CHECK(known);
		CHECK(i == 0 || strcmp(p.mx[i - 1], p.mx[i]) < 0);
	}
	for (size_t j = 0; j < n; j++)
		if (cluster_valid_mx(names[j])) {
			valid++;
			CHECK(sts_policy_match_mx(&p, names[j]));
		}
	CHECK(p.nmx <= valid + 1);
	for (size_t j = 0; j < n; j++)
		rev[j] = names[n - 1 - j];
	text2 = sts_serve_policy(&c, &d, (const char *const *)rev, n);
	CHECK(strcmp(text, text2) == 0);
	sts_policy_clear(&p);
	free(text);
	free(text2);
	free(copy);
	return 0;
}
