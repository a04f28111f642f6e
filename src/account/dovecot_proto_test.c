/* SPDX-License-Identifier: ISC */
/* Unit tests for account/dovecot_proto: Dovecot auth protocol lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "account/dovecot_proto.h"
#include "core/base64.h"

static enum dovecot_proto_kind
parse(const char *line, struct dovecot_proto_reply *r)
{
	return dovecot_proto_parse(line, strlen(line), r);
}

static void
test_escape_roundtrip(void **state)
{
	static const char raw[] = "a\tb\nc\rd\001e\0f";
	struct buf b;
	char tmp[64];

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(dovecot_proto_escape(&b, raw, sizeof(raw) - 1), 0);
	assert_int_equal(b.len, 16);
	assert_memory_equal(b.data,
	    "a\001tb\001nc\001rd\0011e\0010f", 16);
	assert_null(memchr(b.data, '\t', b.len));
	assert_null(memchr(b.data, '\n', b.len));
	memcpy(tmp, b.data, b.len);
	assert_int_equal(dovecot_proto_unescape(tmp, b.len), sizeof(raw) - 1);
	assert_memory_equal(tmp, raw, sizeof(raw) - 1);
	/* Unknown escapes stand for the character; a lone \001 at the end
	 * stays. */
	memcpy(tmp, "x\001zy\001", 5);
	assert_int_equal(dovecot_proto_unescape(tmp, 5), 4);
	assert_memory_equal(tmp, "xzy\001", 4);
	/* A full buffer is an error, not a truncation. */
	struct buf small;
	buf_init(&small, 3);
	assert_int_equal(dovecot_proto_escape(&small, "\t\t", 2), -1);
	buf_clear(&small);
	buf_clear(&b);
}

