/* SPDX-License-Identifier: ISC */
/*
 * Received reports in the store (tables inreports, inreport_records,
 * inreport_policies, inreport_failures, inreport_feedback): written by the
 * queue runner after delivering to a [reports] inbox, read by `sealmail
 * reports dmarc|tls`. Report contents are untrusted text (already cut and
 * cleaned by report/inreport.c); the caller escapes them for output.
 */
#ifndef SEALMAIL_STORE_DB_INREPORT_H
#define SEALMAIL_STORE_DB_INREPORT_H

#include <stddef.h>

#include "report/inreport.h"
#include "store/db.h"

/*
 * Store r in one transaction. DB_OK; DB_NOTFOUND when a report of the same
 * kind, org_name and report_id is already stored (nothing is written: a
 * report sent twice is counted once), except that an authenticated report
 * replaces an unauthenticated one (a forgery must not keep it out);
 * DB_ERROR (db_error says why).
 */
enum db_result db_inreport_add(struct db *db, const struct inreport *r);

/* Drop the reports received before `before` (Unix seconds) with their
 * rows: the report job keeps them for [reports] retention. */
enum db_result db_inreport_prune(struct db *db, long long before);

/*
 * The reports of kind (DMARC or TLS) whose period ends at or after since
 * (Unix seconds), about domain when it is not NULL (the policy domain, any
 * case; for TLS any of its policies), oldest first, at most
 * DB_INREPORT_LIST_MAX. On DB_OK *out is an array of *n reports the caller
 * frees with db_inreport_list_free.
 */
#define DB_INREPORT_LIST_MAX	10000
enum db_result db_inreport_list(struct db *db, enum inreport_kind kind,
    const char *domain, long long since, struct inreport **out, size_t *n);
void db_inreport_list_free(struct inreport *v, size_t n);

#endif
