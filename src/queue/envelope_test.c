/* SPDX-License-Identifier: ISC */
/* Unit tests for the envelope text form: round trips, canonical output,
 * and rejection of malformed or oversized input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "queue/envelope.h"

static const char envt_qid[] = "018c2f9a1b2c3d4e5f60";

/* Parse text (NUL-terminated) into a fresh envelope; returns the result. */
static int
envt_parse(const char *text, struct envelope *env, char *err, size_t errlen)
{
	envelope_init(env);
	return envelope_from_text(text, strlen(text), env, err, errlen);
}

static void
envt_fill(struct envelope *env)
{
	envelope_init(env);
	memcpy(env->id, envt_qid, sizeof(env->id));
	env->created = 1700000000;
	env->mail_from = strdup("alice%x@example.org");
	env->size = 4242;
	env->body = ENVELOPE_BODY_8BITMIME;
	env->smtputf8 = true;
	env->ret = ENVELOPE_RET_HDRS;
	env->envid = strdup("QQ+2B314");
	env->auth_user = strdup("alice@example.org");
	env->helo = strdup("[192.0.2.1] with space");
	env->client_addr = strdup("192.0.2.1");
	env->prepend = strdup("Received: from x\r\n"
	    "\tby y; \xc3\xa9t\xc3\xa9\r\n"
	    "Authentication-Results: mx; spf=pass\r\n");
	env->arc = strdup("ARC-Seal: i=1; cv=none; a=ed25519-sha256;\r\n"
	    "\tb=abc\r\n");
	env->quarantine = true;
	env->requiretls = true;
	env->dmarc_reject = strdup("example.net");
	envelope_add_rcpt(env, "bob@example.org", "Bob@Example.org",
	    "rfc822;Bob@Example.org", ENVELOPE_NOTIFY_FAILURE |
	    ENVELOPE_NOTIFY_DELAY);
	envelope_add_rcpt(env, "j\xc3\xb6rg@example.org", "", NULL, 0);
	env->rcpts[1].state = ENVELOPE_RCPT_FAILED;
	env->rcpts[1].attempts = 7;
	env->rcpts[1].next_attempt = 1700003600;
	env->rcpts[1].last_reply = strdup("550 5.1.1 <j\xc3\xb6rg> no\x7f"
	    " such = user\r\n");
}

static void
envt_assert_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
envt_assert_equal(const struct envelope *a, const struct envelope *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->created, b->created);
	envt_assert_str(a->mail_from, b->mail_from);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->ret, b->ret);
	envt_assert_str(a->envid, b->envid);
	envt_assert_str(a->auth_user, b->auth_user);
	envt_assert_str(a->helo, b->helo);
	envt_assert_str(a->client_addr, b->client_addr);
	envt_assert_str(a->prepend, b->prepend);
	envt_assert_str(a->arc, b->arc);
	assert_int_equal(a->quarantine, b->quarantine);
	assert_int_equal(a->requiretls, b->requiretls);
	envt_assert_str(a->dmarc_reject, b->dmarc_reject);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (size_t i = 0; i < a->nrcpts; i++) {
		const struct envelope_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		envt_assert_str(x->address, y->address);
		envt_assert_str(x->orig, y->orig);
		envt_assert_str(x->orcpt, y->orcpt);
		assert_int_equal(x->notify, y->notify);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->attempts, y->attempts);
		assert_int_equal(x->next_attempt, y->next_attempt);
		envt_assert_str(x->last_reply, y->last_reply);
	}
}

static void
test_round_trip(void **state)
{
	struct envelope a, b;
	struct buf t1, t2;
	char err[200];

	(void)state;
	envt_fill(&a);
	buf_init(&t1, LIMIT_ENVELOPE_FILE);
	buf_init(&t2, LIMIT_ENVELOPE_FILE);
	assert_int_equal(envelope_to_text(&a, &t1), 0);
	/* No raw control, space-in-value or 8-bit byte reaches the file. */
	for (size_t i = 0; i < t1.len; i++)
		assert_true(t1.data[i] == '\n' ||
		    (t1.data[i] >= 0x20 && t1.data[i] < 0x7f));
	envelope_init(&b);
	assert_int_equal(envelope_from_text((char *)t1.data, t1.len, &b, err,
	    sizeof(err)), 0);
	envt_assert_equal(&a, &b);
	assert_int_equal(envelope_to_text(&b, &t2), 0);
	assert_int_equal(t1.len, t2.len);
	assert_memory_equal(t1.data, t2.data, t1.len);
	envelope_clear(&a);
	envelope_clear(&b);
	buf_clear(&t1);
	buf_clear(&t2);
}