static void
test_handshake(void **state)
{
	struct dovecot_proto_reply r;
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(dovecot_proto_handshake(&b, 4242), 0);
	assert_string_equal(buf_cstr(&b), "VERSION\t1\t2\nCPID\t4242\n");
	buf_clear(&b);

	assert_int_equal(parse("VERSION\t1\t2", &r), DOVECOT_PROTO_VERSION);
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 2);
	assert_int_equal(parse("VERSION\t1", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("VERSION\tx\t2", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("VERSION\t99999999999\t2", &r),
	    DOVECOT_PROTO_BAD);
	assert_int_equal(parse("MECH\tPLAIN\tplaintext", &r),
	    DOVECOT_PROTO_MECH);
	assert_true(r.plain);
	assert_int_equal(parse("MECH\tplain", &r), DOVECOT_PROTO_MECH);
	assert_true(r.plain);
	assert_int_equal(parse("MECH\tLOGIN\tplaintext", &r),
	    DOVECOT_PROTO_MECH);
	assert_false(r.plain);
	assert_int_equal(parse("MECH\tPLAINX", &r), DOVECOT_PROTO_MECH);
	assert_false(r.plain);
	assert_int_equal(parse("MECH", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("MECH\t", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("SPID\t8137", &r), DOVECOT_PROTO_OTHER);
	assert_int_equal(parse("CUID\t1", &r), DOVECOT_PROTO_OTHER);
	assert_int_equal(parse("COOKIE\t5d9f3bb1", &r), DOVECOT_PROTO_OTHER);
	assert_int_equal(parse("DONE", &r), DOVECOT_PROTO_DONE);
	/* Unknown commands are ignored (the protocol says so), and so is
	 * a command that only starts like a known one. */
	assert_int_equal(parse("FUTURE\tx", &r), DOVECOT_PROTO_OTHER);
	assert_int_equal(parse("DONEX", &r), DOVECOT_PROTO_OTHER);
	assert_int_equal(parse("", &r), DOVECOT_PROTO_OTHER);
}

static void
test_replies(void **state)
{
	struct dovecot_proto_reply r;

	(void)state;
	assert_int_equal(parse("OK\t1\tuser=carol@example.test", &r),
	    DOVECOT_PROTO_OK);
	assert_int_equal(r.id, 1);
	assert_string_equal(r.user, "carol@example.test");
	assert_int_equal(parse("OK\t4294967295", &r), DOVECOT_PROTO_OK);
	assert_int_equal(r.id, 4294967295u);
	assert_string_equal(r.user, "");
	assert_int_equal(parse("OK\t4294967296", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK\t", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK\t-1", &r), DOVECOT_PROTO_BAD);
	/* Escaped user names are unescaped; control characters refused. */
	assert_int_equal(parse("OK\t7\tfoo=bar\tuser=a\001xb", &r),
	    DOVECOT_PROTO_OK);
	assert_string_equal(r.user, "axb");
	assert_int_equal(parse("OK\t7\tuser=a\0011b", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK\t7\tuser=a\001tb", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK\t7\tuser=a\0010b", &r), DOVECOT_PROTO_BAD);
	assert_int_equal(parse("OK\t7\tuser=", &r), DOVECOT_PROTO_BAD);

	assert_int_equal(parse("FAIL\t2\tuser=carol@example.test", &r),
	    DOVECOT_PROTO_FAIL);
	assert_int_equal(r.id, 2);
	assert_false(r.temp);
	assert_int_equal(parse("FAIL\t3\treason=x\ttemp", &r),
	    DOVECOT_PROTO_FAIL);
	assert_true(r.temp);
	assert_int_equal(parse("FAIL\t3\tcode=temp_fail", &r),
	    DOVECOT_PROTO_FAIL);
	assert_true(r.temp);
	assert_int_equal(parse("FAIL\t3\tcode=authz_fail\ttempx", &r),
	    DOVECOT_PROTO_FAIL);
	assert_false(r.temp);

	assert_int_equal(parse("CONT\t3\t", &r), DOVECOT_PROTO_CONT);
	assert_int_equal(r.id, 3);
	assert_int_equal(parse("CONT\t3\tVXNlcm5hbWU6", &r),
	    DOVECOT_PROTO_CONT);
	assert_int_equal(parse("CONT", &r), DOVECOT_PROTO_BAD);
}

static void
test_long_lines(void **state)
{
	struct dovecot_proto_reply r;
	size_t n = DOVECOT_PROTO_LINE_MAX + 1;
	char *line = malloc(n + 1);
	char user[LIMIT_SASL_FIELD + 20];

	(void)state;
	assert_non_null(line);
	memset(line, 'x', n);
	memcpy(line, "OK\t5\tfoo=", 9);
	assert_int_equal(dovecot_proto_parse(line, n - 1, &r),
	    DOVECOT_PROTO_OK);
	assert_int_equal(dovecot_proto_parse(line, n, &r), DOVECOT_PROTO_BAD);
	free(line);
	/* user= of exactly LIMIT_SASL_FIELD bytes, and one more. */
	memcpy(user, "OK\t1\tuser=", 10);
	memset(user + 10, 'u', LIMIT_SASL_FIELD);
	user[10 + LIMIT_SASL_FIELD] = '\0';
	assert_int_equal(parse(user, &r), DOVECOT_PROTO_OK);
	assert_int_equal(strlen(r.user), LIMIT_SASL_FIELD);
	user[10 + LIMIT_SASL_FIELD] = 'u';
	user[11 + LIMIT_SASL_FIELD] = '\0';
	assert_int_equal(parse(user, &r), DOVECOT_PROTO_BAD);
}

static void
test_auth_line(void **state)
{
	struct buf b;
	uint8_t dec[600];
	char big[LIMIT_SASL_FIELD + 2];
	const char *resp;
	long n;

	(void)state;
	buf_init(&b, 2048);
	assert_int_equal(dovecot_proto_auth_plain(&b, 9, "smtp", "127.0.0.1",
	    "10.0.0.\t1", "carol@example.test", "pw\001\tx"), 0);
	const char *want = "AUTH\t9\tPLAIN\tservice=smtp\tnologin"
	    "\tlip=127.0.0.1\trip=10.0.0.\001t1\tsecured\tresp=";
	assert_true(b.len > strlen(want));
	assert_memory_equal(b.data, want, strlen(want));
	assert_int_equal(b.data[b.len - 1], '\n');
	assert_null(memchr(b.data, '\n', b.len - 1));
	resp = (const char *)b.data + strlen(want);
	n = base64_decode(resp, b.len - strlen(want) - 1, dec, sizeof(dec));
	assert_int_equal(n, 1 + 18 + 1 + 5);
	assert_memory_equal(dec, "\0carol@example.test\0pw\001\tx", (size_t)n);
	buf_clear(&b);

	/* Addresses unknown: left out. */
	buf_init(&b, 2048);
	assert_int_equal(dovecot_proto_auth_plain(&b, 1, "smtp", NULL, "",
	    "u", "p"), 0);
	assert_string_equal(buf_cstr(&b), "AUTH\t1\tPLAIN\tservice=smtp"
	    "\tnologin\tsecured\tresp=AHUAcA==\n");
	buf_reset(&b);
	assert_int_equal(dovecot_proto_auth_plain(&b, 1, "smtp", NULL, NULL,
	    "", "p"), -1);
	assert_int_equal(dovecot_proto_auth_plain(&b, 1, "smtp", NULL, NULL,
	    "u", ""), -1);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dovecot_proto_auth_plain(&b, 1, "smtp", NULL, NULL,
	    big, "p"), -1);
	big[LIMIT_SASL_FIELD] = '\0';
	assert_int_equal(dovecot_proto_auth_plain(&b, 1, "smtp", NULL, NULL,
	    big, big), 0);
	buf_reset(&b);
	assert_int_equal(dovecot_proto_cancel(&b, 77), 0);
	assert_string_equal(buf_cstr(&b), "CANCEL\t77\n");
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_roundtrip),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_auth_line),
	};

	return cmocka_run_group_tests_name("dovecot_proto", tests, NULL, NULL);
}
