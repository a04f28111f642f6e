/* SPDX-License-Identifier: ISC */
/*
 * A received message to the reports it carries (see inreport.h): the glue
 * between the MIME walker, the unpacker and the three readers. Pure.
 */
#include "report/inreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "core/limits.h"
#include "core/xmalloc.h"
#include "msg/rfc5322_headers.h"
#include "report/in_arf.h"
#include "report/in_dmarc.h"
#include "report/in_mime.h"
#include "report/in_tlsrpt.h"
#include "report/in_unpack.h"

char *
inreport_field(const char *s, size_t n)
{
	char *o;

	if (s == NULL)
		n = 0;
	if (n > LIMIT_REPORT_FIELD)
		n = LIMIT_REPORT_FIELD;
	o = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		o[i] = (c < 0x20 && c != '\n') || c == 0x7f ? '?' : (char)c;
	}
	o[n] = '\0';
	return o;
}

void
in_dmarc_clear(struct in_dmarc *r)
{
	free(r->org_name);
	free(r->email);
	free(r->report_id);
	free(r->policy_domain);
	free(r->policy);
	for (size_t i = 0; i < r->nrec; i++) {
		struct in_dmarc_record *c = &r->rec[i];
		free(c->source_ip);
		free(c->disposition);
		free(c->dkim);
		free(c->spf);
		free(c->header_from);
		free(c->envelope_from);
		free(c->dkim_domain);
		free(c->dkim_result);
		free(c->spf_domain);
		free(c->spf_result);
	}
	free(r->rec);
	memset(r, 0, sizeof(*r));
}

void
in_tls_clear(struct in_tls *r)
{
	free(r->org_name);
	free(r->report_id);
	free(r->contact_info);
	for (size_t i = 0; i < r->npol; i++) {
		struct in_tls_policy *p = &r->pol[i];
		free(p->policy_type);
		free(p->policy_string);
		free(p->policy_domain);
		free(p->mx_host);
		for (size_t j = 0; j < p->nfail; j++) {
			struct in_tls_failure *f = &p->fail[j];
			free(f->result_type);
			free(f->sending_mta_ip);
			free(f->receiving_mx_hostname);
			free(f->receiving_mx_helo);
			free(f->receiving_ip);
			free(f->additional_information);
			free(f->failure_reason_code);
		}
		free(p->fail);
	}
	free(r->pol);
	memset(r, 0, sizeof(*r));
}

void
in_arf_clear(struct in_arf *r)
{
	char *f[] = { r->feedback_type, r->user_agent, r->version,
	    r->original_mail_from, r->original_rcpt_to, r->arrival_date,
	    r->reporting_mta, r->source_ip, r->reported_domain,
	    r->authentication_results, r->auth_failure, r->delivery_result,
	    r->identity_alignment };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(f[i]);
	memset(r, 0, sizeof(*r));
}

void
inreport_clear(struct inreport *r)
{
	switch (r->kind) {
	case INREPORT_DMARC:
		in_dmarc_clear(&r->u.dmarc);
		break;
	case INREPORT_TLS:
		in_tls_clear(&r->u.tls);
		break;
	case INREPORT_ARF:
		in_arf_clear(&r->u.arf);
		break;
	}
	free(r->msg_id);
	free(r->msg_from_domain);
	r->msg_id = r->msg_from_domain = NULL;
}

bool
inreport_authenticated(const char *hdrs, size_t len, const char *authserv_id)
{
	struct authres_field f[4];
	size_t n = authres_find_ours(hdrs, len, authserv_id, f, 4);
	bool pass = false;

	if (n > 4)
		n = 4;
	for (size_t i = 0; i < n && !pass; i++) {
		struct authres *ar;
		if (authres_parse(f[i].value, f[i].vlen, &ar) != AUTHRES_OK)
			continue;
		for (size_t j = 0; j < ar->nresults; j++)
			if (strcmp(ar->results[j].method, "dmarc") == 0 &&
			    strcmp(ar->results[j].result, "pass") == 0)
				pass = true;
		authres_free(ar);
	}
	return pass;
}

struct inreport_walk {
	inreport_cb	*cb;
	void		*arg;
	struct inreport	 proto;		/* msg_id, from, flags */
	bool		 arf;		/* the part is a feedback report */
	size_t		 n;
};