static void
test_minimal_and_null_sender(void **state)
{
	struct envelope env;
	char err[200];
	struct buf t;

	(void)state;
	assert_int_equal(envt_parse("sealmail-envelope 1\n"
	    "id 018c2f9a1b2c3d4e5f60\ncreated 5\nmail-from\n"
	    "rcpt address=a@b\nend\n", &env, err, sizeof(err)), 0);
	assert_string_equal(env.mail_from, "");
	assert_int_equal(env.nrcpts, 1);
	assert_string_equal(env.rcpts[0].address, "a@b");
	assert_null(env.rcpts[0].orig);
	assert_int_equal(env.rcpts[0].state, ENVELOPE_RCPT_PENDING);
	assert_int_equal(env.body, ENVELOPE_BODY_UNSPEC);
	assert_false(env.quarantine);
	/* A file written before REQUIRETLS existed has no such line. */
	assert_false(env.requiretls);
	/* ... nor a dmarc-reject line (before SRS forwarding): NULL. */
	assert_null(env.dmarc_reject);
	/* Nor an ARC set before sealing existed. */
	assert_null(env.arc);
	buf_init(&t, 4096);
	assert_int_equal(envelope_to_text(&env, &t), 0);
	assert_non_null(strstr(buf_cstr(&t), "\nmail-from\n"));
	assert_null(strstr(buf_cstr(&t), "requiretls"));
	assert_null(strstr(buf_cstr(&t), "dmarc-reject"));
	assert_null(strstr(buf_cstr(&t), "\narc"));
	buf_clear(&t);
	envelope_clear(&env);
}

static void
test_lenient_forms_are_canonicalised(void **state)
{
	struct envelope env;
	char err[200];
	struct buf t;

	(void)state;
	/* Key order is free, hex case is free, needless escapes decode. */
	assert_int_equal(envt_parse("sealmail-envelope 1\nend\n", &env, err,
	    sizeof(err)), -1);
	envelope_clear(&env);
	assert_int_equal(envt_parse("sealmail-envelope 1\n"
	    "rcpt reply=a%2fb%41 address=x%40y notify=delay,never\n"
	    "smtputf8 no\nmail-from %3c\ncreated 0\n"
	    "id 018c2f9a1b2c3d4e5f60\nend\n", &env, err, sizeof(err)), 0);
	assert_string_equal(env.rcpts[0].last_reply, "a/bA");
	assert_string_equal(env.rcpts[0].address, "x@y");
	assert_int_equal(env.rcpts[0].notify,
	    ENVELOPE_NOTIFY_DELAY | ENVELOPE_NOTIFY_NEVER);
	buf_init(&t, 4096);
	assert_int_equal(envelope_to_text(&env, &t), 0);
	assert_string_equal(buf_cstr(&t), "sealmail-envelope 1\n"
	    "id 018c2f9a1b2c3d4e5f60\ncreated 0\nsize 0\nmail-from <\n"
	    "rcpt state=pending attempts=0 next=0 address=x@y "
	    "notify=never,delay reply=a/bA\nend\n");
	buf_clear(&t);
	envelope_clear(&env);
}

struct envt_bad {
	const char	*text;
	const char	*reason;	/* substring of the error */
};

#define ENVT_HEAD "sealmail-envelope 1\nid 018c2f9a1b2c3d4e5f60\n" \
	"created 1\nmail-from a@b\n"

