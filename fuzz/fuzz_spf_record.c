/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for auth/spf_record: the input is a TXT record. The
 * invariants: the result agrees with spf_record_is_spf(); a parsed record
 * has at most SPF_RECORD_TERMS_MAX terms, CIDR lengths within 0..32 and
 * 0..128, every domain-spec a valid macro-string, every term text a piece
 * of the input without spaces; modifiers' specs pass the macro check; and
 * a record rebuilt from its terms and modifiers parses to the same terms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf_macro.h"
#include "auth/spf_record.h"
#include "core/buf.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_spec(const char *spec)
{
	if (spec == NULL)
		return;
	CHECK(spec[0] != '\0');
	CHECK(spf_macro_check(spec, strlen(spec), SPF_MACRO_DOMAIN, NULL) ==
	    SPF_MACRO_OK);
}

static void
check_record(const struct spf_record *r, const char *in, size_t size)
{
	CHECK(r->nterms <= SPF_RECORD_TERMS_MAX);
	for (size_t i = 0; i < r->nterms; i++) {
		const struct spf_term *t = &r->terms[i];

		CHECK(t->text != NULL && t->text[0] != '\0');
		CHECK(strchr(t->text, ' ') == NULL);
		CHECK(memmem(in, size, t->text, strlen(t->text)) != NULL);
		CHECK(t->cidr4 <= 32 && t->cidr6 <= 128);
		check_spec(t->spec);
		if (t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS)
			CHECK(t->spec != NULL);
		if (t->mech == SPF_MECH_ALL || t->mech == SPF_MECH_IP4 ||
		    t->mech == SPF_MECH_IP6)
			CHECK(t->spec == NULL);
	}
	check_spec(r->redirect);
	check_spec(r->exp);
}

/* Rebuild "v=spf1 TERM... redirect=X exp=Y" and parse it again. */
static void
check_roundtrip(const struct spf_record *r)
{
	struct spf_record *r2 = NULL;
	struct buf b;

	buf_init(&b, 1 << 20);
	CHECK(buf_append_str(&b, "v=spf1") == 0);
	for (size_t i = 0; i < r->nterms; i++)
		CHECK(buf_printf(&b, " %s", r->terms[i].text) == 0);
	if (r->redirect != NULL)
		CHECK(buf_printf(&b, " redirect=%s", r->redirect) == 0);
	if (r->exp != NULL)
		CHECK(buf_printf(&b, " exp=%s", r->exp) == 0);
	CHECK(spf_record_parse(buf_cstr(&b), b.len, &r2, NULL, 0) ==
	    SPF_RECORD_OK);
	CHECK(r2->nterms == r->nterms);
	for (size_t i = 0; i < r->nterms; i++) {
		CHECK(r2->terms[i].mech == r->terms[i].mech);
		CHECK(r2->terms[i].qual == r->terms[i].qual);
		CHECK(r2->terms[i].cidr4 == r->terms[i].cidr4);
		CHECK(r2->terms[i].cidr6 == r->terms[i].cidr6);
		CHECK(memcmp(r2->terms[i].addr, r->terms[i].addr, 16) == 0);
	}
	spf_record_free(r2);
	buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_record *r = NULL;
	enum spf_record_result rc;
	char err[256];
	const char *in = (const char *)data;

	rc = spf_record_parse(in, size, &r, err, sizeof(err));
	CHECK((rc == SPF_RECORD_NOT_SPF) == !spf_record_is_spf(in, size));
	CHECK((rc == SPF_RECORD_OK) == (r != NULL));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (r == NULL)
		return 0;
	check_record(r, in, size);
	check_roundtrip(r);
	spf_record_free(r);
	return 0;
}
