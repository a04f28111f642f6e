/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for msg/received. Golden files: tests/data/received/<case>.txt
 * holds one Received field as a server writes it (LF or CRLF), <case>.ref
 * the parse result dumped as "key: value" lines. Files are found from the
 * current directory, $SEALMAIL_SRCDIR or this file's path;
 * SEALMAIL_UPDATE_GOLDEN=1 rewrites the .ref files, for review in the diff.
 * Besides the golden cases: round trips through our own Received format,
 * dates, version names, the summary, and the limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "msg/received.h"
#include "msg/rfc5322_headers.h"
#include "smtpd/smtpd_received.h"

#define GOLDEN_DIR "tests/data/received"

static const char *const golden_names[] = {
	"postfix_tls13", "postfix_tls12", "postfix_plain",
	"postfix_submission", "postfix_pickup", "exim_tls13",
	"exim_tls12_old", "exim_local", "m365_internal", "m365_frontend",
	"m365_plain", "exchange2010_tls", "gmail_mx", "gmail_esmtps",
	"gmail_submission", "gmail_internal", "opensmtpd_kv",
	"opensmtpd_colon", "opensmtpd_local", "sendmail_tls",
	"rfc8314_clause", "esmtpa_plain", "forged_helo", "unknown_format",
	"ipv6_literal", "garbage", "sealmail_esmtpsa", "sealmail_hostile_helo",
	"sealmail_smtp",
};

