/* SPDX-License-Identifier: ISC */
/*
 * IDNA2008 conversions through libidn2 (see idna.h). Only names that are
 * not plain ASCII reach the library, so the common path costs a scan.
 */
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "msg/idna.h"

static unsigned char
idna_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool
idna_is_xn(const char *p, size_t n)
{
	return n >= 4 && idna_lower((unsigned char)p[0]) == 'x' &&
	    idna_lower((unsigned char)p[1]) == 'n' && p[2] == '-' &&
	    p[3] == '-';
}

bool
idna_is_plain(const char *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (idna_is_xn(s + start, i - start))
				return false;
			start = i + 1;
		} else if ((unsigned char)s[i] >= 0x80)
			return false;
	}
	return true;
}

/*
 * Whether the A-label form libidn2 made is a host name: letters, digits,
 * hyphens, and underscores (service labels such as _dmarc) in non-empty
 * labels. UTS #46 mapping without its STD3 rules (which would also refuse
 * underscores) turns some code points into ASCII that no host name holds:
 * U+00A0 NO-BREAK SPACE into a space, U+FF1C FULLWIDTH LESS-THAN SIGN
 * into '<', and U+00AD SOFT HYPHEN into nothing, which leaves an empty
 * name (all found by fuzz_addr).
 */
static bool
idna_is_host(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			/* A final dot (a root) is no empty label. */
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
		label++;
	}
	return true;
}

/* Why libidn2 refused a name, in words for logs and A-R reasons. */
static const char *
idna_reason(int rc)
{
	switch (rc) {
	case IDN2_PUNYCODE_BAD_INPUT:
	case IDN2_PUNYCODE_OVERFLOW:
	case IDN2_INVALID_ALABEL:
	case IDN2_ALABEL_ROUNDTRIP_FAILED:
	case IDN2_UALABEL_MISMATCH:
		return "invalid IDN: bad Punycode in an A-label";
	case IDN2_DISALLOWED:
	case IDN2_INVALID_TRANSITIONAL:
	case IDN2_INVALID_NONTRANSITIONAL:
	case IDN2_DOT_IN_LABEL:
		return "invalid IDN: disallowed code point (RFC 5892)";
	case IDN2_UNASSIGNED:
		return "invalid IDN: unassigned code point (RFC 5892)";
	case IDN2_CONTEXTJ:
	case IDN2_CONTEXTJ_NO_RULE:
		return "invalid IDN: CONTEXTJ rule violated (RFC 5892)";
	case IDN2_CONTEXTO:
	case IDN2_CONTEXTO_NO_RULE:
		return "invalid IDN: CONTEXTO rule violated (RFC 5892)";
	case IDN2_BIDI:
		return "invalid IDN: Bidi rule violated (RFC 5893)";
	case IDN2_NOT_NFC:
	case IDN2_NFC:
		return "invalid IDN: not in NFC";
	case IDN2_2HYPHEN:
	case IDN2_HYPHEN_STARTEND:
		return "invalid IDN: hyphen misplaced in a label";
	case IDN2_LEADING_COMBINING:
		return "invalid IDN: label starts with a combining mark";
	case IDN2_PUNYCODE_BIG_OUTPUT:
	case IDN2_TOO_BIG_DOMAIN:
	case IDN2_TOO_BIG_LABEL:
		return "invalid IDN: name or label too long";
	case IDN2_ENCODING_ERROR:
		return "invalid IDN: not UTF-8";
	default:
		return "invalid IDN";
	}
}

static int
idna_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

static int
idna_too_long(const char **why)
{
	idna_fail(why, "invalid IDN: name or label too long");
	return -2;
}

/*
 * The lookup protocol (RFC 5891 §5) leaves out the CONTEXTO rules; the
 * registration one has them, so each A-label of a converted name is put
 * through it too: a name we accept is one that could have been
 * registered.
 */
