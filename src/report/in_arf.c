/* SPDX-License-Identifier: ISC */
/* ARF feedback report reader (see in_arf.h). */
#include "report/in_arf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "msg/rfc5322_headers.h"

/* Trimmed, unfolded copy of a field value. */
static char *
in_arf_value(const struct rfc5322_field *f)
{
	char buf[LIMIT_REPORT_FIELD + 1];
	size_t n = 0;
	bool sp = false;

	for (size_t i = 0; i < f->value_len && n < LIMIT_REPORT_FIELD; i++) {
		char c = f->value[i];
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
			sp = n > 0;
			continue;
		}
		if (sp && n + 1 < LIMIT_REPORT_FIELD)
			buf[n++] = ' ';
		sp = false;
		buf[n++] = c;
	}
	return inreport_field(buf, n);
}

int
in_arf_parse(const void *data, size_t len, struct in_arf *out, char *err,
    size_t errlen)
{
	struct {
		const char	*name;
		char		**slot;
	} map[] = {
		{ "Feedback-Type", &out->feedback_type },
		{ "User-Agent", &out->user_agent },
		{ "Version", &out->version },
		{ "Original-Mail-From", &out->original_mail_from },
		{ "Original-Rcpt-To", &out->original_rcpt_to },
		{ "Arrival-Date", &out->arrival_date },
		{ "Reporting-MTA", &out->reporting_mta },
		{ "Source-IP", &out->source_ip },
		{ "Reported-Domain", &out->reported_domain },
		{ "Authentication-Results", &out->authentication_results },
		{ "Auth-Failure", &out->auth_failure },
		{ "Delivery-Result", &out->delivery_result },
		{ "Identity-Alignment", &out->identity_alignment },
	};
	const size_t nmap = sizeof(map) / sizeof(map[0]);
	struct rfc5322_headers h;
	struct rfc5322_field f;
	char *inc = NULL;

	memset(out, 0, sizeof(*out));
	rfc5322_headers_init(&h, data, len);
	while (rfc5322_headers_next(&h, &f) == RFC5322_HEADERS_FIELD) {
		if (f.name_len == 9 && strncasecmp(f.name, "Incidents",
		    9) == 0 && inc == NULL) {
			inc = in_arf_value(&f);
			continue;
		}
		for (size_t i = 0; i < nmap; i++) {
			/* The first of a field counts (several
			 * Original-Rcpt-To may follow: RFC 5965 §3.2). */
			if (strlen(map[i].name) == f.name_len &&
			    strncasecmp(f.name, map[i].name, f.name_len) ==
			    0 && *map[i].slot == NULL)
				*map[i].slot = in_arf_value(&f);
		}
	}
	out->incidents = 1;
	if (inc != NULL) {
		char *end;
		long long v = strtoll(inc, &end, 10);
		if (end != inc && *end == '\0' && v > 0)
			out->incidents = v;
		free(inc);
	}
	for (size_t i = 0; i < nmap; i++)
		if (*map[i].slot == NULL)
			*map[i].slot = inreport_field(NULL, 0);
	if (out->feedback_type[0] == '\0' || out->user_agent[0] == '\0' ||
	    out->version[0] == '\0') {
		snprintf(err, errlen, "feedback report without Feedback-Type, "
		    "User-Agent or Version");
		return -1;
	}
	return 0;
}
