/* SPDX-License-Identifier: ISC */
/*
 * Schema versions of the store. PRAGMA user_version holds the version; each
 * step below takes the schema from version i to i + 1 and runs in the same
 * transaction as the version bump, so a crash leaves the old version intact.
 * Add a step (never edit a shipped one) to change the schema. The password
 * file (passwd.db) has steps and a version of its own.
 */
#include "store/db_internal.h"

#include <stdio.h>

#include "core/log.h"

/* The step that takes the hashes out of the store (its pre-step hook,
 * db_passwd_move, has copied them into the password file first). Secure
 * delete zeroes the bytes the rewritten rows leave behind. One object, so
 * that the hook finds its step by address. */
static const char db_schema_hashes_out[] =
	"PRAGMA secure_delete = ON;"
	"ALTER TABLE users DROP COLUMN hash;"
	"PRAGMA secure_delete = OFF;";

/*
 * Addresses compare case-insensitively (COLLATE NOCASE, ASCII letters only)
 * in both parts: the domain by RFC 5321 §2.4, the local part because every
 * real system does. NOT NULL because SQLite allows NULL in a PRIMARY KEY.
 */
static const char *const db_schema_steps[] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"  address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
	"  hash    TEXT NOT NULL,"
	"  created INTEGER);"
	"CREATE TABLE aliases ("
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  target  TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (address, target));",
	/* 1 -> 2: one row per DMARC evaluation of an Author Domain, the
	 * input of RFC 9990 aggregate reports. */
	"CREATE TABLE dmarc_results ("
	"  time          INTEGER NOT NULL,"
	"  source_ip     TEXT NOT NULL,"
	"  header_from   TEXT NOT NULL,"
	"  envelope_from TEXT NOT NULL,"
	"  policy_domain TEXT NOT NULL,"
	"  policy        TEXT NOT NULL,"
	"  disposition   TEXT NOT NULL,"
	"  result        TEXT NOT NULL,"
	"  dkim_domain   TEXT NOT NULL,"
	"  dkim_result   TEXT NOT NULL,"
	"  dkim_aligned  INTEGER NOT NULL,"
	"  spf_domain    TEXT NOT NULL,"
	"  spf_result    TEXT NOT NULL,"
	"  spf_aligned   INTEGER NOT NULL,"
	"  testing       INTEGER NOT NULL);"
	"CREATE INDEX dmarc_results_by_domain ON dmarc_results "
	"  (policy_domain, time);",
	/* 2 -> 3: MTA-STS policies as last fetched (RFC 8461 §5.1), used
	 * until they expire even when the TXT record or the fetch fails. */
	"CREATE TABLE sts_policies ("
	"  domain  TEXT NOT NULL PRIMARY KEY,"
	"  id      TEXT NOT NULL,"
	"  policy  TEXT NOT NULL,"
	"  fetched INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);",
	/* 3 -> 4: outbound TLS sessions per UTC day (days since the epoch)
	 * and every RFC 8460 field, with a count, so the table grows with
	 * the variety of sessions, not their number. The input of TLS-RPT
	 * reports and `sealmail tls-results`. */
	"CREATE TABLE tls_results ("
	"  day            INTEGER NOT NULL,"
	"  policy_domain  TEXT NOT NULL,"
	"  policy_type    TEXT NOT NULL,"
	"  policy_string  TEXT NOT NULL,"
	"  mx_host        TEXT NOT NULL,"
	"  sending_ip     TEXT NOT NULL,"
	"  receiving_mx   TEXT NOT NULL,"
	"  receiving_helo TEXT NOT NULL,"
	"  receiving_ip   TEXT NOT NULL,"
	"  result         TEXT NOT NULL,"
	"  failure_code   TEXT NOT NULL,"
	"  count          INTEGER NOT NULL,"
	"  PRIMARY KEY (day, policy_domain, policy_type, policy_string,"
	"    mx_host, sending_ip, receiving_mx, receiving_helo, receiving_ip,"
	"    result, failure_code));",
	/* 4 -> 5: named secrets (db_secret_get), such as the SRS key: in
	 * the store so that every node of a cluster shares them. */
	"CREATE TABLE secrets ("
	"  name    TEXT NOT NULL PRIMARY KEY,"
	"  value   BLOB NOT NULL,"
	"  created INTEGER NOT NULL);",
	/* 5 -> 6: outgoing reports. The DKIM selector of the reported
	 * signature; the last DMARC Policy Record seen per policy domain
	 * (RFC 9990 policy_published); which report was sent for which
	 * period (a run that died resends only the rest); per report kind,
	 * how far it has reported and which run holds it. */
	"ALTER TABLE dmarc_results ADD COLUMN dkim_selector TEXT NOT NULL "
	"  DEFAULT '';"
	"CREATE TABLE dmarc_policies ("
	"  policy_domain TEXT NOT NULL PRIMARY KEY,"
	"  time          INTEGER NOT NULL,"
	"  p             TEXT NOT NULL,"
	"  sp            TEXT NOT NULL,"
	"  np            TEXT NOT NULL,"
	"  adkim         TEXT NOT NULL,"
	"  aspf          TEXT NOT NULL,"
	"  fo            TEXT NOT NULL,"
	"  testing       INTEGER NOT NULL,"
	"  rua           TEXT NOT NULL);"
	"CREATE INDEX dmarc_results_by_time ON dmarc_results (time);"
	"CREATE TABLE report_sent ("
	"  kind      TEXT NOT NULL,"
	"  domain    TEXT NOT NULL,"
	"  begin     INTEGER NOT NULL,"
	"  end       INTEGER NOT NULL,"
	"  report_id TEXT NOT NULL,"
	"  time      INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, domain, begin));"
	"CREATE TABLE report_state ("
	"  kind        TEXT NOT NULL PRIMARY KEY,"
	"  reported_to INTEGER NOT NULL DEFAULT 0,"
	"  holder      TEXT NOT NULL DEFAULT '',"
	"  held_until  INTEGER NOT NULL DEFAULT 0);",
	/* 6 -> 7: reports received at a [reports] inbox address (RFC 9990
	 * aggregate, RFC 8460 TLS-RPT, RFC 5965 ARF), one row per report,
	 * deduplicated per kind on (org_name, report_id); its records,
	 * policies, failure details and feedback fields in their own tables. */
	"CREATE TABLE inreports ("
	"  id            INTEGER PRIMARY KEY,"
	"  kind          TEXT NOT NULL,"
	"  org_name      TEXT NOT NULL,"
	"  report_id     TEXT NOT NULL,"
	"  begin         INTEGER NOT NULL,"
	"  end           INTEGER NOT NULL,"
	"  policy_domain TEXT NOT NULL,"
	"  policy        TEXT NOT NULL,"
	"  contact       TEXT NOT NULL,"
	"  authenticated INTEGER NOT NULL,"
	"  received      INTEGER NOT NULL,"
	"  UNIQUE (kind, org_name, report_id));"
	"CREATE INDEX inreports_by_time ON inreports (kind, end);"
	"CREATE TABLE inreport_records ("
	"  report        INTEGER NOT NULL REFERENCES inreports (id)"
	"    ON DELETE CASCADE,"
	"  source_ip     TEXT NOT NULL,"
	"  count         INTEGER NOT NULL,"
	"  disposition   TEXT NOT NULL,"
	"  dkim          TEXT NOT NULL,"
	"  spf           TEXT NOT NULL,"
	"  header_from   TEXT NOT NULL,"
	"  envelope_from TEXT NOT NULL,"
	"  dkim_domain   TEXT NOT NULL,"
	"  dkim_result   TEXT NOT NULL,"
	"  spf_domain    TEXT NOT NULL,"
	"  spf_result    TEXT NOT NULL);"
	"CREATE INDEX inreport_records_by_report ON inreport_records (report);"
	"CREATE TABLE inreport_policies ("
	"  report        INTEGER NOT NULL REFERENCES inreports (id)"
	"    ON DELETE CASCADE,"
	"  idx           INTEGER NOT NULL,"
	"  policy_type   TEXT NOT NULL,"
	"  policy_string TEXT NOT NULL,"
	"  policy_domain TEXT NOT NULL,"
	"  mx_host       TEXT NOT NULL,"
	"  successful    INTEGER NOT NULL,"
	"  failed        INTEGER NOT NULL,"
	"  PRIMARY KEY (report, idx));"
	"CREATE TABLE inreport_failures ("
	"  report                 INTEGER NOT NULL,"
	"  policy                 INTEGER NOT NULL,"
	"  result_type            TEXT NOT NULL,"
	"  sending_mta_ip         TEXT NOT NULL,"
	"  receiving_mx_hostname  TEXT NOT NULL,"
	"  receiving_mx_helo      TEXT NOT NULL,"
	"  receiving_ip           TEXT NOT NULL,"
	"  failed_session_count   INTEGER NOT NULL,"
	"  additional_information TEXT NOT NULL,"
	"  failure_reason_code    TEXT NOT NULL,"
	"  FOREIGN KEY (report, policy) REFERENCES inreport_policies"
	"    (report, idx) ON DELETE CASCADE);"
	"CREATE INDEX inreport_failures_by_policy ON inreport_failures"
	"  (report, policy);"
	"CREATE TABLE inreport_feedback ("
	"  report                 INTEGER NOT NULL PRIMARY KEY"
	"    REFERENCES inreports (id) ON DELETE CASCADE,"
	"  feedback_type          TEXT NOT NULL,"
	"  user_agent             TEXT NOT NULL,"
	"  version                TEXT NOT NULL,"
	"  original_mail_from     TEXT NOT NULL,"
	"  original_rcpt_to       TEXT NOT NULL,"
	"  arrival_date           TEXT NOT NULL,"
	"  reporting_mta          TEXT NOT NULL,"
	"  source_ip              TEXT NOT NULL,"
	"  reported_domain        TEXT NOT NULL,"
	"  authentication_results TEXT NOT NULL,"
	"  auth_failure           TEXT NOT NULL,"
	"  delivery_result        TEXT NOT NULL,"
	"  identity_alignment     TEXT NOT NULL,"
	"  incidents              INTEGER NOT NULL);",
	/* 7 -> 8 (TLS-RPT reports): how much of each row's count a report
	 * has covered (reported) and is covering (claimed, set before the
	 * report is built), so that a day reported in parts (`reports send
	 * --now`, then the daily run) counts each session once. */
	"ALTER TABLE tls_results ADD COLUMN claimed INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE tls_results ADD COLUMN reported INTEGER NOT NULL "
	"  DEFAULT 0;",
	/* 8 -> 9 (DMARC failure reports, RFC 9991): failures waiting to be
	 * reported, with the header section already redacted (no body is
	 * ever stored), and the reports sent per destination and hour. */
	"CREATE TABLE dmarc_failures ("
	"  id            INTEGER PRIMARY KEY,"
	"  time          INTEGER NOT NULL,"
	"  source_ip     TEXT NOT NULL,"
	"  policy_domain TEXT NOT NULL,"
	"  header_from   TEXT NOT NULL,"
	"  mail_from     TEXT NOT NULL,"
	"  ruf           TEXT NOT NULL,"
	"  auth_failure  TEXT NOT NULL,"
	"  auth_results  TEXT NOT NULL,"
	"  alignment     TEXT NOT NULL,"
	"  delivery      TEXT NOT NULL,"
	"  headers       TEXT NOT NULL);"
	"CREATE TABLE report_rate ("
	"  dest  TEXT NOT NULL,"
	"  hour  INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  PRIMARY KEY (dest, hour));",
	/* 9 -> 10 (RFC 9991 §4): the failed DKIM signature of an aligned
	 * identifier, for DKIM-Domain, DKIM-Identity and DKIM-Selector. */
	"ALTER TABLE dmarc_failures ADD COLUMN dkim_domain TEXT NOT NULL "
	"  DEFAULT '';"
	"ALTER TABLE dmarc_failures ADD COLUMN dkim_identity TEXT NOT NULL "
	"  DEFAULT '';"
	"ALTER TABLE dmarc_failures ADD COLUMN dkim_selector TEXT NOT NULL "
	"  DEFAULT '';",
	/* 10 -> 11 (status page): the 10-minute history buckets of the last
	 * 24 h, one row per bucket start, and the recent delivery failures,
	 * so that a restart keeps them (db_metrics.c). */
	"CREATE TABLE metrics_history ("
	"  start         INTEGER NOT NULL PRIMARY KEY,"
	"  accepted      INTEGER NOT NULL,"
	"  rejected      INTEGER NOT NULL,"
	"  in_tls        INTEGER NOT NULL,"
	"  in_plain      INTEGER NOT NULL,"
	"  in_dmarc_pass INTEGER NOT NULL,"
	"  out_auth      INTEGER NOT NULL,"
	"  out_enc       INTEGER NOT NULL,"
	"  out_plain     INTEGER NOT NULL,"
	"  out_failed    INTEGER NOT NULL);"
	"CREATE TABLE metrics_failures ("
	"  id     INTEGER PRIMARY KEY,"
	"  time   INTEGER NOT NULL,"
	"  result INTEGER NOT NULL,"
	"  rcpt   TEXT NOT NULL,"
	"  reason TEXT NOT NULL);",
	/* 11 -> 12 (issue 15, lookalike senders,
	 * msg/lookalike.h): the domains our users have written to, counted
	 * by the queue runner at each successful remote delivery and read by
	 * the workers into their protected set (db_correspondent.h); and
	 * when each lookalike sender domain was first flagged. */
	"CREATE TABLE correspondents ("
	"  domain     TEXT NOT NULL PRIMARY KEY,"
	"  count      INTEGER NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen  INTEGER NOT NULL);"
	"CREATE TABLE lookalike_senders ("
	"  domain     TEXT NOT NULL PRIMARY KEY,"
	"  first_seen INTEGER NOT NULL);",
	/* 12 -> 13 (issue 14): password hashes live in passwd.db, which no
	 * worker may open; the store keeps the accounts. */
	db_schema_hashes_out,
	/* 13 -> 14 (issue 16, a cluster of nodes, store/db_node.h): one
	 * row per node sharing the store, its heartbeat written by its
	 * queue runner; removed only by `cluster forget`. */
	"CREATE TABLE cluster_nodes ("
	"  name           TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
	"  mx             TEXT NOT NULL,"
	"  version        TEXT NOT NULL,"
	"  spki           TEXT NOT NULL,"
	"  queue_messages INTEGER NOT NULL,"
	"  queue_oldest   INTEGER NOT NULL,"
	"  heartbeat      INTEGER NOT NULL,"
	"  beat_every     INTEGER NOT NULL,"
	"  first_seen     INTEGER NOT NULL,"
	"  instance       TEXT NOT NULL);",
};

