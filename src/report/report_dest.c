/* SPDX-License-Identifier: ISC */
/*
 * Report destinations (report.h): the address of a "mailto:" rua/ruf URI
 * (pure; the URI is untrusted DNS text) and the RFC 9990 §4 check that an
 * external destination agreed to receive reports about a domain.
 */
#include "report/report.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/dmarc.h"
#include "auth/dmarc_record.h"
#include "core/limits.h"
#include "core/log.h"
#include "dns/dns.h"
#include "msg/addr.h"

/* The hex value of c, or -1. */
static int
report_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
report_mailto_addr(const char *uri, char *out, size_t outlen)
{
	char addr[LIMIT_PATH + 1];
	struct addr a;
	size_t n = 0, end;
	const char *p;

	if (strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	p = uri + 7;
	/* The obsolete "!size" (RFC 9989 §4.8: a literal "!" in a URI is
	 * escaped) and RFC 6068 hfields end the address part. */
	end = strcspn(p, "!?");
	for (size_t i = 0; i < end; i++) {
		char c = p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= end)
				return -1;
			hi = report_hex(p[i + 1]);
			lo = report_hex(p[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		/* One address only: "," separates several (RFC 6068 §2).
		 * An escaped "%", "?" or "!" would be legal but is refused:
		 * written back into a URI it would mean something else. */
		if (c == '\0' || c == ',' || c == '%' || c == '?' ||
		    c == '!' || n == sizeof(addr) - 1)
			return -1;
		addr[n++] = c;
	}
	/* ASCII only, and neither a quoted local part nor an address
	 * literal: the address goes into header fields as is, and its
	 * domain into the DNS check of report_dest_check. */
	if (addr_parse_mailbox(addr, n, false, &a) != ADDR_OK ||
	    a.local[0] == '"' || a.domain[0] == '[')
		return -1;
	return addr_to_text(&a, out, outlen) == 0 ? 0 : -1;
}

/* The Organizational Domain of d by the RFC 9989 §4.10 Tree Walk (the one
 * DMARC evaluation uses); -1 when DNS failed on the way. */
static int
report_org_domain(const struct conf *conf, const char *d,
    char org[DMARC_DOMAIN_MAX])
{
	const char *from[1] = { d };
	struct dmarc_input in = { .from_domains = from, .nfrom = 1 };
	struct dmarc_verdict *v;
	int rc = -1;

	if (dmarc_eval_sync(conf, &in, &v) == -1)
		return -1;
	if (v->nauthors == 1 && v->author[0].org_domain[0] != '\0') {
		snprintf(org, DMARC_DOMAIN_MAX, "%s", v->author[0].org_domain);
		rc = 0;
	}
	dmarc_verdict_free(v);
	return rc;
}

/*
 * Step 9 of RFC 9990 §4: a confirming record may override rua, but with
 * the same destination host; one that names another host means no report
 * to either ("MUST NOT generate a report to either"). A URI whose host we
 * cannot read (not a mailto: address) counts as another host.
 */
static bool
report_dest_override_ok(const char *txt, size_t len, const char *dest)
{
	struct dmarc_record rec;
	char addr[LIMIT_PATH + 1];
	const char *at;

	if (dmarc_record_parse(txt, len, &rec) != DMARC_RECORD_OK)
		return false;
	for (size_t i = 0; i < rec.nrua; i++)
		if (report_mailto_addr(rec.rua[i], addr, sizeof(addr)) == -1 ||
		    (at = strrchr(addr, '@')) == NULL ||
		    strcasecmp(at + 1, dest) != 0)
			return false;
	return true;
}

/* Steps 2-9 of RFC 9990 §4: POLICY._report._dmarc.DEST TXT. */
static enum report_dest
report_dest_txt(const struct conf *conf, const char *policy_domain,
    const char *dest)
{
	char name[600];
	struct dns_answer *ans;
	enum report_dest r = REPORT_DEST_REFUSED;
	bool override_bad = false;
	int len;

	len = snprintf(name, sizeof(name), "%s._report._dmarc.%s",
	    policy_domain, dest);
	if (len < 0 || len > 253)	/* step 4 */
		return REPORT_DEST_REFUSED;
	if (dns_query_sync(conf, name, DNS_T_TXT, 0, &ans) == -1)
		return REPORT_DEST_TEMP;
	if (ans->rcode == DNS_RCODE_SERVFAIL || ans->rcode == DNS_RCODE_TIMEOUT)
		r = REPORT_DEST_TEMP;
	for (size_t i = 0; ans->rcode == DNS_RCODE_NOERROR && i < ans->nrr;
	    i++)
		if (dmarc_record_is_dmarc(ans->rr[i].u.txt.text,
		    ans->rr[i].u.txt.len)) {
			r = REPORT_DEST_OK;
			override_bad |= !report_dest_override_ok(
			    ans->rr[i].u.txt.text, ans->rr[i].u.txt.len, dest);
		}
	dns_answer_free(ans);
	return override_bad ? REPORT_DEST_REFUSED : r;
}

enum report_dest
report_dest_check(struct report_run *run, const char *policy_domain,
    const char *address)
{
	const char *at = strrchr(address, '@');
	char org_p[DMARC_DOMAIN_MAX], org_d[DMARC_DOMAIN_MAX];
	char esc1[1024], esc2[1024];
	enum report_dest r;

	if (at == NULL)
		return REPORT_DEST_REFUSED;
	if (strcasecmp(at + 1, policy_domain) == 0)
		return REPORT_DEST_OK;
	if (report_org_domain(run->conf, policy_domain, org_p) == -1 ||
	    report_org_domain(run->conf, at + 1, org_d) == -1)
		r = REPORT_DEST_TEMP;
	else if (strcasecmp(org_p, org_d) == 0)
		return REPORT_DEST_OK;
	else
		r = report_dest_txt(run->conf, policy_domain, at + 1);
	log_info("report destination %s for %s: %s",
	    log_quote(address, strlen(address), esc1, sizeof(esc1)),
	    log_quote(policy_domain, strlen(policy_domain), esc2,
	    sizeof(esc2)), r == REPORT_DEST_OK ? "authorised" :
	    r == REPORT_DEST_TEMP ? "DNS error, retried at the next run" :
	    "refused (no _report._dmarc record, or its rua names another "
	    "host)");
	return r;
}