static FILE *
golden_open(const char *name, const char *ext, const char *mode)
{
	const char *env = getenv("SEALMAIL_SRCDIR");
	char path[1024], here[1024];
	FILE *f;

	snprintf(here, sizeof(here), "%s", __FILE__);
	char *slash = strrchr(here, '/');
	if (slash)
		*slash = '\0';
	const char *bases[] = { env, ".", slash ? here : NULL };
	const char *suffix[] = { "", "", "/../.." };
	for (size_t i = 0; i < 3; i++) {
		if (bases[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s%s/" GOLDEN_DIR "/%s.%s",
		    bases[i], suffix[i], name, ext);
		if ((f = fopen(path, mode)) != NULL)
			return f;
	}
	fail_msg("golden file %s.%s not found (run from the repo root or "
	    "set SEALMAIL_SRCDIR)", name, ext);
	return NULL;
}

static size_t
golden_read(const char *name, const char *ext, char *out, size_t outlen)
{
	FILE *f = golden_open(name, ext, "rb");
	size_t n = fread(out, 1, outlen - 1, f);

	assert_true(feof(f));
	fclose(f);
	out[n] = '\0';
	return n;
}

static const char *const clause_names[] = {
	"none", "from", "by", "via", "with", "id", "for", "tls", "other",
	"date",
};

/* The parse result as "key: value" lines. */
static void
dump(const struct received_hop *h, enum received_result r, struct buf *b)
{
	static const struct { unsigned bit; const char *name; } ev[] = {
		{ RECEIVED_EV_PROTOCOL, "protocol" },
		{ RECEIVED_EV_TLS_CLAUSE, "tls-clause" },
		{ RECEIVED_EV_COMMENT, "comment" },
		{ RECEIVED_EV_MICROSOFT, "microsoft" },
		{ RECEIVED_EV_CONFLICT, "conflict" },
	};

	buf_printf(b, "result: %s\n", r == RECEIVED_OK ? "ok" : "syntax");
	buf_printf(b, "from: %s\nfrom_rdns: %s\nfrom_ip: %s\n", h->from,
	    h->from_rdns, h->from_ip);
	buf_printf(b, "by: %s\nvia: %s\nwith: %s\nid: %s\nfor: %s\n", h->by,
	    h->via, h->with, h->id, h->for_addr);
	buf_printf(b, "date: %s\n", h->date);
	if (h->when_valid)
		buf_printf(b, "when: %lld\n", (long long)h->when);
	else
		buf_printf(b, "when: invalid\n");
	buf_printf(b, "tls: %s\nevidence:", received_tls_to_text(h->tls));
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (h->evidence & ev[i].bit)
			buf_printf(b, " %s", ev[i].name);
	buf_printf(b, "\nversion: %s\ncipher: %s\ngroup: %s\nbits: %d\n",
	    h->tls_version, h->tls_cipher, h->tls_group, h->tls_bits);
	buf_printf(b, "authenticated: %d\nlocal: %d\nodd: %d\ntruncated: %d\n",
	    h->authenticated, h->local, h->odd, h->truncated);
	for (size_t i = 0; i < h->ncomments; i++)
		buf_printf(b, "comment[%s]: %s\n",
		    clause_names[h->comments[i].clause], h->comments[i].text);
}

/* Parse the one field of a golden .txt file. */
static enum received_result
parse_file(const char *name, struct received_hop *h)
{
	static char text[16384];
	size_t n = golden_read(name, "txt", text, sizeof(text));
	struct rfc5322_headers it;
	struct rfc5322_field f;

	rfc5322_headers_init(&it, text, n);
	assert_int_equal(rfc5322_headers_next(&it, &f), RFC5322_HEADERS_FIELD);
	assert_true(rfc5322_field_is(&f, "received"));
	enum received_result r = received_parse(f.value, f.value_len, h);
	assert_int_equal(rfc5322_headers_next(&it, &f), RFC5322_HEADERS_END);
	return r;
}

static void
test_received_golden(void **state)
{
	bool update = getenv("SEALMAIL_UPDATE_GOLDEN") != NULL;
	static char want[16384];
	static struct received_hop h;

	(void)state;
	for (size_t i = 0; i < sizeof(golden_names) / sizeof(golden_names[0]);
	    i++) {
		struct buf b;
		enum received_result r = parse_file(golden_names[i], &h);

		buf_init(&b, 65536);
		dump(&h, r, &b);
		if (update) {
			FILE *f = golden_open(golden_names[i], "ref", "wb");
			fwrite(b.data, 1, b.len, f);
			fclose(f);
		} else {
			size_t n = golden_read(golden_names[i], "ref", want,
			    sizeof(want));
			if (n != b.len || memcmp(want, b.data, n) != 0)
				fail_msg("%s: got\n%s", golden_names[i],
				    buf_cstr(&b));
		}
		buf_clear(&b);
	}
}

/* The facts the goldens must show, stated once more by hand. */
static void
test_received_verdicts(void **state)
{
	static const struct {
		const char		*name;
		enum received_tls	 tls;
		const char		*version;
		bool			 auth, local;
	} cases[] = {
		{ "postfix_tls13", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "postfix_tls12", RECEIVED_TLS_YES, "TLSv1.2", false, false },
		{ "postfix_plain", RECEIVED_TLS_NO, "", false, false },
		{ "postfix_submission", RECEIVED_TLS_YES, "TLSv1.3", true,
		    false },
		{ "postfix_pickup", RECEIVED_TLS_UNKNOWN, "", false, true },
		{ "exim_tls13", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "exim_tls12_old", RECEIVED_TLS_YES, "TLSv1.2", true, false },
		{ "exim_local", RECEIVED_TLS_UNKNOWN, "", false, true },
		{ "m365_internal", RECEIVED_TLS_YES, "TLSv1.2", false, false },
		{ "m365_frontend", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "m365_plain", RECEIVED_TLS_NO, "", false, false },
		{ "exchange2010_tls", RECEIVED_TLS_YES, "", false, false },
		{ "gmail_mx", RECEIVED_TLS_YES, "", false, false },
		{ "gmail_esmtps", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "gmail_submission", RECEIVED_TLS_YES, "TLSv1.3", true, false },
		{ "gmail_internal", RECEIVED_TLS_NO, "", false, true },
		{ "opensmtpd_kv", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "opensmtpd_colon", RECEIVED_TLS_YES, "TLSv1.2", false, false },
		{ "opensmtpd_local", RECEIVED_TLS_NO, "", false, true },
		{ "sendmail_tls", RECEIVED_TLS_YES, "TLSv1.3", false, false },
		{ "rfc8314_clause", RECEIVED_TLS_YES, "", true, false },
		{ "esmtpa_plain", RECEIVED_TLS_NO, "", true, false },
		{ "forged_helo", RECEIVED_TLS_NO, "", false, false },
		{ "unknown_format", RECEIVED_TLS_UNKNOWN, "", false, false },
		{ "sealmail_esmtpsa", RECEIVED_TLS_YES, "TLSv1.3", true, false },
		{ "sealmail_hostile_helo", RECEIVED_TLS_NO, "", false, false },
	};
	static struct received_hop h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_file(cases[i].name, &h), RECEIVED_OK);
		if (h.tls != cases[i].tls ||
		    strcmp(h.tls_version, cases[i].version) != 0 ||
		    h.authenticated != cases[i].auth ||
		    h.local != cases[i].local)
			fail_msg("%s: tls=%s version=%s auth=%d local=%d",
			    cases[i].name, received_tls_to_text(h.tls),
			    h.tls_version, h.authenticated, h.local);
	}
	assert_int_equal(parse_file("forged_helo", &h), RECEIVED_OK);
	assert_true(h.evidence & RECEIVED_EV_CONFLICT);
	assert_string_equal(h.by, "mx.example.org");
	assert_string_equal(h.with, "ESMTP");
	assert_string_equal(h.from_ip, "192.0.2.66");
	assert_true(h.odd);
	assert_int_equal(parse_file("garbage", &h), RECEIVED_ERR_SYNTAX);
	assert_int_equal(h.tls, RECEIVED_TLS_UNKNOWN);
}

