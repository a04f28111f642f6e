/* SPDX-License-Identifier: ISC */
/*
 * DMARC aggregate report reader (see in_dmarc.h). The XML is streamed:
 * memory stays proportional to the records kept, not to a DOM, and the
 * record bound is applied as records arrive. Elements are matched by
 * their path of local names under <feedback>, so both the RFC 9990
 * namespace and RFC 7489's unqualified elements are read.
 */
#include "report/in_dmarc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmalloc.h"
#include "report/xmllib.h"

#define IN_DMARC_NS_9990	"urn:ietf:params:xml:ns:dmarc-2.0"

/* The fields read: their path under <feedback>. */
enum in_dmarc_field {
	F_ORG, F_EMAIL, F_ID, F_BEGIN, F_END, F_DOMAIN, F_P,
	F_IP, F_COUNT, F_DISP, F_DKIM, F_SPF, F_HFROM, F_EFROM,
	F_ADKIM_DOMAIN, F_ADKIM_RESULT, F_ASPF_DOMAIN, F_ASPF_RESULT,
	F_NONE,
};

static const char *const in_dmarc_paths[] = {
	[F_ORG] = "report_metadata/org_name",
	[F_EMAIL] = "report_metadata/email",
	[F_ID] = "report_metadata/report_id",
	[F_BEGIN] = "report_metadata/date_range/begin",
	[F_END] = "report_metadata/date_range/end",
	[F_DOMAIN] = "policy_published/domain",
	[F_P] = "policy_published/p",
	[F_IP] = "record/row/source_ip",
	[F_COUNT] = "record/row/count",
	[F_DISP] = "record/row/policy_evaluated/disposition",
	[F_DKIM] = "record/row/policy_evaluated/dkim",
	[F_SPF] = "record/row/policy_evaluated/spf",
	[F_HFROM] = "record/identifiers/header_from",
	[F_EFROM] = "record/identifiers/envelope_from",
	[F_ADKIM_DOMAIN] = "record/auth_results/dkim/domain",
	[F_ADKIM_RESULT] = "record/auth_results/dkim/result",
	[F_ASPF_DOMAIN] = "record/auth_results/spf/domain",
	[F_ASPF_RESULT] = "record/auth_results/spf/result",
};

struct in_dmarc_state {
	const struct xmllib *lx;
	struct in_dmarc	*r;
	char		 path[512];	/* under <feedback>, '/'-separated */
	size_t		 plen[LIMIT_REPORT_XML_DEPTH + 1];
	size_t		 recap;
	char		 num[24];	/* a number's text */
	size_t		 numlen;
	bool		 numbad;
	/* The auth_results/dkim element being read; kept at its end if it
	 * is the record's first, or the first that passed. */
	char		*dkim_domain, *dkim_result;
	char		*err;
	size_t		 errlen;
};

