/* SPDX-License-Identifier: ISC */
/* Unit tests for core/base64: RFC 4648 §10 vectors and strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/base64.h"

static const struct {
	const char	*plain;
	const char	*b64;
} base64_test_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_base64_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(base64_test_vectors) /
	    sizeof(base64_test_vectors[0]); i++) {
		const char *p = base64_test_vectors[i].plain;
		const char *b = base64_test_vectors[i].b64;
		char enc[32];
		uint8_t dec[32];

		assert_int_equal(base64_encode((const uint8_t *)p, strlen(p),
		    enc, sizeof(enc)), (long)strlen(b));
		assert_string_equal(enc, b);
		assert_int_equal(base64_decode(b, strlen(b), dec, sizeof(dec)),
		    (long)strlen(p));
		assert_memory_equal(dec, p, strlen(p));
	}
}

static void
test_base64_binary_roundtrip(void **state)
{
	uint8_t in[256], dec[256];
	char enc[400];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(255 - i);
	for (size_t n = 0; n <= sizeof(in); n++) {
		long e = base64_encode(in, n, enc, sizeof(enc));
		assert_int_equal(e, (long)((n + 2) / 3 * 4));
		assert_int_equal(base64_decode(enc, (size_t)e, dec, n),
		    (long)n);
		assert_memory_equal(dec, in, n);
	}
}

static void
test_base64_decode_rejects(void **state)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v Zg==", " Zm9v",
		"Zm9v\n", "Zm9v\r\n", "Zg==Zm9v", "Zm=v", "Zm9*", "Zh==",
		"Zm9=", "Zm-v", "Zm_v", "A", "AB=C",
	};
	uint8_t out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)), -1);
	/* An embedded NUL is not an alphabet character either. */
	assert_int_equal(base64_decode("Zm\0v", 4, out, sizeof(out)), -1);
}

static void
test_base64_capacity(void **state)
{
	uint8_t out[8];
	char enc[9];

	(void)state;
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5), -1);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 6), 6);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 4), 4);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 3), -1);
	/* Encoding needs room for the NUL as well. */
	assert_int_equal(base64_encode((const uint8_t *)"foobar", 6, enc, 8),
	    -1);
	assert_int_equal(base64_encode((const uint8_t *)"foobar", 6, enc, 9),
	    8);
	assert_int_equal(base64_encode((const uint8_t *)"", 0, enc, 0), -1);
	assert_int_equal(base64_encode((const uint8_t *)"", 0, enc, 1), 0);
	assert_string_equal(enc, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_binary_roundtrip),
		cmocka_unit_test(test_base64_decode_rejects),
		cmocka_unit_test(test_base64_capacity),
	};

	return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