/* Our own header, formatted by smtpd_received and read back. */
static void
test_received_roundtrip(void **state)
{
	struct smtpd_received_info ri = {
		.helo = "client.example", .esmtp = true,
		.rdns = "client.example", .addr = "2001:db8::7",
		.by = "mx.example.org", .qid = "Q1", .authenticated = true,
		.tls_version = "TLSv1.2",
		.tls_cipher = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		.tls_group = "secp384r1", .tls_bits = 256,
		.for_rcpt = "u@example.org", .when = 1715677200,
	};
	static struct received_hop h;

	(void)state;
	for (int variant = 0; variant < 4; variant++) {
		struct buf b;
		ri.tls_version = variant & 1 ? NULL : "TLSv1.2";
		ri.authenticated = variant & 2;
		ri.for_rcpt = variant & 2 ? NULL : "u@example.org";
		buf_init(&b, 4096);
		assert_int_equal(smtpd_received_format(&b, &ri), 0);
		assert_int_equal(received_parse((char *)b.data + 9, b.len - 9,
		    &h), RECEIVED_OK);
		assert_string_equal(h.from, "client.example");
		assert_string_equal(h.from_rdns, "client.example");
		assert_string_equal(h.from_ip, "2001:db8::7");
		assert_string_equal(h.by, "mx.example.org");
		assert_string_equal(h.id, "Q1");
		assert_true(h.when_valid && h.when == ri.when);
		assert_int_equal(h.authenticated, ri.authenticated);
		assert_false(h.local || h.odd || h.truncated);
		assert_string_equal(h.for_addr, ri.for_rcpt ? "<u@example.org>" :
		    "");
		if (ri.tls_version == NULL) {
			assert_int_equal(h.tls, RECEIVED_TLS_NO);
			assert_string_equal(h.tls_cipher, "");
		} else {
			assert_int_equal(h.tls, RECEIVED_TLS_YES);
			assert_string_equal(h.tls_version, "TLSv1.2");
			assert_string_equal(h.tls_cipher, ri.tls_cipher);
			assert_string_equal(h.tls_group, "secp384r1");
			assert_int_equal(h.tls_bits, 256);
		}
		buf_clear(&b);
	}
}

static void
test_received_dates(void **state)
{
	static const struct {
		const char	*s;
		long long	 want;	/* -1: invalid */
	} cases[] = {
		{ "Tue, 14 May 2024 09:21:07 +0200", 1715671267 },
		{ "14 May 2024 07:21:07 +0000", 1715671267 },
		{ "Tue , 14 may 2024 07:21 GMT", 1715671260 },
		{ "Tue, 14 May 2024 00:21:07 PDT", 1715671267 },
		{ "Tue, 14 May 24 07:21:07 +0000", 1715671267 },
		{ "Thu, 1 Jan 70 00:00:00 +0000", 0 },
		{ "Sat, 1 Jan 100 00:00:00 Z", 946684800 },
		{ "Thu, 29 Feb 2024 12:00:00 +0000", 1709208000 },
		{ "Wed, 29 Feb 2023 12:00:00 +0000", -1 },
		{ "Tue, 31 Apr 2024 12:00:00 +0000", -1 },
		{ "Tue, 14 May 2024 24:00:00 +0000", -1 },
		{ "Tue, 14 May 2024 09:21:07", -1 },
		{ "Tue, 14 May 2024 09:21:07 +02", -1 },
		{ "Tue, 14 May 2024 09:21:07 +0260", -1 },
		{ "Tue, 14 Foo 2024 09:21:07 +0000", -1 },
		{ "Tue 14 May 2024 09:21:07 +0000", -1 },
		{ "14 May 2024 09:21:07 +0000 junk", -1 },
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 12345;
		bool ok = received_date_parse(cases[i].s, strlen(cases[i].s),
		    &t);
		if (ok != (cases[i].want != -1) ||
		    (ok && (long long)t != cases[i].want))
			fail_msg("%s: ok=%d t=%lld", cases[i].s, ok,
			    (long long)t);
	}
}

