/* SPDX-License-Identifier: ISC */
/*
 * The outgoing reports: DMARC aggregate (RFC 9990), TLS-RPT (RFC 8460) and
 * DMARC failure reports (RFC 9991). One run of the report job gathers what
 * the store recorded over a period, builds each report and hands it to
 * report_mail_send() (mailto:) or report_https_post() (https:, TLS-RPT).
 *
 * Everything here blocks (DNS through dns_query_sync, SQLite, the spool's
 * fsyncs, libcurl): it runs in the CLI (`sealmail reports send`) or on a
 * thread of the queue runner, never on an event loop.
 *
 * Modules: report_job.c (periods, state, the runner's schedule),
 * report_mail.c (composing, signing and queueing a report message;
 * report_https_post), report_dest.c (rua/ruf URIs and the RFC 9990 §4
 * external destination check), dmarc_agg.c (RFC 9990 XML), tlsrpt_report.c
 * (RFC 8460 JSON), dmarc_failure.c (RFC 9991 ARF).
 */
#ifndef SEALMAIL_REPORT_REPORT_H
#define SEALMAIL_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct db;
struct dkim_keys;

/* What one run shares. Owned by report_job.c; the kinds borrow it. */
struct report_run {
	const struct conf	*conf;
	struct db		*db;		/* the run's own store handle */
	struct dkim_keys	*keys;		/* signing keys, may be NULL */
	long long		 now;		/* Unix seconds */
	/* Dry run: report files are written here, nothing is queued,
	 * posted or marked as reported. */
	const char		*to_dir;
	unsigned		 sent, written, failed;	/* summary counters */
};

/* One MIME part after the human-readable text. */
struct report_attachment {
	const char	*content_type;	/* "application/gzip", "message/
					 * feedback-report", ... */
	const char	*filename;	/* NULL: no filename parameter */
	const void	*data;
	size_t		 len;
	bool		 base64;	/* else: CRLF text lines sent as is */
};

/* A report message: From and the envelope sender are [reports] from. */
struct report_mail {
	const char	*to;		/* one address, local@domain */
	const char	*subject;
	/* NULL: multipart/mixed; else multipart/report; report-type=X
	 * (RFC 6522), e.g. "tlsrpt" or "feedback-report". */
	const char	*report_type;
	const char *const *headers;	/* extra "Name: value" fields */
	size_t		 nheaders;
	const char	*text;		/* first part, text/plain, ASCII */
	const struct report_attachment *att;
	size_t		 natt;
};

/*
 * Queue m: From: and MAIL FROM [reports] from (its bounces come back to
 * us, never to the reported domain), Date, Message-ID, MIME structure,
 * DKIM-signed with the keys of the from domain (run->keys; unsigned with
 * a warning when it has none), committed to the spool durably with
 * NOTIFY=NEVER. With run->to_dir, each attachment that has a filename is
 * written there under that name instead (a message without one is
 * written whole as QID.eml) and nothing is queued. 0, or -1 with one
 * line in err.
 */
int report_mail_send(struct report_run *run, const struct report_mail *m,
    char *err, size_t errlen);

/*
 * POST data (len octets) to an https: URL with the given Content-Type
 * (RFC 8460 §5.4), the certificate verified (plus [delivery] tls_ca), the
 * same address rule as the MTA-STS fetch (sts/sts_fetch.h: no private
 * addresses unless fetch_private_addresses). With run->to_dir, data is
 * written there as `filename` instead. 0 on a 2xx answer, else -1 with
 * one line in err.
 */
int report_https_post(struct report_run *run, const char *url,
    const char *content_type, const char *filename, const void *data,
    size_t len, char *err, size_t errlen);

/*
 * The address of a "mailto:" URI from rua/ruf (RFC 6068: %-escapes
 * decoded, hfields after "?" ignored, the obsolete "!size" suffix of RFC
 * 9989 §4.8 dropped) into out as local@domain with the domain lower
 * case. -1 for anything else (other schemes, several addresses, bad
 * syntax).
 */
int report_mailto_addr(const char *uri, char *out, size_t outlen);

enum report_dest {
	REPORT_DEST_OK,		/* same organisation, or authorised */
	REPORT_DEST_REFUSED,	/* no authorising record: do not send */
	REPORT_DEST_TEMP,	/* DNS failed: try at the next run */
};
/*
 * RFC 9990 §4 (and RFC 9991 for ruf): may reports about policy_domain go
 * to address? Same organisational domain: yes; otherwise the TXT record
 * POLICY-DOMAIN._report._dmarc.DEST-DOMAIN must start with v=DMARC1.
 */
enum report_dest report_dest_check(struct report_run *run,
    const char *policy_domain, const char *address);

/*
 * "Sent once" bookkeeping (store table report_sent): whether the report
 * of kind ("dmarc", "tlsrpt") about domain for the period starting at
 * begin has already been queued, and recording that it has. A run that
 * died half-way resends only what it had not queued.
 */
bool report_was_sent(struct report_run *run, const char *kind,
    const char *domain, long long begin);
int report_mark_sent(struct report_run *run, const char *kind,
    const char *domain, long long begin, long long end,
    const char *report_id);

/* The kinds, called by report_job.c for the period [begin, end). Each
 * returns the number of reports it failed to send (0: all went). */
unsigned dmarc_agg_run(struct report_run *run, long long begin,
    long long end);
unsigned tlsrpt_run(struct report_run *run, long long begin, long long end);
/* Failure reports waiting in the store (not periodic: every minute). */
unsigned dmarc_failure_run(struct report_run *run);

/* ---- the job (report_job.c) ------------------------------------------ */

#define REPORT_JOB_NOW		0x01	/* up to this moment */

/*
 * One run of the daily job: for each kind enabled in [reports], report
 * the periods that have ended since the last run (with REPORT_JOB_NOW,
 * everything not yet reported up to now), then record how far it got
 * (not with to_dir), prune rows older than the retention period and
 * log a one-line summary. Opens its own store handle and signing keys.
 * 0, or -1 with one line in err when it could not run at all.
 */
int report_job_run(const struct conf *c, long long now, unsigned flags,
    const char *to_dir, char *err, size_t errlen);

/* When the next periodic run is due after now: the next multiple of
 * [reports] interval since 00:00 UTC, plus a small delay. */
long long report_job_next(const struct conf *c, long long now);

#endif
