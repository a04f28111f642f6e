/* SPDX-License-Identifier: ISC */
/*
 * DMARC Policy Record parser (RFC 9989 §4.7, §4.8). Pure, no allocation;
 * the record text is untrusted DNS data. See dmarc_record.h for the
 * reading of the RFC applied to syntax errors, p/sp/np and pct.
 */
#include "auth/dmarc_record.h"

#include <stdio.h>
#include <string.h>

/* One tag-spec of the record, as spans into the input. */
struct dmarc_tag {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
};

/* Tags we know, in the order of the seen-bit set below. */
enum dmarc_tag_id {
	DT_P, DT_SP, DT_NP, DT_ADKIM, DT_ASPF, DT_PSD, DT_T, DT_FO, DT_RUA,
	DT_RUF, DT_PCT, DT_UNKNOWN,
};

static const struct {
	const char	*name;
	unsigned	 err;
} dmarc_tags[] = {
	[DT_P] = { "p", DMARC_ERR_P },
	[DT_SP] = { "sp", DMARC_ERR_SP },
	[DT_NP] = { "np", DMARC_ERR_NP },
	[DT_ADKIM] = { "adkim", DMARC_ERR_ADKIM },
	[DT_ASPF] = { "aspf", DMARC_ERR_ASPF },
	[DT_PSD] = { "psd", DMARC_ERR_PSD },
	[DT_T] = { "t", DMARC_ERR_T },
	[DT_FO] = { "fo", DMARC_ERR_FO },
	[DT_RUA] = { "rua", DMARC_ERR_RUA },
	[DT_RUF] = { "ruf", DMARC_ERR_RUF },
	[DT_PCT] = { "pct", DMARC_ERR_PCT },
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of a span with a lower-case literal. */
static bool
span_eq(const char *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower(p[i]) != lit[i])
			return false;
	return lit[n] == '\0';
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_wsp(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_wsp((*p)[*n - 1]))
		(*n)--;
}

/*
 * The version tag: "v" *WSP "=" *WSP %s"DMARC1", then *WSP and either the
 * end or ";" (§4.8 dmarc-version, dmarc-sep). Returns the offset after it,
 * or 0 if the record does not start with it. Trailing WSP without a ";" is
 * tolerated.
 */
static size_t
dmarc_version_len(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || lower(s[0]) != 'v')
		return 0;
	for (i = 1; i < len && is_wsp(s[i]); i++)
		;
	if (i == len || s[i] != '=')
		return 0;
	for (i++; i < len && is_wsp(s[i]); i++)
		;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	for (i += 6; i < len && is_wsp(s[i]); i++)
		;
	if (i < len && s[i] != ';')
		return 0;
	return i;
}

bool
dmarc_record_is_dmarc(const char *txt, size_t len)
{
	return dmarc_version_len(txt, len) != 0;
}

/* Split one tag-spec "name *WSP = *WSP value" (already trimmed). */
static bool
dmarc_split_tag(const char *p, size_t n, struct dmarc_tag *t)
{
	size_t i = 0, j;

	while (i < n && is_alpha(p[i]))
		i++;
	t->name = p;
	t->nlen = i;
	if (i == 0)
		return false;
	while (i < n && is_wsp(p[i]))
		i++;
	if (i == n || p[i] != '=')
		return false;
	for (i++; i < n && is_wsp(p[i]); i++)
		;
	t->val = p + i;
	t->vlen = n - i;
	if (t->vlen == 0)
		return false;
	/* dmarc-value: printing characters and SP except ";". */
	for (j = 0; j < t->vlen; j++)
		if ((unsigned char)t->val[j] < 0x20 ||
		    (unsigned char)t->val[j] > 0x7e)
			return false;
	return true;
}