static void
test_received_versions(void **state)
{
	static const char *const cases[][2] = {
		{ "TLSv1.3", "TLSv1.3" }, { "TLS1_3", "TLSv1.3" },
		{ "tls1.2", "TLSv1.2" }, { "TLSv1", "TLSv1.0" },
		{ "TLSv1_1", "TLSv1.1" }, { "SSLv3", "SSLv3" },
		{ "TLS", "" }, { "TLSv2.0", "" }, { "TLSv1.3x", "" },
		{ "SSLv3.1", "" }, { "QUIC", "" }, { "TLSv", "" },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = received_tls_version_normalize(cases[i][0],
		    strlen(cases[i][0]), out, sizeof(out));
		assert_int_equal(ok, cases[i][1][0] != '\0');
		assert_string_equal(out, cases[i][1]);
	}
}

static void
test_received_summary(void **state)
{
	static struct received_hop hops[5];
	struct received_summary s;

	(void)state;
	memset(hops, 0, sizeof(hops));
	hops[0].local = true;
	hops[1].tls = RECEIVED_TLS_YES;
	snprintf(hops[1].tls_version, sizeof(hops[1].tls_version), "TLSv1.2");
	hops[2].tls = RECEIVED_TLS_YES;
	snprintf(hops[2].tls_version, sizeof(hops[2].tls_version), "TLSv1.3");
	hops[3].tls = RECEIVED_TLS_YES;
	snprintf(hops[3].tls_version, sizeof(hops[3].tls_version), "SSLv3");
	hops[4].tls = RECEIVED_TLS_YES;
	received_summarize(hops, 5, &s);
	assert_int_equal(s.nhops, 5);
	assert_int_equal(s.nlocal, 1);
	assert_int_equal(s.nyes, 4);
	assert_int_equal(s.nno + s.nunknown, 0);
	assert_true(s.first_no == (size_t)-1 && s.first_unknown == (size_t)-1);
	assert_string_equal(s.versions, "TLS 1.3/1.2, SSL 3");
	hops[2].tls = RECEIVED_TLS_NO;
	hops[3].tls = RECEIVED_TLS_UNKNOWN;
	hops[4].tls = RECEIVED_TLS_NO;
	received_summarize(hops, 5, &s);
	assert_int_equal(s.nyes, 1);
	assert_int_equal(s.nno, 2);
	assert_int_equal(s.nunknown, 1);
	assert_int_equal(s.first_no, 2);
	assert_int_equal(s.first_unknown, 3);
	assert_string_equal(s.versions, "TLS 1.2");
	received_summarize(hops, 0, &s);
	assert_int_equal(s.nhops, 0);
	assert_string_equal(s.versions, "");
}

/* Bounds: a huge value, too many tokens, too many comments, long words. */
static void
test_received_limits(void **state)
{
	static char big[RECEIVED_MAX_VALUE * 2];
	static struct received_hop h;
	size_t n;

	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "from a by b with ESMTPS");
	while (n + 4 < sizeof(big)) {
		memcpy(big + n, " (c)", 4);
		n += 4;
	}
	assert_int_equal(received_parse(big, n, &h), RECEIVED_OK);
	assert_true(h.truncated);
	assert_int_equal(h.ncomments, RECEIVED_MAX_COMMENTS);
	assert_int_equal(h.tls, RECEIVED_TLS_YES);

	memset(big, 'x', sizeof(big));
	memcpy(big, "from ", 5);
	assert_int_equal(received_parse(big, sizeof(big), &h), RECEIVED_OK);
	assert_true(h.truncated);
	assert_int_equal(strlen(h.from), sizeof(h.from) - 1);

	/* Nested comments a hostile sender could use to recurse: none. */
	memset(big, '(', RECEIVED_MAX_VALUE);
	assert_int_equal(received_parse(big, RECEIVED_MAX_VALUE, &h),
	    RECEIVED_ERR_SYNTAX);
	/* Control bytes never reach the fields. */
	static const char ctl[] = "from a\x1b[31m by b\x01 with ESMTP; x";
	assert_int_equal(received_parse(ctl, sizeof(ctl) - 1, &h), RECEIVED_OK);
	assert_string_equal(h.from, "a?[31m");
	assert_string_equal(h.by, "b?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_received_golden),
		cmocka_unit_test(test_received_verdicts),
		cmocka_unit_test(test_received_roundtrip),
		cmocka_unit_test(test_received_dates),
		cmocka_unit_test(test_received_versions),
		cmocka_unit_test(test_received_summary),
		cmocka_unit_test(test_received_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