/* Hand over a parsed report (and free it) or a refusal. */
static void
inreport_emit(struct inreport_walk *w, struct inreport *r, int rc,
    const char *err)
{
	w->n++;
	w->cb(rc == 0 ? r : NULL, rc == 0 ? NULL : err, w->arg);
	r->msg_id = r->msg_from_domain = NULL;	/* borrowed from proto */
	inreport_clear(r);
}

/* in_unpack_cb: one file of a payload, read by its first byte. */
static int
inreport_file(const char *name, const uint8_t *data, size_t len, void *arg)
{
	struct inreport_walk *w = arg;
	struct inreport r = w->proto;
	char err[256];
	size_t i = 0;
	int rc;

	(void)name;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' ||
	    data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && data[i] == '<') {
		r.kind = INREPORT_DMARC;
		rc = in_dmarc_parse(data, len, &r.u.dmarc, err, sizeof(err));
	} else if (i < len && data[i] == '{') {
		r.kind = INREPORT_TLS;
		rc = in_tlsrpt_parse(data, len, &r.u.tls, err, sizeof(err));
	} else {
		r.kind = INREPORT_DMARC;
		memset(&r.u, 0, sizeof(r.u));
		snprintf(err, sizeof(err), "neither XML nor JSON");
		rc = -1;
	}
	inreport_emit(w, &r, rc, err);
	return 0;
}

/* in_mime_cb: one report part. */
static int
inreport_part(const struct in_mime_part *p, void *arg)
{
	struct inreport_walk *w = arg;
	char err[256];

	if (strcmp(p->type, "message/feedback-report") == 0) {
		struct inreport r = w->proto;
		r.kind = INREPORT_ARF;
		int rc = in_arf_parse(p->data, p->len, &r.u.arf, err,
		    sizeof(err));
		inreport_emit(w, &r, rc, err);
		return 0;
	}
	if (in_unpack(p->data, p->len, inreport_file, w, err,
	    sizeof(err)) == -1) {
		struct inreport r = w->proto;
		memset(&r.u, 0, sizeof(r.u));
		inreport_emit(w, &r, -1, err);
	}
	return 0;
}

/* Message-ID and the From: domain, for ARF reports' identity. */
static void
inreport_identity(const char *msg, size_t len, struct inreport *r)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	char dom[LIMIT_DOMAIN + 1] = "";

	rfc5322_headers_init(&h, msg, len);
	while (rfc5322_headers_next(&h, &f) == RFC5322_HEADERS_FIELD) {
		if (f.name_len == 10 && strncasecmp(f.name, "Message-ID",
		    10) == 0 && r->msg_id == NULL) {
			size_t a = 0, b = f.value_len;
			while (a < b && (f.value[a] == ' ' ||
			    f.value[a] == '\t'))
				a++;
			while (b > a && (f.value[b - 1] == ' ' ||
			    f.value[b - 1] == '\r' || f.value[b - 1] == '\n'))
				b--;
			r->msg_id = inreport_field(f.value + a, b - a);
		} else if (f.name_len == 4 && strncasecmp(f.name, "From",
		    4) == 0 && dom[0] == '\0') {
			const char *at = memrchr(f.value, '@', f.value_len);
			size_t k = 0;
			for (const char *c = at != NULL ? at + 1 : NULL;
			    c != NULL && c < f.value + f.value_len &&
			    k < LIMIT_DOMAIN && (*c == '.' || *c == '-' ||
			    (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' &&
			    (*c | 32) <= 'z')); c++)
				dom[k++] = (char)(*c | (*c >= 'A' &&
				    *c <= 'Z' ? 32 : 0));
			dom[k] = '\0';
		}
	}
	if (r->msg_id == NULL)
		r->msg_id = inreport_field(NULL, 0);
	r->msg_from_domain = inreport_field(dom, strlen(dom));
}

size_t
inreport_from_message(const char *msg, size_t len, bool authenticated,
    long long received, inreport_cb *cb, void *arg)
{
	struct inreport_walk w;

	memset(&w, 0, sizeof(w));
	w.cb = cb;
	w.arg = arg;
	w.proto.authenticated = authenticated;
	w.proto.received = received;
	inreport_identity(msg, len, &w.proto);
	if (in_mime_walk(msg, len, inreport_part, &w) == IN_MIME_LIMIT) {
		struct inreport r = w.proto;
		memset(&r.u, 0, sizeof(r.u));
		inreport_emit(&w, &r, -1, "MIME structure past the limits "
		    "(depth or parts)");
	}
	free(w.proto.msg_id);
	free(w.proto.msg_from_domain);
	return w.n;
}
