/* SPDX-License-Identifier: ISC */
/* The RFC 8460 JSON report (see tlsrpt_json.h). */
#include "report/tlsrpt_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"

/* A JSON string of s with non-ASCII bytes as '?'. */
static json_object *
tlsrpt_json_str(const char *s)
{
	char *copy = xstrdup(s);
	json_object *o;

	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	o = json_object_new_string(copy);
	free(copy);
	return o;
}

/* Lines joined by '\n' as a JSON array of strings ("" gives []). */
static json_object *
tlsrpt_json_lines(const char *s)
{
	json_object *a = json_object_new_array();
	char *copy = xstrdup(s), *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		json_object_array_add(a, tlsrpt_json_str(line));
	free(copy);
	return a;
}

/* Add key: s unless s is "" (the RFC's optional fields). */
static void
tlsrpt_json_opt(json_object *o, const char *key, const char *s)
{
	if (s[0] != '\0')
		json_object_object_add(o, key, tlsrpt_json_str(s));
}

static json_object *
tlsrpt_json_failure(const struct db_tls_failure *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "result-type", tlsrpt_json_str(f->result));
	tlsrpt_json_opt(o, "sending-mta-ip", f->sending_ip);
	json_object_object_add(o, "receiving-mx-hostname",
	    tlsrpt_json_str(f->receiving_mx));
	tlsrpt_json_opt(o, "receiving-mx-helo", f->receiving_helo);
	tlsrpt_json_opt(o, "receiving-ip", f->receiving_ip);
	json_object_object_add(o, "failed-session-count",
	    json_object_new_int64(f->count));
	tlsrpt_json_opt(o, "failure-reason-code", f->failure_code);
	return o;
}

json_object *
tlsrpt_json_policy(const struct db_tls_policy *p)
{
	json_object *o = json_object_new_object();
	json_object *pol = json_object_new_object();
	json_object *sum = json_object_new_object();
	json_object *fails = json_object_new_array();

	json_object_object_add(pol, "policy-type", tlsrpt_json_str(
	    p->policy_type));
	json_object_object_add(pol, "policy-string", tlsrpt_json_lines(
	    p->policy_string));
	json_object_object_add(pol, "policy-domain", tlsrpt_json_str(
	    p->policy_domain));
	/* sts: the policy's patterns (§4.4 mx-host-pattern, an array);
	 * tlsa: the MX host. */
	if (strcmp(p->policy_type, "sts") == 0)
		json_object_object_add(pol, "mx-host", tlsrpt_json_lines(
		    p->mx_host));
	else if (strcmp(p->policy_type, "no-policy-found") != 0)
		json_object_object_add(pol, "mx-host", tlsrpt_json_str(
		    p->mx_host));
	json_object_object_add(o, "policy", pol);
	json_object_object_add(sum, "total-successful-session-count",
	    json_object_new_int64(p->successes));
	json_object_object_add(sum, "total-failure-session-count",
	    json_object_new_int64(p->failures));
	json_object_object_add(o, "summary", sum);
	for (size_t i = 0; i < p->nfailure; i++)
		json_object_array_add(fails, tlsrpt_json_failure(
		    &p->failure[i]));
	json_object_object_add(o, "failure-details", fails);
	return o;
}

/* RFC 3339 date-time in UTC. */
static json_object *
tlsrpt_json_time(long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(s);
}

char *
tlsrpt_json_report(const struct tlsrpt_meta *m,
    const struct db_tls_policy *pol, size_t npol)
{
	json_object *o = json_object_new_object();
	json_object *range = json_object_new_object();
	json_object *pols = json_object_new_array();
	char *text;

	json_object_object_add(o, "organization-name", tlsrpt_json_str(
	    m->org_name));
	json_object_object_add(range, "start-datetime", tlsrpt_json_time(
	    m->begin));
	json_object_object_add(range, "end-datetime", tlsrpt_json_time(
	    m->end > m->begin ? m->end - 1 : m->begin));
	json_object_object_add(o, "date-range", range);
	json_object_object_add(o, "contact-info", tlsrpt_json_str(m->contact));
	json_object_object_add(o, "report-id", tlsrpt_json_str(m->report_id));
	for (size_t i = 0; i < npol; i++)
		json_object_array_add(pols, tlsrpt_json_policy(&pol[i]));
	json_object_object_add(o, "policies", pols);
	text = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

int
tlsrpt_json_filename(const char *submitter, const char *policy_domain,
    long long begin, long long end, const char *unique, char *out,
    size_t outlen)
{
	char u[65];
	size_t n = 0;
	int len;

	for (const char *p = unique; *p != '\0' && n < sizeof(u) - 1; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			u[n++] = *p;
	u[n] = '\0';
	len = snprintf(out, outlen, "%s!%s!%lld!%lld%s%s.json.gz", submitter,
	    policy_domain, begin, end, n > 0 ? "!" : "", u);
	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

int
tlsrpt_json_subject(const char *policy_domain, const char *submitter,
    const char *report_id, char *out, size_t outlen)
{
	int len = snprintf(out, outlen, "Report Domain: %s Submitter: %s "
	    "Report-ID: <%s>", policy_domain, submitter, report_id);

	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}
