/* SPDX-License-Identifier: ISC */
/*
 * Decoding of SASL PLAIN (RFC 4616) and LOGIN responses. Pure; the input is
 * untrusted base64 from the client.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_SASL_H
#define SEALMAIL_SMTPD_SMTPD_SASL_H

#include <stddef.h>

#include "core/limits.h"

struct smtpd_sasl_creds {
	char	authzid[LIMIT_SASL_FIELD + 1];
	char	authcid[LIMIT_SASL_FIELD + 1];
	char	passwd[LIMIT_SASL_FIELD + 1];
};

enum smtpd_sasl_result {
	SMTPD_SASL_OK = 0,
	SMTPD_SASL_ERR_BASE64,		/* 501 5.5.2 cannot decode */
	SMTPD_SASL_ERR_SYNTAX,		/* 501 5.5.2 malformed */
	SMTPD_SASL_CANCELLED,		/* client sent "*": 501 5.0.0 */
};

/* Decode a PLAIN initial response: base64 of authzid NUL authcid NUL passwd.
 * "=" is an empty response (RFC 4954 §4), hence SMTPD_SASL_ERR_SYNTAX for
 * PLAIN and LOGIN alike. The caller must wipe out->passwd (explicit_bzero)
 * when done. */
enum smtpd_sasl_result smtpd_sasl_plain(const char *b64, size_t len,
    struct smtpd_sasl_creds *out);

/* Decode one LOGIN response (a base64 string) into out (size outlen). */
enum smtpd_sasl_result smtpd_sasl_login_field(const char *b64, size_t len,
    char *out, size_t outlen);

#endif
