/* SPDX-License-Identifier: ISC */
/*
 * SPF record parser (RFC 7208 §4.6, §5, §6, §12); see spf_record.h. The
 * text is untrusted DNS data and is only ever read within len.
 */
#include "auth/spf_record.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/spf_macro.h"
#include "core/log.h"
#include "core/xmalloc.h"

static const struct {
	const char	*name;
	enum spf_mech	 mech;
} spf_mechs[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE },
	{ "a", SPF_MECH_A }, { "mx", SPF_MECH_MX }, { "ptr", SPF_MECH_PTR },
	{ "ip4", SPF_MECH_IP4 }, { "ip6", SPF_MECH_IP6 },
	{ "exists", SPF_MECH_EXISTS },
};

static bool
spf_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
spf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool
spf_record_is_spf(const char *txt, size_t len)
{
	/* §4.5: exactly "v=spf1", then a space or the end of the record. */
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (len == 6 || txt[6] == ' ');
}

/*
 * §12 toplabel = ( *alphanum ALPHA *alphanum ) /
 *                ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 * i.e. letters, digits and hyphens, no hyphen at either end, not all digits.
 */
static bool
spf_toplabel_ok(const char *s, size_t n)
{
	bool alpha = false, hyphen = false;

	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (spf_is_alpha(s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!spf_is_digit(s[i]))
			return false;
	}
	return alpha || hyphen;
}

/* §12 domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static enum spf_record_result
spf_domain_spec_ok(const char *s, size_t n)
{
	size_t last;
	const char *dot;

	if (n == 0)
		return SPF_RECORD_ERR_DOMAIN;
	if (spf_macro_check(s, n, SPF_MACRO_DOMAIN, &last) != SPF_MACRO_OK)
		return SPF_RECORD_ERR_MACRO;
	s += last;
	n -= last;
	if (n > 0 && s[n - 1] == '.')
		n--;
	/* Ends with a macro-expand (a trailing dot after it is accepted, as
	 * §7.3 asks of trailing dots). */
	if (n == 0)
		return SPF_RECORD_OK;
	if ((dot = memrchr(s, '.', n)) == NULL)
		return SPF_RECORD_ERR_DOMAIN;
	if (!spf_toplabel_ok(dot + 1, n - (size_t)(dot + 1 - s)))
		return SPF_RECORD_ERR_DOMAIN;
	return SPF_RECORD_OK;
}

