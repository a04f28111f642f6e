/* SPDX-License-Identifier: ISC */
/* Unit tests of DKIM key records (RFC 6376 §3.6.1, RFC 8463 §4.2) and the
 * RFC 8301 key size policy. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "auth/dkim_key.h"

#define ED_P	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
/* RFC 8463 A.2's 1024-bit RSA key (SubjectPublicKeyInfo). */
#define RSA1024	"MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6" \
	"Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e" \
	"/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2" \
	"kryOTIKT+l/K4w3QIDAQAB"
/* A 512-bit RSA key (SubjectPublicKeyInfo). */
#define RSA512	"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAJ/bIjQWeBFMkgKOxEGkMy5bDdKJdrU2" \
	"xv86uNKRfVtED6BqlMphHnJ27t/HG9y7SKQbQDHnArymlTWH01f7lMUCAwEAAQ=="

static void
test_parse(void **state)
{
	static const struct {
		const char		*txt;
		enum dkim_key_result	 r;
	} cases[] = {
		{ "v=DKIM1; k=ed25519; p=" ED_P, DKIM_KEY_OK },
		{ "p=" RSA1024, DKIM_KEY_OK },
		{ "v=DKIM1; p=", DKIM_KEY_OK },
		{ "k=ed25519; v=DKIM1; p=" ED_P, DKIM_KEY_ERR_VERSION },
		{ "v=DKIM2; p=" ED_P, DKIM_KEY_ERR_VERSION },
		{ "v=DKIM1; k=dsa; p=" ED_P, DKIM_KEY_ERR_TYPE },
		{ "v=DKIM1; k=rsa", DKIM_KEY_ERR_MISSING },
		{ "v=DKIM1; p=abc", DKIM_KEY_ERR_BASE64 },
		{ "v=DKIM1; s=http; p=" ED_P, DKIM_KEY_ERR_SERVICE },
		{ "v=DKIM1; s=http:email; p=" ED_P, DKIM_KEY_OK },
		{ "p=" ED_P "; p=" ED_P, DKIM_KEY_ERR_SYNTAX },
		{ "v=DKIM1 p=x", DKIM_KEY_ERR_VERSION },
		{ "garbage", DKIM_KEY_ERR_SYNTAX },
	};
	struct dkim_key key;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum dkim_key_result r = dkim_key_parse(cases[i].txt,
		    strlen(cases[i].txt), &key);
		if (r != cases[i].r)
			fail_msg("case %zu \"%s\": %s", i, cases[i].txt,
			    dkim_key_result_name(r));
	}
}

static void
test_flags(void **state)
{
	struct dkim_key key;
	const char *t = "v=DKIM1; h=sha1 : sha256; t=y:s:x; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQH\r\n\tOg7hcvPapiMlrwIaaPcHURo=";

	(void)state;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_true(key.testing && key.strict && key.sha256_ok);
	assert_int_equal(key.type, DKIM_KEY_ED25519);
	assert_int_equal(key.plen, 32);
	t = "v=DKIM1; h=sha1; p=";
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_true(key.revoked && !key.sha256_ok);
}

static void
test_load(void **state)
{
	struct dkim_key key;
	void *pk;
	const char *t;

	(void)state;
	t = "p=" RSA1024;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_int_equal(dkim_key_load(&key, &pk), DKIM_KEY_OK);
	assert_int_equal(EVP_PKEY_get_bits(pk), 1024);
	EVP_PKEY_free(pk);
	t = "p=" RSA512;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_int_equal(dkim_key_load(&key, &pk), DKIM_KEY_ERR_TOO_SMALL);
	assert_null(pk);
	t = "k=ed25519; p=" ED_P;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_int_equal(dkim_key_load(&key, &pk), DKIM_KEY_OK);
	EVP_PKEY_free(pk);
	/* An RSA key published as k=ed25519 is not 32 octets. */
	t = "k=ed25519; p=" RSA1024;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_int_equal(dkim_key_load(&key, &pk), DKIM_KEY_ERR_BAD_KEY);
	/* An Ed25519 key published as k=rsa. */
	t = "k=rsa; p=" ED_P;
	assert_int_equal(dkim_key_parse(t, strlen(t), &key), DKIM_KEY_OK);
	assert_int_equal(dkim_key_load(&key, &pk), DKIM_KEY_ERR_BAD_KEY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
