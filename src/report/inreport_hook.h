/* SPDX-License-Identifier: ISC */
/*
 * The received-report hook of local delivery: a message just delivered to
 * a [reports] inbox address is read from the spool (bounded), its reports
 * parsed (report/inreport.h) and stored (store/db_inreport.h), each result
 * logged on one line. It blocks (disk, SQLite): the queue runner calls it
 * on its delivery pool, never on the event loop.
 */
#ifndef SEALMAIL_REPORT_INREPORT_HOOK_H
#define SEALMAIL_REPORT_INREPORT_HOOK_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct envelope;

/* Whether recipient i of env is a reports inbox (its address after
 * alias expansion or as given in RCPT TO). */
bool inreport_hook_wants(const struct conf *c, const struct envelope *env,
    size_t i);

/*
 * Parse and store the reports of env's message (msg_fd: the spool file,
 * read with pread; env->prepend: our trace fields, where the
 * Authentication-Results that says whether the report passed DMARC is).
 * Never fails the delivery: problems are logged.
 */
void inreport_hook_run(const struct conf *c, const struct envelope *env,
    int msg_fd);

#endif