/* "0" / %x31-39 0*(maxdig-1)DIGIT, value <= max (§12 ip4/ip6-cidr-length). */
static bool
spf_cidr_ok(const char *s, size_t n, size_t maxdig, unsigned max,
    unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > maxdig || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* If s[0..*n) ends with "/" 1*DIGIT, cut it off and return the digits. */
static bool
spf_cidr_suffix(const char *s, size_t *n, const char **dig, size_t *ndig)
{
	size_t j = *n;

	while (j > 0 && spf_is_digit(s[j - 1]))
		j--;
	if (j == *n || j == 0 || s[j - 1] != '/')
		return false;
	*dig = s + j;
	*ndig = *n - j;
	*n = j - 1;
	return true;
}

/* §12 ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros. */
static bool
spf_ip4_ok(const char *s, size_t n, uint8_t *out)
{
	size_t i = 0, start;
	unsigned v;

	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		start = i;
		for (v = 0; i < n && spf_is_digit(s[i]) && i - start < 3; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return false;
		out[part] = (uint8_t)v;
	}
	return i == n;
}

static bool
spf_ip6_ok(const char *s, size_t n, uint8_t *out)
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/* The optional or required ":domain-spec" of rest[0..n). */
static enum spf_record_result
spf_term_spec(struct spf_term *t, const char *rest, size_t n, bool required)
{
	enum spf_record_result r;

	if (n == 0)
		return required ? SPF_RECORD_ERR_SYNTAX : SPF_RECORD_OK;
	if (rest[0] != ':')
		return SPF_RECORD_ERR_SYNTAX;
	if ((r = spf_domain_spec_ok(rest + 1, n - 1)) != SPF_RECORD_OK)
		return r;
	t->spec = xstrndup(rest + 1, n - 1);
	return SPF_RECORD_OK;
}

/* a and mx: [ ":" domain-spec ] [ dual-cidr-length ] */
static enum spf_record_result
spf_term_dual(struct spf_term *t, const char *rest, size_t n)
{
	const char *d1, *d2;
	size_t n1, n2;

	if (spf_cidr_suffix(rest, &n, &d1, &n1)) {
		if (n > 0 && rest[n - 1] == '/') {
			/* "//" ip6-cidr-length */
			n--;
			if (!spf_cidr_ok(d1, n1, 3, 128, &t->cidr6))
				return SPF_RECORD_ERR_CIDR;
			if (spf_cidr_suffix(rest, &n, &d2, &n2) &&
			    !spf_cidr_ok(d2, n2, 2, 32, &t->cidr4))
				return SPF_RECORD_ERR_CIDR;
		} else if (!spf_cidr_ok(d1, n1, 2, 32, &t->cidr4))
			return SPF_RECORD_ERR_CIDR;
	}
	return spf_term_spec(t, rest, n, false);
}

/* ip4 / ip6: ":" network [ cidr-length ] */
static enum spf_record_result
spf_term_ip(struct spf_term *t, const char *rest, size_t n)
{
	const char *d;
	size_t nd;
	bool v6 = t->mech == SPF_MECH_IP6;

	if (n == 0 || rest[0] != ':')
		return SPF_RECORD_ERR_SYNTAX;
	if (spf_cidr_suffix(rest, &n, &d, &nd) &&
	    !spf_cidr_ok(d, nd, v6 ? 3 : 2, v6 ? 128 : 32,
	    v6 ? &t->cidr6 : &t->cidr4))
		return SPF_RECORD_ERR_CIDR;
	if (v6 ? !spf_ip6_ok(rest + 1, n - 1, t->addr) :
	    !spf_ip4_ok(rest + 1, n - 1, t->addr))
		return SPF_RECORD_ERR_ADDR;
	return SPF_RECORD_OK;
}

/* directive = [ qualifier ] mechanism */
static enum spf_record_result
spf_directive(const char *s, size_t n, struct spf_term *t)
{
	size_t i = 0, nl;

	t->qual = SPF_QUAL_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (s[0]) {
	case '+': t->qual = SPF_QUAL_PASS; i = 1; break;
	case '-': t->qual = SPF_QUAL_FAIL; i = 1; break;
	case '~': t->qual = SPF_QUAL_SOFTFAIL; i = 1; break;
	case '?': t->qual = SPF_QUAL_NEUTRAL; i = 1; break;
	}
	for (nl = 0; i + nl < n && (spf_is_alpha(s[i + nl]) ||
	    spf_is_digit(s[i + nl])); nl++)
		;
	for (size_t k = 0; k < sizeof(spf_mechs) / sizeof(spf_mechs[0]); k++) {
		if (strlen(spf_mechs[k].name) != nl ||
		    strncasecmp(spf_mechs[k].name, s + i, nl) != 0)
			continue;
		t->mech = spf_mechs[k].mech;
		s += i + nl;
		n -= i + nl;
		switch (t->mech) {
		case SPF_MECH_ALL:
			return n == 0 ? SPF_RECORD_OK : SPF_RECORD_ERR_SYNTAX;
		case SPF_MECH_INCLUDE:
		case SPF_MECH_EXISTS:
			return spf_term_spec(t, s, n, true);
		case SPF_MECH_PTR:
			return spf_term_spec(t, s, n, false);
		case SPF_MECH_A:
		case SPF_MECH_MX:
			return spf_term_dual(t, s, n);
		case SPF_MECH_IP4:
		case SPF_MECH_IP6:
			return spf_term_ip(t, s, n);
		}
	}
	return SPF_RECORD_ERR_MECHANISM;
}

/* Length of a modifier name "name=" at s, or 0 if s is not a modifier.
 * §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static size_t
spf_modifier_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !spf_is_alpha(s[0]))
		return 0;
	for (i = 1; i < n; i++) {
		if (s[i] == '=')
			return i;
		if (!spf_is_alpha(s[i]) && !spf_is_digit(s[i]) &&
		    s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	}
	return 0;
}

static enum spf_record_result
spf_modifier(struct spf_record *rec, const char *s, size_t n, size_t nl)
{
	const char *v = s + nl + 1;
	size_t vn = n - nl - 1;
	enum spf_record_result r;
	char **slot = NULL;

	if (nl == 8 && strncasecmp(s, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (nl == 3 && strncasecmp(s, "exp", 3) == 0)
		slot = &rec->exp;
	if (slot == NULL) {
		/* §6: unknown modifiers are ignored, but their value must
		 * still be a valid macro-string (§12 unknown-modifier). */
		return spf_macro_check(v, vn, SPF_MACRO_DOMAIN, NULL) ==
		    SPF_MACRO_OK ? SPF_RECORD_OK : SPF_RECORD_ERR_MACRO;
	}
	/* §6: redirect and exp MUST NOT appear more than once each. */
	if (*slot != NULL)
		return SPF_RECORD_ERR_DUP_MODIFIER;
	if ((r = spf_domain_spec_ok(v, vn)) != SPF_RECORD_OK)
		return r;
	*slot = xstrndup(v, vn);
	return SPF_RECORD_OK;
}