/* libxml2 reports here instead of on stderr. */
static void
in_dmarc_quiet(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static int
in_dmarc_fail(struct in_dmarc_state *s, const char *why)
{
	snprintf(s->err, s->errlen, "%s", why);
	return -1;
}

/* The text slot of field f, or NULL (numbers are collected in s->num). */
static char **
in_dmarc_slot(struct in_dmarc_state *s, enum in_dmarc_field f)
{
	struct in_dmarc *r = s->r;
	struct in_dmarc_record *rec = r->nrec > 0 ? &r->rec[r->nrec - 1] :
	    NULL;

	switch (f) {
	case F_ORG: return &r->org_name;
	case F_EMAIL: return &r->email;
	case F_ID: return &r->report_id;
	case F_DOMAIN: return &r->policy_domain;
	case F_P: return &r->policy;
	case F_ADKIM_DOMAIN: return &s->dkim_domain;
	case F_ADKIM_RESULT: return &s->dkim_result;
	default: break;
	}
	if (rec == NULL)
		return NULL;
	switch (f) {
	case F_IP: return &rec->source_ip;
	case F_DISP: return &rec->disposition;
	case F_DKIM: return &rec->dkim;
	case F_SPF: return &rec->spf;
	case F_HFROM: return &rec->header_from;
	case F_EFROM: return &rec->envelope_from;
	case F_ASPF_DOMAIN: return &rec->spf_domain;
	case F_ASPF_RESULT: return &rec->spf_result;
	default: return NULL;
	}
}

static enum in_dmarc_field
in_dmarc_field_at(const struct in_dmarc_state *s)
{
	for (size_t i = 0; i < F_NONE; i++)
		if (strcmp(s->path, in_dmarc_paths[i]) == 0)
			return (enum in_dmarc_field)i;
	return F_NONE;
}

static bool
in_dmarc_is_num(enum in_dmarc_field f)
{
	return f == F_BEGIN || f == F_END || f == F_COUNT;
}

/* Append text v to *slot, the whole cut at LIMIT_REPORT_FIELD bytes. */
static void
in_dmarc_append(char **slot, const char *v)
{
	size_t have = *slot != NULL ? strlen(*slot) : 0;
	size_t add = strnlen(v, LIMIT_REPORT_FIELD);

	if (have + add > LIMIT_REPORT_FIELD)
		add = LIMIT_REPORT_FIELD - have;
	*slot = xreallocarray(*slot, have + add + 1, 1);
	memcpy(*slot + have, v, add);
	(*slot)[have + add] = '\0';
}

static void
in_dmarc_text(struct in_dmarc_state *s, const char *v)
{
	enum in_dmarc_field f = in_dmarc_field_at(s);
	char **slot;

	if (f == F_NONE)
		return;
	if (in_dmarc_is_num(f)) {
		for (; *v != '\0'; v++) {
			if (*v == ' ' || *v == '\t' || *v == '\r' ||
			    *v == '\n')
				continue;
			if (*v < '0' || *v > '9' ||
			    s->numlen + 1 >= sizeof(s->num)) {
				s->numbad = true;
				continue;
			}
			s->num[s->numlen++] = *v;
		}
		return;
	}
	if ((slot = in_dmarc_slot(s, f)) != NULL)
		in_dmarc_append(slot, v);
}

/* 0..10^18 from s->num; -1 if it is not such a number. */
static long long
in_dmarc_numval(struct in_dmarc_state *s)
{
	if (s->numbad || s->numlen == 0 || s->numlen > 18)
		return -1;
	s->num[s->numlen] = '\0';
	return strtoll(s->num, NULL, 10);
}

/* A new <record>, within the bound. */
static int
in_dmarc_record_new(struct in_dmarc_state *s)
{
	struct in_dmarc *r = s->r;

	if (r->nrec >= LIMIT_REPORT_RECORDS) {
		snprintf(s->err, s->errlen, "more than %d records",
		    LIMIT_REPORT_RECORDS);
		return -1;
	}
	if (r->nrec == s->recap) {
		s->recap = s->recap ? s->recap * 2 : 16;
		r->rec = xreallocarray(r->rec, s->recap, sizeof(*r->rec));
	}
	memset(&r->rec[r->nrec++], 0, sizeof(*r->rec));
	return 0;
}

/* The end of the element at s->path. */
static int
in_dmarc_end(struct in_dmarc_state *s)
{
	enum in_dmarc_field f = in_dmarc_field_at(s);
	struct in_dmarc *r = s->r;
	struct in_dmarc_record *rec = r->nrec > 0 ? &r->rec[r->nrec - 1] :
	    NULL;
	long long v;

	if (in_dmarc_is_num(f)) {
		if ((v = in_dmarc_numval(s)) < 0)
			return in_dmarc_fail(s, "a date or count is not a "
			    "number");
		if (f == F_BEGIN)
			r->begin = v;
		else if (f == F_END)
			r->end = v;
		else if (rec != NULL)
			rec->count = v;
		return 0;
	}
	if (rec != NULL && strcmp(s->path, "record/auth_results/dkim") == 0) {
		bool pass = s->dkim_result != NULL &&
		    strstr(s->dkim_result, "pass") != NULL;
		bool had = rec->dkim_result != NULL;
		bool hadpass = had && strstr(rec->dkim_result, "pass") != NULL;
		if (!had || (pass && !hadpass)) {
			free(rec->dkim_domain);
			free(rec->dkim_result);
			rec->dkim_domain = s->dkim_domain;
			rec->dkim_result = s->dkim_result;
		} else {
			free(s->dkim_domain);
			free(s->dkim_result);
		}
		s->dkim_domain = s->dkim_result = NULL;
		return 0;
	}
	if (rec != NULL && strcmp(s->path, "record") == 0 &&
	    rec->source_ip == NULL)
		return in_dmarc_fail(s, "a record without source_ip");
	return 0;
}

/* An element opens at depth d (0: the root). */
static int
in_dmarc_start(struct in_dmarc_state *s, xmlTextReaderPtr rd, int d)
{
	const char *name = (const char *)s->lx->local_name(rd);
	size_t base, nl;

	if (name == NULL)
		return in_dmarc_fail(s, "malformed XML");
	if (d == 0) {
		if (strcmp(name, "feedback") != 0)
			return in_dmarc_fail(s, "the root is not <feedback>");
		s->path[0] = '\0';
		s->plen[0] = 0;
		return 0;
	}
	if (d > LIMIT_REPORT_XML_DEPTH)
		return in_dmarc_fail(s, "XML nested deeper than the limit");
	base = s->plen[d - 1];
	nl = strlen(name);
	if (base + 1 + nl >= sizeof(s->path))
		return in_dmarc_fail(s, "XML element path too long");
	if (base > 0)
		s->path[base++] = '/';
	memcpy(s->path + base, name, nl + 1);
	s->plen[d] = base + nl;
	if (in_dmarc_is_num(in_dmarc_field_at(s))) {
		s->numlen = 0;
		s->numbad = false;
	}
	if (d == 1 && strcmp(name, "record") == 0)
		return in_dmarc_record_new(s);
	return 0;
}

/* After element at depth d: the path of its parent again. */
static void
in_dmarc_pop(struct in_dmarc_state *s, int d)
{
	size_t keep = d >= 1 ? s->plen[d - 1] : 0;

	s->path[keep] = '\0';
}

/*
 * Refused before parsing: a DOCTYPE or entity declaration (the billion
 * laughs and external entities need one; reports never have one), NUL
 * bytes (UTF-16/32, which would hide them from this scan: the parser is
 * told the document is UTF-8 and to ignore its declaration) and anything
 * that does not start with '<' after a BOM and white space.
 */
static int
in_dmarc_prescan(struct in_dmarc_state *s, const char *p, size_t len)
{
	size_t i = 0;

	if (memchr(p, '\0', len) != NULL)
		return in_dmarc_fail(s, "NUL byte in XML (not UTF-8)");
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	if (i >= len || p[i] != '<')
		return in_dmarc_fail(s, "not XML");
	if (memmem(p, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(p, len, "<!ENTITY", 8) != NULL)
		return in_dmarc_fail(s, "DOCTYPE or entity declaration "
		    "refused");
	return 0;
}

static int
in_dmarc_node(struct in_dmarc_state *s, xmlTextReaderPtr rd)
{
	int type = s->lx->node_type(rd);
	int d = s->lx->depth(rd);
	const char *v;

	switch (type) {
	case XML_READER_TYPE_ELEMENT:
		if (in_dmarc_start(s, rd, d) == -1)
			return -1;
		if (s->lx->is_empty(rd) == 1) {
			if (in_dmarc_end(s) == -1)
				return -1;
			in_dmarc_pop(s, d);
		}
		return 0;
	case XML_READER_TYPE_END_ELEMENT:
		if (in_dmarc_end(s) == -1)
			return -1;
		in_dmarc_pop(s, d);
		return 0;
	case XML_READER_TYPE_TEXT:
	case XML_READER_TYPE_CDATA:
		if ((v = (const char *)s->lx->value(rd)) != NULL)
			in_dmarc_text(s, v);
		return 0;
	case XML_READER_TYPE_DOCUMENT_TYPE:
	case XML_READER_TYPE_ENTITY:
	case XML_READER_TYPE_ENTITY_REFERENCE:
		return in_dmarc_fail(s, "DOCTYPE or entity refused");
	default:
		return 0;
	}
}

/* Trim white space in place; NULL becomes "". */
static void
in_dmarc_tidy(char **p)
{
	char *s = *p, *e;

	if (s == NULL) {
		*p = inreport_field(NULL, 0);
		return;
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		e--;
	char *t = inreport_field(s, (size_t)(e - s));
	free(*p);
	*p = t;
}

static int
in_dmarc_finish(struct in_dmarc_state *s)
{
	struct in_dmarc *r = s->r;
	char **top[] = { &r->org_name, &r->email, &r->report_id,
	    &r->policy_domain, &r->policy };

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		in_dmarc_tidy(top[i]);
	for (size_t i = 0; i < r->nrec; i++) {
		struct in_dmarc_record *c = &r->rec[i];
		char **f[] = { &c->source_ip, &c->disposition, &c->dkim,
		    &c->spf, &c->header_from, &c->envelope_from,
		    &c->dkim_domain, &c->dkim_result, &c->spf_domain,
		    &c->spf_result };
		for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++)
			in_dmarc_tidy(f[j]);
	}
	if (r->org_name[0] == '\0' || r->report_id[0] == '\0')
		return in_dmarc_fail(s, "no org_name or report_id");
	if (r->policy_domain[0] == '\0')
		return in_dmarc_fail(s, "no policy_published domain");
	if (r->end < r->begin)
		return in_dmarc_fail(s, "the date range ends before it "
		    "begins");
	return 0;
}

int
in_dmarc_parse(const void *data, size_t len, struct in_dmarc *out,
    char *err, size_t errlen)
{
	const struct xmllib *lx;
	struct in_dmarc_state s;
	xmlTextReaderPtr rd;
	int rc = 0, st = 0;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.r = out;
	s.err = err;
	s.errlen = errlen;
	if (len > LIMIT_REPORT_DECOMPRESSED || len > INT_MAX)
		return in_dmarc_fail(&s, "XML past the size limit");
	if (in_dmarc_prescan(&s, data, len) == -1)
		return -1;
	if ((lx = s.lx = xmllib_get()) == NULL)
		return in_dmarc_fail(&s, "libxml2 (libxml2.so.2) cannot be "
		    "loaded");
	rd = lx->for_memory(data, (int)len, NULL, "UTF-8",
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_IGNORE_ENC | XML_PARSE_NOXINCNODE);
	if (rd == NULL)
		return in_dmarc_fail(&s, "libxml2 cannot start");
	lx->set_errors(rd, in_dmarc_quiet, NULL);
	bool root = false;
	while (rc == 0 && (st = lx->read(rd)) == 1) {
		if (lx->depth(rd) == 0 &&
		    lx->node_type(rd) == XML_READER_TYPE_ELEMENT)
			root = true;
		rc = in_dmarc_node(&s, rd);
	}
	if (rc == 0 && st != 0)
		rc = in_dmarc_fail(&s, "malformed XML");
	if (rc == 0 && !root)
		rc = in_dmarc_fail(&s, "no <feedback> element");
	lx->free_reader(rd);
	free(s.dkim_domain);
	free(s.dkim_result);
	if (rc == 0)
		rc = in_dmarc_finish(&s);
	return rc;
}