/* The password file: one row per account that has a password. */
static const char *const db_passwd_steps[] = {
	/* 0 -> 1 */
	"CREATE TABLE passwords ("
	"  address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
	"  hash    TEXT NOT NULL);",
};

static const struct db_schema_hook db_store_hooks[] = {
	{ db_schema_hashes_out, db_passwd_move },
};

#define DB_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const struct db_schema db_schema_store = {
	db_schema_steps, (int)DB_NELEM(db_schema_steps),
	db_store_hooks, DB_NELEM(db_store_hooks),
};

const struct db_schema db_schema_passwd = {
	db_passwd_steps, (int)DB_NELEM(db_passwd_steps), NULL, 0,
};

/* Read PRAGMA user_version into *v. */
static int
db_schema_version(struct db *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		db_fail(db, "read schema version");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else
		db_fail(db, "read schema version");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* The hook of step i, run only on a file that had data before (from > 0):
 * a new file has nothing to move. */
static int
db_schema_hook(struct db *db, const struct db_schema *s, int i, int from,
    const char *path, const char *owner)
{
	for (size_t h = 0; h < s->nhooks; h++)
		if (s->hooks[h].step == s->steps[i] && from > 0)
			return s->hooks[h].run(db, path, owner);
	return 0;
}

/* Apply the steps from version `from` on, inside the caller's transaction. */
static int
db_schema_upgrade(struct db *db, const struct db_schema *s, int from,
    const char *path, const char *owner)
{
	char sql[64];

	for (int i = from; i < s->nsteps; i++)
		if (db_schema_hook(db, s, i, from, path, owner) == -1 ||
		    db_exec(db, s->steps[i], "create schema") == -1)
			return -1;
	/* A pragma cannot take a bound parameter; the value is ours. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", s->nsteps);
	return db_exec(db, sql, "set schema version");
}

/* Check the version read under the write lock, then upgrade; *from: the
 * version found. */
static int
db_schema_locked(struct db *db, const struct db_schema *s, bool create,
    const char *path, const char *owner, int *from)
{
	int v;

	if (db_schema_version(db, &v) == -1)
		return -1;
	*from = v;
	if (v > s->nsteps) {
		db_seterr(db, "schema version %d is newer than this sealmail "
		    "knows (%d)", v, s->nsteps);
		return -1;
	}
	if (v == 0 && !create) {
		db_seterr(db, "not a sealmail store (no schema)");
		return -1;
	}
	if (v == s->nsteps)
		return 0;
	return db_schema_upgrade(db, s, v, path, owner);
}

/* Whether a step from version `from` on has a hook (moved data out). */
static bool
db_schema_hooked(const struct db_schema *s, int from)
{
	for (int i = from; i < s->nsteps; i++)
		for (size_t h = 0; h < s->nhooks; h++)
			if (s->hooks[h].step == s->steps[i])
				return true;
	return false;
}

/* After a hook moved data out of a file that had some: rebuild it, so
 * that no byte of what a step removed (the password hashes) stays in its
 * free pages. Best effort: what the steps removed is gone from the tables
 * already. */
static void
db_schema_scrub(struct db *db, const char *path)
{
	if (sqlite3_exec(db->sql, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		log_warn("%s: upgraded, not compacted: %s", path,
		    sqlite3_errmsg(db->sql));
}

int
db_schema_init(struct db *db, const struct db_schema *s, bool create,
    const char *path, const char *owner)
{
	int v, r = -1;

	/* The common case reads only, so daemon workers opening the store
	 * at once do not queue for the write lock. */
	if (db_schema_version(db, &v) == -1)
		return -1;
	if (v == s->nsteps)
		return 0;
	/* The persistent journal keeps the pages an upgrade changed (the
	 * hashes of an older store): truncated at each commit until done. */
	if (db_exec(db, "PRAGMA journal_size_limit = 0", "limit journal") ==
	    -1 || db_exec(db, "BEGIN IMMEDIATE", "lock store") == -1)
		return -1;
	if (db_schema_locked(db, s, create, path, owner, &v) == -1 ||
	    db_exec(db, "COMMIT", "commit schema") == -1)
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	else {
		if (v > 0 && db_schema_hooked(s, v))
			db_schema_scrub(db, path);
		r = 0;
	}
	(void)sqlite3_exec(db->sql, "PRAGMA journal_size_limit = -1", NULL,
	    NULL, NULL);
	return r;
}