static enum spf_record_result
spf_record_term(struct spf_record *rec, const char *s, size_t n)
{
	struct spf_term *t;
	enum spf_record_result r;
	size_t nl;

	/* §12: a term is VCHARs only. Checked once here so that no later
	 * step can meet a NUL (C string functions would stop at it and see a
	 * shorter, different term) or a byte above 0x7e. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return SPF_RECORD_ERR_SYNTAX;
	if ((nl = spf_modifier_name(s, n)) > 0)
		return spf_modifier(rec, s, n, nl);
	if (rec->nterms == SPF_RECORD_TERMS_MAX)
		return SPF_RECORD_ERR_TOO_MANY;
	if (rec->nterms % 16 == 0)
		rec->terms = xreallocarray(rec->terms, rec->nterms + 16,
		    sizeof(*rec->terms));
	t = &rec->terms[rec->nterms];
	memset(t, 0, sizeof(*t));
	if ((r = spf_directive(s, n, t)) != SPF_RECORD_OK) {
		free(t->spec);
		return r;
	}
	t->text = xstrndup(s, n);
	rec->nterms++;
	return SPF_RECORD_OK;
}

enum spf_record_result
spf_record_parse(const char *txt, size_t len, struct spf_record **out,
    char *err, size_t errlen)
{
	struct spf_record *rec;
	enum spf_record_result r = SPF_RECORD_OK;
	size_t i = 6, start;
	char esc[128];

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!spf_record_is_spf(txt, len))
		return SPF_RECORD_NOT_SPF;
	rec = xcalloc(1, sizeof(*rec));
	/* §12: terms = *( 1*SP ( directive / modifier ) ), then *SP. */
	while (i < len) {
		while (i < len && txt[i] == ' ')
			i++;
		start = i;
		while (i < len && txt[i] != ' ')
			i++;
		if (i == start)
			break;
		if ((r = spf_record_term(rec, txt + start, i - start)) !=
		    SPF_RECORD_OK) {
			if (err != NULL)
				snprintf(err, errlen, "%s: %s",
				    spf_record_result_name(r),
				    log_escape(txt + start, i - start, esc,
				    sizeof(esc)));
			spf_record_free(rec);
			return r;
		}
	}
	*out = rec;
	return SPF_RECORD_OK;
}

void
spf_record_free(struct spf_record *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->nterms; i++) {
		free(rec->terms[i].spec);
		free(rec->terms[i].text);
	}
	free(rec->terms);
	free(rec->redirect);
	free(rec->exp);
	free(rec);
}

const char *
spf_record_result_name(enum spf_record_result r)
{
	switch (r) {
	case SPF_RECORD_OK: return "ok";
	case SPF_RECORD_NOT_SPF: return "not an SPF record";
	case SPF_RECORD_ERR_SYNTAX: return "syntax error";
	case SPF_RECORD_ERR_MECHANISM: return "unknown mechanism";
	case SPF_RECORD_ERR_DUP_MODIFIER: return "duplicate modifier";
	case SPF_RECORD_ERR_CIDR: return "bad CIDR length";
	case SPF_RECORD_ERR_ADDR: return "bad IP address";
	case SPF_RECORD_ERR_MACRO: return "bad macro";
	case SPF_RECORD_ERR_DOMAIN: return "bad domain-spec";
	case SPF_RECORD_ERR_TOO_MANY: return "too many terms";
	}
	return "?";
}

const char *
spf_mech_name(enum spf_mech m)
{
	for (size_t k = 0; k < sizeof(spf_mechs) / sizeof(spf_mechs[0]); k++)
		if (spf_mechs[k].mech == m)
			return spf_mechs[k].name;
	return "?";
}
