/* SPDX-License-Identifier: ISC */
/*
 * DMARC failure reports (RFC 9991, ARF of RFC 5965/6591), the pure parts:
 * which failures a Domain Owner asked about (fo=), the redaction of what
 * we keep of the failed message (its header section only, local parts of
 * addresses replaced: RFC 9991 §7 and Appendix A, RFC 6590), and the
 * report's MIME parts. No I/O; every input is untrusted message or DNS
 * text. The SMTP worker records failures (smtpd_checks.c) and
 * dmarc_failure_run (dmarc_failure.c) sends them.
 */
#ifndef SEALMAIL_REPORT_DMARC_FAILURE_H
#define SEALMAIL_REPORT_DMARC_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "store/db.h"

/* What replaces every local part. */
#define DMARC_FAILURE_REDACTED	"redacted"

/* The authentication outcome of one Author Domain, as fo= sees it. */
struct dmarc_failure_facts {
	unsigned	 fo;		/* DMARC_FO_* of the policy record */
	bool		 dkim_aligned;	/* an aligned DKIM pass */
	bool		 spf_aligned;	/* an aligned SPF pass */
	bool		 dkim_failed;	/* some signature failed to verify */
	bool		 spf_failed;	/* SPF evaluated to fail */
};

/*
 * The Auth-Failure type of the report fo= asks for (RFC 9989 §4.7):
 * "dmarc" for fo=0 (no aligned pass at all) and fo=1 (some mechanism
 * without an aligned pass), else "dkim" for fo=d (a signature failed,
 * aligned or not) or "spf" for fo=s (SPF failed, aligned or not); NULL
 * when no report is wanted.
 */
const char *dmarc_failure_wanted(const struct dmarc_failure_facts *f);

/* Identity-Alignment (RFC 9991 §4): "dkim", "spf", "dkim, spf" or
 * "none". */
const char *dmarc_failure_alignment(const struct dmarc_failure_facts *f);

/* Whether a signature's d= is an identifier aligned with the Author
 * Domain author (Organizational Domain org, "" if unknown; strict for
 * adkim=s): whose failure RFC 9991 §4 names with DKIM-Domain,
 * DKIM-Identity and DKIM-Selector. Relaxed alignment is taken as d=
 * under org, without looking up d='s own Organizational Domain. */
bool dmarc_failure_dkim_aligned(const char *d, const char *author,
    const char *org, bool strict);

/*
 * The header section hdr[0..len) with the local part of every address
 * replaced by DMARC_FAILURE_REDACTED: the dot-atom or quoted string
 * before each '@', in every field but Message-ID, In-Reply-To and
 * References (message ids, not mailboxes). Lines end in CRLF (bare LF is
 * made CRLF, NUL and bare CR dropped); the result is cut after the last
 * whole line within max bytes. Heap text, never NULL.
 */
char *dmarc_failure_redact(const char *hdr, size_t len, size_t max);

/* An address (an envelope sender) with its local part redacted; heap. */
char *dmarc_failure_redact_addr(const char *addr);

/* The value of the first Authentication-Results field in fields[0..len)
 * (our own, from authcheck_format), unfolded to one line, local parts
 * redacted (smtp.mailfrom=); heap, "" if none. */
char *dmarc_failure_ar_value(const char *fields, size_t len);

/* The three parts of one ARF report about f (RFC 5965 §2, RFC 9991 §4). */
struct dmarc_failure_arf {
	struct buf	 text;		/* text/plain, human readable */
	struct buf	 feedback;	/* message/feedback-report */
	struct buf	 headers;	/* text/rfc822-headers */
	char		 subject[300];
};

/* Build the parts from a stored failure; auth_failure is the type
 * (dmarc_failure_wanted). -1 if a part passes its bound. Release with
 * dmarc_failure_arf_clear (also after -1). */
int dmarc_failure_arf_build(const struct db_dmarc_failure *f,
    const char *auth_failure, const char *user_agent,
    struct dmarc_failure_arf *out);
void dmarc_failure_arf_clear(struct dmarc_failure_arf *a);

#endif
