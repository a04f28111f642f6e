/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for web/admin_status (the status page) and the
 * Prometheus label escaping of web/admin_prom. The input, split at NUL
 * bytes, gives the host name, a DMARC domain, a failed recipient and its
 * reason: text that comes from mail and DNS. Invariants: the page renders,
 * hostile text adds no markup (the page has exactly as many '<' as with
 * harmless text in its place), every '&' starts an entity, and an escaped
 * label value has no bare '"' or line feed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "store/db.h"
#include "web/admin_prom.h"
#include "web/admin_status.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
count(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static bool
entity(const char *p)
{
	static const char *const known[] = { "&amp;", "&lt;", "&gt;",
	    "&quot;", "&#39;", "&mdash;", "&middot;" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(p, known[i], strlen(known[i])) == 0)
			return true;
	return false;
}

static void
page(const char *f[4], struct buf *out)
{
	static struct metrics_snapshot s;
	struct db_dmarc_rate rate = { .pass = 1, .total = 2 };
	struct admin_status st = { .hostname = f[0], .snap = &s,
	    .rates = &rate, .nrates = 1 };

	memset(&s, 0, sizeof(s));
	s.now = 1700000000;
	s.nfailures = 1;
	snprintf(rate.domain, sizeof(rate.domain), "%s", f[1]);
	snprintf(s.failures[0].rcpt, sizeof(s.failures[0].rcpt), "%s", f[2]);
	snprintf(s.failures[0].reason, sizeof(s.failures[0].reason), "%s",
	    f[3]);
	CHECK(admin_status_render(&st, out) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	const char *f[4] = { "", "", "", "" }, *x[4] = { "x", "x", "x", "x" };
	struct buf a, b;
	size_t nf = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	f[nf++] = text;
	for (size_t i = 0; i < size && nf < 4; i++)
		if (text[i] == '\0')
			f[nf++] = text + i + 1;
	buf_init(&a, 1 << 22);
	buf_init(&b, 1 << 22);
	page(f, &a);
	page(x, &b);
	CHECK(count(buf_cstr(&a), '<') == count(buf_cstr(&b), '<'));
	CHECK(count(buf_cstr(&a), '>') == count(buf_cstr(&b), '>'));
	for (const char *p = buf_cstr(&a); (p = strchr(p, '&')) != NULL; p++)
		CHECK(entity(p));
	buf_reset(&a);
	CHECK(admin_prom_escape(&a, text) == 0);
	CHECK(strchr(buf_cstr(&a), '\n') == NULL);
	for (const char *p = buf_cstr(&a); *p; p++) {
		if (*p == '\\') {
			CHECK(p[1] == '\\' || p[1] == '"' || p[1] == 'n');
			p++;
		} else
			CHECK(*p != '"');
	}
	buf_clear(&a);
	buf_clear(&b);
	free(text);
	return 0;
}
