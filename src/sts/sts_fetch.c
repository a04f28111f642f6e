/* SPDX-License-Identifier: ISC */
/*
 * The HTTPS fetch of an MTA-STS policy (see sts_fetch.h): the request
 * itself, with its address rule and libcurl loaded at run time, is
 * net/https.c; here the URL, the answer's status and media type, and the
 * policy parse.
 */
#include "sts/sts_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/https.h"

/* "mta-sts." + a 253-character domain. */
#define HOST_MAX		(8 + 253)

const char *
sts_fetch_result_type(enum sts_fetch_result r)
{
	switch (r) {
	case STS_FETCH_OK:
		return NULL;
	case STS_FETCH_ERROR:
		return "sts-policy-fetch-error";
	case STS_FETCH_WEBPKI:
		return "sts-webpki-invalid";
	case STS_FETCH_INVALID:
		return "sts-policy-invalid";
	}
	return "sts-policy-fetch-error";
}

bool
sts_fetch_is_text_plain(const char *ct)
{
	size_t n;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

/* Check status and media type, then parse the body (taken from resp). */
static enum sts_fetch_result
check_response(struct https_resp *resp, struct sts_fetch_out *out)
{
	char why[160];

	if (resp->status != 200) {
		snprintf(out->detail, sizeof(out->detail), "HTTP status %ld%s",
		    resp->status, resp->status >= 300 && resp->status < 400 ?
		    " (redirects are not followed)" : "");
		return STS_FETCH_ERROR;
	}
	if (!sts_fetch_is_text_plain(resp->content_type)) {
		/* The value is the server's: only printable bytes go out. */
		char safe[64];
		size_t i;

		snprintf(safe, sizeof(safe), "%.63s",
		    resp->content_type[0] ? resp->content_type : "none");
		for (i = 0; safe[i] != '\0'; i++)
			if ((unsigned char)safe[i] < 0x20 ||
			    (unsigned char)safe[i] > 0x7e)
				safe[i] = '?';
		snprintf(out->detail, sizeof(out->detail),
		    "media type is %s, not text/plain", safe);
		return STS_FETCH_ERROR;
	}
	out->len = resp->len;
	out->body = resp->body != NULL ? resp->body : calloc(1, 1);
	resp->body = NULL;
	if (out->body == NULL) {
		snprintf(out->detail, sizeof(out->detail), "out of memory");
		return STS_FETCH_ERROR;
	}
	if (sts_policy_parse(out->body, out->len, &out->policy, why,
	    sizeof(why)) == -1) {
		snprintf(out->detail, sizeof(out->detail), "invalid policy: %s",
		    why);
		return STS_FETCH_INVALID;
	}
	return STS_FETCH_OK;
}

enum sts_fetch_result
sts_fetch(const char *domain, const char *const *addrs, size_t naddrs,
    const struct sts_fetch_params *p, struct sts_fetch_out *out)
{
	char host[HOST_MAX + 1];
	struct https_resp resp;
	struct https_req r = {
		.host = host, .port = p->port,
		.path = "/.well-known/mta-sts.txt",
		.addrs = addrs,
		.naddrs = naddrs < STS_FETCH_ADDRS_MAX ? naddrs :
		    STS_FETCH_ADDRS_MAX,
		.allow_private = p->allow_private, .ca_file = p->ca_file,
		.connect_timeout_ms = p->connect_timeout_ms,
		.timeout_ms = p->timeout_ms,
		.max_body = STS_POLICY_BODY_MAX,
	};

	memset(out, 0, sizeof(*out));
	out->result = STS_FETCH_ERROR;
	if ((size_t)snprintf(host, sizeof(host), "mta-sts.%s", domain) >=
	    sizeof(host) || strpbrk(domain, ":/[]@ ") != NULL) {
		snprintf(out->detail, sizeof(out->detail),
		    "invalid policy domain");
		return out->result;
	}
	switch (https_request(&r, &resp)) {
	case HTTPS_OK:
		out->result = check_response(&resp, out);
		break;
	case HTTPS_WEBPKI:
		out->result = STS_FETCH_WEBPKI;
		break;
	case HTTPS_ERROR:
		out->result = STS_FETCH_ERROR;
		break;
	}
	if (out->result == STS_FETCH_WEBPKI || resp.detail[0] != '\0')
		snprintf(out->detail, sizeof(out->detail), "%s", resp.detail);
	https_resp_clear(&resp);
	if (out->result == STS_FETCH_OK)
		out->detail[0] = '\0';
	return out->result;
}

void
sts_fetch_out_clear(struct sts_fetch_out *out)
{
	free(out->body);
	sts_policy_clear(&out->policy);
	memset(out, 0, sizeof(*out));
}