static bool
dmarc_parse_policy(const char *v, size_t n, enum dmarc_policy *out)
{
	if (span_eq(v, n, "none"))
		*out = DMARC_POLICY_NONE;
	else if (span_eq(v, n, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (span_eq(v, n, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

/* fo: tokens 0, 1, d, s separated by ":", each at most once, not both 0
 * and 1 (§4.8 dmarc-fo). */
static bool
dmarc_parse_fo(const char *v, size_t n, unsigned *out)
{
	unsigned set = 0, bit;
	size_t i = 0;

	while (i < n) {
		switch (lower(v[i])) {
		case '0': bit = DMARC_FO_0; break;
		case '1': bit = DMARC_FO_1; break;
		case 'd': bit = DMARC_FO_D; break;
		case 's': bit = DMARC_FO_S; break;
		default: return false;
		}
		if (set & bit)
			return false;
		set |= bit;
		i++;
		if (i < n && (v[i] != ':' || i + 1 == n))
			return false;
		if (i < n)
			i++;
	}
	if (set == 0 || (set & (DMARC_FO_0 | DMARC_FO_1)) ==
	    (DMARC_FO_0 | DMARC_FO_1))
		return false;
	*out = set;
	return true;
}

static bool
is_hex(char c)
{
	return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f');
}

/* RFC 3986 URI characters allowed here: unreserved, reserved except ","
 * and "!" (which §4.8 says must be percent-encoded), and pct-encoded. */
static bool
dmarc_uri_chars_ok(const char *u, size_t n)
{
	static const char extra[] = "-._~:/?#[]@$&'()*+;=";
	size_t i;

	for (i = 0; i < n; i++) {
		char c = u[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			if (!is_hex(u[i + 1]) || !is_hex(u[i + 2]))
				return false;
			i += 2;
		} else if (!is_alpha(c) && !is_digit(c) &&
		    (c == '\0' || strchr(extra, c) == NULL))
			return false;
	}
	return true;
}

/*
 * Validate one reporting URI (dmarc-uri / obs-dmarc-uri) and return the
 * length of its URI part (without "!size"), or 0 if it is not valid.
 */
static size_t
dmarc_uri_len(const char *u, size_t n)
{
	size_t i, bang;

	for (bang = 0; bang < n && u[bang] != '!'; bang++)
		;
	if (bang < n) {
		/* obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] */
		i = bang + 1;
		if (i == n || !is_digit(u[i]))
			return 0;
		while (i < n && is_digit(u[i]))
			i++;
		if (i < n && strchr("kmgt", lower(u[i])) != NULL &&
		    u[i] != '\0')
			i++;
		if (i != n)
			return 0;
		n = bang;
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" 1*char */
	if (n == 0 || !is_alpha(u[0]))
		return 0;
	for (i = 1; i < n && u[i] != ':'; i++)
		if (!is_alpha(u[i]) && !is_digit(u[i]) && u[i] != '+' &&
		    u[i] != '-' && u[i] != '.')
			return 0;
	if (i + 1 >= n)
		return 0;
	if (!dmarc_uri_chars_ok(u + i + 1, n - i - 1))
		return 0;
	return n <= DMARC_URI_MAX ? n : 0;
}

/* rua/ruf: URIs separated by *WSP "," *WSP; invalid ones are dropped. */
static bool
dmarc_parse_urilist(const char *v, size_t n, char uris[][DMARC_URI_MAX + 1],
    size_t *count)
{
	bool ok = true;
	size_t start = 0, end, ulen;

	*count = 0;
	while (start <= n) {
		const char *p = v + start;
		size_t plen;

		for (end = start; end < n && v[end] != ','; end++)
			;
		plen = end - start;
		trim(&p, &plen);
		ulen = dmarc_uri_len(p, plen);
		if (ulen == 0)
			ok = false;
		else if (*count < DMARC_URIS_MAX) {
			memcpy(uris[*count], p, ulen);
			uris[*count][ulen] = '\0';
			(*count)++;
		}
		start = end + 1;
	}
	return ok;
}

static enum dmarc_tag_id
dmarc_tag_lookup(const struct dmarc_tag *t)
{
	size_t i;

	for (i = 0; i < DT_UNKNOWN; i++)
		if (span_eq(t->name, t->nlen, dmarc_tags[i].name))
			return (enum dmarc_tag_id)i;
	return DT_UNKNOWN;
}

/* Apply a known tag to r; false if its value is not valid. */
static bool
dmarc_apply_tag(struct dmarc_record *r, enum dmarc_tag_id id,
    const char *v, size_t n)
{
	switch (id) {
	case DT_P:
		return (r->has_p = dmarc_parse_policy(v, n, &r->p));
	case DT_SP:
		return (r->has_sp = dmarc_parse_policy(v, n, &r->sp));
	case DT_NP:
		return (r->has_np = dmarc_parse_policy(v, n, &r->np));
	case DT_ADKIM:
	case DT_ASPF: {
		enum dmarc_align *a = id == DT_ADKIM ? &r->adkim : &r->aspf;
		if (span_eq(v, n, "r"))
			*a = DMARC_ALIGN_RELAXED;
		else if (span_eq(v, n, "s"))
			*a = DMARC_ALIGN_STRICT;
		else
			return false;
		return true;
	}
	case DT_PSD:
		if (span_eq(v, n, "y"))
			r->psd = DMARC_PSD_Y;
		else if (span_eq(v, n, "n"))
			r->psd = DMARC_PSD_N;
		else if (span_eq(v, n, "u"))
			r->psd = DMARC_PSD_U;
		else
			return false;
		return true;
	case DT_T:
		if (!span_eq(v, n, "y") && !span_eq(v, n, "n"))
			return false;
		r->t = span_eq(v, n, "y");
		r->has_t = true;
		return true;
	case DT_FO:
		return dmarc_parse_fo(v, n, &r->fo);
	case DT_RUA:
		return dmarc_parse_urilist(v, n, r->rua, &r->nrua);
	case DT_RUF:
		return dmarc_parse_urilist(v, n, r->ruf, &r->nruf);
	case DT_PCT: {
		int pct = 0;
		size_t i;
		if (n == 0 || n > 3)
			return false;
		for (i = 0; i < n; i++) {
			if (!is_digit(v[i]))
				return false;
			pct = pct * 10 + (v[i] - '0');
		}
		if (pct > 100)
			return false;
		r->pct = pct;
		return true;
	}
	case DT_UNKNOWN:
		break;
	}
	return true;
}

static void
dmarc_record_defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->p = r->sp = r->np = DMARC_POLICY_NONE;
	r->adkim = r->aspf = DMARC_ALIGN_RELAXED;
	r->psd = DMARC_PSD_U;
	r->pct = -1;
	r->fo = DMARC_FO_0;
}

/* Handle one ";"-separated tag-spec (trimmed, non-empty). */
static void
dmarc_record_tag(struct dmarc_record *r, const char *p, size_t n,
    unsigned *seen)
{
	struct dmarc_tag t;
	enum dmarc_tag_id id;

	memset(&t, 0, sizeof(t));
	if (!dmarc_split_tag(p, n, &t)) {
		r->errors |= DMARC_ERR_SYNTAX;
		/* A known tag with a broken spec ("sp=", "p") was still given
		 * and is not valid, which matters for §4.10.1. */
		if (t.nlen > 0 && (id = dmarc_tag_lookup(&t)) != DT_UNKNOWN)
			r->errors |= dmarc_tags[id].err;
		return;
	}
	id = dmarc_tag_lookup(&t);
	if (id == DT_UNKNOWN)
		return;		/* §4.7: unknown tags MUST be ignored */
	if (*seen & (1u << id)) {
		r->errors |= DMARC_ERR_DUPLICATE;
		return;
	}
	*seen |= 1u << id;
	if (!dmarc_apply_tag(r, id, t.val, t.vlen)) {
		r->errors |= dmarc_tags[id].err;
		if (id == DT_PCT)
			r->pct = -1;
		if (id == DT_FO)
			r->fo = DMARC_FO_0;
	}
}

enum dmarc_record_result
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *out)
{
	size_t pos, end;
	unsigned seen = 0;

	dmarc_record_defaults(out);
	pos = dmarc_version_len(txt, len);
	if (pos == 0)
		return DMARC_RECORD_NOT_DMARC;
	while (pos < len) {
		const char *p;
		size_t n;

		pos++;		/* the ';' */
		for (end = pos; end < len && txt[end] != ';'; end++)
			;
		p = txt + pos;
		n = end - pos;
		trim(&p, &n);
		if (n > 0)
			dmarc_record_tag(out, p, n, &seen);
		pos = end;
	}
	/* §4.10.1: no valid p, or an sp/np that is not valid. */
	out->policy_invalid = !out->has_p ||
	    (out->errors & (DMARC_ERR_P | DMARC_ERR_SP | DMARC_ERR_NP)) != 0;
	return DMARC_RECORD_OK;
}

bool
dmarc_record_testing(const struct dmarc_record *r)
{
	if (r->has_t)
		return r->t;
	return r->pct == 0;
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE: return "none";
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	}
	return "none";
}

const char *
dmarc_align_name(enum dmarc_align a)
{
	return a == DMARC_ALIGN_STRICT ? "s" : "r";
}

const char *
dmarc_psd_name(enum dmarc_psd p)
{
	switch (p) {
	case DMARC_PSD_Y: return "y";
	case DMARC_PSD_N: return "n";
	case DMARC_PSD_U: return "u";
	}
	return "u";
}
