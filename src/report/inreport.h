/* SPDX-License-Identifier: ISC */
/*
 * Reports we receive (mail to a [reports] inbox address): DMARC aggregate
 * (RFC 9990, and RFC 7489's format without a namespace), TLS-RPT (RFC
 * 8460) and ARF feedback reports (RFC 5965, RFC 9991 failure reports).
 * This header holds what the readers produce (in_dmarc.c, in_tlsrpt.c,
 * in_arf.c), what inreport.c finds in a whole message, and what the store
 * keeps (store/db_inreport.h). Every string is a NUL-terminated heap copy
 * owned by the struct, cut to LIMIT_REPORT_FIELD bytes, never NULL once a
 * reader returned 0 (absent fields are "").
 */
#ifndef SEALMAIL_REPORT_INREPORT_H
#define SEALMAIL_REPORT_INREPORT_H

#include <stdbool.h>
#include <stddef.h>

enum inreport_kind {
	INREPORT_DMARC,
	INREPORT_TLS,
	INREPORT_ARF,
};

/* One <record> of an aggregate report. dkim and spf are the
 * policy_evaluated (aligned) results; the domain and result pairs are the
 * raw auth_results (the first DKIM result that passed, else the first). */
struct in_dmarc_record {
	char		*source_ip;
	long long	 count;
	char		*disposition;	/* none | quarantine | reject */
	char		*dkim;		/* pass | fail */
	char		*spf;		/* pass | fail */
	char		*header_from;
	char		*envelope_from;
	char		*dkim_domain, *dkim_result;
	char		*spf_domain, *spf_result;
};

struct in_dmarc {
	char		*org_name, *email, *report_id;
	long long	 begin, end;	/* Unix seconds */
	char		*policy_domain, *policy;	/* policy_published */
	struct in_dmarc_record *rec;
	size_t		 nrec;
};

struct in_tls_failure {
	char		*result_type, *sending_mta_ip, *receiving_mx_hostname,
			*receiving_mx_helo, *receiving_ip,
			*additional_information, *failure_reason_code;
	long long	 failed_session_count;
};

struct in_tls_policy {
	char		*policy_type;
	char		*policy_string;	/* the array's strings joined by '\n' */
	char		*policy_domain;
	char		*mx_host;	/* joined by '\n' */
	long long	 successful, failed;
	struct in_tls_failure *fail;
	size_t		 nfail;
};

struct in_tls {
	char		*org_name, *report_id, *contact_info;
	long long	 begin, end;	/* Unix seconds */
	struct in_tls_policy *pol;
	size_t		 npol;
};

/* The RFC 5965 §3.1-3.2 fields (and RFC 6591's) of a feedback report. */
struct in_arf {
	char		*feedback_type, *user_agent, *version;
	char		*original_mail_from, *original_rcpt_to, *arrival_date;
	char		*reporting_mta, *source_ip, *reported_domain;
	char		*authentication_results, *auth_failure;
	char		*delivery_result, *identity_alignment;
	long long	 incidents;
};

/* One report found in a message, with what the message said about it. */
struct inreport {
	enum inreport_kind kind;
	bool		 authenticated;	/* the report message passed DMARC */
	long long	 received;	/* Unix seconds */
	/* ARF has no report id of its own: the message's Message-ID and
	 * its From: domain stand for report_id and org_name. */
	char		*msg_id, *msg_from_domain;
	union {
		struct in_dmarc	dmarc;
		struct in_tls	tls;
		struct in_arf	arf;
	} u;
};

void in_dmarc_clear(struct in_dmarc *r);
void in_tls_clear(struct in_tls *r);
void in_arf_clear(struct in_arf *r);
void inreport_clear(struct inreport *r);

/* A heap copy of s (n bytes, not NUL-terminated) cut to LIMIT_REPORT_FIELD
 * bytes, NUL bytes and control characters replaced by '?': stored report
 * fields are printed and logged later. NULL s gives "". */
char *inreport_field(const char *s, size_t n);

/*
 * Whether the header section hdrs (len bytes: the fields we prepended on
 * receipt) has our Authentication-Results field (authserv-id equal to
 * authserv_id) with dmarc=pass. Fields with our id that came with the
 * message were removed on receipt (RFC 8601 §5), so only ours count.
 */
bool inreport_authenticated(const char *hdrs, size_t len,
    const char *authserv_id);

/* Called per report found (err NULL) or refused (r NULL, err one line,
 * untrusted text: escape it before logging). Both borrowed for the call. */
typedef void inreport_cb(const struct inreport *r, const char *err,
    void *arg);

/*
 * Find, unpack and read every report in msg (len bytes, header section
 * and body): MIME parts (in_mime.h), gzip/zip (in_unpack.h), then the
 * reader chosen by content (XML: DMARC, JSON: TLS-RPT, or the
 * message/feedback-report part: ARF). Each result gets authenticated and
 * received as given. Returns how many reports were found or refused.
 */
size_t inreport_from_message(const char *msg, size_t len, bool authenticated,
    long long received, inreport_cb *cb, void *arg);

#endif
