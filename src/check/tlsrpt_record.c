/* SPDX-License-Identifier: ISC */
/* RFC 8460 §3 TLS-RPT record parser; see tlsrpt_record.h. */
#include "check/tlsrpt_record.h"

#include <string.h>
#include <strings.h>

#define TLSRPT_VERSION	"v=TLSRPTv1"

static bool
tlsrpt_wsp(char c)
{
	return c == ' ' || c == '\t';
}

bool
tlsrpt_record_is_tlsrpt(const char *txt, size_t len)
{
	size_t vl = strlen(TLSRPT_VERSION);

	if (len < vl || memcmp(txt, TLSRPT_VERSION, vl) != 0)
		return false;
	return len == vl || txt[vl] == ';' || tlsrpt_wsp(txt[vl]);
}

/* Trim blanks around [*p, *e). */
static void
tlsrpt_trim(const char **p, const char **e)
{
	while (*p < *e && tlsrpt_wsp(**p))
		(*p)++;
	while (*e > *p && tlsrpt_wsp((*e)[-1]))
		(*e)--;
}

/* §3 tlsrpt-uri: a URI whose scheme is mailto or https. Other bytes of
 * the URI are only checked to be visible ASCII without "," or ";". */
static bool
tlsrpt_uri_ok(const char *p, size_t len)
{
	if (!((len > 7 && strncasecmp(p, "mailto:", 7) == 0) ||
	    (len > 8 && strncasecmp(p, "https://", 8) == 0)))
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == ',' || p[i] == ';')
			return false;
	return true;
}

static enum tlsrpt_record_result
tlsrpt_rua(const char *p, const char *e, struct tlsrpt_record *out)
{
	while (p <= e) {
		const char *c = memchr(p, ',', (size_t)(e - p));
		const char *ue = c ? c : e, *up = p;
		tlsrpt_trim(&up, &ue);
		if (!tlsrpt_uri_ok(up, (size_t)(ue - up)))
			return TLSRPT_RECORD_ERR_URI;
		size_t ul = (size_t)(ue - up);
		if (out->nrua < TLSRPT_URIS_MAX && ul <= TLSRPT_URI_MAX) {
			memcpy(out->rua[out->nrua], up, ul);
			out->rua[out->nrua++][ul] = '\0';
		}
		out->nrua_total++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return out->nrua_total ? TLSRPT_RECORD_OK : TLSRPT_RECORD_ERR_NO_RUA;
}

enum tlsrpt_record_result
tlsrpt_record_parse(const char *txt, size_t len, struct tlsrpt_record *out)
{
	enum tlsrpt_record_result res = TLSRPT_RECORD_ERR_NO_RUA;
	bool have_rua = false;

	memset(out, 0, sizeof(*out));
	if (!tlsrpt_record_is_tlsrpt(txt, len))
		return TLSRPT_RECORD_NOT_TLSRPT;
	const char *p = txt + strlen(TLSRPT_VERSION), *end = txt + len;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *fe = semi ? semi : end, *fp = p;
		p = semi ? semi + 1 : end;
		tlsrpt_trim(&fp, &fe);
		/* An empty field: the optional final delimiter. */
		if (fp == fe)
			continue;
		const char *eq = memchr(fp, '=', (size_t)(fe - fp));
		if (eq == NULL || eq == fp)
			goto fail_syntax;
		for (const char *q = fp; q < eq; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' &&
			    *q <= 'Z') || (*q >= '0' && *q <= '9') ||
			    *q == '_' || *q == '-' || *q == '.'))
				goto fail_syntax;
		if ((size_t)(eq - fp) == 3 && memcmp(fp, "rua", 3) == 0) {
			if (have_rua) {
				res = TLSRPT_RECORD_ERR_DUPLICATE;
				goto fail;
			}
			have_rua = true;
			const char *vp = eq + 1;
			res = tlsrpt_rua(vp, fe, out);
			if (res != TLSRPT_RECORD_OK)
				goto fail;
		}
		/* Other fields are extensions (§3 tlsrpt-ext): ignored. */
	}
	if (have_rua)
		return TLSRPT_RECORD_OK;
fail:
	memset(out, 0, sizeof(*out));
	return res;
fail_syntax:
	memset(out, 0, sizeof(*out));
	return TLSRPT_RECORD_ERR_SYNTAX;
}

const char *
tlsrpt_record_result_name(enum tlsrpt_record_result r)
{
	switch (r) {
	case TLSRPT_RECORD_OK:
		return "ok";
	case TLSRPT_RECORD_NOT_TLSRPT:
		return "not a TLS-RPT record";
	case TLSRPT_RECORD_ERR_SYNTAX:
		return "syntax error";
	case TLSRPT_RECORD_ERR_NO_RUA:
		return "no rua";
	case TLSRPT_RECORD_ERR_URI:
		return "rua URI is not mailto: or https:";
	case TLSRPT_RECORD_ERR_DUPLICATE:
		return "rua given twice";
	}
	return "?";
}
