/* SPDX-License-Identifier: ISC */
/* TLS-RPT report reader (see in_tlsrpt.h). */
#include "report/in_tlsrpt.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "core/xmalloc.h"

static bool
in_tlsrpt_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int
in_tlsrpt_datetime(const char *s, long long *out)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	struct tm tm;
	size_t i = 19;
	time_t t;

	if (strnlen(s, 20) < 19 || !in_tlsrpt_digits(s, 4, &y) ||
	    s[4] != '-' || !in_tlsrpt_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !in_tlsrpt_digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !in_tlsrpt_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !in_tlsrpt_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !in_tlsrpt_digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (!in_tlsrpt_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !in_tlsrpt_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		if (s[i] == '+') {
			oh = -oh;
			om = -om;
		}
		i += 6;
	} else {
		return -1;
	}
	if (s[i] != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se > 59 ? 59 : se;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (long long)t + oh * 3600LL + om * 60LL;
	return 0;
}

/* A member's string value (NULL if absent or not a string). */
static const char *
in_tlsrpt_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static char *
in_tlsrpt_field(json_object *o, const char *key)
{
	const char *s = in_tlsrpt_str(o, key);

	return inreport_field(s, s != NULL ? strlen(s) : 0);
}

/* A string or an array of strings, joined by '\n' (cut at the field
 * limit). */
static char *
in_tlsrpt_lines(json_object *o, const char *key)
{
	json_object *v;
	char buf[LIMIT_REPORT_FIELD + 1];
	size_t n = 0;

	if (!json_object_object_get_ex(o, key, &v))
		return inreport_field(NULL, 0);
	if (json_object_is_type(v, json_type_string))
		return in_tlsrpt_field(o, key);
	if (!json_object_is_type(v, json_type_array))
		return inreport_field(NULL, 0);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			continue;
		const char *s = json_object_get_string(e);
		size_t l = strlen(s);
		if (n + (n > 0) + l > LIMIT_REPORT_FIELD)
			break;
		if (n > 0)
			buf[n++] = '\n';
		memcpy(buf + n, s, l);
		n += l;
	}
	return inreport_field(buf, n);
}

/* A non-negative integer member; -1 if absent or not one. */
static long long
in_tlsrpt_count(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	return n < 0 ? -1 : (long long)n;
}

static int
in_tlsrpt_failure(json_object *o, struct in_tls_failure *f, char *err,
    size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->result_type = in_tlsrpt_field(o, "result-type");
	f->sending_mta_ip = in_tlsrpt_field(o, "sending-mta-ip");
	f->receiving_mx_hostname = in_tlsrpt_field(o,
	    "receiving-mx-hostname");
	f->receiving_mx_helo = in_tlsrpt_field(o, "receiving-mx-helo");
	f->receiving_ip = in_tlsrpt_field(o, "receiving-ip");
	f->additional_information = in_tlsrpt_field(o,
	    "additional-information");
	f->failure_reason_code = in_tlsrpt_field(o, "failure-reason-code");
	f->failed_session_count = in_tlsrpt_count(o, "failed-session-count");
	if (f->result_type[0] == '\0' || f->failed_session_count < 0) {
		snprintf(err, errlen, "a failure-details entry without "
		    "result-type or failed-session-count");
		return -1;
	}
	return 0;
}

static int
in_tlsrpt_policy(json_object *o, struct in_tls_policy *p, char *err,
    size_t errlen)
{
	json_object *pol, *sum, *fd;

	memset(p, 0, sizeof(*p));
	if (!json_object_object_get_ex(o, "policy", &pol) ||
	    !json_object_is_type(pol, json_type_object) ||
	    !json_object_object_get_ex(o, "summary", &sum) ||
	    !json_object_is_type(sum, json_type_object)) {
		snprintf(err, errlen, "a policies entry without policy or "
		    "summary");
		return -1;
	}
	p->policy_type = in_tlsrpt_field(pol, "policy-type");
	p->policy_string = in_tlsrpt_lines(pol, "policy-string");
	p->policy_domain = in_tlsrpt_field(pol, "policy-domain");
	p->mx_host = in_tlsrpt_lines(pol, "mx-host");
	p->successful = in_tlsrpt_count(sum, "total-successful-session-count");
	p->failed = in_tlsrpt_count(sum, "total-failure-session-count");
	if (p->policy_type[0] == '\0' || p->policy_domain[0] == '\0' ||
	    p->successful < 0 || p->failed < 0) {
		snprintf(err, errlen, "a policy without policy-type, "
		    "policy-domain or session counts");
		return -1;
	}
	if (!json_object_object_get_ex(o, "failure-details", &fd))
		return 0;
	if (!json_object_is_type(fd, json_type_array)) {
		snprintf(err, errlen, "failure-details is not an array");
		return -1;
	}
	size_t n = json_object_array_length(fd);
	if (n > LIMIT_REPORT_TLS_FAILURES) {
		snprintf(err, errlen, "more than %d failure-details",
		    LIMIT_REPORT_TLS_FAILURES);
		return -1;
	}
	p->fail = xcalloc(n + 1, sizeof(*p->fail));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(fd, i);
		if (!json_object_is_type(e, json_type_object) ||
		    in_tlsrpt_failure(e, &p->fail[p->nfail++], err,
		    errlen) == -1) {
			snprintf(err, errlen, "a bad failure-details entry");
			return -1;
		}
	}
	return 0;
}

