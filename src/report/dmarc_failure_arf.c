/* SPDX-License-Identifier: ISC */
/* The MIME parts of an RFC 9991 failure report (see dmarc_failure.h). */
#include "report/dmarc_failure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/datetime.h"
#include "core/limits.h"
#include "core/xmalloc.h"
#include "report/report_mail.h"

/* The feedback report is a few fields; the headers part is bounded by the
 * stored (already bounded) header section. */
#define DMARC_FAILURE_FEEDBACK_MAX	(64 * 1024)
#define DMARC_FAILURE_TEXT_MAX		4096

/* s with bytes outside printable ASCII as '?': header field values. */
static char *
dmarc_failure_printable(const char *s, size_t max)
{
	char *c = xstrndup(s, max);

	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return c;
}

/* One feedback-report field; an empty value is left out (all fields
 * but the first three are optional in RFC 5965 §3.2). */
static int
dmarc_failure_field(struct buf *b, const char *name, const char *value)
{
	char *v;
	int rc;

	if (value == NULL || value[0] == '\0')
		return 0;
	v = dmarc_failure_printable(value, DMARC_FAILURE_FEEDBACK_MAX / 2);
	rc = report_mail_field(b, name, v);
	free(v);
	return rc;
}

int
dmarc_failure_arf_build(const struct db_dmarc_failure *f,
    const char *auth_failure, const char *user_agent,
    struct dmarc_failure_arf *out)
{
	char date[40], *dom, *ip;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	buf_init(&out->text, DMARC_FAILURE_TEXT_MAX);
	buf_init(&out->feedback, DMARC_FAILURE_FEEDBACK_MAX);
	buf_init(&out->headers, LIMIT_HEADER_SECTION + 4096);
	datetime_rfc5322((time_t)f->time, date, sizeof(date));
	dom = dmarc_failure_printable(f->header_from, LIMIT_DOMAIN);
	ip = dmarc_failure_printable(f->source_ip, 64);
	snprintf(out->subject, sizeof(out->subject), "DMARC failure report "
	    "for %s from %s", dom, ip);
	if (buf_printf(&out->text, "This is an authentication failure report "
	    "(RFC 9991) for a message\r\nwith From: domain %s, received from "
	    "IP %s on %s.\r\nThe message body is not included; local parts "
	    "of addresses are\r\nredacted.\r\n", dom, ip, date) == -1)
		rc = -1;
	if (rc == 0 && (dmarc_failure_field(&out->feedback, "Feedback-Type",
	    "auth-failure") == -1 ||
	    dmarc_failure_field(&out->feedback, "User-Agent",
	    user_agent) == -1 ||
	    dmarc_failure_field(&out->feedback, "Version", "1") == -1 ||
	    dmarc_failure_field(&out->feedback, "Auth-Failure",
	    auth_failure) == -1 ||
	    dmarc_failure_field(&out->feedback, "Original-Mail-From",
	    f->mail_from) == -1 ||
	    dmarc_failure_field(&out->feedback, "Arrival-Date", date) == -1 ||
	    dmarc_failure_field(&out->feedback, "Source-IP", ip) == -1 ||
	    dmarc_failure_field(&out->feedback, "Reported-Domain", dom) == -1 ||
	    dmarc_failure_field(&out->feedback, "Authentication-Results",
	    f->auth_results) == -1 ||
	    dmarc_failure_field(&out->feedback, "Identity-Alignment",
	    f->alignment) == -1 ||
	    dmarc_failure_field(&out->feedback, "DKIM-Domain",
	    f->dkim_domain) == -1 ||
	    dmarc_failure_field(&out->feedback, "DKIM-Identity",
	    f->dkim_identity) == -1 ||
	    dmarc_failure_field(&out->feedback, "DKIM-Selector",
	    f->dkim_selector) == -1 ||
	    dmarc_failure_field(&out->feedback, "Delivery-Result",
	    f->delivery) == -1))
		rc = -1;
	/* The stored section is already redacted, CRLF and bounded. */
	if (rc == 0 && buf_append_str(&out->headers, f->headers) == -1)
		rc = -1;
	free(dom);
	free(ip);
	return rc;
}

void
dmarc_failure_arf_clear(struct dmarc_failure_arf *a)
{
	buf_clear(&a->text);
	buf_clear(&a->feedback);
	buf_clear(&a->headers);
}
