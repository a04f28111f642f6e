/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for smtpd/smtpd_received. The headers are golden files in
 * tests/data/smtpd_received/<case>.ref (found from the current directory,
 * $SEALMAIL_SRCDIR or this file's path); SEALMAIL_UPDATE_GOLDEN=1
 * rewrites them, for review in the diff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_received.h"

#define GOLDEN_DIR "tests/data/smtpd_received"

/* Fri, 27 Nov 2026 21:25:48 +0000 */
#define WHEN_2026 ((time_t)1795814748)

static const struct golden_case {
	const char			*name;
	struct smtpd_received_info	 ri;
} golden_cases[] = {
	{ "esmtpsa_tls13", {
		.helo = "client.example", .esmtp = true,
		.rdns = "client.example", .addr = "192.0.2.1",
		.by = "mx.example.org", .qid = "4AbCdEfGh",
		.authenticated = true, .tls_version = "TLSv1.3",
		.tls_cipher = "TLS_AES_256_GCM_SHA384", .tls_group = "x25519",
		.tls_bits = 256, .for_rcpt = "user@example.org",
		.when = WHEN_2026 } },
	{ "esmtps_no_group", {
		.helo = "mail.sender.example", .esmtp = true,
		.rdns = "mail.sender.example", .addr = "198.51.100.7",
		.by = "mx.example.org", .qid = "Q1",
		.tls_version = "TLSv1.2",
		.tls_cipher = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		.tls_bits = 128, .for_rcpt = "a@example.org",
		.when = WHEN_2026 } },
	{ "smtp_ipv6_unknown", {
		.helo = "[IPv6:2001:db8::1]", .esmtp = false, .rdns = NULL,
		.addr = "2001:db8::1", .by = "mx.example.org", .qid = "Q2",
		.when = (time_t)1798761605 } },
	{ "esmtp_no_rcpt", {
		.helo = "h.example", .esmtp = true, .rdns = "h.example",
		.addr = "203.0.113.9", .by = "mx.example.org", .qid = "Q3",
		.when = (time_t)1709197500 } },
	{ "hostile_helo", {
		.helo = "evil (x) [y]\\ with ESMTPSA tls TLS_FAKE\r\n"
		    "X-Injected: 1\x01\xc3\xa9", .esmtp = true,
		.rdns = "bad(rdns)", .addr = "192.0.2.66]",
		.by = "mx.example.org", .qid = "Q4",
		.for_rcpt = "x>@y\r\nz", .when = WHEN_2026 } },
	{ "empty_helo_utf8_auth", {
		.helo = "", .esmtp = true, .rdns = NULL, .addr = "192.0.2.2",
		.by = "mx.example.org", .qid = "Q5", .authenticated = true,
		.tls_version = "TLSv1.3",
		.tls_cipher = "TLS_AES_128_GCM_SHA256",
		.tls_group = "X25519MLKEM768", .tls_bits = 128,
		.for_rcpt = "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
		.smtputf8 = true, .when = WHEN_2026 } },
	{ "no_helo_no_qid", {
		.helo = NULL, .esmtp = false, .rdns = NULL, .addr = "192.0.2.3",
		.by = "mx.example.org", .qid = NULL, .for_rcpt = "\xc3\xa9@x",
		.when = WHEN_2026 } },
};

/* Open the golden file for reading or writing. */
static FILE *
golden_open(const char *name, const char *mode)
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
		snprintf(path, sizeof(path), "%s%s/" GOLDEN_DIR "/%s.ref",
		    bases[i], suffix[i], name);
		if ((f = fopen(path, mode)) != NULL)
			return f;
	}
	fail_msg("golden file %s.ref not found (run from the repo root or "
	    "set SEALMAIL_SRCDIR)", name);
	return NULL;
}

static void
test_smtpd_received_golden(void **state)
{
	bool update = getenv("SEALMAIL_UPDATE_GOLDEN") != NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]);
	    i++) {
		const struct golden_case *g = &golden_cases[i];
		struct buf b;
		char want[4096];

		buf_init(&b, 4096);
		assert_int_equal(smtpd_received_format(&b, &g->ri), 0);
		FILE *f = golden_open(g->name, update ? "wb" : "rb");
		if (update) {
			fwrite(b.data, 1, b.len, f);
			fclose(f);
			buf_clear(&b);
			continue;
		}
		size_t n = fread(want, 1, sizeof(want), f);
		fclose(f);
		if (n != b.len || memcmp(want, b.data, n) != 0)
			fail_msg("%s: got\n%s", g->name, buf_cstr(&b));
		buf_clear(&b);
	}
}

