/* SPDX-License-Identifier: ISC */
/*
 * Finding "TLS-Required: No" (RFC 8689 §3) in a header section; the rules
 * are in tlsrequired.h. Pure and allocation-free.
 */
#include "msg/tlsrequired.h"

#include "msg/rfc5322_headers.h"

/* Past white space and folding at v[i]: WSP, and CRLF or LF, which inside
 * a field's value the tokenizer only leaves before WSP. A bare CR is
 * field text (rfc5322_headers.h), so it is not skipped. */
static size_t
tlsrequired_skip_fws(const char *v, size_t n, size_t i)
{
	while (i < n) {
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\n')
			i++;
		else if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	return i;
}

/* The value is [FWS] "No" [FWS], "No" in any case. */
static bool
tlsrequired_value_is_no(const char *v, size_t n)
{
	size_t i = tlsrequired_skip_fws(v, n, 0);

	if (n - i < 2 || (v[i] != 'N' && v[i] != 'n') ||
	    (v[i + 1] != 'O' && v[i + 1] != 'o'))
		return false;
	return tlsrequired_skip_fws(v, n, i + 2) == n;
}

enum tlsrequired_result
tlsrequired_parse(const void *msg, size_t len)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;
	size_t seen = 0;
	bool no = false;

	rfc5322_headers_init(&h, msg, len);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		if (!rfc5322_field_is(&f, "TLS-Required"))
			continue;
		/* A second field makes the message malformed (§3). */
		if (++seen > 1)
			return TLSREQUIRED_INVALID;
		no = tlsrequired_value_is_no(f.value, f.value_len);
	}
	if (r != RFC5322_HEADERS_END)
		return TLSREQUIRED_INVALID;
	if (seen == 0)
		return TLSREQUIRED_ABSENT;
	return no ? TLSREQUIRED_NO : TLSREQUIRED_INVALID;
}

bool
tlsrequired_overrides_policy(bool requiretls, const void *msg, size_t len)
{
	/* RFC 8689 §4.1: with the MAIL parameter the field is ignored. */
	if (requiretls)
		return false;
	return tlsrequired_parse(msg, len) == TLSREQUIRED_NO;
}
