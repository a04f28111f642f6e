/* SPDX-License-Identifier: ISC */
/*
 * The report job (report.h): which periods to report, per kind, from the
 * watermark in the store up to now; a claim in the store so the CLI and
 * the queue runner never report the same period at once; pruning.
 */
#include "report/report.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dkim_keys.h"
#include "conf/conf.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "report/report_job.h"
#include "store/db.h"
#include "store/db_inreport.h"

/* How long a claim holds when its holder dies without releasing it. */
#define REPORT_CLAIM_TTL	3600LL
/* A claim holder's text (report_job_holder), with the node name cut at
 * REPORT_NODE_MAX bytes (a domain name's limit). */
#define REPORT_NODE_MAX		255
#define REPORT_HOLDER_LEN	(96 + REPORT_NODE_MAX)

/* Periods restart at each 00:00 UTC: an interval that does not divide a
 * day makes the day's last period shorter. */
static long long
report_day_start(long long t)
{
	return t >= 0 ? t / 86400 * 86400 : -((-t + 86399) / 86400) * 86400;
}

long long
report_period_start(long long t, unsigned interval)
{
	long long i = interval ? interval : 86400, d = report_day_start(t);

	return d + (t - d) / i * i;
}

long long
report_period_end(long long t, unsigned interval)
{
	long long e = report_period_start(t, interval) + (interval ? interval :
	    86400), d = report_day_start(t) + 86400;

	return e < d ? e : d;
}

long long
report_period_delay(unsigned interval)
{
	return interval >= 1200 ? 120 : interval / 10;
}

size_t
report_periods(long long from, long long now, unsigned interval,
    bool now_too, long long (*out)[2], size_t max)
{
	long long cur = report_period_start(now, interval), p = from;
	size_t n = 0;

	if (max > REPORT_PERIODS_MAX + 1)
		max = REPORT_PERIODS_MAX + 1;
	/* Long down: only the newest periods (each at most a day). */
	if (cur - p > REPORT_PERIODS_MAX * 86400LL)
		p = cur - REPORT_PERIODS_MAX * 86400LL;
	while (p < cur && n < REPORT_PERIODS_MAX && n + 1 < max) {
		long long e = report_period_end(p, interval);

		out[n][0] = p;
		out[n++][1] = e;
		p = e;
	}
	if (now_too && p < now && n < max) {
		out[n][0] = p;
		out[n++][1] = now;
	}
	return n;
}

long long
report_job_next(const struct conf *c, long long now)
{
	long long d = report_period_delay(c->reports_interval);

	return report_period_end(now - d, c->reports_interval) + d;
}

bool
report_was_sent(struct report_run *run, const char *kind, const char *domain,
    long long begin)
{
	return db_report_was_sent(run->db, kind, domain, begin) == DB_OK;
}

int
report_mark_sent(struct report_run *run, const char *kind, const char *domain,
    long long begin, long long end, const char *report_id)
{
	if (db_report_mark_sent(run->db, kind, domain, begin, end, report_id,
	    run->now) != DB_OK) {
		log_warn("report %s %s not recorded as sent: %s", kind, domain,
		    db_error(run->db));
		return -1;
	}
	return 0;
}

/* One report kind. */
struct report_kind {
	const char	*name;
	bool		 enabled;
	unsigned	 (*run)(struct report_run *, long long, long long);
	/* Oldest data, for the first run (NULL: the last period only). */
	enum db_result	 (*oldest)(struct db *, long long *);
};

/* Where a kind starts: its watermark, else its oldest data (or the last
 * period). */
static long long
report_job_from(struct report_run *run, const struct report_kind *k)
{
	unsigned iv = run->conf->reports_interval;
	long long w, first = report_period_start(report_period_start(
	    run->now, iv) - 1, iv);

	if (db_report_watermark(run->db, k->name, &w) == DB_OK)
		return w;
	if (k->oldest != NULL && k->oldest(run->db, &w) == DB_OK &&
	    w < first)
		return report_period_start(w, iv);
	return first;
}

/* This process's pid namespace ("pid:[N]"), "" if unknown: a holder's
 * pid means something only inside the same one. */
static void
report_job_pidns(char *out, size_t outlen)
{
	ssize_t n = readlink("/proc/self/ns/pid", out, outlen - 1);

	out[n > 0 ? n : 0] = '\0';
}