static int
idna_check_registrable(const char *name)
{
	char label[64];
	size_t start = 0, len = strlen(name);

	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '.')
			continue;
		size_t n = i - start;
		if (idna_is_xn(name + start, n)) {
			uint8_t *reg = NULL;
			int rc;

			if (n >= sizeof(label))
				return IDN2_TOO_BIG_LABEL;
			memcpy(label, name + start, n);
			label[n] = '\0';
			rc = idn2_register_u8(NULL, (const uint8_t *)label,
			    &reg, 0);
			idn2_free(reg);
			if (rc != IDN2_OK)
				return rc;
		}
		start = i + 1;
	}
	return IDN2_OK;
}

int
idna_to_alabels(const char *s, size_t len, char *out, size_t outlen,
    const char **why)
{
	/* The U-label form of a name may take 4 octets per A-label octet;
	 * the limit of a domain name applies to the A-label form. */
	char in[IDNA_INPUT_MAX + 1];
	uint8_t *res = NULL;
	size_t n;
	int rc;

	if (len > IDNA_INPUT_MAX)
		return idna_too_long(why);
	if (memchr(s, '\0', len) != NULL)
		return idna_fail(why, "invalid IDN: NUL in a name");
	for (size_t i = 0; i < len; i++)
		in[i] = (char)idna_lower((unsigned char)s[i]);
	in[len] = '\0';
	if (idna_is_plain(in, len)) {
		if (len > LIMIT_DOMAIN || len >= outlen)
			return idna_too_long(why);
		memcpy(out, in, len + 1);
		return 0;
	}
	rc = idn2_lookup_u8((const uint8_t *)in, &res, IDN2_NONTRANSITIONAL);
	if (rc == IDN2_MALLOC)
		fatal("idna: out of memory");
	if (rc == IDN2_OK)
		rc = idna_check_registrable((const char *)res);
	if (rc == IDN2_MALLOC)
		fatal("idna: out of memory");
	if (rc != IDN2_OK) {
		idn2_free(res);
		if (rc == IDN2_TOO_BIG_DOMAIN || rc == IDN2_TOO_BIG_LABEL ||
		    rc == IDN2_PUNYCODE_BIG_OUTPUT)
			return idna_too_long(why);
		return idna_fail(why, idna_reason(rc));
	}
	n = strlen((const char *)res);
	if (n > LIMIT_DOMAIN || n >= outlen) {
		idn2_free(res);
		return idna_too_long(why);
	}
	if (!idna_is_host((const char *)res, n)) {
		idn2_free(res);
		return idna_fail(why, "invalid IDN: maps to a character or an "
		    "empty label a host name cannot have");
	}
	memcpy(out, res, n + 1);
	idn2_free(res);
	return 0;
}

int
idna_to_ulabels(const char *s, char *out, size_t outlen, const char **why)
{
	char a[LIMIT_DOMAIN + 1];
	char *u = NULL;
	size_t n;
	int rc;

	if (idna_to_alabels(s, strlen(s), a, sizeof(a), why) != 0)
		return -1;
	rc = idn2_to_unicode_8z8z(a, &u, 0);
	if (rc == IDN2_MALLOC)
		fatal("idna: out of memory");
	if (rc != IDN2_OK) {
		idn2_free(u);
		return idna_fail(why, idna_reason(rc));
	}
	n = strlen(u);
	if (n >= outlen) {
		idn2_free(u);
		return idna_fail(why, "invalid IDN: name or label too long");
	}
	memcpy(out, u, n + 1);
	idn2_free(u);
	return 0;
}

void
idna_display(const char *s, char *out, size_t outlen)
{
	char a[LIMIT_DOMAIN + 1], u[IDNA_DISPLAY_MAX];

	if (outlen == 0)
		return;
	if (idna_is_plain(s, strlen(s)) ||
	    idna_to_alabels(s, strlen(s), a, sizeof(a), NULL) != 0 ||
	    idna_to_ulabels(a, u, sizeof(u), NULL) == -1)
		snprintf(out, outlen, "%s", s);
	else if (strcmp(u, a) == 0)
		snprintf(out, outlen, "%s", a);
	else
		snprintf(out, outlen, "%s (%s)", u, a);
}
