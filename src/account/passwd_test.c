/* SPDX-License-Identifier: ISC */
/* Unit tests for account/passwd.c: yescrypt round trip, foreign schemes,
 * locked hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/passwd.h"

/* `openssl passwd -6 -salt saltsalt 'correct horse'` (sha512-crypt, as in
 * /etc/shadow or Dovecot's SHA512-CRYPT). */
static const char passwd_test_sha512[] =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2Ep"
    "lzfAqxL5Vvwp2scFtv/uamSo5z0";
/* The same password, bcrypt cost 5 (Python crypt over libxcrypt). */
static const char passwd_test_bcrypt[] =
    "$2b$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2";

static void
test_round_trip(void **state)
{
	char *h;

	(void)state;
	h = passwd_hash("s3cret pass");
	assert_non_null(h);
	assert_true(passwd_verify("s3cret pass", h));
	free(h);
}

static void
test_wrong_password(void **state)
{
	char *h;

	(void)state;
	h = passwd_hash("s3cret pass");
	assert_non_null(h);
	assert_false(passwd_verify("s3cret pasS", h));
	assert_false(passwd_verify("s3cret pass ", h));
	assert_false(passwd_verify("", h));
	assert_false(passwd_verify(NULL, h));
	free(h);
}

static void
test_yescrypt_prefix_and_salt(void **state)
{
	char *a, *b;

	(void)state;
	a = passwd_hash("same");
	b = passwd_hash("same");
	assert_non_null(a);
	assert_non_null(b);
	assert_memory_equal(a, "$y$", 3);
	/* A fresh salt each time. */
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_known_sha512_crypt(void **state)
{
	(void)state;
	assert_true(passwd_verify("correct horse", passwd_test_sha512));
	assert_false(passwd_verify("correct horsE", passwd_test_sha512));
}

static void
test_known_bcrypt(void **state)
{
	(void)state;
	assert_true(passwd_verify("correct horse", passwd_test_bcrypt));
	assert_false(passwd_verify("wrong", passwd_test_bcrypt));
}

static void
test_locked_hashes(void **state)
{
	char locked[sizeof(passwd_test_sha512) + 1];

	(void)state;
	/* shadow(5): "!" in front of a valid hash locks the account. */
	snprintf(locked, sizeof(locked), "!%s", passwd_test_sha512);
	assert_false(passwd_verify("correct horse", locked));
	assert_false(passwd_verify("", "!"));
	assert_false(passwd_verify("", "*"));
	assert_false(passwd_verify("x", "*0"));
	assert_false(passwd_verify("", ""));
	assert_false(passwd_verify("x", NULL));
	assert_false(passwd_verify("x", "not a hash"));
}

static void
test_empty_password_hashes(void **state)
{
	char *h;

	(void)state;
	/* Refusing empty passwords is the CLI's job; the hash still works. */
	h = passwd_hash("");
	assert_non_null(h);
	assert_true(passwd_verify("", h));
	assert_false(passwd_verify("x", h));
	free(h);
	assert_null(passwd_hash(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_yescrypt_prefix_and_salt),
		cmocka_unit_test(test_known_sha512_crypt),
		cmocka_unit_test(test_known_bcrypt),
		cmocka_unit_test(test_locked_hashes),
		cmocka_unit_test(test_empty_password_hashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
