/* SPDX-License-Identifier: ISC */
/* The _mta-sts TXT record: syntax check and id extraction (RFC 8461 §3.1). */
#include "sts/sts_record.h"

#include <stdio.h>
#include <string.h>

#include "sts/sts_chars.h"

#define VERSION		"v=STSv1"
#define VERSION_LEN	(sizeof(VERSION) - 1)
/* sts-ext-name: 1 + *31 characters. */
#define EXT_NAME_MAX	32

/* sts-ext-value: %x21-3A / %x3C / %x3E-7E (no '=', ';', SP, CTL). */
static bool
is_value_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '=' && c != ';';
}

static bool
is_name_char(unsigned char c)
{
	return sts_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static void
set_why(char *why, size_t whylen, const char *msg, size_t off)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s at offset %zu", msg, off);
}

bool
sts_record_is_sts(const char *txt, size_t len)
{
	if (len < VERSION_LEN || memcmp(txt, VERSION, VERSION_LEN) != 0)
		return false;
	return len == VERSION_LEN ||
	    sts_is_wsp((unsigned char)txt[VERSION_LEN]) ||
	    txt[VERSION_LEN] == ';';
}

/* One sts-field at p[*i..]: name=value; records the first valid id. */
static enum sts_record_result
parse_field(const char *p, size_t len, size_t *i, struct sts_record *rec,
    bool *have_id, char *why, size_t whylen)
{
	size_t ns = *i, vs, n;

	if (*i >= len || !sts_is_alnum((unsigned char)p[*i])) {
		set_why(why, whylen, "expected a field name", *i);
		return STS_RECORD_INVALID;
	}
	while (*i < len && is_name_char((unsigned char)p[*i]))
		(*i)++;
	if (*i - ns > EXT_NAME_MAX) {
		set_why(why, whylen, "field name longer than 32", ns);
		return STS_RECORD_INVALID;
	}
	if (*i >= len || p[*i] != '=') {
		set_why(why, whylen, "expected '=' after a field name", *i);
		return STS_RECORD_INVALID;
	}
	n = *i - ns;
	vs = ++(*i);
	while (*i < len && is_value_char((unsigned char)p[*i]))
		(*i)++;
	if (*i == vs) {
		set_why(why, whylen, "empty field value", vs);
		return STS_RECORD_INVALID;
	}
	if (n == 2 && memcmp(p + ns, "id", 2) == 0) {
		size_t k;

		if (*i - vs > STS_ID_MAX) {
			set_why(why, whylen, "id longer than 32", vs);
			return STS_RECORD_INVALID;
		}
		for (k = vs; k < *i; k++)
			if (!sts_is_alnum((unsigned char)p[k])) {
				set_why(why, whylen,
				    "id holds a character other than a letter "
				    "or digit", k);
				return STS_RECORD_INVALID;
			}
		if (!*have_id) {
			memcpy(rec->id, p + vs, *i - vs);
			rec->id[*i - vs] = '\0';
			*have_id = true;
		}
	}
	return STS_RECORD_OK;
}

enum sts_record_result
sts_record_parse(const char *txt, size_t len, struct sts_record *out,
    char *why, size_t whylen)
{
	struct sts_record rec;
	bool have_id = false;
	size_t i = VERSION_LEN, nfields = 0;
	enum sts_record_result r;

	if (!sts_record_is_sts(txt, len))
		return STS_RECORD_NONE;
	for (;;) {
		/* sts-field-delim = *WSP ";" *WSP */
		while (i < len && sts_is_wsp((unsigned char)txt[i]))
			i++;
		if (i == len)
			break;
		if (txt[i] != ';') {
			set_why(why, whylen, "expected ';'", i);
			return STS_RECORD_INVALID;
		}
		i++;
		while (i < len && sts_is_wsp((unsigned char)txt[i]))
			i++;
		if (i == len)
			break;		/* the optional final delimiter */
		r = parse_field(txt, len, &i, &rec, &have_id, why, whylen);
		if (r != STS_RECORD_OK)
			return r;
		nfields++;
	}
	/* Trailing WSP after the last field is not in the ABNF: only a
	 * delimiter (which may carry WSP) may follow it. */
	if (len > 0 && sts_is_wsp((unsigned char)txt[len - 1])) {
		size_t k = len;

		while (k > 0 && sts_is_wsp((unsigned char)txt[k - 1]))
			k--;
		if (txt[k - 1] != ';') {
			set_why(why, whylen, "trailing space", k);
			return STS_RECORD_INVALID;
		}
	}
	if (nfields == 0 || !have_id) {
		set_why(why, whylen, "no id field", len);
		return STS_RECORD_INVALID;
	}
	*out = rec;
	return STS_RECORD_OK;
}

enum sts_record_result
sts_record_select(const char *const *txt, const size_t *len, size_t n,
    struct sts_record *out, char *why, size_t whylen)
{
	size_t i, found = n, count = 0;

	for (i = 0; i < n; i++)
		if (sts_record_is_sts(txt[i], len[i])) {
			found = i;
			count++;
		}
	if (count == 0) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "no v=STSv1 record");
		return STS_RECORD_NONE;
	}
	if (count > 1) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "%zu v=STSv1 records", count);
		return STS_RECORD_MULTIPLE;
	}
	return sts_record_parse(txt[found], len[found], out, why, whylen);
}

const char *
sts_record_result_name(enum sts_record_result r)
{
	switch (r) {
	case STS_RECORD_OK:
		return "ok";
	case STS_RECORD_NONE:
		return "none";
	case STS_RECORD_MULTIPLE:
		return "multiple";
	case STS_RECORD_INVALID:
		return "invalid";
	}
	return "invalid";
}