static const struct envt_bad envt_bad_cases[] = {
	{ "", "no end line" },
	{ "sealmail-envelope 2\nend\n", "unsupported envelope version" },
	{ "From: x\n", "not a sealmail envelope" },
	{ ENVT_HEAD "end", "unterminated line" },
	{ ENVT_HEAD, "no end line" },
	{ ENVT_HEAD "end\nid x\n", "data after end" },
	{ ENVT_HEAD "end x\n", "value after end" },
	{ ENVT_HEAD "colour blue\nend\n", "unknown key" },
	{ ENVT_HEAD "helo a\nhelo b\nend\n", "duplicate key helo" },
	{ ENVT_HEAD "helo \nend\n", "trailing space" },
	{ ENVT_HEAD "helo a b\nend\n", "raw byte 0x20" },
	{ ENVT_HEAD "helo a\rb\nend\n", "raw byte 0x0d" },
	{ ENVT_HEAD "helo a\r\nend\n", "raw byte 0x0d" },
	{ ENVT_HEAD "helo \xc3\xa9\nend\n", "raw byte 0xc3" },
	{ ENVT_HEAD "helo a%0\nend\n", "bad % escape" },
	{ ENVT_HEAD "helo a%zz\nend\n", "bad % escape" },
	{ ENVT_HEAD "helo a%00b\nend\n", "escaped NUL" },
	{ ENVT_HEAD "size -1\nend\n", "bad number" },
	{ ENVT_HEAD "size 01\nend\n", "bad number" },
	{ ENVT_HEAD "size 99999999999999999999\nend\n", "out of range" },
	{ ENVT_HEAD "body 9bit\nend\n", "bad value" },
	{ ENVT_HEAD "quarantine maybe\nend\n", "expected yes or no" },
	{ ENVT_HEAD "requiretls 1\nend\n", "expected yes or no" },
	{ ENVT_HEAD "dmarc-reject a.example\ndmarc-reject b.example\nend\n",
	    "duplicate key dmarc-reject" },
	{ ENVT_HEAD "requiretls yes\nrequiretls no\nend\n",
	    "duplicate key requiretls" },
	{ ENVT_HEAD "rcpt\nend\n", "recipient without address" },
	{ ENVT_HEAD "rcpt address=\nend\n", "empty recipient address" },
	{ ENVT_HEAD "rcpt address=a@b colour=red\nend\n",
	    "unknown recipient field" },
	{ ENVT_HEAD "rcpt address=a@b address=c@d\nend\n",
	    "duplicate recipient field" },
	{ ENVT_HEAD "rcpt address=a@b  state=failed\nend\n",
	    "bad recipient field" },
	{ ENVT_HEAD "rcpt address=a@b \nend\n", "trailing space" },
	{ ENVT_HEAD "rcpt address=a@b state=lost\nend\n",
	    "bad recipient state" },
	{ ENVT_HEAD "rcpt address=a@b attempts=4294967296\nend\n",
	    "out of range" },
	{ ENVT_HEAD "rcpt address=a@b notify=failure,\nend\n",
	    "bad notify list" },
	{ ENVT_HEAD "rcpt address=a@b notify=delay,delay\nend\n",
	    "bad notify list" },
	{ ENVT_HEAD "rcpt address=a@b notify=\nend\n", "bad notify list" },
	{ "sealmail-envelope 1\nid 018C2F9A1B2C3D4E5F60\nend\n",
	    "bad queue id" },
	{ "sealmail-envelope 1\nid ../../etc/passwd00\nend\n",
	    "bad queue id" },
	{ "sealmail-envelope 1\ncreated 1\nmail-from\nend\n",
	    "missing id" },
	{ "sealmail-envelope 1\nid 018c2f9a1b2c3d4e5f60\nmail-from\nend\n",
	    "missing id, created" },
};

static void
test_rejects_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(envt_bad_cases) /
	    sizeof(envt_bad_cases[0]); i++) {
		struct envelope env;
		char err[200];
		int r = envt_parse(envt_bad_cases[i].text, &env, err,
		    sizeof(err));

		if (r != -1 || strstr(err, envt_bad_cases[i].reason) == NULL)
			fail_msg("case %zu: r=%d err='%s' want '%s'", i, r,
			    err, envt_bad_cases[i].reason);
		assert_null(memchr(err, '\n', strlen(err)));
		envelope_clear(&env);
	}
}

static void
test_embedded_nul_rejected(void **state)
{
	static const char text[] = ENVT_HEAD "helo a\0b\nend\n";
	struct envelope env;
	char err[200];

	(void)state;
	envelope_init(&env);
	assert_int_equal(envelope_from_text(text, sizeof(text) - 1, &env, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "raw byte 0x00"));
	envelope_clear(&env);
}