/* Structural checks over all cases: CRLF only, folded lines, no 8-bit
 * unless SMTPUTF8, and every continuation line starts with a tab. */
static void
test_smtpd_received_structure(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]);
	    i++) {
		const struct smtpd_received_info *ri = &golden_cases[i].ri;
		struct buf b;

		buf_init(&b, 4096);
		assert_int_equal(smtpd_received_format(&b, ri), 0);
		assert_memory_equal(b.data, "Received: from ", 15);
		assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
		for (size_t k = 0; k < b.len; k++) {
			uint8_t c = b.data[k];
			uint8_t next = k + 1 < b.len ? b.data[k + 1] : 0;
			if (c == '\r')
				assert_true(next == '\n');
			if (c == '\n') {
				assert_true(k > 0 && b.data[k - 1] == '\r');
				assert_true(k + 1 == b.len || next == '\t');
			}
			if (c >= 0x80)
				assert_true(ri->smtputf8);
			if (c < 0x20)
				assert_true(c == '\r' || c == '\n' ||
				    c == '\t');
		}
		buf_clear(&b);
	}
}

static void
test_smtpd_received_long_helo(void **state)
{
	struct smtpd_received_info ri = golden_cases[0].ri;
	char helo[400], want[300];
	struct buf b;

	(void)state;
	memset(helo, 'h', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	ri.helo = helo;
	buf_init(&b, 4096);
	assert_int_equal(smtpd_received_format(&b, &ri), 0);
	memset(want, 'h', 255);
	snprintf(want + 255, sizeof(want) - 255, " (");
	assert_memory_equal(b.data + 15, want, 257);
	buf_clear(&b);
}

static void
test_smtpd_received_full_buffer(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_append_str(&b, "Existing: 1\r\n"), 0);
	assert_int_equal(smtpd_received_format(&b, &golden_cases[0].ri), -1);
	/* Nothing half-written is left behind. */
	assert_int_equal(b.len, 13);
	assert_string_equal(buf_cstr(&b), "Existing: 1\r\n");
	buf_clear(&b);
}

static void
test_smtpd_received_protocol(void **state)
{
	static const struct {
		bool		 esmtp, tls, auth, utf8;
		const char	*want;
	} t[] = {
		{ false, false, false, false, "SMTP" },
		{ true, false, false, false, "ESMTP" },
		{ true, false, true, false, "ESMTPA" },
		{ true, true, false, false, "ESMTPS" },
		{ true, true, true, false, "ESMTPSA" },
		{ false, true, false, false, "ESMTPS" },
		{ true, false, false, true, "UTF8SMTP" },
		{ true, false, true, true, "UTF8SMTPA" },
		{ true, true, false, true, "UTF8SMTPS" },
		{ true, true, true, true, "UTF8SMTPSA" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_string_equal(smtpd_received_protocol(t[i].esmtp,
		    t[i].tls, t[i].auth, t[i].utf8), t[i].want);
}

/* The local socket's trace: the kernel's uid and its login name, or the
 * uid alone; a "with local" hop that inspect counts as local. */
static void
test_smtpd_received_local(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(smtpd_received_format_local(&b, "alice", 1001,
	    "mail.example.org", "0123456789abcdef0123", WHEN_2026), 0);
	assert_string_equal(buf_cstr(&b), "Received: from local user alice "
	    "(uid 1001)\r\n\tby mail.example.org (sealmail) with local id "
	    "0123456789abcdef0123; Fri, 27 Nov 2026 21:25:48 +0000\r\n");
	buf_reset(&b);
	assert_int_equal(smtpd_received_format_local(&b, "", 4242,
	    "mail.example.org", "0123456789abcdef0123", WHEN_2026), 0);
	assert_non_null(strstr(buf_cstr(&b), "from local uid 4242 (no user "
	    "name)\r\n"));
	buf_clear(&b);
	/* Full: -1, nothing half-written matters to the caller. */
	buf_init(&b, 16);
	assert_int_equal(smtpd_received_format_local(&b, "alice", 1, "h",
	    "q", WHEN_2026), -1);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_received_golden),
		cmocka_unit_test(test_smtpd_received_structure),
		cmocka_unit_test(test_smtpd_received_long_helo),
		cmocka_unit_test(test_smtpd_received_full_buffer),
		cmocka_unit_test(test_smtpd_received_protocol),
		cmocka_unit_test(test_smtpd_received_local),
	};

	return cmocka_run_group_tests_name("smtpd_received", tests, NULL, NULL);
}