/*
 * Whether holder (PID.PIDNS.SID@NODE, report_job_holder) is a run that
 * died without releasing its claim: killed at a shutdown that did not
 * wait for it, or an interrupted CLI run. Its claim would otherwise hold
 * the job for REPORT_CLAIM_TTL, and the runner's next try is a period
 * later. Only a pid of this node's own namespace can be checked: nodes
 * sharing a PostgreSQL store see each other's holders, whose pids (in the
 * same initial namespace of another machine) mean nothing here, and a
 * claim taken over from a live node would send its reports twice.
 */
static bool
report_job_holder_dead(const struct conf *c, const char *holder)
{
	char ns[64], me[REPORT_NODE_MAX + 1], *end;
	const char *node = strrchr(holder, '@');
	long pid = strtol(holder, &end, 10);
	size_t nl;

	snprintf(me, sizeof(me), "%s", c->hostname ? c->hostname : "");
	if (node == NULL || strcmp(node + 1, me) != 0)
		return false;
	report_job_pidns(ns, sizeof(ns));
	nl = strlen(ns);
	if (end == holder || *end != '.' || pid <= 0 || nl == 0 ||
	    strncmp(end + 1, ns, nl) != 0 || end[1 + nl] != '.')
		return false;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Take the claim of kind: DB_OK, DB_NOTFOUND (a live run holds it) or
 * DB_ERROR. */
static enum db_result
report_job_claim(struct report_run *run, const char *kind,
    const char *holder)
{
	enum db_result r = db_report_claim(run->db, kind, holder, run->now,
	    run->now + REPORT_CLAIM_TTL);
	char old[REPORT_HOLDER_LEN], esc[2 * REPORT_HOLDER_LEN];

	if (r != DB_NOTFOUND || db_report_claim_holder(run->db, kind, old,
	    sizeof(old)) != DB_OK || !report_job_holder_dead(run->conf, old))
		return r;
	r = db_report_claim_take(run->db, kind, old, holder, run->now +
	    REPORT_CLAIM_TTL);
	if (r == DB_OK)
		log_info("reports %s: claim of a run that died taken over "
		    "(holder %s)", kind, log_quote(old, strlen(old), esc,
		    sizeof(esc)));
	return r;
}

/* This run's claim holder: PID.PIDNS.SID@NODE (report_job_holder_dead
 * reads the pid and the node back; the SID tells two runs of one process
 * apart; NODE is [server] hostname, the cluster's name of this node). */
static void
report_job_holder(const struct conf *c, char *out, size_t outlen)
{
	char sid[IDS_SID_LEN + 1], ns[64];

	ids_sid_new(sid);
	report_job_pidns(ns, sizeof(ns));
	snprintf(out, outlen, "%ld.%s.%s@%.*s", (long)getpid(), ns, sid,
	    REPORT_NODE_MAX, c->hostname ? c->hostname : "");
}

/* Take the claim of kind for this run: true if it may go on (a dry run
 * needs none); false when a live run holds it or the store failed. */
static bool
report_job_take(struct report_run *run, const char *kind,
    const char *holder)
{
	enum db_result r;

	if (run->to_dir != NULL)
		return true;
	if ((r = report_job_claim(run, kind, holder)) == DB_OK)
		return true;
	if (r == DB_NOTFOUND)
		log_info("reports %s: another run is reporting, skipped",
		    kind);
	else {
		log_warn("reports %s: %s", kind, db_error(run->db));
		run->failed++;
	}
	return false;
}

/*
 * The failure reports the workers recorded (discarded when
 * dmarc_failure_reports was switched off since). Not periodic: every run
 * sends what is there (the runner each minute, any CLI run), so it takes
 * a claim like the periodic kinds; without one, two runs at once both
 * sent each row before either deleted it.
 */
static void
report_job_failure_reports(struct report_run *run, const char *holder)
{
	if (!report_job_take(run, REPORT_KIND_FAILURE, holder))
		return;
	run->failed += dmarc_failure_run(run);
	if (run->to_dir == NULL)
		db_report_release(run->db, REPORT_KIND_FAILURE, holder);
}

/* Report the due periods of k; the watermark follows each period done
 * (or given up after REPORT_RETRY_MAX). */
static void
report_job_kind(struct report_run *run, const struct report_kind *k,
    unsigned flags, const char *holder)
{
	long long per[REPORT_PERIODS_MAX + 1][2];
	size_t n;

	if (!report_job_take(run, k->name, holder))
		return;
	n = report_periods(report_job_from(run, k), run->now,
	    run->conf->reports_interval, flags & REPORT_JOB_NOW, per,
	    sizeof(per) / sizeof(per[0]));
	for (size_t i = 0; i < n; i++) {
		unsigned failed = k->run(run, per[i][0], per[i][1]);

		if (failed > 0 && per[i][1] > run->now - REPORT_RETRY_MAX) {
			log_info("reports %s: %u report(s) of [%lld, %lld) to "
			    "be tried again", k->name, failed, per[i][0],
			    per[i][1]);
			break;
		}
		if (run->to_dir == NULL && db_report_set_watermark(run->db,
		    k->name, per[i][1]) != DB_OK) {
			log_warn("reports %s: %s", k->name, db_error(run->db));
			break;
		}
	}
	if (run->to_dir == NULL)
		db_report_release(run->db, k->name, holder);
}

/* Where kind's data may be dropped: the retention, but unreported rows
 * stay (a watermark left behind when the kind was turned off keeps
 * nothing). */
static long long
report_job_keep_from(struct report_run *run, const char *kind, bool on)
{
	long long before = run->now - run->conf->reports_retention, w;

	if (on && db_report_watermark(run->db, kind, &w) == DB_OK && w < before)
		before = w;
	return before;
}

/* Drop evaluations and TLS session results older than the retention once
 * reported (or older than it anyway, so the store stays bounded), and
 * received reports older than it. */
static void
report_job_prune(struct report_run *run)
{
	if (db_report_prune(run->db, report_job_keep_from(run, "dmarc",
	    run->conf->reports_dmarc_aggregate)) != DB_OK)
		log_warn("reports: prune: %s", db_error(run->db));
	if (db_tls_prune(run->db, report_job_keep_from(run, "tlsrpt",
	    run->conf->reports_tlsrpt)) != DB_OK)
		log_warn("reports: prune tls results: %s", db_error(run->db));
	if (db_inreport_prune(run->db, run->now -
	    run->conf->reports_retention) != DB_OK)
		log_warn("reports: prune received reports: %s",
		    db_error(run->db));
}

/* Open the run's store handle; -1 with err. */
static int
report_job_open(struct report_run *run, char *err, size_t errlen)
{
	run->db = store_open(run->conf, false, err, errlen);
	return run->db == NULL ? -1 : 0;
}

void
report_job_failures(const struct conf *c, struct dkim_keys *keys,
    long long now)
{
	struct report_run run = { .conf = c, .keys = keys, .now = now };
	char err[512], holder[REPORT_HOLDER_LEN];

	if (report_job_open(&run, err, sizeof(err)) == -1) {
		log_warn("failure reports: %s", err);
		return;
	}
	report_job_holder(c, holder, sizeof(holder));
	report_job_failure_reports(&run, holder);
	db_close(run.db);
}

int
report_job_run_keys(const struct conf *c, struct dkim_keys *keys,
    long long now, unsigned flags, const char *to_dir, char *err,
    size_t errlen)
{
	const struct report_kind kinds[] = {
		{ "dmarc", c->reports_dmarc_aggregate, dmarc_agg_run,
		    db_dmarc_oldest },
		{ "tlsrpt", c->reports_tlsrpt, tlsrpt_run, NULL },
	};
	struct report_run run = { .conf = c, .keys = keys, .now = now,
	    .to_dir = to_dir };
	char holder[REPORT_HOLDER_LEN];

	if (report_job_open(&run, err, errlen) == -1)
		return -1;
	report_job_holder(c, holder, sizeof(holder));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].enabled)
			report_job_kind(&run, &kinds[i], flags, holder);
	report_job_failure_reports(&run, holder);
	if (to_dir == NULL)
		report_job_prune(&run);
	log_info("reports run%s%s sent=%u written=%u failed=%u",
	    flags & REPORT_JOB_NOW ? " now" : "", to_dir ? " dry-run" : "",
	    run.sent, run.written, run.failed);
	db_close(run.db);
	return 0;
}

int
report_job_run(const struct conf *c, long long now, unsigned flags,
    const char *to_dir, char *err, size_t errlen)
{
	struct dkim_keys *keys;
	char kerr[512];
	int rc;

	if ((keys = dkim_keys_load(c, kerr, sizeof(kerr))) == NULL)
		log_warn("reports: DKIM keys not loaded, reports go unsigned: "
		    "%s", kerr);
	rc = report_job_run_keys(c, keys, now, flags, to_dir, err, errlen);
	dkim_keys_free(keys);
	return rc;
}