/* Text with one line: prefix, then n literal bytes as its value. */
static char *
envt_with_value(const char *prefix, size_t n)
{
	size_t hl = strlen(ENVT_HEAD), pl = strlen(prefix);
	char *t = malloc(hl + pl + n + 8);

	memcpy(t, ENVT_HEAD, hl);
	memcpy(t + hl, prefix, pl);
	memset(t + hl + pl, 'x', n);
	memcpy(t + hl + pl + n, "\nend\n", sizeof("\nend\n"));
	return t;
}

static void
test_string_limits(void **state)
{
	static const struct {
		const char	*prefix;
		size_t		 n;
		int		 want;
	} cases[] = {
		{ "helo ", 64 * 1024, 0 },
		{ "helo ", 64 * 1024 + 1, -1 },
		{ "rcpt address=", 64 * 1024 + 1, -1 },
		{ "prepend ", 1024 * 1024, 0 },
		{ "prepend ", 1024 * 1024 + 1, -1 },
		{ "arc ", 1024 * 1024, 0 },
		{ "arc ", 1024 * 1024 + 1, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = envt_with_value(cases[i].prefix, cases[i].n);
		struct envelope env;
		char err[200];

		assert_int_equal(envt_parse(t, &env, err, sizeof(err)),
		    cases[i].want);
		if (cases[i].want == -1)
			assert_non_null(strstr(err, "longer than"));
		envelope_clear(&env);
		free(t);
	}
}

static void
test_recipient_and_file_limits(void **state)
{
	struct envelope env;
	struct buf t;
	char err[200];

	(void)state;
	buf_init(&t, 2 * LIMIT_ENVELOPE_FILE);
	assert_int_equal(buf_append_str(&t, ENVT_HEAD), 0);
	for (int i = 0; i < LIMIT_RECIPIENTS_MAX; i++)
		assert_int_equal(buf_printf(&t, "rcpt address=u%d@x\n", i), 0);
	assert_int_equal(buf_append_str(&t, "end\n"), 0);
	envelope_init(&env);
	assert_int_equal(envelope_from_text((char *)t.data, t.len, &env, err,
	    sizeof(err)), 0);
	assert_int_equal(env.nrcpts, LIMIT_RECIPIENTS_MAX);
	envelope_clear(&env);
	t.len -= 4;
	assert_int_equal(buf_append_str(&t, "rcpt address=z@x\nend\n"), 0);
	assert_int_equal(envelope_from_text((char *)t.data, t.len, &env, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "recipients"));
	envelope_clear(&env);
	/* Bigger than the file bound, rejected before any parsing. */
	assert_int_equal(envelope_from_text((char *)t.data,
	    LIMIT_ENVELOPE_FILE + 1, &env, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	envelope_clear(&env);
	buf_clear(&t);
}

static void
test_to_text_bound(void **state)
{
	struct envelope env;
	struct buf t;

	(void)state;
	envt_fill(&env);
	buf_init(&t, 64);
	assert_int_equal(buf_append_str(&t, "keep"), 0);
	assert_int_equal(envelope_to_text(&env, &t), -1);
	assert_string_equal(buf_cstr(&t), "keep");
	buf_clear(&t);
	envelope_clear(&env);
}

static void
test_add_rcpt_many(void **state)
{
	struct envelope env;
	char a[32];

	(void)state;
	envelope_init(&env);
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "u%d@x", i);
		envelope_add_rcpt(&env, a, a, NULL, 0);
	}
	assert_int_equal(env.nrcpts, 1000);
	assert_string_equal(env.rcpts[999].address, "u999@x");
	assert_string_equal(env.rcpts[0].orig, "u0@x");
	envelope_clear(&env);
	assert_int_equal(env.nrcpts, 0);
	assert_null(env.rcpts);
	envelope_clear(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_minimal_and_null_sender),
		cmocka_unit_test(test_lenient_forms_are_canonicalised),
		cmocka_unit_test(test_rejects_malformed),
		cmocka_unit_test(test_embedded_nul_rejected),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_recipient_and_file_limits),
		cmocka_unit_test(test_to_text_bound),
		cmocka_unit_test(test_add_rcpt_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
