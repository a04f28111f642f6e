/* SPDX-License-Identifier: ISC */
/*
 * The SMTP TLS Reporting policy record (RFC 8460 §3), the TXT record at
 * _smtp._tls.DOMAIN: "v=TLSRPTv1; rua=mailto:...,https://...". Pure
 * parser: the text is untrusted DNS data given as bytes plus a length;
 * nothing is allocated.
 */
#ifndef SEALMAIL_CHECK_TLSRPT_RECORD_H
#define SEALMAIL_CHECK_TLSRPT_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* Reporting URIs kept (further ones are counted) and their length. */
#define TLSRPT_URIS_MAX		8
#define TLSRPT_URI_MAX		255

struct tlsrpt_record {
	char	 rua[TLSRPT_URIS_MAX][TLSRPT_URI_MAX + 1];
	size_t	 nrua;		/* kept */
	size_t	 nrua_total;	/* seen */
};

enum tlsrpt_record_result {
	TLSRPT_RECORD_OK,
	TLSRPT_RECORD_NOT_TLSRPT,	/* no leading "v=TLSRPTv1" */
	TLSRPT_RECORD_ERR_SYNTAX,	/* a field is not name=value */
	TLSRPT_RECORD_ERR_NO_RUA,	/* rua missing or empty */
	TLSRPT_RECORD_ERR_URI,		/* a rua URI not mailto: or https: */
	TLSRPT_RECORD_ERR_DUPLICATE,	/* rua given twice */
};

/* True if txt starts with "v=TLSRPTv1" followed by ";", blanks or the
 * end (§3: the version must come first). */
bool tlsrpt_record_is_tlsrpt(const char *txt, size_t len);

/* Parse one record; *out is overwritten (zeroed on failure). */
enum tlsrpt_record_result tlsrpt_record_parse(const char *txt, size_t len,
    struct tlsrpt_record *out);

const char *tlsrpt_record_result_name(enum tlsrpt_record_result r);

#endif
