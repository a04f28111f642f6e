/* SPDX-License-Identifier: ISC */
/*
 * The TLS-Required header field of RFC 8689 §3: does a message's header
 * section ask that the recipient domain's TLS policy (DANE, MTA-STS) be
 * ignored? Pure and allocation-free; the input is untrusted bytes (the
 * header section as the queue runner reads it, CRLF or LF line ends) and
 * is walked with the msg/rfc5322_headers tokenizer, so its bounds apply.
 *
 * The field's syntax (RFC 8689 §3, RFC 5234 strings being case-blind):
 *	requiretls-field = "TLS-Required:" [FWS] "No" CRLF
 * so "No" in any case, with white space and folding before or after it
 * (the tokenizer strips the final line end; trailing WSP is tolerated as
 * RFC 5322 §4.1's obsolete syntax allows), and nothing else: comments,
 * other words or an empty value make the field invalid.
 *
 * "More than one instance of the TLS-Required header field MUST NOT
 * appear" (§3): such a message, or one whose only field has another value,
 * is TLSREQUIRED_INVALID, and the answer to "may the policy be ignored"
 * is no. Lowering the protection is the sender's explicit choice, so
 * every doubt falls on the side of keeping it; the same holds when the
 * section is cut short by the tokenizer's limits, as a second field may
 * hide beyond them.
 */
#ifndef SEALMAIL_MSG_TLSREQUIRED_H
#define SEALMAIL_MSG_TLSREQUIRED_H

#include <stdbool.h>
#include <stddef.h>

enum tlsrequired_result {
	TLSREQUIRED_ABSENT,	/* no TLS-Required field */
	TLSREQUIRED_NO,		/* exactly one, and its value is "No" */
	TLSREQUIRED_INVALID,	/* another value, several fields, or a
				 * section too long or with too many fields
				 * to be sure */
};

/*
 * Examine the header section of a message: len bytes at msg (a whole
 * message is fine too: the walk stops at the empty line). Never fails.
 */
enum tlsrequired_result tlsrequired_parse(const void *msg, size_t len);

/*
 * The question the outbound policy asks (RFC 8689 §4.1, §4.2.2): may the
 * recipient domain's DANE or MTA-STS requirement be relaxed for this
 * message? True only when the message was not received with the
 * REQUIRETLS MAIL parameter (which makes the header field be ignored) and
 * its header section has one valid "TLS-Required: No".
 */
bool tlsrequired_overrides_policy(bool requiretls, const void *msg,
    size_t len);

#endif
