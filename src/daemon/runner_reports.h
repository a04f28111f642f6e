/* SPDX-License-Identifier: ISC */
/* The report job inside the queue runner: report_job_run on a thread of
 * its own at report_job_next() times (never on the runner's loop). */
#ifndef SEALMAIL_DAEMON_RUNNER_REPORTS_H
#define SEALMAIL_DAEMON_RUNNER_REPORTS_H

struct conf;
struct dkim_keys;
struct event_base;
struct runner_reports;

/* Schedule the job on base (NULL when no report kind is enabled); keys
 * (borrowed, may be NULL) sign the reports. A first run comes shortly
 * after the start, so periods missed while the runner was down are
 * reported (the store says what was). */
struct runner_reports *runner_reports_start(struct event_base *base,
    const struct conf *conf, struct dkim_keys *keys);
/* Stop scheduling; a run under way finishes first. NULL: no-op. */
void runner_reports_free(struct runner_reports *rr);

#endif
