/* SPDX-License-Identifier: ISC */
/* Unit tests for TLSA record matching (--check-tlsa): usages, selectors
 * and matching types against a chain, with published digest vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check/tlsamatch.h"

/* FIPS 180-2 vectors for "abc". */
static const uint8_t sha256_abc[32] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
	0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
static const uint8_t sha512_abc[64] = {
	0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49,
	0xae, 0x20, 0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9, 0x7e, 0xa2,
	0x0a, 0x9e, 0xee, 0xe6, 0x4b, 0x55, 0xd3, 0x9a, 0x21, 0x92, 0x99, 0x2a,
	0x27, 0x4f, 0xc1, 0xa8, 0x36, 0xba, 0x3c, 0x23, 0xa3, 0xfe, 0xeb, 0xbd,
	0x45, 0x4d, 0x44, 0x23, 0x64, 0x3c, 0xe8, 0x0e, 0x2a, 0x9a, 0xc9, 0x4f,
	0xa5, 0x4c, 0xa4, 0x9f,
};

/* The leaf's SPKI is "abc", its certificate "leaf-cert"; the issuer's
 * certificate is "abc" (so only usage 2 may match it there). */
static const struct tlsamatch_cert chain[2] = {
	{ (const uint8_t *)"leaf-cert", 9, (const uint8_t *)"abc", 3 },
	{ (const uint8_t *)"abc", 3, (const uint8_t *)"ca-spki", 7 },
};

static void
test_ee_spki(void **state)
{
	uint8_t bad[32];

	(void)state;
	assert_true(tlsamatch_rr(3, 1, 1, sha256_abc, 32, chain, 2));
	assert_true(tlsamatch_rr(3, 1, 2, sha512_abc, 64, chain, 2));
	assert_true(tlsamatch_rr(3, 1, 0, (const uint8_t *)"abc", 3, chain,
	    2));
	memcpy(bad, sha256_abc, 32);
	bad[31] ^= 1;
	assert_false(tlsamatch_rr(3, 1, 1, bad, 32, chain, 2));
	/* a truncated digest never matches */
	assert_false(tlsamatch_rr(3, 1, 1, sha256_abc, 31, chain, 2));
	/* the wrong matching type for the data */
	assert_false(tlsamatch_rr(3, 1, 2, sha256_abc, 32, chain, 2));
}

static void
test_ee_full_certificate(void **state)
{
	(void)state;
	assert_true(tlsamatch_rr(3, 0, 0, (const uint8_t *)"leaf-cert", 9,
	    chain, 2));
	/* selector 0 hashes the certificate, not the SPKI */
	assert_false(tlsamatch_rr(3, 0, 1, sha256_abc, 32, chain, 2));
}

static void
test_ta_matches_issuers_only(void **state)
{
	(void)state;
	/* "abc" is the issuer's certificate: DANE-TA 2 0 1 matches */
	assert_true(tlsamatch_rr(2, 0, 1, sha256_abc, 32, chain, 2));
	/* ...and the leaf's SPKI is "abc", but usage 2 skips the leaf */
	assert_false(tlsamatch_rr(2, 1, 1, sha256_abc, 32, chain, 2));
	/* a chain of the leaf alone has no trust anchor */
	assert_false(tlsamatch_rr(2, 0, 1, sha256_abc, 32, chain, 1));
}

static void
test_unsupported(void **state)
{
	(void)state;
	assert_false(tlsamatch_supported(0, 1, 1));
	assert_false(tlsamatch_supported(1, 1, 1));
	assert_false(tlsamatch_supported(3, 2, 1));
	assert_false(tlsamatch_supported(3, 1, 3));
	assert_true(tlsamatch_supported(2, 0, 2));
	/* PKIX-EE with the right digest is still not judged */
	assert_false(tlsamatch_rr(1, 1, 1, sha256_abc, 32, chain, 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ee_spki),
		cmocka_unit_test(test_ee_full_certificate),
		cmocka_unit_test(test_ta_matches_issuers_only),
		cmocka_unit_test(test_unsupported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
