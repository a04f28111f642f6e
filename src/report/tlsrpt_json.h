/* SPDX-License-Identifier: ISC */
/*
 * The RFC 8460 §4.4 JSON of TLS-RPT: one "policies" element from the
 * store's per-policy counts (also `sealmail tls-results --json`), the
 * whole report, its §5.1 file name and §5.3 subject. Pure: no I/O. The
 * stored strings may hold any bytes a remote server sent (EHLO names);
 * bytes that are not ASCII become '?' so that the JSON is valid UTF-8.
 */
#ifndef SEALMAIL_REPORT_TLSRPT_JSON_H
#define SEALMAIL_REPORT_TLSRPT_JSON_H

#include <json-c/json.h>
#include <stddef.h>

#include "store/db.h"

/* The report metadata (§4.4): the period is [begin, end) in Unix seconds;
 * end-datetime shows its last second, as Appendix B does. */
struct tlsrpt_meta {
	const char	*org_name;	/* organization-name */
	const char	*contact;	/* contact-info: [reports] from */
	const char	*report_id;
	long long	 begin, end;
};

/* One "policies" element; the caller owns the result. */
json_object *tlsrpt_json_policy(const struct db_tls_policy *p);

/* The whole report, heap text the caller frees (never NULL). */
char *tlsrpt_json_report(const struct tlsrpt_meta *m,
    const struct db_tls_policy *pol, size_t npol);

/* §5.1: "submitter!policy-domain!begin!end!unique.json.gz" into out; -1
 * if it does not fit. unique: letters and digits only (others dropped). */
int tlsrpt_json_filename(const char *submitter, const char *policy_domain,
    long long begin, long long end, const char *unique, char *out,
    size_t outlen);

/* §5.3 subject: "Report Domain: D Submitter: S Report-ID: <ID>". */
int tlsrpt_json_subject(const char *policy_domain, const char *submitter,
    const char *report_id, char *out, size_t outlen);

#endif
