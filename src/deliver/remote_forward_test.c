/* SPDX-License-Identifier: ISC */
/* Unit tests for deliver/remote_forward: which forwarded copies get an
 * SRS sender (in the alias's domain), which keep theirs, and the DMARC
 * p=reject refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "conf/conf.h"
#include "core/limits.h"
#include "deliver/remote_forward.h"

static const uint8_t key[SRS_SECRET_LEN] = "0123456789abcdef0123456789abcdef";
static const long long now = 20427LL * 86400;

static struct conf_domain doms[] = { { .name = "fwd.example" },
    { .name = "other.example" } };

static void
conf_make(struct conf *c, bool srs)
{
	memset(c, 0, sizeof(*c));
	c->domains = doms;
	c->ndomains = 2;
	c->forward_srs = srs;
	c->forward_srs_max_age = 21 * 86400;
}

static void
test_sender_rewritten_in_alias_domain(void **state)
{
	struct conf c;
	char out[LIMIT_PATH + 1], back[LIMIT_PATH + 1];
	enum srs_result why;

	(void)state;
	conf_make(&c, true);
	assert_true(remote_forward_sender(&c, key, "alice@origin.example",
	    "list@other.example", now, out, sizeof(out), &why));
	assert_int_equal(why, SRS_OK);
	assert_int_equal(strncmp(out, "SRS0=", 5), 0);
	assert_non_null(strstr(out, "=origin.example=alice@other.example"));
	assert_int_equal(srs_reverse(key, sizeof(key), out, now, 21, back,
	    sizeof(back)), SRS_OK);
	assert_string_equal(back, "alice@origin.example");
	/* An SRS0 sender of another forwarder becomes SRS1. */
	strcpy(back, out);
	strcpy(strrchr(back, '@'), "@third.example");
	assert_true(remote_forward_sender(&c, key, back, "list@fwd.example",
	    now, out, sizeof(out), &why));
	assert_int_equal(strncmp(out, "SRS1=", 5), 0);
	assert_non_null(strstr(out, "=third.example=="));
}

static void
test_sender_kept(void **state)
{
	struct conf c;
	char out[LIMIT_PATH + 1], big[LIMIT_PATH];
	enum srs_result why;

	(void)state;
	conf_make(&c, true);
	strcpy(out, "untouched");
	/* The null sender stays null. */
	assert_false(remote_forward_sender(&c, key, "", "list@fwd.example",
	    now, out, sizeof(out), &why));
	assert_int_equal(why, SRS_OK);
	assert_false(remote_forward_sender(&c, key, NULL, "list@fwd.example",
	    now, out, sizeof(out), &why));
	/* Our own domains: we are authorised for them. */
	assert_false(remote_forward_sender(&c, key, "bob@Other.Example",
	    "list@fwd.example", now, out, sizeof(out), &why));
	assert_int_equal(why, SRS_OK);
	assert_string_equal(out, "untouched");
	/* Too long to wrap in 64 octets: kept, and the reason given. */
	memset(big, 'x', 60);
	strcpy(big + 60, "@origin.example");
	assert_false(remote_forward_sender(&c, key, big, "list@fwd.example",
	    now, out, sizeof(out), &why));
	assert_int_equal(why, SRS_ERR_TOO_LONG);
	/* [forwarding] srs = no. */
	conf_make(&c, false);
	assert_false(remote_forward_sender(&c, NULL, "alice@origin.example",
	    "list@fwd.example", now, out, sizeof(out), &why));
	assert_int_equal(why, SRS_OK);
}

static void
test_dmarc_reject_refused(void **state)
{
	struct envelope env;
	char text[256];

	(void)state;
	envelope_init(&env);
	assert_false(remote_forward_refused(&env, text, sizeof(text)));
	env.dmarc_reject = strdup("strict.example");
	assert_true(remote_forward_refused(&env, text, sizeof(text)));
	assert_non_null(strstr(text, "p=reject"));
	assert_non_null(strstr(text, "strict.example"));
	envelope_clear(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sender_rewritten_in_alias_domain),
		cmocka_unit_test(test_sender_kept),
		cmocka_unit_test(test_dmarc_reject_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
