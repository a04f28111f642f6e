/* SPDX-License-Identifier: ISC */
/* The report job's pieces beyond report.h: the period arithmetic (pure,
 * unit-tested) and a run with signing keys the caller loaded (the CLI
 * loads them as root, before it drops to the service user). */
#ifndef SEALMAIL_REPORT_REPORT_JOB_H
#define SEALMAIL_REPORT_REPORT_JOB_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct dkim_keys;

/* How long after a period's end a failed report is tried again at each
 * run before the job moves on. */
#define REPORT_RETRY_MAX	(3 * 86400LL)
/* Periods reported in one run at most (and days looked back); older
 * ones are skipped. */
#define REPORT_PERIODS_MAX	31
/* The claim (store report_state kind) of the failure reports' sender;
 * the periodic kinds are "dmarc" and "tlsrpt". */
#define REPORT_KIND_FAILURE	"dmarc_failure"

/* The periods of interval seconds from each 00:00 UTC (the last of a
 * day ends at midnight): the start and end of the one that holds t, and
 * the delay after a period's end before it is reported (the SMTP workers
 * write their rows a second late). */
long long report_period_start(long long t, unsigned interval);
long long report_period_end(long long t, unsigned interval);
long long report_period_delay(unsigned interval);

/*
 * The periods one run reports: from `from` (the watermark, but no more
 * than REPORT_PERIODS_MAX days back) towards the start of the period
 * that holds now, each ending at a period boundary, at most
 * REPORT_PERIODS_MAX of them (a longer backlog is left to the next
 * runs); with now_too, then [last, now) if it is not empty. Writes up to
 * max [begin, end) pairs, returns how many.
 */
size_t report_periods(long long from, long long now, unsigned interval,
    bool now_too, long long (*out)[2], size_t max);

/* dmarc_failure_run with its own store handle (the runner's minute
 * timer); keys as for report_job_run_keys. */
void report_job_failures(const struct conf *c, struct dkim_keys *keys,
    long long now);

/* report_job_run with keys loaded by the caller (may be NULL: reports
 * go unsigned, with a warning). */
int report_job_run_keys(const struct conf *c, struct dkim_keys *keys,
    long long now, unsigned flags, const char *to_dir, char *err,
    size_t errlen);

#endif