static int
in_tlsrpt_report(json_object *root, struct in_tls *out, char *err,
    size_t errlen)
{
	json_object *dr, *pols;
	const char *b, *e;

	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "the report is not a JSON object");
		return -1;
	}
	out->org_name = in_tlsrpt_field(root, "organization-name");
	out->report_id = in_tlsrpt_field(root, "report-id");
	out->contact_info = in_tlsrpt_field(root, "contact-info");
	if (out->org_name[0] == '\0' || out->report_id[0] == '\0') {
		snprintf(err, errlen, "no organization-name or report-id");
		return -1;
	}
	if (!json_object_object_get_ex(root, "date-range", &dr) ||
	    (b = in_tlsrpt_str(dr, "start-datetime")) == NULL ||
	    (e = in_tlsrpt_str(dr, "end-datetime")) == NULL ||
	    in_tlsrpt_datetime(b, &out->begin) == -1 ||
	    in_tlsrpt_datetime(e, &out->end) == -1 || out->end < out->begin) {
		snprintf(err, errlen, "no valid date-range");
		return -1;
	}
	if (!json_object_object_get_ex(root, "policies", &pols) ||
	    !json_object_is_type(pols, json_type_array)) {
		snprintf(err, errlen, "no policies array");
		return -1;
	}
	size_t n = json_object_array_length(pols);
	if (n > LIMIT_REPORT_TLS_POLICIES) {
		snprintf(err, errlen, "more than %d policies",
		    LIMIT_REPORT_TLS_POLICIES);
		return -1;
	}
	out->pol = xcalloc(n + 1, sizeof(*out->pol));
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pols, i);
		if (!json_object_is_type(p, json_type_object)) {
			snprintf(err, errlen, "a policies entry is not an "
			    "object");
			return -1;
		}
		if (in_tlsrpt_policy(p, &out->pol[out->npol++], err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

/* Values in the JSON text, roughly: ',', '[' and '{' outside strings. */
static size_t
in_tlsrpt_values(const char *p, size_t len)
{
	size_t n = 0;
	bool str = false;

	for (size_t i = 0; i < len; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = false;
		} else if (p[i] == '"') {
			str = true;
		} else if (p[i] == ',' || p[i] == '[' || p[i] == '{') {
			n++;
		}
	}
	return n;
}

int
in_tlsrpt_parse(const void *data, size_t len, struct in_tls *out,
    char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > LIMIT_REPORT_DECOMPRESSED || len > INT_MAX) {
		snprintf(err, errlen, "JSON past the size limit");
		return -1;
	}
	if (in_tlsrpt_values(data, len) > LIMIT_REPORT_JSON_VALUES) {
		snprintf(err, errlen, "more than %d JSON values",
		    LIMIT_REPORT_JSON_VALUES);
		return -1;
	}
	if ((tok = json_tokener_new_ex(LIMIT_REPORT_JSON_DEPTH)) == NULL) {
		snprintf(err, errlen, "json-c cannot start");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	/* Anything after the value (but white space) is not one report. */
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (root == NULL || je != json_tokener_success) {
		json_object_put(root);
		snprintf(err, errlen, "malformed JSON (%s)",
		    json_tokener_error_desc(je));
		return -1;
	}
	for (const char *p = (const char *)data + used;
	    p < (const char *)data + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			json_object_put(root);
			snprintf(err, errlen, "data after the JSON report");
			return -1;
		}
	rc = in_tlsrpt_report(root, out, err, errlen);
	json_object_put(root);
	return rc;
}
